"""Farm job plans (`--plan CHUNK`) and `ganfx concat`: chunked renders equal a single render.

Sequences byte for byte; videos frame for frame after concat (decoded pixels and timestamps for
lossless codecs; for h264, the joined packets are the segments' own and ffprobe agrees with the
single render on frame count, rate and duration); sounds sample for sample.
"""

import json
import shlex
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from ganfx.plugin.cli import main
from media import RATE, ffprobe, make_clip
from onnx_models import make_sound_model


@pytest.fixture(autouse=True)
def _models(user_models, monkeypatch):
    monkeypatch.setenv("GANFX_THREADS", "1")
    make_sound_model(user_models / "testsnd.onnx")


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def run_plan(capsys, *argv):
    """Print the plan of `argv`, then run every line of it as a farm would; returns the lines."""
    rc, out, err = cli(capsys, *argv)
    assert rc == 0, err
    lines = out.splitlines()
    for line in lines:
        words = shlex.split(line)
        assert words[0] == "ganfx"
        rc, _, err = cli(capsys, *words[1:], *(["--quiet"] if "--quiet" not in words else []))
        assert rc == 0, err
    return lines


def decoded(path):
    with av.open(str(path)) as c:
        return [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def packets(path, kind="audio"):
    with av.open(str(path)) as c:
        return [(p.pts, bytes(p)) for p in c.demux(**{kind: 0}) if p.size]


def probe_video(path):
    probe = ffprobe(path)
    if probe is None:
        return None
    v = next(s for s in probe["streams"] if s["codec_type"] == "video")
    return (int(v["nb_read_frames"]), Fraction(v["avg_frame_rate"]), round(float(probe["format"]["duration"]), 3))


def test_sequence_chunks_equal_a_full_render_byte_for_byte(tmp_path, capsys):
    clip = make_clip(tmp_path / "plate.mp4", frames=10)
    lines = run_plan(capsys, "render", "testfx", clip, "-o", tmp_path / "chunked/f.####.png", "--plan", 4)
    assert len(lines) == 3  # 4 + 4 + 2 frames, no join
    assert all("--frames" in line for line in lines) and "0-3" in lines[0] and "8-9" in lines[2]
    assert cli(capsys, "render", "testfx", clip, "-o", tmp_path / "full/f.####.png", "--quiet")[0] == 0
    full = sorted((tmp_path / "full").iterdir())
    chunked = sorted((tmp_path / "chunked").iterdir())
    assert [p.name for p in full] == [p.name for p in chunked] and len(full) == 10
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(full, chunked))


def test_texture_sequence_chunks_equal_a_full_render(tmp_path, capsys):
    lines = run_plan(capsys, "generate", "testtex", "-o", tmp_path / "c/t.####.exr", "--size", "32x32",
                     "--frames", 7, "--plan", 3)
    assert len(lines) == 3 and "--range 6-6" in lines[2]
    cli(capsys, "generate", "testtex", "-o", tmp_path / "f/t.####.exr", "--size", "32x32", "--frames", 7, "--quiet")
    pairs = zip(sorted((tmp_path / "f").iterdir()), sorted((tmp_path / "c").iterdir()))
    assert all(a.name == b.name and a.read_bytes() == b.read_bytes() for a, b in pairs)


@pytest.mark.parametrize("suffix,codec", [(".mkv", "ffv1"), (".mov", "png")])
def test_video_chunks_joined_equal_a_single_render(tmp_path, capsys, suffix, codec):
    clip = make_clip(tmp_path / "plate.mp4", frames=14)
    out = tmp_path / f"out{suffix}"
    lines = run_plan(capsys, "render", "testfx", clip, "-o", out, "--codec", codec, "--plan", 4)
    assert len(lines) == 5 and lines[-1].startswith("ganfx concat ")
    assert f"out.part0001{suffix}" in lines[0] and f"--audio-from {clip}" in lines[-1]
    single = tmp_path / f"single{suffix}"
    assert cli(capsys, "render", "testfx", clip, "-o", single, "--codec", codec, "--quiet")[0] == 0
    a, b = decoded(out), decoded(single)
    assert len(a) == len(b) == 14
    assert all(pa == pb and np.array_equal(ia, ib) for (pa, ia), (pb, ib) in zip(a, b))
    assert packets(out) == packets(single)  # the source's audio, copied in sync
    if probe_video(out) is not None:
        assert probe_video(out) == probe_video(single)
        assert probe_video(out)[1] == RATE
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_h264_segments_start_with_a_keyframe_and_join_without_reencoding(tmp_path, capsys):
    clip = make_clip(tmp_path / "plate.mp4", frames=20)
    out = tmp_path / "out.mp4"
    lines = run_plan(capsys, "render", "testfx", clip, "-o", out, "--plan", 6)
    segments = [Path(w[w.index("--output") + 1]) for w in map(shlex.split, lines[:-1])]
    assert [s.name for s in segments] == [f"out.part000{i}.mp4" for i in range(1, 5)]
    for s in segments:
        with av.open(str(s)) as c:
            assert next(p for p in c.demux(video=0) if p.size).is_keyframe
    joined = packets(out, "video")
    assert [data for _, data in joined] == [data for s in segments for _, data in packets(s, "video")]
    frames = [img for s in segments for _, img in decoded(s)]
    assert all(np.array_equal(x, y) for x, (_, y) in zip(frames, decoded(out))) and len(frames) == 20
    single = tmp_path / "single.mp4"
    cli(capsys, "render", "testfx", clip, "-o", single, "--quiet")
    assert [p for p, _ in decoded(out)] == [p for p, _ in decoded(single)]
    assert packets(out) == packets(single)
    if probe_video(out) is not None:
        assert probe_video(out) == probe_video(single)



