"""The threaded render pipeline: order, batching, overlap, errors, progress, whole renders."""

import io
import json
import threading

import numpy as np
import pytest

from ganfx.runtime.errors import GanfxError, MediaIOError, UserInputError
from ganfx.runtime.io import Frame, Writer, open_reader
from ganfx.runtime.pipeline import Progress, RenderOptions, parse_frame_range, queue_size_for, render, render_file
from media import frame_image, index_of, make_clip, make_sequence

QUIET = RenderOptions(progress="quiet")


class Invert:
    """A processor: 255 - frame, recording the batches it saw."""

    def __init__(self, fail_at=None):
        self.calls, self.fail_at, self.began, self.ended = [], fail_at, None, False

    def begin(self, frame_range, output=None):
        self.began = frame_range

    def process(self, frames, numbers):
        self.calls.append(list(numbers))
        if self.fail_at in numbers:
            raise MediaIOError(f"cannot process frame {self.fail_at}")
        return 255 - frames

    def end(self):
        self.ended = True


class ListWriter(Writer):
    def __init__(self):
        self.frames, self.path = [], "memory"

    def write(self, frame):
        self.frames.append(frame)

    def commit(self):
        pass

    def abort(self):
        pass


def source(n, first=0):
    return (Frame(first + i, frame_image(i), pts=i * 10) for i in range(n))


def test_order_batches_and_timestamps():
    proc, writer = Invert(), ListWriter()
    stats = render(source(10, 1001), proc, writer, total=10, batch=4, frame_range=(1001, 1010))
    assert proc.calls == [[1001, 1002, 1003, 1004], [1005, 1006, 1007, 1008], [1009, 1010]]
    assert [f.number for f in writer.frames] == list(range(1001, 1011))
    assert [f.pts for f in writer.frames] == [i * 10 for i in range(10)]
    assert all(np.array_equal(f.image, 255 - frame_image(i)) for i, f in enumerate(writer.frames))
    assert stats.frames == 10 and proc.began == (1001, 1010) and proc.ended
    assert set(stats.busy) == {"decode", "preprocess", "inference", "postprocess", "encode"}


def test_stages_overlap():
    """Decoding runs ahead while inference is busy: the first batch waits until later frames were read."""
    produced = threading.Semaphore(0)

    def counting_source():
        for f in source(12):
            produced.release()
            yield f

    class Waits(Invert):
        def process(self, frames, numbers):
            if numbers[0] == 0:
                for _ in range(6):  # frames 0..5 decoded while frame 0 is still in inference
                    assert produced.acquire(timeout=10), "decode did not run ahead of inference"
            return super().process(frames, numbers)

    writer = ListWriter()
    render(counting_source(), Waits(), writer, total=12, batch=1)
    assert len(writer.frames) == 12


def test_error_in_a_stage_stops_everything():
    proc, writer = Invert(fail_at=5), ListWriter()
    with pytest.raises(MediaIOError, match="cannot process frame 5"):
        render(source(100), proc, writer, total=100, batch=1)
    assert proc.ended and len(writer.frames) <= 5
    assert max(max(c) for c in proc.calls) == 5  # nothing processed after the failure


def test_processor_output_shape_is_checked():
    class Bad(Invert):
        def process(self, frames, numbers):
            return frames[0]  # [H,W,C] instead of [N,H,W,C]

    with pytest.raises(GanfxError, match=r"expected \[N,H,W,C\]"):
        render(source(3), Bad(), ListWriter(), total=3)


def test_progress_json_lines():
    out = io.StringIO()
    progress = Progress(4, "json", stream=out)
    render(source(4, 7), Invert(), ListWriter(), total=4, progress=progress)
    progress.close(frames=4)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["frame"] for line in lines[:-1]] == [7, 8, 9, 10]
    assert [line["done"] for line in lines[:-1]] == [1, 2, 3, 4]
    assert all(line["total"] == 4 and line["fps"] >= 0 and "eta_s" in line for line in lines[:-1])
    assert lines[-1] == {"event": "done", "frames": 4}


@pytest.mark.parametrize("text,expect", [("1001-1100", (1001, 1100)), ("7", (7, 7)), (" 3 - 5 ", (3, 5))])
def test_parse_frame_range(text, expect):
    assert parse_frame_range(text) == expect


@pytest.mark.parametrize("text", ["5-2", "a-b", "-3", "1-2-3", ""])
def test_parse_frame_range_refusals(text):
    with pytest.raises(UserInputError, match="frame range") as err:
        parse_frame_range(text)
    assert err.value.about == "frames"  # the CLI names its flag; the library does not


