"""The reader/writer protocol shared by every media backend.

A reader describes its media with `MediaProperties` and yields `Frame`s; a writer takes
frames and either `commit()`s (the finished file gets its final name) or `abort()`s
(everything it wrote is removed). Frames are `[H,W,C]` arrays, C = 3 (RGB) or 4 (RGBA):
uint8 / uint16 frames are display-referred sRGB, float32 frames are scene-linear (EXR).

    with open_reader("plate.mov") as reader:
        print(reader.properties.frame_rate)          # Fraction(24000, 1001), exact
        for frame in reader.frames(first=10, last=20):
            frame.number, frame.pts, frame.image.shape   # 10, 5005, (1080, 1920, 3)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import MediaIOError


@dataclass(frozen=True)
class AudioStreamInfo:
    codec: str  # e.g. "aac", "pcm_s16le"
    sample_rate: int  # Hz
    channels: int
    duration: float | None  # seconds, when the container says


@dataclass(frozen=True)
class MediaProperties:
    path: str
    kind: str  # "video" | "sequence" | "image"
    width: int
    height: int
    frame_count: int
    first_frame: int  # number of the first frame (0 for videos, e.g. 1001 for a sequence)
    frame_rate: Fraction | None  # exact rational rate; None for sequences and stills
    time_base: Fraction | None  # unit of the presentation timestamps (videos only)
    pixel_format: str  # as stored: "yuv420p", "yuv422p10le", "rgb16", "half RGBA", ...
    bit_depth: int  # bits per stored sample (32 for float EXR)
    channels: int  # 3 (RGB) or 4 (RGBA) in the frames the reader yields
    dtype: str  # numpy dtype of the frames the reader yields: uint8 | uint16 | float32
    codec: str = ""  # "h264", "prores", "png", "exr", ...
    container: str = ""  # "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "" for images
    duration: float | None = None  # seconds
    variable_frame_rate: bool = False  # presentation timestamps are not evenly spaced
    pixel_aspect: Fraction = Fraction(1)  # sample aspect ratio (anamorphic footage: e.g. 2)
    timecode: str | None = None  # SMPTE timecode of the first frame ("01:00:00:00"), when the file has one
    audio: tuple = ()  # (AudioStreamInfo, ...)

    @property
    def last_frame(self) -> int:
        return self.first_frame + self.frame_count - 1

    @property
    def colorspace(self) -> str:
        return "linear" if self.dtype == "float32" else "srgb"

    def describe(self) -> list:
        """Human-readable lines, as `ganfx probe` prints them."""
        rate = "none (image sequence)" if self.frame_rate is None else f"{self.frame_rate} ({float(self.frame_rate):.3f} fps)"
        lines = [
            f"{self.path}",
            f"  kind: {self.kind}" + (f" ({self.container})" if self.container else ""),
            f"  size: {self.width}x{self.height}",
            f"  frames: {self.frame_count} ({self.first_frame}-{self.last_frame})",
            f"  frame rate: {rate}" + (" variable" if self.variable_frame_rate else ""),
        ]
        if self.time_base is not None:
            lines.append(f"  time base: {self.time_base}")
        if self.pixel_aspect != 1:
            lines.append(f"  pixel aspect: {self.pixel_aspect}")
        if self.timecode:
            lines.append(f"  timecode: {self.timecode}")
        lines.append(f"  codec: {self.codec}  pixel format: {self.pixel_format}  bit depth: {self.bit_depth}")
        lines.append(f"  frames read as: [H,W,{self.channels}] {self.dtype} ({self.colorspace})")
        if self.duration is not None:
            lines.append(f"  duration: {self.duration:.3f} s")
        for i, a in enumerate(self.audio):
            dur = "" if a.duration is None else f", {a.duration:.3f} s"
            lines.append(f"  audio {i}: {a.codec}, {a.sample_rate} Hz, {a.channels} ch{dur}")
        if not self.audio and self.kind == "video":
            lines.append("  audio: none")
        return lines

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in ("frame_rate", "time_base", "pixel_aspect"):
            d[k] = None if d[k] is None else str(d[k])
        d["audio"] = [a.__dict__ for a in self.audio]
        d["last_frame"] = self.last_frame
        return d


@dataclass
class Frame:
    number: int  # frame number (video: index from 0; sequence: the file's number)
    image: np.ndarray | None  # [H,W,C] uint8 | uint16 | float32; None for generators
    pts: int | None = None  # presentation timestamp in the source's time base (videos)
    duration: int | None = None  # display duration in the same time base (keeps the last VFR frame's length)


@dataclass(frozen=True)
class SoundTrack:
    """A generated sound to mux into a video output (PyAVWriter; see audio.py `SoundEncoder`).

    `render(first_sample, count)` returns [channels, count] float32 -1..1 of the sound from
    its sample `first_sample` on; the writer pulls it in blocks as frames are written and
    ends it with the video (frames / fps, within one audio frame).
    """

    render: Callable[[int, int], np.ndarray]  # (first_sample, count) -> [channels, count] float32 -1..1
    rate: int  # Hz of what `render` returns
    channels: int
    gain_db: float = 0.0  # applied to the rendered samples, then clipped to -1..1
    keep_source: bool = False  # True: audio_from's streams stay (first) and this one is added; False: it replaces them
    start_sample: int = 0  # sample of the sound at the output's first frame (a frame range: start_frame / fps * rate)
    codec: str | None = None  # None: by container (aac in .mp4/.m4v, pcm_s24le in .mov/.mkv); or "aac", "pcm_s16le", "pcm_s24le"


@dataclass(frozen=True)
class OutputSpec:
    """What a writer must produce; built by the caller from the source (or the generator)."""

    width: int
    height: int
    frame_rate: Fraction = Fraction(24)  # used when frames carry no pts
    time_base: Fraction | None = None  # the source's time base: frame pts are in it
    codec: str | None = None  # writer-specific name (see each backend); None = by extension
    alpha: bool = False  # keep an alpha channel where the codec can
    bit_depth: int = 8  # source bits per sample; picks 8/16-bit PNG, FFV1 depth
    audio_from: str | None = None  # copy this file's audio streams through
    trim: bool = False  # a frame range of the source: start timestamps and audio at the first frame
    constant_rate: bool = False  # the source's frames are evenly spaced (timestamps may go on an exact grid)
    pixel_aspect: Fraction = Fraction(1)  # sample aspect ratio to tag videos with
    timecode: str | None = None  # the source's timecode at its first frame (a range starts later)
    overwrite: bool = False  # replace an existing output
    resume: bool = False  # sequences: keep existing frames and skip them
    frame_numbers: tuple = ()  # sequences: the numbers that will be written (for overwrite checks)
    quality: int | None = None  # CRF for h264/h265, quality for JPEG
    gop: int | None = None  # h264/h265: a closed GOP every `gop` frames at a constant quantiser (io/pyav.py)
    sound: SoundTrack | None = None  # a generated sound track to encode with the video (PyAV writer)


class Reader:
    """Base of readers: context manager, `properties`, `frames(first, last)`."""

    properties: MediaProperties

    def frames(self, first: int | None = None, last: int | None = None, skip=frozenset()):
        """Iterator of Frame for numbers first..last (inclusive); numbers in `skip` are not yielded."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Writer:
    """Base of writers. `dtype`/`channels` say which frames `write` takes; `convert` makes them."""

    path: Path
    spec: OutputSpec
    dtype = np.uint8
    channels = 3
    done_frames: frozenset = frozenset()  # frame numbers already complete (sequences with resume)

    @property
    def pixel_format(self):
        """What `write` takes, for the clip-preferences negotiation (ganfx.runtime.frames.PixelFormat)."""
        from ..frames import PixelFormat

        return PixelFormat.for_dtype(self.dtype, self.channels)

    def convert(self, image: np.ndarray) -> np.ndarray:
        """A frame in `pixel_format` (returned as it is when it already is)."""
        return convert_image(image, self.dtype, self.channels)

    def write(self, frame: Frame) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()


# -- helpers shared by the backends -----------------------------------------------------

def convert_image(image: np.ndarray, dtype, channels: int) -> np.ndarray:
    """[H,W,C] frame -> `dtype` with `channels`; see ganfx.runtime.frames.convert (the one conversion)."""
    from ..frames import convert

    return convert(image, dtype, channels)


def prepare_folder(path: Path) -> list:
    """Create the output's folder if needed and prove it is writable; MediaIOError otherwise.

    Returns the folders it created (deepest last), so an aborted render can remove them again.
    """
    folder = Path(path).parent
    made = [p for p in reversed([folder, *folder.parents]) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise MediaIOError("is a file, so the output folder cannot be made there", path=blocking) from None
        raise MediaIOError(f"cannot create the output folder ({exc.strerror})", path=folder) from None
    if not folder.is_dir():
        raise MediaIOError("output folder is not a folder", path=folder)
    probe = folder / f".ganfx-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        remove_empty_folders(made)
        raise MediaIOError(f"output folder cannot be written ({exc.strerror})", path=folder) from None
    return made


def remove_empty_folders(folders: list) -> None:
    """Remove folders a writer created, deepest first, where they are still empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:  # not empty (finished frames stay) or already gone
            return
