"""Audio files: decode anything FFmpeg reads, write WAV and FLAC safely.

    samples, rate = read_audio("rain.ogg")                      # [C,n] float32 -1..1, the file's rate
    samples, rate = read_audio("plate.mov", rate=48000, channels=1)   # a video's first audio stream, mono
    with AudioFileWriter("rain.wav", 48000, 2, sample_format="s24") as w:   # .rain.partial-PID.wav meanwhile
        for block in blocks:                                     # [2,n] float32
            w.write(block)
    write_audio("tone.flac", samples, 48000)                      # one call; 16-bit by default

Reading (PyAV): wav, flac, ogg vorbis, mp3, ... and the first audio stream of a video, as
float32 [channels, samples]; integer formats are scaled as FFmpeg does (s16 / 32768,
s32 / 2^31). `rate` resamples with FFmpeg's resampler (av.AudioResampler); `channels`
mixes: to mono the mean of the channels, from mono the one channel repeated, otherwise
FFmpeg's standard matrix between the default layouts (5.1 -> stereo, ...), its rows
scaled so that a full-scale source stays within -1..1 (`mix_matrix`).

Writing: by suffix. .wav is written here as RIFF (WAVE_FORMAT_PCM for s16 and s24,
WAVE_FORMAT_IEEE_FLOAT with a fact chunk for f32); .flac through PyAV's flac encoder
(s16, or s24 as s32 samples with bits_per_raw_sample 24). Integer samples are
round(x * (2^(bits-1) - 1)) of x clipped to -1..1 (16-bit: round(x * 32767)); float WAV
keeps the values as given (not clipped). The file is written under a partial name
(runtime.files) and renamed by a successful `close()`; an error inside `with` removes
the partial and leaves any existing file untouched. numpy and PyAV only.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import MediaIOError, UserInputError, first_line, require
from ..files import PartialFile, check_regular_file, check_target
from .base import prepare_folder, remove_empty_folders

AUDIO_SUFFIXES = (".wav", ".flac")
SAMPLE_FORMATS = ("s16", "s24", "f32")
_BITS = {"s16": 16, "s24": 24, "f32": 32}
# FFmpeg's default channel layout for a channel count (av_channel_layout_default).
LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "4.0", 5: "5.0(side)", 6: "5.1(side)", 7: "6.1", 8: "7.1"}
_WAV_MAX = 0xFFFFFFFF - 64  # a RIFF size field is 32 bits


def _av():
    return require("av", "av")


def layout_name(channels: int) -> str:
    """FFmpeg's layout name for a channel count ("mono", "stereo", "5.1(side)", ...)."""
    if channels not in LAYOUTS:
        raise UserInputError(f"{channels} audio channels are not supported (1 to {max(LAYOUTS)})")
    return LAYOUTS[channels]


# -- reading ----------------------------------------------------------------------------

def wav_header(fmt: bytes, data_size: int, fact_frames: int | None = None) -> bytes:
    """A RIFF/WAVE header: the fmt chunk with payload `fmt` (padded to an even size), a fact chunk
    when `fact_frames` is given (float formats), and the header of a data chunk of `data_size` bytes."""
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + (b"\0" if len(fmt) & 1 else b"")
    if fact_frames is not None:
        chunks += b"fact" + struct.pack("<II", 4, fact_frames)
    chunks += b"data" + struct.pack("<I", data_size)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + data_size + (data_size & 1)) + b"WAVE" + chunks


def read_audio(path, rate: int | None = None, channels: int | None = None) -> tuple:
    """(samples [C,n] float32 -1..1, rate) of a file's first audio stream; MediaIOError naming the file.

    `rate`: resample to it (and return it); `channels`: mix down or up to that many.
    """
    av = _av()
    path = check_regular_file(path)
    if rate is not None and (int(rate) != rate or rate <= 0):
        raise UserInputError(f"sample rate must be a positive whole number of Hz, got {rate}", path=path)
    if channels is not None and channels not in LAYOUTS:
        raise UserInputError(f"channels must be 1 to {max(LAYOUTS)}, got {channels}", path=path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MediaIOError(f"not a readable audio file ({first_line(exc)})", path=path) from None
    try:
        if not container.streams.audio:
            raise MediaIOError("has no audio stream", path=path)
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", rate=int(rate) if rate else None)
        blocks = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    blocks.append(out.to_ndarray())
            for out in resampler.resample(None):
                blocks.append(out.to_ndarray())
        except (av.FFmpegError, ValueError) as exc:
            raise MediaIOError(f"cannot decode the audio ({first_line(exc)})", path=path) from None
        out_rate = int(rate) if rate else int(stream.codec_context.sample_rate or stream.rate or 0)
    finally:
        container.close()
    blocks = [b for b in blocks if b.size]
    if not blocks:
        raise MediaIOError("has no audio samples (empty)", path=path)
    samples = np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)  # [C,n]
    if channels is not None and samples.shape[0] != channels:
        samples = mix_channels(samples, channels)
    return samples, out_rate


