"""PyAV reader/writer on real files: codecs, depth, alpha, timestamps, audio, refusals."""

from fractions import Fraction

import numpy as np
import pytest

from ganfx.runtime.errors import MediaIOError, UserInputError
from ganfx.runtime.io import Frame, OutputSpec, open_reader, open_writer
from media import RATE, ffprobe, frame_image, index_of, make_clip, make_video_without_frames


def copy_through(src, dst, **spec_kw):
    """Read every frame of src and write it to dst unchanged (the writer converts depth/alpha)."""
    with open_reader(src) as r:
        p = r.properties
        spec = OutputSpec(p.width, p.height, p.frame_rate, p.time_base, alpha=p.channels == 4, bit_depth=p.bit_depth,
                          audio_from=p.path if p.audio else None, **spec_kw)
        with open_writer(dst, spec) as w:
            for f in r.frames():
                w.write(Frame(f.number, w.convert(f.image), f.pts, f.duration))
    return dst


def audio_seconds(path):
    import av

    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        end = 0.0
        for packet in c.demux(a):
            if packet.pts is not None:
                end = max(end, float((packet.pts + (packet.duration or 0)) * a.time_base))
        return end, a.codec_context.name


def test_reader_properties_exact(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=12)
    with open_reader(clip) as r:
        p = r.properties
        assert (p.width, p.height, p.frame_count, p.first_frame) == (64, 48, 12, 0)
        assert p.frame_rate == Fraction(24000, 1001) and isinstance(p.frame_rate, Fraction)
        assert p.time_base is not None and p.pixel_format == "yuv420p" and p.bit_depth == 8
        assert p.codec == "h264" and not p.variable_frame_rate
        assert len(p.audio) == 1 and p.audio[0].codec == "aac" and p.audio[0].sample_rate == 48000
        frames = list(r.frames())
    assert [f.number for f in frames] == list(range(12))
    assert [index_of(f.image) for f in frames] == list(range(12))
    assert frames[0].image.dtype == np.uint8 and frames[0].image.shape == (48, 64, 3)


def test_reader_frame_range_and_skip(tmp_path):
    clip = make_clip(tmp_path / "clip.mkv", frames=10, codec="ffv1", pix_fmt="bgr0", audio=None)
    with open_reader(clip) as r:
        assert r.properties.frame_count == 10  # Matroska stores no count: counted from packets
        got = list(r.frames(3, 7, skip={5}))
    assert [f.number for f in got] == [3, 4, 6, 7]
    assert [index_of(f.image) for f in got] == [3, 4, 6, 7]
    assert np.array_equal(got[0].image, frame_image(3))  # ffv1 is lossless


@pytest.mark.parametrize("ext,codec,pix,alpha,depth", [
    (".mp4", "h264", "yuv420p", False, 8),
    (".mp4", "h265", "yuv420p", False, 8),
    (".mov", "prores", "yuv422p10le", False, 8),
    (".mov", "prores4444", "yuva444p", True, 8),
    (".mkv", "ffv1", "bgr0", False, 8),
    (".mkv", "ffv1", "gbrp16le", False, 16),
    (".mov", "png", "rgba", True, 8),
])
def test_writer_codecs_round_trip(tmp_path, ext, codec, pix, alpha, depth):
    out = tmp_path / f"out{ext}"
    n = 6
    spec = OutputSpec(64, 48, RATE, codec=codec, alpha=alpha, bit_depth=depth)
    with open_writer(out, spec) as w:
        for i in range(n):
            img = frame_image(i, alpha=alpha, dtype=np.uint16 if depth > 8 else np.uint8)
            w.write(Frame(i, w.convert(img)))
    assert not list(tmp_path.glob(".*partial*"))
    with open_reader(out) as r:
        p = r.properties
        assert (p.width, p.height, p.frame_count, p.frame_rate) == (64, 48, n, RATE)
        assert p.pixel_format.startswith(pix), p.pixel_format
        assert p.channels == (4 if alpha else 3)
        frames = list(r.frames())
    assert [index_of(f.image) for f in frames] == list(range(n))
    if codec in ("ffv1", "png"):  # lossless
        ref = frame_image(3, alpha=alpha, dtype=np.uint16 if depth > 8 else np.uint8)
        assert np.array_equal(frames[3].image, ref)
    if alpha:
        ref = frame_image(3, alpha=True).astype(np.float64)
        got = frames[3].image[..., 3].astype(np.float64) / (257 if frames[3].image.dtype == np.uint16 else 1)
        assert np.abs(got - ref[..., 3]).max() <= 2
    probe = ffprobe(out)
    if probe is not None:
        v = [s for s in probe["streams"] if s["codec_type"] == "video"][0]
        assert (v["width"], v["height"], int(v["nb_read_frames"])) == (64, 48, n)
        assert Fraction(v["avg_frame_rate"]) == RATE
        assert v["pix_fmt"].startswith(pix) or (codec == "prores4444" and v["pix_fmt"].startswith("yuva444p"))


