"""Image sequences and stills: patterns, numbering, formats and depths, refusals, overwrite/resume."""

import numpy as np
import pytest

from ganfx.runtime.errors import MediaIOError, UserInputError
from ganfx.runtime.io import Frame, OutputSpec, open_reader, open_writer
from ganfx.runtime.io.images import image_size, read_image, write_image
from ganfx.runtime.io.sequence import parse_pattern
from media import frame_image, index_of, make_sequence


@pytest.mark.parametrize("text,prefix,pad,suffix", [
    ("shot.####.exr", "shot.", 4, ".exr"),
    ("shot.%04d.exr", "shot.", 4, ".exr"),
    ("plate_#.png", "plate_", 1, ".png"),
    ("a%d.tif", "a", 1, ".tif"),
])
def test_parse_pattern(tmp_path, text, prefix, pad, suffix):
    p = parse_pattern(tmp_path / text)
    assert (p.prefix, p.padding, p.suffix) == (prefix, pad, suffix)
    assert p.path(7).name == f"{prefix}{7:0{pad}d}{suffix}"
    assert parse_pattern(tmp_path / "still.png") is None
    with pytest.raises(UserInputError, match="exactly one"):
        parse_pattern(tmp_path / "a.##.%04d.png")


def test_numbers_preserved_both_pattern_styles(tmp_path):
    make_sequence(tmp_path / "in" / "shot.####.png", range(1001, 1011))
    for pattern in ("shot.####.png", "shot.%04d.png"):
        with open_reader(tmp_path / "in" / pattern) as r:
            p = r.properties
            assert (p.kind, p.first_frame, p.last_frame, p.frame_count) == ("sequence", 1001, 1010, 10)
            assert (p.width, p.height, p.frame_rate, p.dtype) == (64, 48, None, "uint8")
            frames = list(r.frames(1003, 1005))
        assert [f.number for f in frames] == [1003, 1004, 1005]
        assert [index_of(f.image) for f in frames] == [2, 3, 4]


@pytest.mark.parametrize("ext,dtype,exr_type", [
    (".png", np.uint8, None), (".png", np.uint16, None), (".tif", np.uint16, None),
    (".exr", np.float32, "half"), (".exr", np.float32, "float"),
])
def test_lossless_formats_round_trip(tmp_path, ext, dtype, exr_type):
    rng = np.random.default_rng(0)
    if dtype == np.float32:
        img = rng.uniform(0, 4, (48, 64, 4)).astype(np.float32)  # HDR values above 1 survive
    else:
        img = rng.integers(0, np.iinfo(dtype).max, (48, 64, 3), endpoint=True).astype(dtype)
    path = tmp_path / f"x{ext}"
    write_image(path, img, exr_type=exr_type or "half")
    got = read_image(path)
    assert image_size(path) == (64, 48)
    assert got.dtype == (np.float32 if ext == ".exr" else dtype) and got.shape == img.shape
    if exr_type == "half":
        assert np.array_equal(got, img.astype(np.float16).astype(np.float32))
    else:
        assert np.array_equal(got, img)


def test_jpeg_is_close(tmp_path):
    img = frame_image(5)
    write_image(tmp_path / "x.jpg", img)
    assert image_size(tmp_path / "x.jpg") == (64, 48)
    assert np.abs(read_image(tmp_path / "x.jpg").astype(int) - img).mean() < 4


def test_writer_depths_and_numbering(tmp_path):
    numbers = tuple(range(1001, 1006))
    with open_writer(tmp_path / "out" / "f.%04d.png", OutputSpec(64, 48, bit_depth=10,
                                                                  frame_numbers=numbers)) as w:
        assert w.dtype == np.uint16  # a 10-bit source keeps its precision in 16-bit PNG
        for n in numbers:
            w.write(Frame(n, w.convert(frame_image(n - 1001, dtype=np.uint16))))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"f.{n}.png" for n in numbers]
    with open_reader(tmp_path / "out" / "f.####.png") as r:
        assert r.properties.dtype == "uint16" and r.properties.pixel_format == "rgb16"
        assert np.array_equal(next(iter(r.frames())).image, frame_image(0, dtype=np.uint16))


def test_exr_writer_float_from_integer_source_is_linear(tmp_path):
    spec = OutputSpec(64, 48, codec="float", frame_numbers=(0,))
    img = frame_image(3)
    with open_writer(tmp_path / "still.exr", spec) as w:
        w.write(Frame(0, w.convert(img)))
    with open_reader(tmp_path / "still.exr") as r:
        p = r.properties
        assert (p.kind, p.pixel_format, p.bit_depth, p.colorspace) == ("image", "float RGB", 32, "linear")
        got = next(iter(r.frames())).image
    from ganfx.runtime.frames import srgb_to_linear

    assert np.allclose(got, srgb_to_linear(img / 255.0), atol=1e-6)


