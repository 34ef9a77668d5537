"""Audio streams carried from a source video into a rendered one.

Packets are copied unchanged (`add_stream_from_template`), so the sound is bit-identical
and keeps its timing. Only where the output container cannot hold the codec (PCM in an
.mp4, say) is the stream decoded and re-encoded, to AAC. A frame range of the source
keeps the audio of the same span, shifted to start at zero.

    copier = AudioCopier("plate.mov", output_container, copyable={"aac", "mp3"})
    copier.copy_until(start=0.0, end=2.0)             # interleave as video is written
    copier.copy_until(0.0, None, final=True)          # the rest, then flush

A generated sound (OutputSpec.sound, a SoundTrack) is encoded by `SoundEncoder`, pulled
from its `render` in blocks as the video is written and ended with the video.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

from ..errors import MediaIOError, require

log = logging.getLogger("ganfx")


class _Track:
    """One audio stream: copied packet for packet, or re-encoded to AAC."""

    def __init__(self, src_stream, out, copy: bool):
        self.src, self.copy = src_stream, copy
        self.tb = Fraction(src_stream.time_base)
        if copy:
            self.out = out.add_stream_from_template(src_stream)
        else:
            av = require("av", "av")
            ctx = src_stream.codec_context
            self.out = out.add_stream("aac", rate=ctx.sample_rate)
            self.out.layout = ctx.layout.name if ctx.layout else "stereo"
            self.out.codec_context.options = {"b": "192k"}
            self.resampler = av.AudioResampler(format="fltp", layout=self.out.layout, rate=ctx.sample_rate,
                                               frame_size=1024)
            self.samples = 0  # output pts in samples
            log.info("audio %s cannot go into this container as is: re-encoding to aac", ctx.name)


class AudioCopier:
    def __init__(self, src_path, out_container, copyable=None):
        av = require("av", "av")
        self._out = out_container
        try:
            self._src = av.open(str(src_path))
        except av.FFmpegError as exc:
            raise MediaIOError(f"cannot read the audio ({exc})", path=src_path) from None
        self._tracks = {}
        for s in self._src.streams.audio:
            copy = copyable is None or s.codec_context.name in copyable
            self._tracks[s.index] = _Track(s, out_container, copy)
        self._packets = self._src.demux(*[t.src for t in self._tracks.values()]) if self._tracks else iter(())
        self._pending = None
        self._done = not self._tracks

    def _next(self):
        if self._pending is not None:
            packet, self._pending = self._pending, None
            return packet
        return next(self._packets, None)

    def copy_until(self, start: float, end: float | None, final: bool = False) -> None:
        """Mux the audio of source time [start, end) (end None = to the end), shifted by -start."""
        av = require("av", "av")
        try:
            while not self._done:
                packet = self._next()
                if packet is None:
                    self._done = True
                    break
                if packet.pts is None or not packet.size:
                    continue
                track = self._tracks[packet.stream.index]
                t = float(packet.pts * track.tb)
                if end is not None and t >= end:
                    self._pending = packet
                    break
                if t < start - 1e-9:
                    continue
                self._mux(track, packet, start)
            if final:
                self._flush()
        except av.FFmpegError as exc:
            raise MediaIOError(f"cannot copy the audio ({exc})", path=self._src.name) from None

    def _mux(self, track: _Track, packet, start: float) -> None:
        shift = round(start / track.tb) if start else 0
        if track.copy:
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = track.out
            self._out.mux(packet)
            return
        for frame in track.src.codec_context.decode(packet):
            self._encode(track, frame)

    def _encode(self, track: _Track, frame) -> None:
        for out_frame in track.resampler.resample(frame):
            out_frame.pts = track.samples
            out_frame.time_base = Fraction(1, out_frame.sample_rate)
            track.samples += out_frame.samples
            for p in track.out.encode(out_frame):
                self._out.mux(p)

    def _flush(self) -> None:
        for track in self._tracks.values():
            if track.copy:
                continue
            for frame in track.src.codec_context.decode(None):
                self._encode(track, frame)
            self._encode(track, None)
            for p in track.out.encode(None):
                self._out.mux(p)

    def close(self) -> None:
        if self._src is not None:
            self._src.close()
            self._src = None


# -- a generated sound track ------------------------------------------------------------

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
SOUND_CODECS = ("aac", "pcm_s16le", "pcm_s24le")


class SoundEncoder:
    """Encodes a SoundTrack (base.py) into an output container, interleaved with its video.

        sound = SoundEncoder(spec.sound, output_container, "pcm_s24le", path="out.mov")
        sound.encode_until(seconds)             # after each video frame: the sound up to that time
        sound.finish(end_seconds)               # at commit: exactly up to the video's end, then flush

    Times are the output's (the video stream's) in seconds; the sound's first sample
    (`track.start_sample`) plays at the time of the first `encode_until` call, the first
    frame's. `render` is called in blocks of `BLOCK` samples at positions start_sample +
    k * BLOCK (the last one shorter), so the same track always sees the same calls; samples
    are scaled by gain_db, clipped to -1..1 and converted once (pcm_s16le: round(x * 32767);
    pcm_s24le: round(x * 8388607), stored as s32 << 8; aac: float planar, 192 kb/s). AAC is
    encoded at the track's rate where AAC has it, else at 48 kHz (PyAV's resampler converts).
    """

    BLOCK = 4096  # samples per render call

    def __init__(self, track, out_container, codec: str, path=None):
        import math

        from .audiofile import LAYOUTS

        self.track, self.path, self.codec = track, path, codec
        self._out = out_container
        if codec not in SOUND_CODECS:
            raise MediaIOError(f"unknown sound codec {codec!r} (known: {', '.join(SOUND_CODECS)})", path=path)
        if int(track.rate) != track.rate or track.rate <= 0:
            raise MediaIOError(f"the sound's sample rate must be a positive whole number, got {track.rate}", path=path)
        if track.channels not in LAYOUTS:
            raise MediaIOError(f"the sound has {track.channels} channels; 1 to {max(LAYOUTS)} can be written", path=path)
        if not math.isfinite(track.gain_db):
            raise MediaIOError(f"the sound's gain must be a finite number of dB, got {track.gain_db}", path=path)
        self.rate, self.channels = int(track.rate), int(track.channels)
        self.layout = LAYOUTS[self.channels]
        self.gain = 10.0 ** (track.gain_db / 20.0)
        if codec == "aac":
            enc_rate, self._fmt = (self.rate if self.rate in AAC_RATES else 48000), "fltp"
        else:
            enc_rate, self._fmt = self.rate, ("s16" if codec == "pcm_s16le" else "s32")
        self.stream = out_container.add_stream(codec, rate=enc_rate)
        self.stream.layout = self.layout
        self.stream.format = self._fmt
        if codec == "aac":
            self.stream.codec_context.options = {"b": "192k"}
        self._start = None  # output time (s) of the sound's first sample
        self._rendered = 0  # samples rendered so far (from start_sample)
        self._sent = 0  # samples encoded so far
        self._buffer = np.zeros((self.channels, 0), np.float32)  # rendered, not yet encoded
        self._finished = False

    def _render(self, first: int, count: int) -> np.ndarray:
        block = self.track.render(self.track.start_sample + first, count)
        block = np.asarray(block)
        if block.ndim == 1 and self.channels == 1:
            block = block[None]
        if block.shape != (self.channels, count) or block.dtype.kind != "f":
            raise MediaIOError(f"the sound rendered {list(block.shape)} {block.dtype} for {count} samples; "
                               f"[{self.channels}, {count}] float was expected", path=self.path)
        if not np.isfinite(block).all():
            raise MediaIOError(f"the sound rendered NaN or infinite samples at sample "
                               f"{self.track.start_sample + first}", path=self.path)
        return np.clip(block.astype(np.float32) * np.float32(self.gain), -1.0, 1.0)

    def _frame(self, block: np.ndarray):
        av = require("av", "av")
        if self._fmt == "fltp":
            data = np.ascontiguousarray(block, dtype=np.float32)
        else:
            from .audiofile import to_integers

            ints = to_integers(block, 16 if self._fmt == "s16" else 24)
            if self._fmt == "s32":
                ints = ints << 8  # pcm_s24le keeps the top 24 bits of each s32 sample
            data = np.ascontiguousarray(ints.T).reshape(1, -1)  # packed: [1, n*C] interleaved
        frame = av.AudioFrame.from_ndarray(data, format=self._fmt, layout=self.layout)
        frame.sample_rate, frame.pts, frame.time_base = self.rate, self._sent, Fraction(1, self.rate)
        return frame

    def _encode_to(self, target: int, final: bool) -> None:
        av = require("av", "av")
        while self._sent < target:
            if self._buffer.shape[1] == 0:
                count = self.BLOCK if not final else min(self.BLOCK, target - self._rendered)
                self._buffer = self._render(self._rendered, count)
                self._rendered += count
            take = min(self._buffer.shape[1], target - self._sent)
            block, self._buffer = self._buffer[:, :take], self._buffer[:, take:]
            try:
                for packet in self.stream.encode(self._frame(block)):
                    self._out.mux(packet)
            except av.FFmpegError as exc:
                raise MediaIOError(f"cannot encode the sound ({exc})", path=self.path) from None
            self._sent += take

    def encode_until(self, seconds: float) -> None:
        """Encode the sound up to output time `seconds` (the first call sets where it starts)."""
        if self._start is None:
            self._start = seconds
        self._encode_to(max(0, int(round((seconds - self._start) * self.rate))), final=False)

    def finish(self, end_seconds: float) -> None:
        """Encode up to `end_seconds` (the video's end) exactly, then flush the encoder."""
        av = require("av", "av")
        if self._finished:
            return
        if self._start is None:
            self._start = 0.0
        self._encode_to(max(0, int(round((end_seconds - self._start) * self.rate))), final=True)
        try:
            for packet in self.stream.encode(None):
                self._out.mux(packet)
        except av.FFmpegError as exc:
            raise MediaIOError(f"cannot finish the sound ({exc})", path=self.path) from None
        self._finished = True
