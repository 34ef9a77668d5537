"""Joining farm chunks: video segments without re-encoding, wav segments sample for sample.

    concat_videos(["out.part0001.mp4", "out.part0002.mp4"], "out.mp4", audio_from="plate.mov")
    concat_sounds(["fire.part0001.wav", "fire.part0002.wav"], "fire.wav")

A chunk of a video render (`ganfx render ... --frames A-B -o out.part0001.mp4`) is a complete
file of its own: a fresh encoder, so its first frame is a keyframe (IDR) and no frame of it
refers to another segment (GOP-closed). Joining copies every packet as it is, shifted in
time by the segments before it, so each frame decodes to exactly the pixels its segment
holds; with a lossless or intra codec (ffv1, png, prores) that is the single render's frame,
and with h264/h265 chunks in fixed closed GOPs (`--gop`, which `--plan` sets) it is the frame
of the single render made with the same `--gop`.
The source's audio is laid back from the source (`audio_from`, copied packet for packet as a
single render copies it), and a generated sound (`sound`, an io.base.SoundTrack) is rendered
once over the joined duration: it is a pure function of sample position, so it equals the
single render's. The first segment's timecode and pixel aspect are kept.

Segments must agree on codec, size, frame rate, pixel format, time base and codec settings
(extradata); the first that does not is refused with one line naming it. The output is
written under a partial name and renamed when complete (runtime/files.py).

Sound segments (.wav, as `ganfx generate SOUND --range A-B` writes them) are joined by
copying their PCM data: the header of the first, the samples of all in order, so the result
equals the whole render bit for bit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .errors import MediaIOError, UserInputError, first_line, require
from .files import PartialFile, check_regular_file

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
SOUND_SUFFIXES = (".wav",)
CODEC_NAMES = {"hevc": "h265"}  # FFmpeg's decoder name -> ganfx's codec name (io/pyav.py CONTAINERS)


@dataclass
class ConcatStats:
    segments: int
    frames: int  # video frames (0 for sounds)
    samples: int  # sound samples (0 for videos)
    seconds: float  # duration of the result


def concat(segments, output, **kw) -> ConcatStats:
    """Join `segments` into `output`: videos or wav sounds, by the output's suffix."""
    suffix = Path(output).suffix.lower()
    if suffix in SOUND_SUFFIXES:
        if kw.get("audio_from") or kw.get("sound"):
            raise UserInputError("--audio-from and --sound are for video joins", path=output)
        return concat_sounds(segments, output, overwrite=kw.get("overwrite", False))
    if suffix in VIDEO_SUFFIXES:
        return concat_videos(segments, output, **kw)
    raise UserInputError("concat writes a video (.mp4, .mov, .mkv) or a sound (.wav)", path=output)


# -- videos ----------------------------------------------------------------------------------

@dataclass
class _Segment:
    path: Path
    container: object
    stream: object
    packets: list  # demuxed video packets, in file order
    start: int  # smallest pts (stream time base)
    end: int  # end of the last frame: max(pts + duration)


def _open_segment(path: Path, av, rate_hint=None) -> _Segment:
    check_regular_file(path)
    try:
        c = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MediaIOError(f"not a readable video segment ({first_line(exc)})", path=path) from None
    video = [s for s in c.streams if s.type == "video"]
    if not video:
        c.close()
        raise MediaIOError("has no video stream", path=path)
    s = video[0]
    try:
        packets = [p for p in c.demux(s) if p.size and p.pts is not None]
    except av.FFmpegError as exc:
        c.close()
        raise MediaIOError(f"cannot read the segment ({first_line(exc)})", path=path) from None
    if not packets:
        c.close()
        raise MediaIOError("segment has no frames", path=path)
    if not packets[0].is_keyframe:
        c.close()
        raise MediaIOError("segment does not start with a keyframe (not GOP-closed): render each chunk as its own "
                           "file with `ganfx render --frames A-B`", path=path)
    tb = Fraction(s.time_base)
    rate = Fraction(s.average_rate or s.guessed_rate or s.base_rate or 24)
    tick = max(1, round(1 / (rate * tb)))
    start = min(p.pts for p in packets)
    end = max(p.pts + (p.duration or tick) for p in packets)
    return _Segment(path, c, s, packets, start, end)