def test_gap_is_refused_with_the_missing_frame(tmp_path):
    make_sequence(tmp_path / "s.####.png", [1, 2, 3, 5, 6])
    with pytest.raises(MediaIOError, match=r"frame 4 is missing \(s\.0004\.png\)"):
        open_reader(tmp_path / "s.####.png")


def test_frame_of_another_size_is_refused(tmp_path):
    make_sequence(tmp_path / "s.####.exr", [1, 2, 3], dtype=np.float32)
    make_sequence(tmp_path / "odd.####.exr", [4], width=32, dtype=np.float32)
    (tmp_path / "odd.0004.exr").rename(tmp_path / "s.0004.exr")
    with pytest.raises(MediaIOError, match="frame 4 is 32x48 but frame 1 is 64x48") as info:
        open_reader(tmp_path / "s.####.exr")
    assert "s.0004.exr" in str(info.value)


def test_no_match_and_damaged_frames(tmp_path):
    with pytest.raises(MediaIOError, match="no such folder"):
        open_reader(tmp_path / "nowhere" / "s.####.png")
    with pytest.raises(MediaIOError, match="no files match"):
        open_reader(tmp_path / "s.####.png")
    (tmp_path / "bad.0001.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 4)
    with pytest.raises(MediaIOError, match="not a readable PNG"):
        open_reader(tmp_path / "bad.####.png")
    (tmp_path / "bad.exr").write_text("hello")
    with pytest.raises(MediaIOError, match="not a readable EXR"):
        open_reader(tmp_path / "bad.exr")


def test_overwrite_and_resume(tmp_path):
    make_sequence(tmp_path / "o.####.png", [1, 2])
    before = (tmp_path / "o.0001.png").read_bytes()
    spec = OutputSpec(64, 48, frame_numbers=(1, 2, 3, 4))
    exists = r"output exists \(o\.0001\.png and 1 more\); replace it or keep them"
    with pytest.raises(MediaIOError, match=exists) as err:
        open_writer(tmp_path / "o.####.png", spec)
    assert err.value.about == "overwrite_or_resume"  # the CLI names --overwrite and --resume
    w = open_writer(tmp_path / "o.####.png", OutputSpec(64, 48, frame_numbers=(1, 2, 3, 4), resume=True))
    assert w.done_frames == {1, 2}
    w = open_writer(tmp_path / "o.####.png", OutputSpec(64, 48, frame_numbers=(1, 2, 3, 4), overwrite=True))
    assert w.done_frames == frozenset()
    assert (tmp_path / "o.0001.png").read_bytes() == before  # nothing replaced until written


def test_many_frames_into_one_image_is_refused(tmp_path):
    with pytest.raises(UserInputError, match=r"use a pattern such as out\.####\.png"):
        open_writer(tmp_path / "out.png", OutputSpec(64, 48, frame_numbers=(0, 1)))
    with pytest.raises(UserInputError, match="half or float"):
        open_writer(tmp_path / "out.exr", OutputSpec(64, 48, codec="h264", frame_numbers=(0,)))


def test_aborted_frame_leaves_no_file(tmp_path):
    w = open_writer(tmp_path / "a.####.png", OutputSpec(64, 48, frame_numbers=(1,)))
    with pytest.raises(Exception):
        w.write(Frame(1, np.zeros((48, 64, 7), np.uint8)))  # 7 channels: cannot be written
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_channel_order_matches_other_tools(tmp_path):
    """Red stays red: checked against OpenCV's and OpenEXR's own readers, not our reader."""
    import cv2
    import OpenEXR

    red = np.zeros((4, 6, 3), np.uint8)
    red[..., 0] = 255
    write_image(tmp_path / "r.png", red)
    assert cv2.imread(str(tmp_path / "r.png"))[0, 0].tolist() == [0, 0, 255]  # BGR on disk
    write_image(tmp_path / "r.exr", red.astype(np.float32) / 255)
    channels = OpenEXR.File(str(tmp_path / "r.exr"), separate_channels=True).channels()
    assert channels["R"].pixels.max() == 1 and channels["G"].pixels.max() == 0 and channels["B"].pixels.max() == 0


def test_convert_image_depths_and_alpha():
    from ganfx.runtime.io import convert_image
    from ganfx.runtime.frames import linear_to_srgb

    x = np.arange(256, dtype=np.uint8)[None, :, None].repeat(3, -1)  # [1,256,3]
    deep = convert_image(x, np.uint16, 3)
    assert np.array_equal(deep[0, :, 0], np.arange(256) * 257)
    assert np.array_equal(convert_image(deep, np.uint8, 3), x)
    z = np.arange(65536, dtype=np.uint16)[None, :, None].repeat(3, -1)
    assert np.array_equal(convert_image(z, np.uint8, 3)[0, :, 0], np.rint(np.arange(65536) / 257))
    rgba = convert_image(x, np.uint8, 4)
    assert rgba.shape == (1, 256, 4) and (rgba[..., 3] == 255).all()
    lin = np.full((2, 2, 4), 0.5, np.float32)  # linear colour, alpha 0.5
    out = convert_image(lin, np.uint8, 4)
    assert out[0, 0, 0] == round(float(linear_to_srgb(np.float32(0.5))) * 255) and out[0, 0, 3] == 128


def test_pattern_padding_has_a_limit(tmp_path):
    assert parse_pattern(tmp_path / ("s." + "#" * 16 + ".png")).padding == 16
    with pytest.raises(UserInputError, match="17 digits is more than 16"):
        parse_pattern(tmp_path / "s.%017d.png")


def test_damaged_png_frames_are_named_before_libpng_speaks(tmp_path):
    from ganfx.runtime.io.images import png_damage

    [path] = make_sequence(tmp_path / "f.####.png", [1])
    good = path.read_bytes()
    assert png_damage(np.frombuffer(good, np.uint8)) is None
    path.write_bytes(good[:-20])
    with pytest.raises(MediaIOError, match="damaged PNG .*truncated"):
        read_image(path)
    broken = bytearray(good)
    broken[60:70] = bytes(10)
    path.write_bytes(bytes(broken))
    with pytest.raises(MediaIOError, match=r"damaged PNG \(chunk 'IDAT' at byte \d+ fails its CRC\)"):
        read_image(path)


def test_pipes_and_folders_named_like_frames(tmp_path):
    import os

    make_sequence(tmp_path / "in" / "s.####.png", [1, 2])
    os.mkfifo(tmp_path / "in" / "s.0003.png")
    with pytest.raises(MediaIOError, match=r"s\.0003\.png: is a named pipe \(FIFO\), not a file"):
        open_reader(tmp_path / "in" / "s.####.png")  # refused by stat: never opened, never blocks
    (tmp_path / "out" / "o.0002.png").mkdir(parents=True)
    spec = OutputSpec(64, 48, frame_numbers=(1, 2, 3), overwrite=True)
    with pytest.raises(MediaIOError, match="o.0002.png: is a folder"):
        open_writer(tmp_path / "out" / "o.####.png", spec)
    with pytest.raises(MediaIOError, match="o.0002.png: is a folder"):
        open_writer(tmp_path / "out" / "o.####.png", OutputSpec(64, 48, frame_numbers=(1, 2, 3), resume=True))


def test_quality_only_where_it_applies(tmp_path):
    with pytest.raises(UserInputError, match=".png frames have no quality setting") as err:
        open_writer(tmp_path / "o.####.png", OutputSpec(64, 48, frame_numbers=(1,), quality=20))
    assert err.value.about == "quality"
    with pytest.raises(UserInputError, match="JPEG quality 101 is outside 0-100"):
        open_writer(tmp_path / "o.####.jpg", OutputSpec(64, 48, frame_numbers=(1,), quality=101))
    sizes = {}
    for q in (0, 95):  # quality 0 is quality 0 (it was taken for "unset" and became 95)
        with open_writer(tmp_path / f"q{q}.jpg", OutputSpec(64, 48, frame_numbers=(0,), quality=q)) as w:
            w.write(Frame(0, frame_image(3)))
        sizes[q] = (tmp_path / f"q{q}.jpg").stat().st_size
    assert sizes[0] < sizes[95]


def test_partials_of_dead_renders_are_removed_once_per_folder(tmp_path):
    import os
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    out = tmp_path / "o"
    out.mkdir()
    dead = [out / f".o.{n:04d}.partial-{child.pid}.png" for n in (1, 2)]
    live = out / f".o.0003.partial-{os.getpid()}.png"
    other = out / f".x.0001.partial-{child.pid}.png"  # another sequence's: not ours to remove
    for p in (*dead, live, other):
        p.write_bytes(b"partial")
    open_writer(out / "o.####.png", OutputSpec(64, 48, frame_numbers=(1, 2, 3)))
    assert not any(p.exists() for p in dead) and live.exists() and other.exists()