def mix_matrix(src: int, dst: int) -> np.ndarray:
    """[dst, src] weights: FFmpeg's matrix between the default layouts, rows scaled to sum to at most 1 in magnitude.

    Read off FFmpeg's resampler (one impulse per source channel), then normalised as FFmpeg
    does for integer output, so a full-scale source cannot mix beyond -1..1.
    """
    av = _av()
    frame = av.AudioFrame.from_ndarray(np.eye(src, dtype=np.float32), format="fltp", layout=LAYOUTS[src])
    frame.sample_rate, frame.pts = 48000, 0
    resampler = av.AudioResampler(format="fltp", layout=LAYOUTS[dst], rate=48000)
    out = [f.to_ndarray() for f in resampler.resample(frame) + resampler.resample(None)]
    matrix = np.concatenate(out, axis=1)[:, :src].astype(np.float64)
    return matrix / max(1.0, float(np.abs(matrix).sum(axis=1).max()))


def mix_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    """[C,n] -> [channels,n]: to mono the mean, from mono repeated, else mix_matrix (FFmpeg's, normalised)."""
    c = samples.shape[0]
    if channels == c:
        return samples
    if channels == 1:
        return samples.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
    if c == 1:
        return np.repeat(samples, channels, axis=0)
    if c not in LAYOUTS:  # no standard layout: the first channels (cycled when more are asked for)
        return np.ascontiguousarray(samples[np.arange(channels) % c])
    return (mix_matrix(c, channels) @ samples.astype(np.float64)).astype(np.float32)


# -- writing ----------------------------------------------------------------------------

def to_integers(block: np.ndarray, bits: int) -> np.ndarray:
    """Float samples clipped to -1..1 -> round(x * (2^(bits-1) - 1)) as int16 (16) or int32 (24, 32)."""
    scale = float(2 ** (bits - 1) - 1)
    ints = np.rint(np.clip(block, -1.0, 1.0).astype(np.float64) * scale)
    return ints.astype(np.int16 if bits == 16 else np.int32)


