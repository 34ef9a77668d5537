"""Videos through PyAV (FFmpeg): mp4, mov, mkv in; h264, h265, ProRes, FFV1, PNG out.

    reader = PyAVReader("plate.mov")                     # codec threading on
    spec = OutputSpec(1920, 1080, reader.properties.frame_rate, reader.properties.time_base,
                      codec="prores", audio_from="plate.mov")
    with PyAVWriter("out.mov", spec) as writer:          # written as .out.partial-PID.mov, renamed at the end
        for frame in reader.frames():
            frame.image = writer.convert(frame.image)     # 8-bit RGB -> the 16-bit frames ProRes takes
            writer.write(frame)

Timestamps are kept: the writer encodes in the source's time base with the source's pts,
so a variable frame rate stays variable. Audio streams are copied packet for packet
(see audio.py), so duration and sync match the source. A generated sound
(`OutputSpec(..., sound=SoundTrack(render, 48000, 2))`) is encoded beside the video (AAC in
.mp4/.m4v, 24-bit PCM in .mov/.mkv; SOUND_CODECS), replacing the source's audio unless
`keep_source`, and ends with the video's last frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import MediaIOError, UserInputError, first_line, require
from ..files import PartialFile, check_regular_file, check_target
from .base import (
    AudioStreamInfo, Frame, MediaProperties, OutputSpec, Reader,
    Writer, prepare_folder, remove_empty_folders,
)


def _av():
    return require("av", "av")


def _has_alpha(fmt) -> bool:
    return len(fmt.components) in (2, 4)


class PyAVReader(Reader):
    """Decodes the first video stream to [H,W,3|4] uint8 (8-bit) or uint16 (deeper) RGB."""

    def __init__(self, path):
        av = _av()
        self.path = check_regular_file(path)  # never open a pipe or a device: it may never end
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise MediaIOError(f"not a readable video ({first_line(exc)})", path=self.path) from None
        video = [s for s in self._container.streams if s.type == "video" and not _is_cover_art(s)]
        if not video:
            self.close()
            raise MediaIOError("has no video stream", path=self.path)
        self._stream = video[0]
        self._read_any = False
        try:
            self.properties = self._read_properties()
        except BaseException:
            self.close()
            raise

    def _read_properties(self) -> MediaProperties:
        counted, head = self._scan_packets(whole=not self._stream.frames)  # reopens the container
        s, c = self._stream, self._container
        ctx = s.codec_context
        count = s.frames or counted
        if count <= 0:
            raise MediaIOError("video stream has no frames", path=self.path)
        if not ctx.width or not ctx.height or not ctx.pix_fmt:
            raise MediaIOError("video stream has no size or pixel format (damaged file?)", path=self.path)
        fmt = ctx.format
        depth = max(comp.bits for comp in fmt.components)
        rate = s.average_rate or s.guessed_rate or s.base_rate
        if rate is None:
            raise MediaIOError("video stream has no frame rate", path=self.path)
        vfr = _uneven(head)
        if not s.frames and not vfr:
            self._check_complete(counted, rate)
        duration = float(s.duration * s.time_base) if s.duration else (c.duration / 1e6 if c.duration else None)
        audio = tuple(
            AudioStreamInfo(a.codec_context.name, a.codec_context.sample_rate or a.rate or 0, a.codec_context.channels,
                            float(a.duration * a.time_base) if a.duration else None)
            for a in c.streams.audio
        )
        return MediaProperties(
            path=str(self.path), kind="video", width=ctx.width, height=ctx.height, frame_count=int(count),
            first_frame=0, frame_rate=Fraction(rate), time_base=Fraction(s.time_base), pixel_format=ctx.pix_fmt,
            bit_depth=depth, channels=4 if _has_alpha(fmt) else 3, dtype="uint8" if depth <= 8 else "uint16",
            codec=ctx.name, container=c.format.name, duration=duration, variable_frame_rate=vfr, audio=audio,
            pixel_aspect=Fraction(s.sample_aspect_ratio or ctx.sample_aspect_ratio or 1), timecode=_timecode(c, s),
        )

    def _check_complete(self, counted: int, rate) -> None:
        """Refuse a file that holds fewer frames than its video track says it lasts (a cut-off copy).

        Containers without a frame count (Matroska) still tag each track with its duration,
        written at the start of the file, so a truncated copy keeps it. A render of such a
        file fails here rather than finishing with exit 0 and a shot's second half missing;
        a frame or 2% of slack allows for rounding of the tag.
        """
        stated = _track_seconds(self._stream)
        if stated is None:
            return
        expected = int(round(stated * float(rate)))
        if counted < expected - max(1, expected // 50):
            raise MediaIOError(f"only {counted} of its {expected} frames can be read (the video track lasts "
                               f"{stated:.3f} s at {float(rate):.3f} fps): the file is truncated or damaged",
                               path=self.path)

    def _scan_packets(self, whole: bool, head: int = 240) -> tuple:
        """(packet count, pts of the first `head` packets), demuxing only (no decoding).

        Containers like Matroska store no frame count, so `whole` counts every packet;
        otherwise only the head is read, to tell a variable frame rate from its timestamps.
        """
        n, pts = 0, []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size:
                    n += 1
                    if packet.pts is not None and len(pts) < head:
                        pts.append(packet.pts)
                    if not whole and n >= head:
                        break
        except _av().FFmpegError as exc:
            raise MediaIOError(f"cannot read the video stream ({first_line(exc)})", path=self.path) from None
        self._rewind()
        return n, pts

    def _rewind(self) -> None:
        # Reopening is cheap and works where seeking does not (streams with no index, empty streams).
        index = self._stream.index
        self._container.close()
        self._container = _av().open(str(self.path))
        self._stream = self._container.streams[index]

    def frames(self, first: int | None = None, last: int | None = None, skip=frozenset()):
        """Frames `first`..`last` (inclusive, indices from 0), with their pts; `skip` is not converted.

        A range that starts late in a constant-rate video seeks to the keyframe before it
        (frame indices then come from the timestamps), so farm chunks do not decode the
        whole shot; where that cannot be trusted it decodes from the start.
        """
        av = _av()
        p = self.properties
        first = 0 if first is None else first
        last = p.last_frame if last is None else last
        want_alpha = p.channels == 4
        fmt = ("rgba" if want_alpha else "rgb24") if p.bit_depth <= 8 else ("rgba64le" if want_alpha else "rgb48le")
        index, seen = 0, 0  # seen: frames decoded up to and including `index`
        try:
            for index, frame in self._decoded(first):
                if index > last:
                    break
                seen = index + 1
                if index >= first and index not in skip:
                    # The frame's own matrix (BT.601/709/2020 tags) and range (limited/full) decode it.
                    image = frame.to_ndarray(format=fmt, src_color_range=frame.color_range or None)
                    if image.shape[:2] != (p.height, p.width):
                        raise MediaIOError(
                            f"frame {index} is {image.shape[1]}x{image.shape[0]}, the stream is {p.width}x{p.height}",
                            path=self.path)
                    yield Frame(index, image, frame.pts, frame.duration or None)
        except av.FFmpegError as exc:
            raise MediaIOError(f"cannot decode frame {seen} ({first_line(exc)})", path=self.path) from None
        if seen <= min(last, p.last_frame):
            raise MediaIOError(f"file ends after {seen} of {p.frame_count} frames (truncated or damaged)",
                               path=self.path)

    def _decoded(self, first: int):
        """(index, frame) from the start, or from a keyframe at or before `first` when seeking is safe."""
        if self._read_any:
            self._rewind()
        self._read_any = True
        self._stream.thread_type = "AUTO"  # frame + slice threads in the decoder
        index_of = self._seek(first) if first > 0 and not self.properties.variable_frame_rate else None
        if index_of is not None:
            seen = []
            for frame in self._container.decode(self._stream):
                index = index_of(frame.pts)
                if index is None or (not seen and index > first) or (seen and index != seen[-1] + 1):
                    break  # timestamps do not map to frame indices: decode from the start instead
                seen.append(index)
                yield index, frame
            else:
                return
            if seen and seen[-1] >= first:
                raise MediaIOError("frame timestamps are irregular after seeking; cannot continue", path=self.path)
            self._rewind()
            self._stream.thread_type = "AUTO"
        for index, frame in enumerate(self._container.decode(self._stream)):
            yield index, frame

    def _seek(self, first: int):
        """Seek before frame `first`; return pts -> frame index, or None where that is unsafe."""
        p, s = self.properties, self._stream
        try:
            pts0 = next(iter(self._container.decode(s))).pts  # the first frame's timestamp
        except (StopIteration, _av().FFmpegError):
            pts0 = None
        self._rewind()
        if pts0 is None:
            return None
        step = 1 / (p.frame_rate * p.time_base)  # timestamp ticks per frame (exact)
        try:
            self._container.seek(int(pts0 + (first - 1) * step), stream=self._stream, backward=True)
        except _av().FFmpegError:
            self._rewind()
            return None

        def index_of(pts):
            if pts is None:
                return None
            k = (pts - pts0) / step
            return int(round(k)) if abs(k - round(k)) < 0.25 else None

        return index_of

    def close(self) -> None:
        if getattr(self, "_container", None) is not None:
            self._container.close()
            self._container = None


_CLOCK = re.compile(r"\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*")


def _track_seconds(stream) -> float | None:
    """The video track's own duration: its DURATION tag ("00:00:02.002000000", Matroska) or header."""
    for key, value in stream.metadata.items():
        m = _CLOCK.fullmatch(value) if key.upper() == "DURATION" and isinstance(value, str) else None
        if m:
            return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _timecode(container, video) -> str | None:
    """Start timecode: the video stream's tag, a timecode track's (QuickTime tmcd), or the file's."""
    for meta in [video.metadata, *(st.metadata for st in container.streams if st.type == "data"),
                 container.metadata]:
        for key, value in meta.items():
            if key.lower() == "timecode" and value:
                return value
    return None


