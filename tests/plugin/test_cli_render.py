"""`ganfx render`, `ganfx generate`, `ganfx probe` end to end on real files with the tiny ONNX models."""

import json
import os
import signal
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from ganfx.plugin.cli import main
from ganfx.runtime.io import open_reader
from media import RATE, ffprobe, make_clip, make_sequence, make_video_without_frames

ONE_FRAME = float(1 / RATE)


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def audio_seconds(path):
    import av

    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return max(float((p.pts + (p.duration or 0)) * a.time_base) for p in c.demux(a) if p.pts is not None)


@pytest.fixture(autouse=True)
def _models(user_models, monkeypatch):
    monkeypatch.setenv("GANFX_THREADS", "1")


def test_render_video_keeps_everything_a_td_checks(tmp_path, capsys):
    clip = make_clip(tmp_path / "plate.mp4", frames=24)
    rc, out, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "out.mp4", "--quiet")
    assert rc == 0 and err == "" and out == ""
    with open_reader(tmp_path / "out.mp4") as r:
        p = r.properties
        assert (p.width, p.height, p.frame_count, p.frame_rate) == (64, 48, 24, RATE)
        assert (p.codec, p.pixel_format) == ("h264", "yuv420p")
        assert len(p.audio) == 1
    assert abs(audio_seconds(tmp_path / "out.mp4") - 24 * ONE_FRAME) < ONE_FRAME
    probe = ffprobe(tmp_path / "out.mp4")
    if probe is not None:
        v, a = (next(s for s in probe["streams"] if s["codec_type"] == k) for k in ("video", "audio"))
        assert (v["codec_name"], v["pix_fmt"], v["width"], v["height"]) == ("h264", "yuv420p", 64, 48)
        assert int(v["nb_read_frames"]) == 24 and Fraction(v["avg_frame_rate"]) == RATE
        assert abs(float(a["duration"]) - float(v["duration"])) < ONE_FRAME
    assert listing(tmp_path) == ["out.mp4", "plate.mp4"]


def test_render_prores_and_batch(tmp_path, capsys):
    clip = make_clip(tmp_path / "plate.mov", frames=10, audio="pcm_s16le")
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "out.mov", "--codec", "prores",
                     "--batch", "4", "--tile", "32", "--quiet")
    assert rc == 0, err
    with open_reader(tmp_path / "out.mov") as r:
        p = r.properties
        assert (p.codec, p.pixel_format, p.bit_depth, p.frame_count) == ("prores", "yuv422p10le", 10, 10)
        assert p.audio[0].codec == "pcm_s16le"  # mov holds PCM: copied as is


def test_render_frame_range_to_sequence_keeps_numbers(tmp_path, capsys):
    clip = make_clip(tmp_path / "plate.mp4", frames=12)
    rc, out, _ = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "seq" / "f.%04d.png", "--frames", "3-7",
                     "--progress", "json")
    assert rc == 0
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["frame"] for x in lines if x["event"] == "frame"] == [3, 4, 5, 6, 7]
    assert lines[-1]["event"] == "done" and lines[-1]["frames"] == 5
    assert listing(tmp_path / "seq") == [f"f.{n:04d}.png" for n in range(3, 8)]


def test_render_exr_sequence_round_trips_linear_floats(tmp_path, capsys, effect_path):
    from ganfx.runtime.model import load_model

    make_sequence(tmp_path / "in" / "shot.####.exr", range(1001, 1006), dtype=np.float32)
    rc, _, err = cli(capsys, "render", "testfx", tmp_path / "in" / "shot.####.exr",
                     "-o", tmp_path / "out" / "shot.####.exr", "--codec", "float", "--quiet")
    assert rc == 0, err
    model = load_model(effect_path, threads=1)
    with open_reader(tmp_path / "in" / "shot.####.exr") as src, open_reader(tmp_path / "out" / "shot.####.exr") as r:
        assert (r.properties.first_frame, r.properties.last_frame, r.properties.pixel_format) == (1001, 1005,
                                                                                                  "float RGB")
        for a, b in zip(src.frames(), r.frames()):
            assert a.number == b.number and b.image.dtype == np.float32
            assert np.array_equal(b.image, model.apply(a.image, colorspace="linear"))


def test_render_sequence_to_video_with_fps(tmp_path, capsys):
    make_sequence(tmp_path / "s.####.png", range(1, 9))
    rc, _, err = cli(capsys, "render", "testfx", tmp_path / "s.####.png", "-o", tmp_path / "o.mkv",
                     "--fps", "23.976", "--quiet")
    assert rc == 0, err
    with open_reader(tmp_path / "o.mkv") as r:
        assert (r.properties.frame_rate, r.properties.frame_count, r.properties.codec) == (RATE, 8, "ffv1")


