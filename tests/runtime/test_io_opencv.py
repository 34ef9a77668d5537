"""The OpenCV VideoWriter backend (`--writer opencv`)."""

from fractions import Fraction

import pytest

from ganfx.runtime.errors import MediaIOError, UserInputError
from ganfx.runtime.io import Frame, OutputSpec, open_reader, open_writer
from media import frame_image, index_of


def test_opencv_writer_writes_a_readable_video(tmp_path):
    out = tmp_path / "cv.mp4"
    with open_writer(out, OutputSpec(64, 48, Fraction(25)), backend="opencv") as w:
        for i in range(8):
            w.write(Frame(i, w.convert(frame_image(i))))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cv.mp4"]
    with open_reader(out) as r:
        p = r.properties
        assert (p.width, p.height, p.frame_count, p.frame_rate) == (64, 48, 8, Fraction(25))
        assert [index_of(f.image) for f in r.frames()] == list(range(8))


def test_opencv_writer_refusals(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"keep")
    with pytest.raises(MediaIOError, match="exists already") as err:
        open_writer(tmp_path / "x.mp4", OutputSpec(64, 48), backend="opencv")
    assert err.value.about == "overwrite"
    with pytest.raises(UserInputError, match="FourCC"):
        open_writer(tmp_path / "y.mp4", OutputSpec(64, 48, codec="h264x"), backend="opencv")
    with pytest.raises(UserInputError, match="unknown writer"):
        open_writer(tmp_path / "y.mp4", OutputSpec(64, 48), backend="gstreamer")
    w = open_writer(tmp_path / "z.avi", OutputSpec(64, 48), backend="opencv")
    w.write(Frame(0, frame_image(0)))
    w.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.mp4"]
    assert (tmp_path / "x.mp4").read_bytes() == b"keep"