def _uneven(pts: list) -> bool:
    """True when frame intervals vary by more than timestamp rounding (a variable frame rate)."""
    steps = np.diff(np.sort(np.asarray(pts, dtype=np.int64)))
    if steps.size < 2:
        return False
    return int(steps.max() - steps.min()) > max(2, int(0.01 * float(np.median(steps))))


def _is_cover_art(stream) -> bool:
    # An attached picture (album art) is a "video" stream of one image; it is not the video.
    disposition = getattr(stream, "disposition", None)
    try:
        return bool(disposition is not None and int(disposition) & 0x400)
    except TypeError:
        return False


# -- writing ----------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoCodec:
    encoder: str  # FFmpeg encoder name
    pix_fmt: str  # stored pixel format (alpha variant below)
    pix_fmt_alpha: str | None  # when the frames have alpha; None = the codec drops alpha
    deep: bool  # takes 16-bit frames (10-bit and deeper storage)
    options: tuple = ()  # encoder options (key, value)
    crf: int | None = None  # default constant rate factor


CODECS = {
    "h264": VideoCodec("libx264", "yuv420p", None, False, (("preset", "medium"),), crf=18),
    "h265": VideoCodec("libx265", "yuv420p", None, False, (("preset", "medium"), ("x265-params", "log-level=error")),
                       crf=20),
    "prores": VideoCodec("prores_ks", "yuv422p10le", None, True, (("profile", "3"), ("vendor", "apl0"))),
    "prores4444": VideoCodec("prores_ks", "yuva444p10le", "yuva444p10le", True, (("profile", "4"), ("vendor", "apl0"))),
    "ffv1": VideoCodec("ffv1", "bgr0", "bgra", False, (("level", "3"), ("slicecrc", "1"))),
    "ffv1-16": VideoCodec("ffv1", "gbrp16le", "gbrap16le", True, (("level", "3"), ("slicecrc", "1"))),
    "png": VideoCodec("png", "rgb24", "rgba", False),
    "png-16": VideoCodec("png", "rgb48be", "rgba64be", True),
}
ALIASES = {"hevc": "h265", "x264": "h264", "x265": "h265", "prores_ks": "prores", "prores422": "prores",
           "prores_4444": "prores4444", "qtrle": "png"}