def test_render_strength_zero_and_opencv_writer(tmp_path, capsys):
    clip = make_clip(tmp_path / "p.mkv", frames=6, codec="ffv1", pix_fmt="bgr0", audio=None)
    rc, _, _ = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "same.mkv", "--param", "strength=0", "--quiet")
    assert rc == 0
    with open_reader(clip) as a, open_reader(tmp_path / "same.mkv") as b:
        assert all(np.array_equal(x.image, y.image) for x, y in zip(a.frames(), b.frames()))
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "cv.avi", "--writer", "opencv", "--quiet")
    assert rc == 0, err
    with open_reader(tmp_path / "cv.avi") as r:
        assert r.properties.frame_count == 6


def make_matte_clip(path, frames, width=64, height=48):
    """A real matte video (lossless, grey): frame k is white left of column 4 * (k + 1), mid-grey in the
    next 8 columns, black elsewhere, so each frame has its own matte."""
    import av

    with av.open(str(path), "w") as c:
        v = c.add_stream("ffv1", rate=RATE)
        v.width, v.height, v.pix_fmt = width, height, "bgr0"
        for k in range(frames):
            img = np.zeros((height, width, 3), np.uint8)
            img[:, 4 * (k + 1) : 4 * (k + 1) + 8] = 128
            img[:, : 4 * (k + 1)] = 255
            for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in v.encode():
            c.mux(packet)
    return path


def read_frames(path, first=None, last=None):
    with open_reader(path) as r:
        return np.stack([f.image for f in r.frames(first, last)])


def check_matted(out, src, matte, full):
    """Per pixel: matte 0 is the decoded source, matte 1 the full effect, grey in between."""
    zero, one = matte[..., 0] == 0, matte[..., 0] == 255
    assert zero.any() and one.any() and (~(zero | one)).any()
    assert np.array_equal(out[zero], src[zero]) and np.array_equal(out[one], full[one])
    between = ~(zero | one)
    assert (out[between] != src[between]).any() and (out[between] != full[between]).any()


def test_render_with_a_matte_video_and_a_frame_range(tmp_path, capsys, effect_path):
    from ganfx.runtime.frames import matte_of
    from ganfx.runtime.model import load_model

    clip = make_clip(tmp_path / "plate.mp4", frames=12)  # h264: the source is what decodes
    roto = make_matte_clip(tmp_path / "roto.mkv", 12)
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "seq" / "o.####.png", "--matte", roto,
                     "--frames", "3-7", "--tile", "32", "--quiet")
    assert rc == 0, err
    out = read_frames(tmp_path / "seq" / "o.####.png")
    src, matte = read_frames(clip, 3, 7), matte_of(read_frames(roto, 3, 7))  # the same frames of the matte
    assert out.shape == src.shape == (5, 48, 64, 3)
    check_matted(out, src, matte, load_model(effect_path, threads=1).apply(src))
    assert [int((m[0, :, 0] == 255).sum()) for m in matte] == [16, 20, 24, 28, 32]


def test_render_with_a_still_matte(tmp_path, capsys, effect_path):
    from ganfx.runtime.io.images import write_png
    from ganfx.runtime.model import load_model

    clip = make_clip(tmp_path / "plate.mp4", frames=6)
    matte = np.zeros((48, 64, 1), np.uint8)  # a grey PNG: its luma is its level
    matte[12:36, 16:48] = 255
    matte[20:28, 24:40] = 100
    write_png(tmp_path / "matte.png", matte)
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "out.mkv", "--matte", tmp_path / "matte.png",
                     "--batch", "4", "--quiet")  # .mkv: FFV1, lossless
    assert rc == 0, err
    out, src = read_frames(tmp_path / "out.mkv"), read_frames(clip)
    full = load_model(effect_path, threads=1).apply(src)
    check_matted(out, src, np.broadcast_to(matte, src.shape[:3] + (1,)), full)


def test_overwrite_and_resume(tmp_path, capsys):
    clip = make_clip(tmp_path / "p.mp4", frames=6)
    out = tmp_path / "o.mp4"
    out.write_bytes(b"earlier render")
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", out, "--quiet")
    assert rc == 1 and "--overwrite" in err and out.read_bytes() == b"earlier render"
    rc, _, _ = cli(capsys, "render", "testfx", clip, "-o", out, "--quiet", "--overwrite")
    assert rc == 0 and out.read_bytes() != b"earlier render"
    seq = tmp_path / "s" / "o.####.png"
    assert cli(capsys, "render", "testfx", clip, "-o", seq, "--frames", "0-2", "--quiet")[0] == 0
    rc, out_lines, _ = cli(capsys, "render", "testfx", clip, "-o", seq, "--resume", "--progress", "json")
    assert rc == 0
    assert [json.loads(x)["frame"] for x in out_lines.splitlines()[:-1]] == [3, 4, 5]


