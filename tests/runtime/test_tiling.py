"""Tiled inference equals whole-frame inference (local models), with one fixed tile shape."""

import numpy as np
import pytest

from ganfx.runtime.model import load_model
from ganfx.runtime.tiling import TileGrid, spans


def _frame(h, w, c=3, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    return rng.random((h, w, c), dtype=np.float32)


@pytest.mark.parametrize("length,window,halo", [(1081, 256, 8), (1919, 512, 16), (100, 64, 4), (64, 64, 4), (30, 64, 4)])
def test_spans_cover_exactly_once(length, window, halo):
    ss = spans(length, window, halo)
    covered = np.zeros(length, int)
    for s in ss:
        covered[s.keep_start : s.keep_stop] += 1
        assert 0 <= s.start and s.stop <= length
        assert s.stop - s.start == min(window, length)  # one fixed shape
        # kept part is at least `halo` inside the window unless it touches the frame edge
        assert s.keep_start == 0 or s.keep_start - s.start >= halo
        assert s.keep_stop == length or s.stop - s.keep_stop >= halo
    assert (covered == 1).all()


def test_tile_too_small_for_halo():
    with pytest.raises(ValueError, match="too small"):
        TileGrid(1000, 1000, tile=32, halo=16)


def test_grid_windows_aligned_to_multiple():
    grid = TileGrid(1082, 1920, tile=300, halo=5, multiple=8)
    assert grid.window % 8 == 0 and grid.halo % 8 == 0
    shapes = {(t.src[0].stop - t.src[0].start, t.src[1].stop - t.src[1].start) for t in grid}
    assert shapes == {grid.tile_shape}


@pytest.mark.parametrize("h,w,tile", [(1081, 1919, 512), (1081, 1919, 200), (257, 129, 64)])
def test_tiled_equals_whole_at_odd_sizes(effect_path, h, w, tile):
    model = load_model(effect_path)
    frame = _frame(h, w)
    whole = model.apply(frame, max_pixels=h * w)
    tiled = model.apply(frame, tile=tile)
    assert tiled.shape == whole.shape == frame.shape
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1


def test_tiled_equals_whole_strided_network(strided_path):
    # stride-2 conv + x2 upsample: exact only if windows sit on the size multiple
    model = load_model(strided_path)
    frame = _frame(333, 517, dtype=np.float32)
    whole = model.apply(frame)
    tiled = model.apply(frame, tile=96)
    assert np.abs(tiled - whole).max() <= 1 / 255


def test_feathered_tiles_match_for_local_model(effect_path):
    model = load_model(effect_path)
    frame = _frame(300, 410, dtype=np.float32)
    whole = model.apply(frame)
    feathered = model.apply(frame, tile=128, feather=8)
    assert np.abs(feathered - whole).max() <= 1 / 255


def test_alpha_passes_through_tiled(effect_path):
    model = load_model(effect_path)
    frame = _frame(200, 300, c=4)
    out = model.apply(frame, tile=96)
    assert out.shape == frame.shape and (out[..., 3] == frame[..., 3]).all()
    assert not (out[..., :3] == frame[..., :3]).all()


def test_large_frame_tiles_automatically(effect_path):
    model = load_model(effect_path)
    frame = _frame(256, 256)
    runs0 = model.runs
    model.apply(frame, max_pixels=128 * 128)
    assert model.runs - runs0 > 1


def test_texture_tiled_equals_whole(texture_path):
    model = load_model(texture_path)
    whole = model.generate(1919, 1081, t=0.7, seed=5)
    tiled = model.generate(1919, 1081, t=0.7, seed=5, tile=256)
    assert whole.shape == (1081, 1919, 3)
    assert np.abs(whole - tiled).max() <= 1 / 255
    # a window rendered alone matches the same region of the whole
    crop = model.generate(64, 64, t=0.7, seed=5)
    assert np.abs(crop - whole[:64, :64]).max() <= 1 / 255


def test_tile_smaller_than_halo_is_a_user_error(effect_path):
    from ganfx.runtime.errors import UserInputError

    model = load_model(effect_path)
    with pytest.raises(UserInputError, match="too small for a halo"):
        model.apply(_frame(64, 64), tile=4)
