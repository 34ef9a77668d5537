"""Media IO: readers and writers for videos, image sequences and stills, behind one protocol.

    from ganfx.runtime.io import open_reader, open_writer, OutputSpec
    with open_reader("plate.mov") as reader:              # or "plates/shot.####.exr"
        p = reader.properties                              # MediaProperties
        spec = OutputSpec(p.width, p.height, p.frame_rate, p.time_base, audio_from=p.path)
        with open_writer("out.mp4", spec) as writer:       # commits on success, removes on error
            for frame in reader.frames():
                frame.image = writer.convert(frame.image)
                writer.write(frame)

Backends are a table of name -> (module, class), imported on first use, so importing
this package costs nothing: PyAV (videos, the default), OpenCV (`writer="opencv"`), and
image sequences (chosen by a `####` / `%04d` pattern or an image extension).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import UserInputError
from .base import AudioStreamInfo, Frame, MediaProperties, OutputSpec, Reader, Writer, convert_image

READERS = {
    "pyav": ("ganfx.runtime.io.pyav", "PyAVReader"),
    "sequence": ("ganfx.runtime.io.sequence", "SequenceReader"),
}
WRITERS = {
    "pyav": ("ganfx.runtime.io.pyav", "PyAVWriter"),
    "opencv": ("ganfx.runtime.io.opencv", "OpenCVWriter"),
    "sequence": ("ganfx.runtime.io.sequence", "SequenceWriter"),
}

__all__ = ["open_reader", "open_writer", "is_sequence", "AudioStreamInfo", "Frame", "MediaProperties",
           "OutputSpec", "Reader", "Writer", "convert_image", "READERS", "WRITERS"]


def _load(table: dict, name: str):
    module, cls = table[name]
    return getattr(importlib.import_module(module), cls)


def is_sequence(path) -> bool:
    """True for image paths: a pattern (shot.####.exr, shot.%04d.png) or a still (.png, .exr, ...)."""
    from .sequence import is_image_path, parse_pattern

    return parse_pattern(path) is not None or is_image_path(path)


def open_reader(path, backend: str | None = None) -> Reader:
    """A reader for a video, an image sequence pattern or a still image."""
    if not str(path).strip():  # Path("") is ".", the current folder: say what was given instead
        raise UserInputError("the input path is empty")
    name = backend or ("sequence" if is_sequence(path) else "pyav")
    if name not in READERS:
        raise UserInputError(f"unknown reader {name!r} (known: {', '.join(READERS)})")
    return _load(READERS, name)(Path(path))


def open_writer(path, spec: OutputSpec, backend: str | None = None) -> Writer:
    """A writer for `path`: image sequence/still by pattern or extension, else a video via `backend`."""
    if not str(path).strip():
        raise UserInputError("the output path is empty")
    if is_sequence(path):
        if backend not in (None, "pyav", "sequence"):
            raise UserInputError(f"the {backend} writer writes videos; {Path(path).name} is an image output",
                                 about="writer")
        name = "sequence"
    else:
        name = backend or "pyav"
        if name not in WRITERS or name == "sequence":
            raise UserInputError(f"unknown writer {name!r} (known: pyav, opencv)")
    return _load(WRITERS, name)(Path(path), spec)