# Which codecs each container can hold, and which audio it can hold as is.
CONTAINERS = {
    ".mp4": ("mp4", {"h264", "h265"}, {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}),
    ".m4v": ("mp4", {"h264", "h265"}, {"aac", "mp3", "ac3", "eac3", "alac"}),
    ".mov": ("mov", {"h264", "h265", "prores", "prores4444", "png"},
             {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le",
              "pcm_s16be", "pcm_s24be", "pcm_s32be"}),
    ".mkv": ("matroska", {"h264", "h265", "prores", "prores4444", "ffv1"}, None),  # None: any audio
}
DEFAULT_CODEC = {".mp4": "h264", ".m4v": "h264", ".mov": "prores", ".mkv": "ffv1"}


def pick_codec(path: Path, codec: str | None, alpha: bool, bit_depth: int) -> tuple:
    """(user-facing codec name, VideoCodec) for an output file; UserInputError when it cannot hold it."""
    ext = path.suffix.lower()
    if ext not in CONTAINERS:
        raise UserInputError(f"unknown video container {ext or '(no extension)'!r}; use .mp4, .mov or .mkv "
                             "(or an image pattern such as shot.####.exr)", path=path)
    name = (codec or DEFAULT_CODEC[ext]).lower()
    name = ALIASES.get(name, name)
    if name == "prores" and codec is None and alpha:
        name = "prores4444"
    if name not in {n for n in CODECS if "-" not in n}:
        known = ", ".join(n for n in CODECS if "-" not in n)
        raise UserInputError(f"unknown codec {codec!r} (known: {known})", path=path)
    if name not in CONTAINERS[ext][1]:
        fits = ", ".join(e for e, (_, codecs, _) in CONTAINERS.items() if name in codecs)
        raise UserInputError(f"a {ext} file cannot hold {name}; use {fits}", path=path)
    key = f"{name}-16" if name in ("ffv1", "png") and bit_depth > 8 else name
    return name, CODECS[key]


