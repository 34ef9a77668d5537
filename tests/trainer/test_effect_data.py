"""Effect training data: both forms load, patches are sampled right, bad input gives one clear line."""

import numpy as np
import pytest
from effect_fixtures import make_clip, make_keyframes, make_pairs, photo

from ganfx.runtime.errors import GanfxError, MediaIOError, UserInputError
from ganfx.runtime.frames import to_unit
from ganfx.runtime.io.images import write_png
from ganfx.trainer.effect_data import PatchSampler, frame_number, load_keyframes, load_pairs, read_clip_frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "pan.mp4", frames=12)


def one_line(exc: GanfxError) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_pairs_load_with_masks(tmp_path):
    folder = make_pairs(tmp_path / "shot")
    (folder / "mask").mkdir()
    mask = np.zeros((72, 80, 3), np.uint8)
    mask[10:40, 20:60] = 255
    write_png(folder / "mask" / "a.png", mask)
    pairs = load_pairs(folder)
    assert [p.name for p in pairs] == ["a.png", "b.png"]
    assert pairs[0].input.shape == (72, 80, 3) and pairs[0].input.dtype == np.float32
    assert pairs[0].mask is not None and pairs[0].mask.sum() == 30 * 40 and pairs[1].mask is None
    assert 0 <= pairs[0].target.min() and pairs[0].target.max() <= 1


def test_keyframes_decode_the_right_frames(tmp_path, clip):
    kf = make_keyframes(tmp_path / "kf", clip, [0, 5, 11])
    pairs = load_keyframes(clip, kf)
    assert [p.frame for p in pairs] == [0, 5, 11]
    decoded = read_clip_frames(clip, [5])[5]
    assert np.array_equal(pairs[1].input, to_unit(decoded))  # the scaling the runtime feeds networks
    assert frame_number("shot.0012.png") == 12 and frame_number("frame_7_v2_0030.png") == 30


def test_patch_sampler_shapes_masks_and_state(tmp_path):
    folder = make_pairs(tmp_path / "shot")
    (folder / "mask").mkdir()
    mask = np.zeros((72, 80, 3), np.uint8)
    mask[30:34, 30:34] = 255
    write_png(folder / "mask" / "a.png", mask)
    pairs = load_pairs(folder)
    s = PatchSampler(pairs, patch=32, batch=8, seed=1)
    state = s.state()
    x, y, m = s.sample()
    assert x.shape == y.shape == (8, 3, 32, 32) and m.shape == (8, 1, 32, 32)
    assert float(m.amin(dim=(1, 2, 3)).max()) <= 1.0 and float(m.amax(dim=(1, 2, 3)).min()) > 0  # every patch trains somewhere
    s.set_state(state)
    x2, _, _ = s.sample()
    assert np.array_equal(x.numpy(), x2.numpy())  # same RNG state, same patches


def test_unmatched_names(tmp_path):
    folder = make_pairs(tmp_path / "shot")
    (folder / "target" / "b.png").rename(folder / "target" / "c.png")
    with pytest.raises(UserInputError) as e:
        load_pairs(folder)
    assert "no target/b.png for input/b.png" in one_line(e.value) and str(folder) in str(e.value)


def test_sizes_differ(tmp_path):
    folder = make_pairs(tmp_path / "shot")
    write_png(folder / "target" / "a.png", photo(0, (70, 80)))
    with pytest.raises(UserInputError) as e:
        load_pairs(folder)
    msg = one_line(e.value)
    assert msg.startswith(str(folder / "target" / "a.png")) and "80x70 but input/a.png is 80x72" in msg


def test_keyframe_outside_clip(tmp_path, clip):
    kf = make_keyframes(tmp_path / "kf", clip, [3])
    (kf / "0003.png").rename(kf / "0040.png")
    with pytest.raises(UserInputError) as e:
        load_keyframes(clip, kf)
    msg = one_line(e.value)
    assert "0040.png" in msg and "frame 40 is outside the clip pan.mp4" in msg and "frames 0-11" in msg


def test_keyframe_size_differs_from_clip(tmp_path, clip):
    (tmp_path / "kf").mkdir()
    write_png(tmp_path / "kf" / "0002.png", photo(0, (100, 100)))
    with pytest.raises(UserInputError, match="100x100 but frame 2 of pan.mp4 is 320x240"):
        load_keyframes(clip, tmp_path / "kf")


def test_empty_folders(tmp_path, clip):
    (tmp_path / "shot" / "input").mkdir(parents=True)
    (tmp_path / "shot" / "target").mkdir()
    with pytest.raises(UserInputError) as e:
        load_pairs(tmp_path / "shot")
    assert one_line(e.value).startswith(str(tmp_path / "shot" / "input")) and "no images" in str(e.value)
    (tmp_path / "kf").mkdir()
    with pytest.raises(UserInputError, match="no images"):
        load_keyframes(clip, tmp_path / "kf")
    with pytest.raises(UserInputError, match="folder not found"):
        load_pairs(tmp_path / "missing")


def test_not_a_video(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(MediaIOError) as e:
        read_clip_frames(bad, [0])
    assert one_line(e.value).startswith(str(bad))


def test_patch_larger_than_pair(tmp_path):
    pairs = load_pairs(make_pairs(tmp_path / "shot", size=(40, 40)))
    with pytest.raises(UserInputError, match="smaller than the 71 px patches"):
        PatchSampler(pairs, patch=64)