def test_generate_still_sequence_and_video(tmp_path, capsys):
    rc, _, err = cli(capsys, "generate", "testtex", "-o", tmp_path / "still.exr", "--size", "64x48", "--tileable",
                     "--quiet")
    assert rc == 0, err
    with open_reader(tmp_path / "still.exr") as r:
        assert (r.properties.kind, r.properties.width, r.properties.height) == ("image", 64, 48)
    rc, _, _ = cli(capsys, "generate", "testtex", "-o", tmp_path / "g" / "t.####.png", "--size", "32x32",
                   "--frames", "5", "--seed", "3", "--quiet")
    assert rc == 0 and listing(tmp_path / "g") == [f"t.{n:04d}.png" for n in range(5)]
    rc, _, _ = cli(capsys, "generate", "testtex", "-o", tmp_path / "t.mp4", "--size", "64x48", "--frames", "12",
                   "--fps", "30000/1001", "--loop", "--quiet")
    assert rc == 0
    with open_reader(tmp_path / "t.mp4") as r:
        assert (r.properties.frame_count, r.properties.frame_rate) == (12, Fraction(30000, 1001))


def test_generate_farm_chunks_match_a_whole_render(tmp_path, capsys):
    whole, chunks = tmp_path / "whole" / "t.####.exr", tmp_path / "chunks" / "t.####.exr"
    common = ["--size", "32x32", "--frames", "6", "--loop", "--quiet", "--codec", "float"]
    assert cli(capsys, "generate", "testtex", "-o", whole, *common)[0] == 0
    for chunk in ("0-2", "3-5"):
        assert cli(capsys, "generate", "testtex", "-o", chunks, "--range", chunk, *common)[0] == 0
    with open_reader(whole) as a, open_reader(chunks) as b:
        assert (b.properties.first_frame, b.properties.last_frame) == (0, 5)
        assert all(np.array_equal(x.image, y.image) for x, y in zip(a.frames(), b.frames()))
    rc, _, err = cli(capsys, "generate", "testtex", "-o", tmp_path / "x.####.png", "--size", "8x8", "--frames", "6",
                     "--range", "4-9")
    assert rc == 1 and "frames 4-9 are outside the 6 frames 0-5 (see --range)" in err


def test_generate_loop_returns_to_frame_zero(texture_path):
    from ganfx.plugin.session import SessionOptions, open_session

    options = SessionOptions(size=(32, 32), fps=Fraction(24), loop_frames=10, threads=1)
    proc = open_session(texture_path, {"speed": "0.7"}, options)
    frames = proc.process(None, [0, 5, 10])
    assert frames.shape == (3, 32, 32, 3) and frames.dtype == np.float32
    assert np.allclose(frames[0], frames[2], atol=1e-5) and not np.allclose(frames[0], frames[1], atol=1e-3)


def test_probe(tmp_path, capsys):
    clip = make_clip(tmp_path / "p.mp4", frames=6)
    rc, out, _ = cli(capsys, "probe", clip)
    assert rc == 0 and "frames: 6 (0-5)" in out and "24000/1001" in out and "audio 0: aac" in out
    rc, out, _ = cli(capsys, "probe", clip, "--json")
    d = json.loads(out)
    assert (d["frame_count"], d["frame_rate"], d["pixel_format"]) == (6, "24000/1001", "yuv420p")


def _truncated(d):
    clip = make_clip(d / "full.mp4", frames=12)
    cut = d / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    clip.unlink()
    return [cut]


def _audio_only(d):
    import av

    from media import _write_tone

    with av.open(str(d / "sound.m4a"), "w") as c:
        a = c.add_stream("aac", rate=48000)
        a.layout = "stereo"
        _write_tone(c, a, "aac", 4800)
    return [d / "sound.m4a"]


def _gap(d):
    make_sequence(d / "s.####.png", [1, 2, 4])
    return [d / "s.####.png"]


def _odd_size(d):
    make_sequence(d / "s.####.png", [1, 2])
    make_sequence(d / "t.####.png", [3], width=32)
    (d / "t.0003.png").rename(d / "s.0003.png")
    return [d / "s.####.png"]


def _clip(d):
    return [make_clip(d / "p.mp4", frames=6)]