CRF_RANGE = (0, 51)  # libx264 and libx265 at 8 bits: 0 is lossless, 51 the worst


def check_quality(name: str, codec: VideoCodec, quality, path) -> None:
    """A quality (CRF) is for the codecs that have one, within their range: never clamped or dropped."""
    if quality is None:
        return
    if codec.crf is None:
        raise UserInputError(f"{name} has no quality (CRF) setting; h264 and h265 have one", path=path,
                             about="quality")
    lo, hi = CRF_RANGE
    if not lo <= quality <= hi:
        raise UserInputError(f"quality (CRF) {quality} is outside {lo}-{hi}, the range of {name}", path=path,
                             about="quality")


def repair_dts(packets: list, last_dts) -> None:
    """Give back decode timestamps libx265 leaves unset.

    When a clip is shorter than x265's look-ahead, every packet comes out at the flush, and
    FFmpeg's libx265 wrapper can hand them a decode timestamp of uninitialised memory plus the
    packet's index (seen: -94605363712192, -94605363712191 for pts 0, 1), which the mp4 and
    mov muxers refuse (as they refuse any dts after its pts or out of order). Then every packet
    of the batch (in decode order) gets the presentation times in sorted order, moved back by
    the reorder delay so that no dts exceeds its pts, as an encoder that sets them does; never
    at or before the last dts muxed.
    """
    timed = [p for p in packets if p.dts is not None and p.pts is not None]
    previous, broken = last_dts, False
    for p in timed:  # an hour from its pts (no encoder reorders that far), after its pts, or out of order
        hour = 3600 / p.time_base if p.time_base else 1 << 32
        broken |= abs(p.dts - p.pts) >= hour or p.dts > p.pts or (previous is not None and p.dts <= previous)
        previous = p.dts
    if not broken:
        return
    times = sorted(p.pts for p in timed)
    delay = max(0, *(t - p.pts for t, p in zip(times, timed)))
    previous = last_dts
    for t, p in zip(times, timed):
        dts = t - delay
        if previous is not None and dts <= previous:
            dts = previous + 1
        p.dts = previous = min(dts, p.pts)