def test_ten_bit_source_decodes_to_uint16(tmp_path):
    clip = make_clip(tmp_path / "deep.mov", frames=4, codec="prores_ks", pix_fmt="yuv422p10le", audio=None,
                     options={"profile": "3"})
    with open_reader(clip) as r:
        assert r.properties.bit_depth == 10 and r.properties.dtype == "uint16"
        f = next(iter(r.frames()))
    assert f.image.dtype == np.uint16 and index_of(f.image) == 0
    # 10-bit precision survives: values are not just 8-bit codes times 257
    assert np.any(f.image % 257 != 0)


def test_audio_copied_and_duration_matches(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=24)
    out = copy_through(clip, tmp_path / "out.mov", codec="prores")
    src_audio, _ = audio_seconds(clip)
    dst_audio, codec = audio_seconds(out)
    assert codec == "aac"  # copied, not re-encoded
    assert abs(dst_audio - src_audio) < float(1 / RATE)
    with open_reader(out) as r:
        assert r.properties.duration == pytest.approx(24 / float(RATE), abs=float(1 / RATE))
    probe = ffprobe(out)
    if probe is not None:
        kinds = sorted(s["codec_type"] for s in probe["streams"])
        assert kinds == ["audio", "video"]
        a = [s for s in probe["streams"] if s["codec_type"] == "audio"][0]
        assert abs(float(a["duration"]) - 24 / float(RATE)) < float(1 / RATE)


def test_audio_reencoded_where_container_needs_it(tmp_path):
    clip = make_clip(tmp_path / "pcm.mov", frames=12, audio="pcm_s16le")
    out = copy_through(clip, tmp_path / "out.mp4")  # mp4 cannot hold PCM
    seconds, codec = audio_seconds(out)
    assert codec == "aac"
    assert abs(seconds - 12 / float(RATE)) < float(1 / RATE)


def test_variable_frame_rate_keeps_timestamps(tmp_path):
    clip = make_clip(tmp_path / "vfr.mp4", frames=10, vfr=True)
    with open_reader(clip) as r:
        assert r.properties.variable_frame_rate
        src = [(f.pts, f.duration) for f in r.frames()]
        tb = r.properties.time_base
    out = copy_through(clip, tmp_path / "out.mkv")
    with open_reader(out) as r:
        got = [float(f.pts * r.properties.time_base) for f in r.frames()]
        assert r.properties.variable_frame_rate
    assert got == pytest.approx([float(p * tb) for p, _ in src], abs=1e-3)
    assert np.diff(got).round(3).tolist() == [0.08, 0.04] * 4 + [0.08]


