"""Videos through OpenCV's VideoWriter (writer "opencv"), for those who want its codecs.

    writer = OpenCVWriter("out.mp4", OutputSpec(1920, 1080, Fraction(25)))   # mp4v
    writer = OpenCVWriter("out.avi", OutputSpec(1920, 1080, Fraction(25), codec="MJPG"))

8-bit RGB only, a constant frame rate, and no audio (OpenCV writes none): use the PyAV
writer (the default) to keep timestamps, depth, alpha and sound.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import MediaIOError, UserInputError, require
from ..files import PartialFile, check_target
from .base import (
    Frame, OutputSpec, Writer, prepare_folder, remove_empty_folders,
)

log = logging.getLogger("ganfx")

# extension -> default FourCC
FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}


class OpenCVWriter(Writer):
    dtype = np.uint8
    channels = 3

    def __init__(self, path, spec: OutputSpec):
        cv2 = require("cv2", "opencv-python-headless")
        self.path, self.spec = Path(path), spec
        ext = self.path.suffix.lower()
        if ext not in FOURCC:
            raise UserInputError(f"the opencv writer writes {', '.join(FOURCC)}, not {ext or '(no extension)'!r}",
                                 path=self.path)
        fourcc = spec.codec or FOURCC[ext]
        if len(fourcc) != 4:
            raise UserInputError(f"the opencv writer takes a four-letter FourCC as its codec (e.g. mp4v, MJPG), "
                                 f"got {fourcc!r}", path=self.path, about="codec")
        if spec.gop is not None:
            raise UserInputError("the opencv writer has no GOP setting; the pyav writer has (h264, h265)",
                                 path=self.path, about="gop")
        if spec.quality is not None:
            raise UserInputError("the opencv writer has no quality setting; the pyav writer has (h264, h265)",
                                 path=self.path, about="quality")
        if self.path.parent.exists():  # a folder or a pipe at the name, or a file without overwrite: refused now
            check_target(self.path, spec.overwrite)
        self._made = prepare_folder(self.path)
        if spec.audio_from:
            log.warning("the opencv writer drops audio; the pyav writer keeps it")
        self._part = PartialFile(self.path, spec.overwrite)  # also removes partials of killed renders
        self.tmp = self._part.tmp
        self._vw = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*fourcc), float(spec.frame_rate),
                                   (spec.width, spec.height))
        if not self._vw.isOpened():
            self._vw = None
            self._part.abort()
            raise MediaIOError(f"OpenCV cannot write {fourcc} into {ext}", path=self.path)
        self._count = 0

    def write(self, frame: Frame) -> None:
        image = frame.image
        if image.shape != (self.spec.height, self.spec.width, 3) or image.dtype != np.uint8:
            raise MediaIOError(f"frame {frame.number} is {image.shape} {image.dtype}, writer takes "
                               f"{(self.spec.height, self.spec.width, 3)} uint8", path=self.path)
        self._vw.write(np.ascontiguousarray(image[..., ::-1]))
        self._count += 1

    def commit(self) -> None:
        if self._vw is None:
            return
        self._vw.release()
        self._vw = None
        if self._count == 0:
            self._part.abort()
            raise MediaIOError("no frames were written", path=self.path)
        self._part.commit()

    def abort(self) -> None:
        if getattr(self, "_vw", None) is not None:
            self._vw.release()
            self._vw = None
        if getattr(self, "_part", None) is not None:
            self._part.abort()
        remove_empty_folders(getattr(self, "_made", []))