def _on_grid(seg: _Segment, tick: Fraction) -> bool:
    """True when the segment's frames sit at round(k * tick) from its start (a constant rate)."""
    pts = sorted(p.pts - seg.start for p in seg.packets)
    return len(set(pts)) == len(pts) and all(abs(t - k * tick) <= Fraction(1, 2) for k, t in enumerate(pts))


def _delay(seg: _Segment, tick: Fraction) -> int:
    """Frames the segment's first decode timestamp comes before its first frame (B-frame reordering)."""
    dts = min(p.dts if p.dts is not None else p.pts for p in seg.packets)
    return max(0, round((seg.start - dts) / tick))


def _describe(seg: _Segment) -> dict:
    s, ctx = seg.stream, seg.stream.codec_context
    return {
        "codec": ctx.name, "size": f"{ctx.width}x{ctx.height}", "pixel format": ctx.pix_fmt,
        "frame rate": str(Fraction(s.average_rate or s.guessed_rate or 0)), "time base": str(Fraction(s.time_base)),
        "pixel aspect": str(Fraction(s.sample_aspect_ratio or ctx.sample_aspect_ratio or 1)),
    }


def _check_same(first: _Segment, seg: _Segment) -> None:
    a, b = _describe(first), _describe(seg)
    for key in a:
        if a[key] != b[key]:
            raise MediaIOError(f"segment's {key} is {b[key]}, {first.path.name} has {a[key]}; segments must come "
                               "from one render's chunks", path=seg.path)
    if bytes(first.stream.codec_context.extradata or b"") != bytes(seg.stream.codec_context.extradata or b""):
        raise MediaIOError(f"segment's codec settings differ from {first.path.name}'s (extradata); segments must "
                           "come from one render's chunks", path=seg.path)