def test_frame_range_trims_timestamps_and_audio(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=24)
    with open_reader(clip) as r:
        p = r.properties
        spec = OutputSpec(p.width, p.height, p.frame_rate, p.time_base, audio_from=str(clip), trim=True)
        with open_writer(tmp_path / "cut.mp4", spec) as w:
            for f in r.frames(6, 17):
                w.write(Frame(f.number, f.image, f.pts, f.duration))
    with open_reader(tmp_path / "cut.mp4") as r:
        frames = list(r.frames())
        assert r.properties.frame_count == 12 and frames[0].pts == 0
        assert [index_of(f.image) for f in frames] == list(range(6, 18))
    seconds, _ = audio_seconds(tmp_path / "cut.mp4")
    assert abs(seconds - 12 / float(RATE)) < float(1 / RATE)


def test_writer_never_replaces_without_overwrite(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(MediaIOError, match="exists already") as err:
        open_writer(out, OutputSpec(64, 48))
    assert err.value.about == "overwrite" and out.read_bytes() == b"precious"
    w = open_writer(out, OutputSpec(64, 48, overwrite=True))
    w.write(Frame(0, frame_image(0)))
    w.abort()  # an aborted render leaves the old file alone and no temp file
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_writer_refuses_codec_container_mismatch(tmp_path):
    with pytest.raises(UserInputError, match="cannot hold prores"):
        open_writer(tmp_path / "x.mp4", OutputSpec(64, 48, codec="prores"))
    with pytest.raises(UserInputError, match="unknown codec"):
        open_writer(tmp_path / "x.mov", OutputSpec(64, 48, codec="divx"))
    with pytest.raises(UserInputError, match="unknown video container"):
        open_writer(tmp_path / "x.webm", OutputSpec(64, 48))
    with pytest.raises(UserInputError, match="even width"):
        open_writer(tmp_path / "x.mp4", OutputSpec(63, 48))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make,match", [
    (lambda d: d / "missing.mp4", "no such file"),
    (lambda d: (d / "notes.mp4").write_text("not a video") and d / "notes.mp4", "not a readable video"),
    (lambda d: _truncated(d), "not a readable video|truncated"),
    (lambda d: _audio_only(d), "no video stream"),
    (lambda d: make_video_without_frames(d / "empty.mkv"), "no frames"),
])
def test_reader_refusals(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(MediaIOError, match=match) as info:
        with open_reader(path) as r:
            list(r.frames())
    assert path.name in str(info.value) and "\n" not in str(info.value)


def _truncated(d):
    clip = make_clip(d / "full.mp4", frames=12)
    cut = d / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    return cut


def _audio_only(d):
    import av

    path = d / "sound.m4a"
    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=48000)
        a.layout = "stereo"
        from media import _write_tone

        _write_tone(c, a, "aac", 4800)
    return path


@pytest.mark.parametrize("ext,codec,pix", [(".mp4", "libx264", "yuv420p"), (".mkv", "ffv1", "bgr0"),
                                           (".mov", "prores_ks", "yuv422p10le")])
def test_frame_range_seeks_to_the_same_frames(tmp_path, ext, codec, pix):
    """A chunk late in a shot (farm rendering) gives exactly the frames a full decode gives."""
    clip = make_clip(tmp_path / f"gop{ext}", frames=30, codec=codec, pix_fmt=pix, audio=None,
                     options={"g": "6", "bf": "2"} if codec == "libx264" else {"g": "6"})
    with open_reader(clip) as r:
        full = {f.number: f for f in r.frames()}
        for first, last in ((20, 25), (1, 3), (29, 29), (6, 6)):
            chunk = list(r.frames(first, last))
            assert [f.number for f in chunk] == list(range(first, last + 1))
            for f in chunk:
                assert f.pts == full[f.number].pts and np.array_equal(f.image, full[f.number].image)


def test_truncated_matroska_is_refused_with_both_frame_counts(tmp_path):
    """A cut-off mkv still states its video track's duration: reading it fails up front (it
    used to render the frames that were there and exit 0), naming frames read and expected."""
    clip = make_clip(tmp_path / "full.mkv", frames=40, codec="ffv1", pix_fmt="bgr0", audio=None)
    with open_reader(clip) as r:
        assert r.properties.frame_count == 40
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(MediaIOError, match=r"only \d+ of its 40 frames can be read .* truncated or damaged") as err:
        open_reader(cut)
    assert str(err.value).startswith(str(cut))