BAD = {
    "missing file": (lambda d: [d / "nope.mp4"], [], "nope.mp4: no such file"),
    "truncated file": (_truncated, [], "cut.mp4: not a readable video"),
    "not media": (lambda d: [(d / "x.mov").write_text("hello") and d / "x.mov"], [], "x.mov: not a readable video"),
    "no video stream": (_audio_only, [], "sound.m4a: has no video stream"),
    "no frames": (lambda d: [make_video_without_frames(d / "e.mkv")], [], "e.mkv: video stream has no frames"),
    "sequence gap": (_gap, [], "frame 3 is missing (s.0003.png)"),
    "frame of another size": (_odd_size, [], "frame 3 is 32x48 but frame 1 is 64x48"),
    "bad range": (_clip, ["--frames", "5-2"], "the last frame comes before the first"),
    "range outside": (_clip, ["--frames", "4-9"], "outside the source's frames 0-5"),
    "range not numbers": (_clip, ["--frames", "a-b"], "a frame range is FIRST-LAST"),
    "unwritable folder": (_clip, ["-o", "{d}/p.mp4/out/o.mp4"], "is a file, so the output folder cannot be made"),
    "codec container": (_clip, ["--codec", "prores"], "cannot hold prores"),
    "unknown param": (_clip, ["--param", "zoom=2"], "has no parameter 'zoom'"),
    "bad param": (_clip, ["--param", "strength=2"], "above the maximum"),
    "texture model": (_clip, ["--model", "testtex"], "testtex is a texture model; use `ganfx generate`"),
    "missing matte": (_clip, ["--matte", "{d}/nope.png"], "nope.png: no such file"),
    "short matte": (lambda d: _clip(d) + [make_matte_clip(d / "m.mkv", 4)], ["--matte", "{d}/m.mkv"],
                    "m.mkv: the matte has 4 frames (0-3) but frames 0-5 of the input need 6"),
    "matte of another size": (lambda d: _clip(d) + [make_matte_clip(d / "m.mkv", 6, width=32)],
                              ["--matte", "{d}/m.mkv"], "m.mkv: the matte is 32x48 but the input is 64x48"),
    "matte not media": (lambda d: _clip(d) + [(d / "m.mov").write_text("hello") and d / "m.mov"],
                        ["--matte", "{d}/m.mov"], "m.mov: not a readable video"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_one_line_nothing_written(tmp_path, capsys, case):
    make, extra, message = BAD[case]
    inputs = make(tmp_path)
    before = listing(tmp_path)
    model = "testfx"
    if "--model" in extra:
        model, extra = extra[1], []
    extra = [e.format(d=tmp_path) for e in extra]
    output = [] if "-o" in extra else ["-o", tmp_path / "out" / "o.mp4"]
    rc, out, err = cli(capsys, "render", model, inputs[0], *output, *extra, "--quiet")
    assert rc == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganfx render: error:"), err
    assert message in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    assert listing(tmp_path) == before  # not even an empty output folder


def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    env = {**os.environ, "GANFX_MODELS": os.environ["GANFX_MODELS"]}
    (tmp_path / "x.mp4").write_text("not a video")
    proc = subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", "render", "testfx", str(tmp_path / "x.mp4"),
                           "-o", str(tmp_path / "o.mp4")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().endswith("x.mp4: not a readable video (Invalid data found when processing input)")
    assert listing(tmp_path) == ["x.mp4"]


@pytest.mark.parametrize("output,sig", [("new/o.mov", signal.SIGINT), ("seq/o.####.png", signal.SIGINT),
                                        ("new/o.mp4", signal.SIGTERM)])
def test_ctrl_c_stops_cleanly(tmp_path, output, sig):
    """Ctrl-C (and a farm's SIGTERM) stops every stage and leaves no unfinished file."""
    clip = make_clip(tmp_path / "p.mkv", frames=240, width=320, height=240, codec="ffv1", pix_fmt="bgr0",
                     audio=None)
    env = {**os.environ, "GANFX_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganfx.plugin.cli", "render", "testfx", str(clip),
                             "-o", str(tmp_path / output), "--progress", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            # a suite started in the background (nohup, &) passes SIGINT on ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = proc.stdout.readline()  # the first frame is written: the render is under way
    assert json.loads(first)["event"] == "frame"
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert '"event": "done"' not in rest  # it really stopped before the end
    names = listing(tmp_path)
    assert not [n for n in names if "partial" in n]
    if not output.endswith(".png"):
        assert names == ["p.mkv"]  # no video, no temp file, not even the folder it made
    else:  # whole frames stay (for --resume); every one of them is readable
        frames = [n for n in names if n.startswith("seq/o.")]
        assert 1 <= len(frames) < 240
        with open_reader(tmp_path / "seq" / "o.####.png") as r:
            assert len(list(r.frames())) == len(frames)