def concat_videos(segments, output, audio_from=None, audio_start: float | None = None, sound=None,
                  overwrite: bool = False, progress=None) -> ConcatStats:
    """Join video segments packet for packet into `output` (see the module docstring).

    `audio_from`: a file whose audio streams are copied under the joined video, from its time
    `audio_start` (None: the whole audio, as a render of the whole source copies it; a time:
    that span, cut at the video's end, as a render of a frame range does). `sound`: a
    SoundTrack rendered over the joined duration (replacing `audio_from` unless keep_source).
    """
    av = require("av", "av")
    from .io.audio import AudioCopier, SoundEncoder
    from .io.pyav import CONTAINERS, _timecode, sound_codec

    output = Path(output)
    paths = [Path(p) for p in segments]
    if not paths:
        raise UserInputError("give the segments to join")
    ext = output.suffix.lower()
    if ext not in CONTAINERS:
        raise UserInputError("concat writes .mp4, .m4v, .mov or .mkv videos (or .wav sounds)", path=output)
    for p in paths:
        if p.suffix.lower() not in VIDEO_SUFFIXES:
            raise UserInputError("is not a video segment (.mp4, .m4v, .mov, .mkv)", path=p)
        if p.resolve() == output.resolve() or (audio_from and Path(audio_from).resolve() == output.resolve()):
            raise UserInputError("the output is one of the inputs; choose another output", path=output)
    if len({p.resolve() for p in paths}) != len(paths):
        dup = next(p for i, p in enumerate(paths) if p.resolve() in {q.resolve() for q in paths[:i]})
        raise UserInputError("is given twice", path=dup)
    opened = []
    part = None
    out = None
    audio = None
    try:
        for p in paths:
            opened.append(_open_segment(p, av))
            if len(opened) > 1:
                _check_same(opened[0], opened[-1])
        first = opened[0]
        name = CODEC_NAMES.get(first.stream.codec_context.name, first.stream.codec_context.name)
        if name not in CONTAINERS[ext][1]:
            fits = ", ".join(e for e, (_, codecs, _) in CONTAINERS.items() if name in codecs)
            raise UserInputError(f"a {ext} file cannot hold {name} segments; use {fits}", path=output)
        if audio_from is not None:
            check_regular_file(audio_from)
        part = PartialFile(output, overwrite)
        out = av.open(str(part.tmp), "w", format=CONTAINERS[ext][0])
        vs = out.add_stream_from_template(first.stream)
        tb = Fraction(first.stream.time_base)
        vs.time_base = tb
        sar = first.stream.sample_aspect_ratio or first.stream.codec_context.sample_aspect_ratio
        if sar and Fraction(sar) != 1:
            vs.sample_aspect_ratio = Fraction(sar)
        timecode = _timecode(first.container, first.stream)
        if timecode:
            vs.metadata["timecode"] = timecode
        if audio_from is not None and (sound is None or sound.keep_source):
            audio = AudioCopier(audio_from, out, CONTAINERS[ext][2])
        encoder = None
        if sound is not None:
            encoder = SoundEncoder(sound, out, sound_codec(output, sound.codec), path=output)
            encoder.encode_until(0.0)  # the sound's first sample plays with the first frame
        rate = Fraction(first.stream.average_rate or first.stream.guessed_rate or 24)
        vs.codec_context.framerate = rate  # the muxers' frame rate (Matroska's default duration)
        tick = 1 / (rate * tb)  # exact timestamp ticks per frame (Matroska's 1 ms: not whole)
        # A constant-rate join puts frame k of the whole at round(k * tick), as one render does,
        # so rounding does not add up over segments. Decode timestamps: each segment starts its
        # own reorder delay (B-frames) afresh, so a short last segment has none and shifted dts
        # would jump at a join; the joined stream gets one delay, the largest, and evenly spaced
        # dts (never after a packet's pts, strictly increasing), as one encode of the whole has.
        grid = all(_on_grid(seg, tick) for seg in opened)
        delay = max(_delay(seg, tick) for seg in opened) if grid else 0
        # Timestamps of a grid join are made in a time base that holds the rate exactly (the
        # segments' own, or 1/numerator where that cannot: Matroska's 1 ms), and the muxer rounds
        # them into the file's as it rounded the single render's.
        mux_tb = tb if tick.denominator == 1 else Fraction(1, rate.numerator)
        step = int(1 / (rate * mux_tb)) if grid else 0
        a0 = 0.0 if audio_start is None else float(audio_start)
        offset, frames, shown, last_dts, before = 0, 0, 0.0, None, 0
        for seg in opened:
            shift = offset - seg.start
            order = {pts: j for j, pts in enumerate(sorted(p.pts for p in seg.packets))}
            for packet in seg.packets:
                if grid:
                    packet.pts = (before + order[packet.pts]) * step
                    packet.dts = (frames - delay) * step
                    packet.duration = step
                else:
                    packet.pts += shift
                    if packet.dts is not None:
                        packet.dts += shift
                        if last_dts is not None and packet.dts <= last_dts:
                            packet.dts = min(last_dts + 1, packet.pts)
                last_dts = packet.dts
                packet.stream = vs
                packet.time_base = mux_tb if grid else tb
                shown = max(shown, float(packet.pts * packet.time_base))
                out.mux(packet)
                frames += 1
                if audio is not None:
                    audio.copy_until(a0, a0 + shown)
                if encoder is not None:
                    encoder.encode_until(shown)
                if progress is not None:
                    progress(1)
            before += len(seg.packets)
            offset = round(before * tick) if grid else offset + seg.end - seg.start
        end = float(Fraction(before) / rate) if grid else float(offset * tb)  # the last frame's end
        if audio is not None:
            audio.copy_until(a0, None if audio_start is None else a0 + end, final=True)
            audio.close()
            audio = None
        if encoder is not None:
            encoder.finish(end)
        out.close()
        out = None
        part.commit()
        return ConcatStats(len(opened), frames, 0, end)
    except av.FFmpegError as exc:
        raise MediaIOError(f"cannot write the joined video ({first_line(exc)})", path=output) from None
    finally:
        if audio is not None:
            audio.close()
        if out is not None:
            try:
                out.close()
            except Exception:  # being thrown away
                pass
            if part is not None:
                part.abort()
        for seg in opened:
            seg.container.close()


