"""Mattes: an effect weighed per pixel (0 = the source, 1 = the full effect), exact under tiling."""

import numpy as np
import pytest

from ganfx.runtime import frames as F
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.io import open_reader
from ganfx.runtime.model import load_model
from ganfx.runtime.pipeline import MatteSource, RenderOptions, render_file
from media import make_clip, make_sequence

QUIET = RenderOptions(progress="quiet")


def _frames(n, h, w, c=3, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        return rng.random((n, h, w, c), dtype=np.float32)
    return rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)


def _matte(n, h, w, seed=1):
    """Hard 0 and 1 regions and a soft ramp between: every kind of pixel a roto has."""
    rng = np.random.default_rng(seed)
    m = np.clip(np.linspace(-0.5, 1.5, w, dtype=np.float32)[None, None, :] + rng.random((n, h, 1)) * 0.2, 0, 1)
    return np.broadcast_to(m, (n, h, w)).astype(np.float32)


@pytest.fixture(scope="module")
def fx(effect_path):
    return load_model(effect_path, threads=1)


@pytest.fixture(scope="module")
def strided(strided_path):
    return load_model(strided_path, threads=1)


@pytest.mark.parametrize("which", ["fx", "strided"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_tiles_with_a_matte_equal_the_whole_frame(request, which, dtype):
    model = request.getfixturevalue(which)
    frames, matte = _frames(2, 133, 171, dtype=dtype), _matte(2, 133, 171)
    space = "linear" if dtype == np.float32 else "srgb"
    whole = model.apply(frames, strength=0.8, matte=matte, colorspace=space)
    for tiled in (model.apply(frames, strength=0.8, matte=matte, colorspace=space, tile=48),
                  model.apply(frames, strength=0.8, matte=matte, colorspace=space, tile=64, feather=6)):
        assert tiled.dtype == whole.dtype
        assert np.abs(tiled.astype(np.float64) - whole).max() <= (1 if dtype == np.uint8 else 1e-5)
    # the formula, per pixel: source + matte * strength * (effect - source), mixed in the source's space
    full = model.apply(frames, colorspace=space).astype(np.float64)
    src = F.to_unit(frames).astype(np.float64)
    expect = src + matte[..., None] * 0.8 * (F.to_unit(full.astype(frames.dtype)) - src)
    tol = 1 / 255 if dtype == np.uint8 else 1e-5
    assert np.abs(F.to_unit(whole) - expect).max() <= tol


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_zero_matte_is_the_source_and_a_one_matte_is_no_matte(fx, dtype):
    frames = _frames(2, 40, 56, dtype=np.float32 if dtype == np.float32 else np.uint8)
    if dtype == np.uint16:
        frames = frames.astype(np.uint16) * 257 + 3
    for zero in (np.zeros((40, 56), np.uint8), np.zeros((2, 40, 56, 1), np.float32)):
        out = fx.apply(frames, matte=zero, tile=32)
        assert out.dtype == frames.dtype and np.array_equal(out, frames)  # bit for bit, tiled too
    ones = {np.uint8: 255, np.uint16: 65535}.get(dtype, 1.0)
    for strength in (1.0, 0.6):
        plain = fx.apply(frames, strength=strength)
        assert np.array_equal(fx.apply(frames, strength=strength, matte=np.full((40, 56, 1), ones, dtype)), plain)


def test_the_matte_only_touches_colour_rgba_keeps_its_alpha(fx):
    frames = _frames(1, 48, 64, c=4)[0]
    matte = np.zeros((48, 64), np.uint8)
    matte[:, 32:] = 255
    out = fx.apply(frames, matte=matte, tile=32)
    assert out.shape == frames.shape and np.array_equal(out[..., 3], frames[..., 3])
    assert np.array_equal(out[:, :32], frames[:, :32])  # matte 0: the source, alpha included
    assert np.array_equal(out[:, 32:], fx.apply(frames)[:, 32:])  # matte 1: the full effect


def test_bad_mattes_are_one_line_errors(fx):
    frames = _frames(2, 20, 30)
    cases = [
        (np.zeros((20, 31)), "the matte is 31x20 but the frames are 30x20"),
        (np.zeros((3, 20, 30)), "3 mattes for 2 frames"),
        (np.zeros((20, 30, 3)), "one channel"),
        (np.zeros((20, 30), np.int32), "uint8, uint16, bool or float"),
    ]
    for matte, message in cases:
        with pytest.raises(UserInputError, match=message) as err:
            fx.apply(frames, matte=matte)
        assert "\n" not in str(err.value)


def test_matte_of_takes_alpha_or_luma():
    grey = np.full((4, 4, 3), 200, np.uint8)
    assert np.array_equal(F.matte_of(grey), np.full((4, 4, 1), 200, np.uint8))  # grey keeps its level exactly
    white16 = np.full((2, 2, 3), 65535, np.uint16)
    assert (F.matte_of(white16) == 65535).all() and F.matte_of(white16).dtype == np.uint16
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = 77
    assert (F.matte_of(rgba) == 77).all()
    red = np.zeros((1, 1, 3), np.float32)
    red[..., 0] = 1
    assert abs(float(F.matte_of(red)[0, 0, 0]) - 0.2126) < 1e-6  # Rec. 709 luma
    assert F.matte_of(np.zeros((5, 6))).shape == (5, 6, 1)
    assert np.array_equal(F.as_matte(np.array([[0, 65535]], np.uint16), (1, 1, 2, 3)), [[[[0.0], [1.0]]]])
    assert F.as_matte(np.array([[True, False]]), (3, 1, 2, 3)).shape == (1, 1, 2, 1)


def _matte_sequence(pattern, numbers, width=64, height=48):
    """A grey matte sequence: the k-th frame is white left of column 4 * (k + 1), black elsewhere."""
    from ganfx.runtime.io.images import write_png
    from ganfx.runtime.io.sequence import parse_pattern

    pat = parse_pattern(pattern)
    pat.folder.mkdir(parents=True, exist_ok=True)
    for k, n in enumerate(numbers):
        img = np.zeros((height, width, 1), np.uint8)
        img[:, : 4 * (k + 1)] = 255
        write_png(pat.path(n), img)
    return pattern


class Record:
    """A processor that keeps the mattes it was given and returns the frames unchanged."""

    def __init__(self):
        self.mattes = []

    def begin(self, frame_range, output=None):
        pass

    def end(self):
        pass

    def process(self, frames, numbers, mattes=None):
        self.mattes.extend(mattes)
        return frames


def test_matte_frames_pair_with_the_input_in_order(tmp_path):
    clip = make_clip(tmp_path / "in.mkv", frames=8, codec="ffv1", pix_fmt="bgr0", audio=None)  # frames 0-7
    roto = _matte_sequence(tmp_path / "roto" / "m.####.png", range(1001, 1011))  # 1001-1010: two more
    proc = Record()
    render_file(clip, tmp_path / "o.####.png", proc, frames=(2, 5), options=QUIET, matte=roto)
    widths = [int(m[0, :, 0].astype(bool).sum()) for m in proc.mattes]
    assert widths == [4 * (k + 1) for k in (2, 3, 4, 5)]  # input frame k takes the matte's frame 1001 + k
    assert all(m.shape == (48, 64, 1) and m.dtype == np.uint8 for m in proc.mattes)
    proc = Record()  # resuming: the matte skips the frames the input skips
    render_file(clip, tmp_path / "o.####.png", proc, options=RenderOptions(progress="quiet", resume=True),
                matte=roto)
    assert [int(m[0, :, 0].astype(bool).sum()) for m in proc.mattes] == [4, 8, 28, 32]
    still = tmp_path / "still.png"
    from ganfx.runtime.io.images import write_png

    write_png(still, np.full((48, 64, 1), 9, np.uint8))
    proc = Record()
    render_file(clip, tmp_path / "p.####.png", proc, options=QUIET, matte=still)
    assert len(proc.mattes) == 8 and all((m == 9).all() for m in proc.mattes)  # one still for every frame


def test_matte_refusals_name_the_matte_and_write_nothing(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=6, audio=None)
    short = _matte_sequence(tmp_path / "short.####.png", range(1, 5))
    small = _matte_sequence(tmp_path / "small.####.png", range(6), width=32)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(UserInputError, match=r"short.####.png: the matte has 4 frames \(1-4\) but frames 0-5 of"):
        render_file(clip, tmp_path / "o.mp4", Record(), options=QUIET, matte=short)
    with pytest.raises(UserInputError, match="small.####.png: the matte is 32x48 but the input is 64x48"):
        render_file(clip, tmp_path / "o.mp4", Record(), options=QUIET, matte=small)
    with pytest.raises(UserInputError, match="the output is the matte"):
        render_file(clip, tmp_path / "short.%04d.png", Record(), matte=short,
                    options=RenderOptions(progress="quiet", overwrite=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    proc = Record()  # a range the short matte covers renders
    render_file(clip, tmp_path / "o.####.png", proc, frames=(1, 3), options=QUIET, matte=short)
    assert len(proc.mattes) == 3


def test_matte_source_reads_rgba_alpha(tmp_path):
    make_sequence(tmp_path / "in.####.png", range(1, 3))
    make_sequence(tmp_path / "m.####.png", range(1, 3), alpha=True)  # alpha: a ramp across the width
    with open_reader(tmp_path / "in.####.png") as src, open_reader(tmp_path / "m.####.png") as m:
        images = list(MatteSource(m, src.properties, 1, 2).images())
        alpha = next(iter(m.frames())).image[..., 3:]
    assert len(images) == 2 and np.array_equal(images[0], alpha)