GOP_CODECS = {"h264": "x264-params", "h265": "x265-params"}  # codec -> the encoder's private options


def check_gop(name: str, gop, path) -> None:
    """--gop is for the inter-frame codecs, at least one frame; the intra ones have no GOP to set."""
    if gop is None:
        return
    if name not in GOP_CODECS:
        raise UserInputError(f"{name} codes every frame on its own; a GOP length (--gop) is for h264 and h265",
                             path=path, about="gop")
    if gop < 1:
        raise UserInputError(f"the GOP length must be at least 1 frame, got {gop}", path=path, about="gop")


def encoder_options(name: str, codec: VideoCodec, quality, gop) -> dict:
    """The encoder's options: the codec's own, then CRF; or, with a GOP length, closed GOPs at a constant QP.

    A fixed closed GOP (keyframe every `gop` frames, no scene cuts, no open GOPs) at a constant
    quantiser leaves the encoder no state across GOPs: no rate control history and no macroblock
    tree looking into the next GOP. So a GOP encodes to the same bits whichever file it is in,
    and farm chunks of whole GOPs join (runtime/concat.py) to exactly the single render.
    """
    options = dict(codec.options)
    q = quality if quality is not None else codec.crf
    if gop is None:
        if q is not None:
            options["crf"] = str(q)
        return options
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0"
    key = GOP_CODECS[name]
    if name == "h265":  # x265 takes its quantiser among its own parameters
        params += f":qp={q}"
    else:
        options["qp"] = str(q)
    options[key] = f"{options[key]}:{params}" if key in options else params
    return options


# The generated sound's codec (OutputSpec.sound) by container: AAC where PCM cannot go, 24-bit PCM elsewhere.
SOUND_CODECS = {".mp4": "aac", ".m4v": "aac", ".mov": "pcm_s24le", ".mkv": "pcm_s24le"}


def sound_codec(path: Path, codec: str | None) -> str:
    """The codec a generated sound track gets in this output; UserInputError when the container cannot hold it."""
    ext = path.suffix.lower()
    name = (codec or SOUND_CODECS[ext]).lower()
    held = CONTAINERS[ext][2]
    if name not in ("aac", "pcm_s16le", "pcm_s24le") or (held is not None and name not in held):
        fits = sorted(n for n in ("aac", "pcm_s16le", "pcm_s24le") if held is None or n in held)
        raise UserInputError(f"a {ext} file cannot hold a {name} sound track; use {', '.join(fits)}", path=path,
                             about="sound")
    return name