def test_millisecond_time_base_goes_onto_the_exact_rate_grid(tmp_path):
    """Matroska stores 24000/1001 fps in 1 ms ticks (41/42 ms steps); an mp4 made from it keeps the exact rate."""
    clip = make_clip(tmp_path / "ms.mkv", frames=24, codec="ffv1", pix_fmt="bgr0")
    with open_reader(clip) as r:
        assert r.properties.time_base == Fraction(1, 1000) and not r.properties.variable_frame_rate
    out = copy_through(clip, tmp_path / "out.mp4", constant_rate=True)
    with open_reader(out) as r:
        p = r.properties
        assert p.frame_rate == RATE and not p.variable_frame_rate
        assert [index_of(f.image) for f in r.frames()] == list(range(24))
    assert abs(audio_seconds(out)[0] - 24 / float(RATE)) < float(1 / RATE)


def test_yuv_outputs_are_bt709_tagged_and_decode_to_the_same_colours(tmp_path):
    """Saturated colours survive an h264 round trip, read back by us and (independently) by ffmpeg."""
    import shutil
    import subprocess

    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :32] = (230, 30, 40)
    img[:, 32:] = (20, 200, 90)
    out = tmp_path / "c.mp4"
    with open_writer(out, OutputSpec(64, 48, RATE)) as w:
        for i in range(3):
            w.write(Frame(i, img))
    with open_reader(out) as r:
        got = next(iter(r.frames())).image
    assert np.abs(got[16:32, 4:28].astype(int) - img[16:32, 4:28]).max() <= 3
    assert np.abs(got[16:32, 36:60].astype(int) - img[16:32, 36:60]).max() <= 3
    probe = ffprobe(out)
    if probe is not None:
        v = probe["streams"][0]
        assert (v["color_space"], v["color_primaries"], v["color_transfer"], v["color_range"]) == (
            "bt709", "bt709", "bt709", "tv")
        subprocess.run([shutil.which("ffmpeg"), "-v", "error", "-i", str(out), "-frames:v", "1", "-pix_fmt",
                        "rgb24", "-f", "rawvideo", str(tmp_path / "f.rgb")], check=True)
        ff = np.fromfile(tmp_path / "f.rgb", np.uint8).reshape(48, 64, 3)
        assert np.abs(ff[16:32, 4:28].astype(int) - img[16:32, 4:28]).max() <= 4


def test_pixel_aspect_is_kept(tmp_path):
    """Anamorphic footage keeps its sample aspect ratio through a render."""
    from ganfx.runtime.pipeline import RenderOptions, render_file

    clip = tmp_path / "ana.mov"
    with open_writer(clip, OutputSpec(64, 48, RATE, codec="h264", pixel_aspect=Fraction(4, 3))) as w:
        for i in range(3):
            w.write(Frame(i, frame_image(i)))

    class Same:
        def begin(self, r, output=None): pass
        def end(self): pass
        def process(self, frames, numbers): return frames

    render_file(clip, tmp_path / "out.mov", Same(), options=RenderOptions(progress="quiet"))  # ProRes
    for path in (clip, tmp_path / "out.mov"):
        with open_reader(path) as r:
            assert r.properties.pixel_aspect == Fraction(4, 3)
    probe = ffprobe(tmp_path / "out.mov")
    if probe is not None:
        assert probe["streams"][0]["sample_aspect_ratio"] == "4:3"