@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_h26x_chunks_joined_equal_the_single_render_with_the_same_gop(tmp_path, capsys, codec):
    """--plan puts h264/h265 chunks in closed GOPs at a constant quantiser: the join decodes to
    exactly the pixels of `ganfx render ... --gop CHUNK`, frame for frame."""
    clip = make_clip(tmp_path / "plate.mp4", frames=20, width=96, height=64)
    out = tmp_path / "out.mp4"
    lines = run_plan(capsys, "render", "testfx", clip, "-o", out, "--codec", codec, "--plan", 6)
    assert all("--gop 6" in line for line in lines[:-1]) and "--gop" not in lines[-1]
    single = tmp_path / "single.mp4"
    assert cli(capsys, "render", "testfx", clip, "-o", single, "--codec", codec, "--gop", 6, "--quiet")[0] == 0
    a, b = decoded(out), decoded(single)
    assert len(a) == len(b) == 20
    assert [pa for pa, _ in a] == [pb for pb, _ in b]
    assert all(np.array_equal(ia, ib) for (_, ia), (_, ib) in zip(a, b))
    with av.open(str(single)) as c:  # a keyframe exactly every 6 frames, so any chunk of 6 starts one
        keys = [p.is_keyframe for p in c.demux(video=0) if p.size]
    assert [i for i, k in enumerate(keys) if k] == [0, 6, 12, 18]
    if probe_video(out) is not None:
        assert probe_video(out) == probe_video(single)


def test_gop_must_divide_the_chunk_and_suit_the_codec(tmp_path, capsys):
    clip = make_clip(tmp_path / "plate.mp4", frames=8)
    rc, out, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "o.mp4", "--plan", 6, "--gop", 4)
    assert rc == 1 and "not whole GOPs of 4" in err and "--gop" in err and out == ""
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "o.mkv", "--codec", "ffv1", "--gop", 4)
    assert rc == 1 and "o.mkv" in err and "ffv1 codes every frame on its own" in err
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "f.####.png", "--gop", 4)
    assert rc == 1 and "GOP length" in err
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "o.mp4", "--gop", 0)
    assert rc == 1 and "at least 1 frame" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plate.mp4"]
    rc, out, _ = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "o.mkv", "--codec", "ffv1", "--plan", 4)
    assert rc == 0 and "--gop" not in out  # intra codecs need none


def _clip_with_timecode(path, frames=12):
    c = av.open(str(path), "w")
    v = c.add_stream("png", rate=24)
    v.width, v.height, v.pix_fmt = 64, 48, "rgb24"
    v.codec_context.time_base = Fraction(1, 24)
    v.sample_aspect_ratio = Fraction(2, 1)
    v.codec_context.sample_aspect_ratio = Fraction(2, 1)
    v.metadata["timecode"] = "01:00:00:00"
    for i in range(frames):
        f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * i, np.uint8), format="rgb24")
        f.pts, f.time_base = i, Fraction(1, 24)
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode():
        c.mux(p)
    c.close()
    return path


def test_a_frame_range_keeps_timecode_and_pixel_aspect(tmp_path, capsys):
    from ganfx.runtime.io import open_reader

    clip = _clip_with_timecode(tmp_path / "plate.mov")
    out = tmp_path / "out.mov"
    lines = run_plan(capsys, "render", "testfx", clip, "-o", out, "--codec", "png", "--frames", "2-9", "--plan", 3)
    assert "--start-frame 2" in lines[-1]
    single = tmp_path / "single.mov"
    cli(capsys, "render", "testfx", clip, "-o", single, "--codec", "png", "--frames", "2-9", "--quiet")
    with open_reader(out) as r, open_reader(single) as s:
        assert r.properties.timecode == s.properties.timecode == "01:00:00:02"
        assert r.properties.pixel_aspect == s.properties.pixel_aspect == 2
        assert r.properties.frame_count == 8
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(decoded(out), decoded(single)))


def test_a_frame_range_lays_back_the_audio_of_that_span(tmp_path, capsys):
    clip = make_clip(tmp_path / "plate.mp4", frames=24)
    out = tmp_path / "out.mkv"
    run_plan(capsys, "render", "testfx", clip, "-o", out, "--frames", "5-18", "--plan", 5)
    single = tmp_path / "single.mkv"
    cli(capsys, "render", "testfx", clip, "-o", single, "--frames", "5-18", "--quiet")
    assert packets(out) == packets(single) and packets(out)
    assert [p for p, _ in decoded(out)] == [p for p, _ in decoded(single)]