class PyAVWriter(Writer):
    """Encodes frames into a video file under a temporary name; `commit()` renames it."""

    def __init__(self, path, spec: OutputSpec):
        av = _av()
        self.path, self.spec = Path(path), spec
        self.codec_name, self.codec = pick_codec(self.path, spec.codec, spec.alpha, spec.bit_depth)
        check_quality(self.codec_name, self.codec, spec.quality, self.path)
        check_gop(self.codec_name, spec.gop, self.path)
        if self.path.parent.exists():  # a folder or a pipe at the name, or a file without overwrite: refused now
            check_target(self.path, spec.overwrite)
        self._made = prepare_folder(self.path)
        alpha = spec.alpha and self.codec.pix_fmt_alpha is not None
        self.channels = 4 if alpha else 3
        self.dtype = np.uint16 if self.codec.deep else np.uint8
        self._in_fmt = {(False, 3): "rgb24", (False, 4): "rgba", (True, 3): "rgb48le", (True, 4): "rgba64le"}[
            (self.codec.deep, self.channels)]
        self._part = PartialFile(self.path, spec.overwrite)  # also removes partials of killed renders
        self.tmp = self._part.tmp
        fmt_name = CONTAINERS[self.path.suffix.lower()][0]
        try:
            self._out = av.open(str(self.tmp), "w", format=fmt_name)
        except (av.FFmpegError, OSError) as exc:
            remove_empty_folders(self._made)
            raise MediaIOError(f"cannot create the output ({first_line(exc)})", path=self.path) from None
        try:
            self._setup_video(alpha)
            self._audio = None
            if spec.audio_from and (spec.sound is None or spec.sound.keep_source):
                from .audio import AudioCopier

                self._audio = AudioCopier(spec.audio_from, self._out, CONTAINERS[self.path.suffix.lower()][2])
            self._sound = None
            if spec.sound is not None:  # after the source's streams: they come first
                from .audio import SoundEncoder

                self._sound = SoundEncoder(spec.sound, self._out, sound_codec(self.path, spec.sound.codec),
                                           path=self.path)
        except BaseException:
            self.abort()
            raise
        self._durations = {}  # output pts -> source frame duration
        self._start = 0.0  # source time (s) of the output's time 0: the first frame's, for a range
        self._last_pts = -1
        self._last_dts = None  # of the last packet muxed
        self._origin = None  # pts of the first frame written (ranges start at 0)
        self._count = 0
        self._last_time = 0.0
        self._last_duration = 0.0

    def _setup_video(self, alpha: bool) -> None:
        spec, codec = self.spec, self.codec
        stream = self._out.add_stream(codec.encoder, rate=spec.frame_rate)
        stream.width, stream.height = spec.width, spec.height
        stream.pix_fmt = codec.pix_fmt_alpha if alpha else codec.pix_fmt
        # Encode in the source's time base so its pts (VFR included) go through unchanged. A
        # constant-rate source whose time base cannot hold its rate exactly (Matroska's 1 ms
        # for 24000/1001) is put on the exact 1/rate grid instead, or players see jitter.
        self._src_tb = spec.time_base
        ticks = 1 / (spec.frame_rate * spec.time_base) if spec.time_base else None
        self._retime = bool(ticks is not None and spec.constant_rate and ticks.denominator != 1)
        self._tb = spec.time_base if spec.time_base and not self._retime else 1 / Fraction(spec.frame_rate)
        stream.codec_context.time_base = self._tb
        stream.time_base = self._tb
        stream.codec_context.options = encoder_options(self.codec_name, codec, spec.quality, spec.gop)
        stream.codec_context.thread_count = 0  # 0 = as many as the encoder wants
        if spec.pixel_aspect != 1:  # in the bitstream (h264 VUI) and in the container (display size)
            stream.codec_context.sample_aspect_ratio = Fraction(spec.pixel_aspect)
            stream.sample_aspect_ratio = Fraction(spec.pixel_aspect)
        if self.codec_name == "h265":
            stream.codec_tag = "hvc1"  # the tag QuickTime and browsers play
        # RGB -> YUV with the BT.709 matrix, limited range, and say so in the stream: untagged
        # HD is shown as BT.709 by players, so an untagged BT.601 encode would shift colours.
        self._yuv = stream.pix_fmt.startswith("yuv")
        if self._yuv:
            cc = stream.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = 1  # BT.709
            cc.color_range = 1  # limited ("tv", MPEG)
        if spec.width % 2 or spec.height % 2:
            if stream.pix_fmt in ("yuv420p", "yuv422p10le"):
                raise UserInputError(f"{self.codec_name} ({stream.pix_fmt}) needs an even width and height, "
                                     f"got {spec.width}x{spec.height}; ffv1 or png take any size", path=self.path,
                                     about="codec")
        self._stream = stream

    def write(self, frame: Frame) -> None:
        av = _av()
        image = frame.image
        if image.shape != (self.spec.height, self.spec.width, self.channels) or image.dtype != self.dtype:
            raise MediaIOError(f"frame {frame.number} is {image.shape} {image.dtype}, writer takes "
                               f"{(self.spec.height, self.spec.width, self.channels)} {np.dtype(self.dtype)}",
                               path=self.path)
        vf = av.VideoFrame.from_ndarray(image, format=self._in_fmt)
        if self._yuv:
            vf = vf.reformat(format=self._stream.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
        if frame.pts is None or self._src_tb is None:
            pts = self._count
        else:
            if self._origin is None:
                self._origin = frame.pts if self.spec.trim else 0
                self._start = float(self._origin * self._src_tb)  # source time the output starts at
            pts = frame.pts - self._origin
            if self._retime:
                pts = max(round(pts * self._src_tb / self._tb), self._last_pts + 1)
        vf.pts, vf.time_base = pts, self._tb
        if self._count == 0 and self.spec.timecode:
            # Set before the first packet writes the header; mov/mp4 make a timecode track of it.
            from .timecode import offset

            first = frame.number if self.spec.trim else 0
            self._stream.metadata["timecode"] = offset(self.spec.timecode, first, self.spec.frame_rate)
        if frame.duration and self._src_tb is not None and not self._retime:
            # Encoders do not all carry a frame's duration to its packet; the muxer needs it
            # for the last frame of a variable-rate clip, so packets get it back in _mux.
            vf.duration = frame.duration
            self._durations[pts] = frame.duration
        self._count += 1
        self._last_pts = pts
        try:
            self._mux(self._stream.encode(vf))
        except av.FFmpegError as exc:
            raise MediaIOError(f"cannot encode frame {frame.number} ({first_line(exc)})", path=self.path) from None
        self._last_time = float(pts * self._tb)
        self._last_duration = float(frame.duration * self._src_tb) if frame.duration and self._src_tb else 0.0
        if self._audio is not None:
            # Keep audio interleaved with the video written so far (no further: a range's end is not known yet).
            self._audio.copy_until(self._start, self._start + self._last_time)
        if self._sound is not None:
            self._sound.encode_until(self._last_time)

    def _mux(self, packets) -> None:
        packets = list(packets)
        repair_dts(packets, self._last_dts)
        for packet in packets:
            duration = self._durations.pop(packet.pts, None)
            if duration:
                packet.duration = duration
            dts = packet.dts  # in the encoder's time base (muxing rescales the packet to the container's)
            self._out.mux(packet)
            if dts is not None:
                self._last_dts = dts

    def commit(self) -> None:
        av = _av()
        if self._out is None:
            return
        if self._count == 0:
            self.abort()
            raise MediaIOError("no frames were written", path=self.path)
        try:
            self._mux(self._stream.encode())
            if self._audio is not None:
                if self.spec.trim:
                    end = self._start + self._last_time + (self._last_duration or float(1 / self.spec.frame_rate))
                    self._audio.copy_until(self._start, end, final=True)
                else:
                    self._audio.copy_until(0.0, None, final=True)
                self._audio.close()
            if self._sound is not None:  # as long as the video: its last frame's end
                self._sound.finish(self._last_time + (self._last_duration or float(1 / self.spec.frame_rate)))
            self._out.close()
            self._out = None
        except BaseException as exc:
            self.abort()
            if isinstance(exc, (av.FFmpegError, OSError)):
                raise MediaIOError(f"cannot finish the output ({first_line(exc)})", path=self.path) from None
            raise
        self._part.commit()

    def abort(self) -> None:
        audio = getattr(self, "_audio", None)
        if audio is not None:
            audio.close()
            self._audio = None
        if getattr(self, "_out", None) is not None:
            try:
                self._out.close()
            except Exception:  # the file is being thrown away; a failing close changes nothing
                pass
            self._out = None
        if getattr(self, "_part", None) is not None:
            self._part.abort()
        remove_empty_folders(getattr(self, "_made", []))