@pytest.mark.parametrize("rate,start,first,expect", [
    (Fraction(24), "01:00:00:00", 24, "01:00:01:00"),
    (Fraction(30000, 1001), "00:00:59;28", 2, "00:01:00;02"),  # drop-frame skips ;00 and ;01
    (Fraction(25), "10:00:00:00", 0, "10:00:00:00"),
])
def test_timecode_follows_the_first_rendered_frame(tmp_path, rate, start, first, expect):
    from ganfx.runtime.pipeline import RenderOptions, render_file

    clip = tmp_path / "tc.mov"
    with open_writer(clip, OutputSpec(64, 48, rate, codec="h264", timecode=start)) as w:
        for i in range(first + 3):
            w.write(Frame(i, frame_image(i)))

    class Same:
        def begin(self, r, output=None): pass
        def end(self): pass
        def process(self, frames, numbers): return frames

    with open_reader(clip) as r:
        assert r.properties.timecode == start
    render_file(clip, tmp_path / "out.mov", Same(), frames=(first, first + 2),
                options=RenderOptions(progress="quiet", codec="prores"))
    with open_reader(tmp_path / "out.mov") as r:
        assert r.properties.timecode == expect
    probe = ffprobe(tmp_path / "out.mov")
    if probe is not None:
        tmcd = [st for st in probe["streams"] if st.get("codec_tag_string") == "tmcd"]
        assert tmcd and tmcd[0]["tags"]["timecode"] == expect


def test_writer_refuses_a_folder_at_the_name_before_anything_is_made(tmp_path):
    (tmp_path / "out.mp4").mkdir()
    with pytest.raises(MediaIOError, match="out.mp4: is a folder"):
        open_writer(tmp_path / "out.mp4", OutputSpec(64, 48, overwrite=True))
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


@pytest.mark.parametrize("name,quality,needle", [
    ("o.mp4", 99, "quality (CRF) 99 is outside 0-51"),
    ("o.mp4", -1, "quality (CRF) -1 is outside 0-51"),
    ("o.mkv", 20, "ffv1 has no quality (CRF) setting"),
    ("o.mov", 20, "prores has no quality (CRF) setting"),
])
def test_quality_is_checked_never_clamped(tmp_path, name, quality, needle):
    with pytest.raises(UserInputError) as err:
        open_writer(tmp_path / name, OutputSpec(64, 48, quality=quality))
    assert needle in str(err.value) and err.value.about == "quality"
    assert list(tmp_path.iterdir()) == []
    for q in (0, 51):
        with open_writer(tmp_path / f"q{q}.mp4", OutputSpec(64, 48, quality=q)) as w:
            w.write(Frame(0, frame_image(0)))


def test_reader_never_opens_a_pipe(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.mp4")
    with pytest.raises(MediaIOError, match=r"pipe.mp4: is a named pipe \(FIFO\), not a file"):
        open_reader(tmp_path / "pipe.mp4")


def test_unset_decode_timestamps_from_libx265_are_given_back():
    """A clip shorter than x265's look-ahead can flush packets whose dts is uninitialised memory
    plus the index; they get the sorted pts less the reorder delay, after the packets already
    muxed. Sane timestamps are left as they are."""
    import av

    from ganfx.runtime.io.pyav import repair_dts

    def packets(pairs):
        out = []
        for pts, dts in pairs:
            p = av.Packet(b"\0")
            p.pts, p.dts, p.time_base = pts, dts, Fraction(1, 24000)
            out.append(p)
        return out

    garbage = -94605363712192
    ps = packets([(0, garbage), (2002, garbage + 1), (1001, garbage + 2)])
    repair_dts(ps, None)
    assert [p.dts for p in ps] == [-1001, 0, 1001]  # pts in order less the reorder delay: dts <= pts
    ps = packets([(3003, garbage), (4004, garbage + 1)])
    repair_dts(ps, 2002)
    assert [p.dts for p in ps] == [3003, 4004]
    ps = packets([(3003, -107374182424), (4004, -107374182423)])  # another run's garbage, nearer zero
    repair_dts(ps, None)
    assert [p.dts for p in ps] == [3003, 4004]
    ps = packets([(0, -1001), (1001, 0)])
    repair_dts(ps, None)
    assert [p.dts for p in ps] == [-1001, 0]  # sane timestamps untouched