# -- sounds ----------------------------------------------------------------------------------

@dataclass
class _Wav:
    path: Path
    fmt: bytes  # the fmt chunk's payload
    fact: bool  # has a fact chunk (float wav)
    data_offset: int
    data_size: int

    @property
    def block_align(self) -> int:
        return struct.unpack_from("<H", self.fmt, 12)[0]

    def describe(self) -> dict:
        tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", self.fmt, 0)
        kind = {1: "integer", 3: "float"}.get(tag, f"format {tag}")
        return {"sample rate": f"{rate} Hz", "channels": str(channels), "sample format": f"{bits}-bit {kind}"}


def _read_wav(path: Path) -> _Wav:
    check_regular_file(path)
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise MediaIOError("is not a wav file (no RIFF/WAVE header)", path=path)
        fmt, fact = None, False
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                raise MediaIOError("wav file has no data chunk (truncated?)", path=path)
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = fh.read(size)
            elif cid == b"data":
                if fmt is None or len(fmt) < 16:
                    raise MediaIOError("wav file has no format chunk before its data", path=path)
                offset = fh.tell()
                available = path.stat().st_size - offset
                if size > available:
                    raise MediaIOError(f"wav data is cut short ({available} of {size} bytes): truncated", path=path)
                wav = _Wav(path, fmt, fact, offset, size)
                if size % wav.block_align:
                    raise MediaIOError("wav data is not a whole number of samples", path=path)
                return wav
            else:
                fact = fact or cid == b"fact"
                fh.seek(size + (size & 1), 1)


def concat_sounds(segments, output, overwrite: bool = False) -> ConcatStats:
    """Join wav segments sample for sample (their PCM data copied in order under one header)."""
    from .io.audiofile import wav_header

    output = Path(output)
    paths = [Path(p) for p in segments]
    if not paths:
        raise UserInputError("give the segments to join")
    for p in paths:
        if p.suffix.lower() not in SOUND_SUFFIXES:
            raise UserInputError("is not a wav sound segment; sound chunks are joined as .wav", path=p)
        if p.resolve() == output.resolve():
            raise UserInputError("the output is one of the inputs; choose another output", path=output)
    wavs = [_read_wav(p) for p in paths]
    a = wavs[0].describe()
    for w in wavs[1:]:
        b = w.describe()
        for key in a:
            if a[key] != b[key]:
                raise MediaIOError(f"segment's {key} is {b[key]}, {wavs[0].path.name} has {a[key]}", path=w.path)
    total = sum(w.data_size for w in wavs)
    if total + 64 >= 2 ** 32:
        raise UserInputError("the joined sound is larger than a wav file can hold (4 GiB)", path=output)
    first = wavs[0]
    frames = total // first.block_align
    header = wav_header(first.fmt, total, fact_frames=frames if first.fact else None)
    part = PartialFile(output, overwrite)
    try:
        with open(part.tmp, "wb") as out:
            out.write(header)
            for w in wavs:
                with open(w.path, "rb") as fh:
                    fh.seek(w.data_offset)
                    left = w.data_size
                    while left:
                        block = fh.read(min(left, 1 << 22))
                        if not block:
                            raise MediaIOError("wav data ended early", path=w.path)
                        out.write(block)
                        left -= len(block)
            if total & 1:
                out.write(b"\0")
    except OSError as exc:
        part.abort()
        raise MediaIOError(f"cannot write ({exc.strerror or exc})", path=output) from None
    except BaseException:
        part.abort()
        raise
    part.commit()
    rate = struct.unpack_from("<I", first.fmt, 4)[0]
    return ConcatStats(len(wavs), 0, frames, frames / rate if rate else 0.0)