def test_render_file_with_a_real_model_matches_apply(tmp_path, effect_path):
    from ganfx.runtime.model import load_model

    clip = make_clip(tmp_path / "in.mkv", frames=8, codec="ffv1", pix_fmt="bgr0", audio=None)  # lossless
    model = load_model(effect_path, threads=1)

    class Apply:
        def begin(self, r, output=None): pass
        def end(self): pass
        def process(self, frames, numbers):
            return model.apply(frames)

    stats = render_file(clip, tmp_path / "out.mkv", Apply(), frames=(2, 6),
                        options=RenderOptions(batch=3, progress="quiet", codec="ffv1"))
    assert stats.frames == 5
    with open_reader(clip) as r:
        expected = [model.apply(f.image) for f in r.frames(2, 6)]
    with open_reader(tmp_path / "out.mkv") as r:
        got = [f.image for f in r.frames()]
    assert len(got) == 5 and all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_render_file_failure_leaves_nothing(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=12)
    with pytest.raises(MediaIOError):
        render_file(clip, tmp_path / "new" / "folder" / "out.mp4", Invert(fail_at=6), options=QUIET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]  # folders it made are gone too


def test_render_file_resume_skips_complete_frames(tmp_path):
    make_sequence(tmp_path / "in.####.png", range(1, 9))
    out = tmp_path / "out" / "o.####.png"
    render_file(tmp_path / "in.####.png", out, Invert(), frames=(1, 3), options=QUIET)
    proc = Invert()
    render_file(tmp_path / "in.####.png", out, proc, options=RenderOptions(progress="quiet", resume=True))
    assert [n for call in proc.calls for n in call] == [4, 5, 6, 7, 8]
    with open_reader(out) as r:
        assert (r.properties.first_frame, r.properties.last_frame) == (1, 8)
        assert [index_of(255 - f.image) for f in r.frames()] == list(range(8))


def test_render_file_refusals(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=6)
    with pytest.raises(UserInputError, match="outside the source's frames 0-5"):
        render_file(clip, tmp_path / "o.mp4", Invert(), frames=(3, 9), options=QUIET)
    with pytest.raises(UserInputError, match="the output is the input"):
        render_file(clip, clip, Invert(), options=QUIET)
    with pytest.raises(UserInputError, match="resuming works with image-sequence outputs"):
        render_file(clip, tmp_path / "o.mp4", Invert(), options=RenderOptions(resume=True, progress="quiet"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    make_sequence(tmp_path / "s.####.png", [1, 2])
    with pytest.raises(UserInputError, match="the output is the input"):
        render_file(tmp_path / "s.####.png", tmp_path / "s.%04d.png", Invert(),
                    options=RenderOptions(overwrite=True, progress="quiet"))


def test_queue_size_bounds_frames_in_flight():
    assert queue_size_for(1920, 1080, batch=1) == 4
    assert queue_size_for(7680, 4320, batch=1) == 1  # 8K float frames: one batch per queue
    for w, h, b in ((1920, 1080, 1), (3840, 2160, 2), (7680, 4320, 1)):
        q = queue_size_for(w, h, b)
        assert q == 1 or (5 + 4 * q) * w * h * 16 * b <= 2 << 30


def test_models_for_the_pipeline_do_not_spin(effect_path, user_models):
    """Idle onnxruntime threads must not busy-wait on cores the decode/encode stages need."""
    from ganfx.plugin.session import SessionOptions, open_session
    from ganfx.runtime.model import load_model

    proc = open_session("testfx", {}, SessionOptions(threads=1))
    entry = "session.intra_op.allow_spinning"
    assert proc.model.session.get_session_options().get_session_config_entry(entry) == "0"
    default = load_model(effect_path, threads=1).session.get_session_options()
    with pytest.raises(Exception):  # plain load_model keeps onnxruntime's default (no entry)
        default.get_session_config_entry(entry)


def test_runtime_failures_become_one_line_errors():
    class OutOfMemory(Invert):
        def process(self, frames, numbers):
            raise MemoryError

    with pytest.raises(GanfxError, match="out of memory rendering frame 0; render in smaller tiles"):
        render(source(2), OutOfMemory(), ListWriter(), total=2)

    class Bug(Invert):
        def process(self, frames, numbers):
            raise ZeroDivisionError  # a programming error keeps its traceback

    with pytest.raises(ZeroDivisionError):
        render(source(2), Bug(), ListWriter(), total=2)
