"""Audio streams carried from a source video into a rendered one.

Packets are copied unchanged (`add_stream_from_template`), so the sound is bit-identical
and keeps its timing. Only where the output container cannot hold the codec (PCM in an
.mp4, say) is the stream decoded and re-encoded, to AAC. A frame range of the source
keeps the audio of the same span, shifted to start at zero.

    copier = AudioCopier("plate.mov", output_container, copyable={"aac", "mp3"})
    copier.copy_until(start=0.0, end=2.0)             # interleave as video is written
    copier.copy_until(0.0, None, final=True)          # the rest, then flush
"""

from __future__ import annotations

import logging
from fractions import Fraction

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