def test_a_generated_sound_is_rendered_once_by_the_join(tmp_path, capsys):
    out = tmp_path / "tex.mov"
    lines = run_plan(capsys, "generate", "testtex", "-o", out, "--size", "32x32", "--frames", 10, "--codec", "png",
                     "--sound", "testsnd=-6", "--plan", 4)
    assert all("--sound" not in line for line in lines[:-1]) and "--sound testsnd=-6" in lines[-1]
    single = tmp_path / "single.mov"
    cli(capsys, "generate", "testtex", "-o", single, "--size", "32x32", "--frames", 10, "--codec", "png",
        "--sound", "testsnd=-6", "--quiet")
    assert packets(out) == packets(single) and packets(out)
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(decoded(out), decoded(single)))


@pytest.mark.parametrize("extra", [(), ("--loop", "--sample-format", "float"), ("--range", "0.5-2.25")])
def test_sound_chunks_equal_the_whole_render_sample_for_sample(tmp_path, capsys, extra):
    lines = run_plan(capsys, "generate", "testsnd", "-o", tmp_path / "s.wav", "--seconds", "2.5", *extra,
                     "--plan", "0.7")
    assert lines[-1].startswith("ganfx concat ") and len(lines) >= 3
    cli(capsys, "generate", "testsnd", "-o", tmp_path / "whole.wav", "--seconds", "2.5", *extra, "--quiet")
    assert (tmp_path / "s.wav").read_bytes() == (tmp_path / "whole.wav").read_bytes()


def test_plan_as_json_on_stdout_and_in_a_file(tmp_path, capsys):
    clip = make_clip(tmp_path / "plate.mp4", frames=10)
    rc, out, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "o.mp4", "--plan", 5, "--json")
    assert rc == 0 and err == ""
    plan = json.loads(out)
    assert plan["kind"] == "video" and [(c["first"], c["last"]) for c in plan["chunks"]] == [(0, 4), (5, 9)]
    assert plan["chunks"][0]["argv"][:2] == ["ganfx", "render"] and plan["join"]["argv"][1] == "concat"
    assert shlex.split(plan["join"]["command"]) == plan["join"]["argv"]
    rc, out, _ = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "o.mp4", "--plan", 5, "--json",
                     tmp_path / "plan.json")
    assert rc == 0 and len(out.splitlines()) == 3
    assert json.loads((tmp_path / "plan.json").read_text())["chunks"] == plan["chunks"]


def test_concat_refuses_mismatched_segments_with_one_line(tmp_path, capsys):
    a = make_clip(tmp_path / "a.mp4", frames=4)
    b = make_clip(tmp_path / "b.mp4", frames=4, width=32, height=32)
    cli(capsys, "render", "testfx", a, "-o", tmp_path / "a.mkv", "--quiet")
    cli(capsys, "render", "testfx", b, "-o", tmp_path / "b.mkv", "--quiet")
    rc, out, err = cli(capsys, "concat", tmp_path / "a.mkv", tmp_path / "b.mkv", "-o", tmp_path / "j.mkv")
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "b.mkv" in err and "size is 32x32" in err and "Traceback" not in err
    cli(capsys, "render", "testfx", a, "-o", tmp_path / "a2.mkv", "--codec", "h264", "--quiet")
    rc, _, err = cli(capsys, "concat", tmp_path / "a.mkv", tmp_path / "a2.mkv", "-o", tmp_path / "j.mkv")
    assert rc == 1 and "a2.mkv" in err and "codec is h264" in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("j", ".j"))) == []


def test_concat_refuses_mismatched_sound_segments(tmp_path, capsys):
    cli(capsys, "generate", "testsnd", "-o", tmp_path / "a.wav", "--seconds", "0.5", "--quiet")
    cli(capsys, "generate", "testsnd", "-o", tmp_path / "b.wav", "--seconds", "0.5", "--sample-format", "24",
        "--quiet")
    rc, _, err = cli(capsys, "concat", tmp_path / "a.wav", tmp_path / "b.wav", "-o", tmp_path / "j.wav")
    assert rc == 1 and "b.wav" in err and "24-bit" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "j.wav").exists()


def test_plan_refusals_are_one_line(tmp_path, capsys):
    clip = make_clip(tmp_path / "plate.mp4", frames=4)
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "still.png", "--plan", 2)
    assert rc == 1 and "single image" in err
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "o.mp4", "--json")
    assert rc == 1 and "--json goes with --plan" in err
    rc, _, err = cli(capsys, "render", "testfx", clip, "-o", tmp_path / "o.mp4", "--plan", "2.5")
    assert rc == 1 and "whole number" in err
    rc, _, err = cli(capsys, "concat", tmp_path / "nope.mkv", "-o", tmp_path / "o.mkv")
    assert rc == 1 and "nope.mkv" in err and len(err.strip().splitlines()) == 1