class AudioFileWriter:
    """A .wav or .flac written block by block under a partial name; `close()` renames it into place.

        with AudioFileWriter("out.flac", 48000, 2, "s24") as w:
            w.write(block)                                    # [2,n] float32 -1..1 ([n] when mono)
    """

    def __init__(self, path, rate: int, channels: int, sample_format: str = "s16", overwrite: bool = False):
        self.path = Path(path)
        self.rate, self.channels, self.sample_format = int(rate), int(channels), sample_format
        self.samples_written = 0  # per channel
        ext = self.path.suffix.lower()
        if ext not in AUDIO_SUFFIXES:
            raise UserInputError(f"unknown audio file type {ext or '(no extension)'!r}; use .wav or .flac",
                                 path=self.path)
        if sample_format not in SAMPLE_FORMATS:
            raise UserInputError(f"unknown sample format {sample_format!r} (known: {', '.join(SAMPLE_FORMATS)})",
                                 path=self.path, about="sample_format")
        if ext == ".flac" and sample_format == "f32":
            raise UserInputError("FLAC holds 16 or 24-bit integer samples, not float; use s16 or s24, or a .wav",
                                 path=self.path, about="sample_format")
        if self.rate != rate or self.rate <= 0:
            raise UserInputError(f"sample rate must be a positive whole number of Hz, got {rate}", path=self.path)
        layout_name(self.channels)
        if self.path.parent.exists():  # a folder at the name, or a file without overwrite: refused now
            check_target(self.path, overwrite)
        self._made = prepare_folder(self.path)
        self._part = PartialFile(self.path, overwrite)
        self.tmp = self._part.tmp
        self._file = self._container = None
        try:
            if ext == ".wav":
                self._open_wav()
            else:
                self._open_flac()
        except BaseException:
            self.abort()
            raise

    # -- WAV: RIFF written here ---------------------------------------------------------

    def _open_wav(self) -> None:
        try:
            self._file = open(self.tmp, "wb")
            self._file.write(self._wav_header(0))
        except OSError as exc:
            raise MediaIOError(f"cannot write ({exc.strerror or exc})", path=self.path) from None

    def _wav_header(self, frames: int) -> bytes:
        bits = _BITS[self.sample_format]
        block_align = self.channels * bits // 8
        is_float = self.sample_format == "f32"
        fmt = struct.pack("<HHIIHH", 3 if is_float else 1, self.channels, self.rate, self.rate * block_align,
                          block_align, bits)
        if is_float:  # WAVE_FORMAT_IEEE_FLOAT: an 18-byte fmt (cbSize 0) and a fact chunk
            return wav_header(fmt + struct.pack("<H", 0), frames * block_align, fact_frames=frames)
        return wav_header(fmt, frames * block_align)

    def _wav_bytes(self, block: np.ndarray) -> bytes:
        if self.sample_format == "f32":
            return np.ascontiguousarray(block.T, dtype="<f4").tobytes()
        ints = to_integers(block, _BITS[self.sample_format]).T  # [n,C] interleaved
        if self.sample_format == "s16":
            return np.ascontiguousarray(ints, dtype="<i2").tobytes()
        return np.ascontiguousarray(ints, dtype="<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()

    # -- FLAC: PyAV ---------------------------------------------------------------------

    def _open_flac(self) -> None:
        av = _av()
        try:
            self._container = av.open(str(self.tmp), "w", format="flac")
            stream = self._container.add_stream("flac", rate=self.rate)
            stream.layout = layout_name(self.channels)
            stream.format = "s16" if self.sample_format == "s16" else "s32"
            if self.sample_format == "s24":
                stream.codec_context.options = {"bits_per_raw_sample": "24"}  # s32 samples, 24 bits stored
            stream.time_base = Fraction(1, self.rate)
            self._stream = stream
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise MediaIOError(f"cannot create the FLAC file ({first_line(exc)})", path=self.path) from None

    def _flac_frame(self, block: np.ndarray):
        av = _av()
        ints = to_integers(block, _BITS[self.sample_format])
        if self.sample_format == "s24":
            ints = ints << 8  # the encoder keeps the top 24 bits of each s32 sample
        packed = np.ascontiguousarray(ints.T).reshape(1, -1)  # [1, n*C] interleaved
        frame = av.AudioFrame.from_ndarray(packed, format=self._stream.format.name, layout=layout_name(self.channels))
        frame.sample_rate, frame.pts, frame.time_base = self.rate, self.samples_written, Fraction(1, self.rate)
        return frame

    # -- both ---------------------------------------------------------------------------

    def _check(self, block) -> np.ndarray:
        block = np.asarray(block)
        if block.ndim == 1 and self.channels == 1:
            block = block[None]
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise MediaIOError(f"a block of shape {list(block.shape)} was given; this file takes "
                               f"[{self.channels}, samples]", path=self.path)
        if block.dtype.kind not in "fiu":
            raise MediaIOError(f"samples must be float, got {block.dtype}", path=self.path)
        if not np.isfinite(block).all():
            raise MediaIOError("a block holds NaN or infinite samples", path=self.path)
        return block.astype(np.float32, copy=False)

    def write(self, block: np.ndarray) -> None:
        """Append samples. # [channels, n] float32 -1..1 ([n] for mono)"""
        if self._file is None and self._container is None:
            raise MediaIOError("the audio file is closed", path=self.path)
        block = self._check(block)
        if not block.shape[1]:
            return
        try:
            if self._file is not None:
                data = self._wav_bytes(block)
                if self._file.tell() + len(data) > _WAV_MAX:
                    raise MediaIOError("a WAV file cannot hold more than 4 GiB; use .flac or shorter renders",
                                       path=self.path)
                self._file.write(data)
            else:
                for packet in self._stream.encode(self._flac_frame(block)):
                    self._container.mux(packet)
        except OSError as exc:
            raise MediaIOError(f"cannot write ({exc.strerror or exc})", path=self.path) from None
        except _av().FFmpegError as exc:
            raise MediaIOError(f"cannot encode the audio ({first_line(exc)})", path=self.path) from None
        self.samples_written += block.shape[1]

    def close(self) -> Path:
        """Finish the file and rename it to its final name (once; later calls do nothing)."""
        if self._file is None and self._container is None:
            return self.path
        try:
            if self._file is not None:
                if (self._file.tell() - len(self._wav_header(0))) & 1:
                    self._file.write(b"\0")  # RIFF chunks are padded to an even size
                self._file.seek(0)
                self._file.write(self._wav_header(self.samples_written))
                self._file.close()
                self._file = None
            else:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                self._container.close()
                self._container = None
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise MediaIOError(f"cannot finish the audio file ({exc.strerror or exc})", path=self.path) from None
            if isinstance(exc, _av().FFmpegError):
                raise MediaIOError(f"cannot finish the audio file ({first_line(exc)})", path=self.path) from None
            raise
        return self._part.commit()

    def abort(self) -> None:
        """Throw the partial file away; an existing file at the final name is not touched."""
        for closer in ("_file", "_container"):
            handle = getattr(self, closer, None)
            if handle is not None:
                try:
                    handle.close()
                except Exception:  # the file is being thrown away
                    pass
                setattr(self, closer, None)
        if getattr(self, "_part", None) is not None:
            self._part.abort()
        remove_empty_folders(getattr(self, "_made", []))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_audio(path, samples: np.ndarray, rate: int, sample_format: str = "s16", overwrite: bool = False) -> Path:
    """Write a whole signal to .wav or .flac in one call. # samples: [C,n] or [n] float -1..1"""
    samples = np.asarray(samples)
    if samples.ndim == 1:
        samples = samples[None]
    if samples.ndim != 2:
        raise MediaIOError(f"samples must be [channels, n] or [n], got shape {list(samples.shape)}", path=path)
    with AudioFileWriter(path, rate, samples.shape[0], sample_format, overwrite) as w:
        step = 1 << 16
        for i in range(0, samples.shape[1], step):
            w.write(samples[:, i:i + step])
    return Path(path)
