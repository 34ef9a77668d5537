"""Image sequences (`shot.####.exr`, `shot.%04d.png`) and single stills.

    reader = SequenceReader("plates/shot.####.exr")      # frames 1001-1100, numbers kept
    reader.properties.first_frame                         # 1001
    spec = OutputSpec(1920, 1080, frame_numbers=tuple(range(1001, 1101)), resume=True)
    writer = SequenceWriter("out/shot.%04d.png", spec)    # existing complete frames are skipped

Every frame is written under a temporary name in the same folder and renamed when
complete, so a frame file that exists is a whole frame: resuming can trust it, and an
interrupted render never leaves a half-written file (a killed one leaves a partial file,
removed by the next render into the same sequence). A reader checks the whole
sequence first (no gaps, one size) so a render does not fail halfway through.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MediaIOError, OutputExistsError, UserInputError
from ..files import atomic_path, check_regular_file, check_target, remove_stale_partials
from .base import (
    Frame, MediaProperties, OutputSpec, Reader, Writer,
    convert_image, prepare_folder, remove_empty_folders,
)
from .images import IMAGE_EXTENSIONS, exr_pixel_dtype, image_size, read_image, write_image

_HASHES = re.compile(r"#+")
_PRINTF = re.compile(r"%(0?)([0-9]*)d")
MAX_PADDING = 16  # digits of a frame number field: more is a typo (and no frame number is that long)
JPEG_QUALITY = (0, 100)


@dataclass(frozen=True)
class SequencePattern:
    folder: Path
    prefix: str  # file name before the number
    suffix: str  # after the number, extension included
    padding: int  # zero padding of the number

    @property
    def text(self) -> str:
        return str(self.folder / f"{self.prefix}{'#' * self.padding}{self.suffix}")

    def path(self, number: int) -> Path:
        return self.folder / f"{self.prefix}{number:0{self.padding}d}{self.suffix}"

    def numbers(self) -> dict:
        """number -> path of every existing file that matches (temporary files excluded)."""
        if not self.folder.is_dir():
            return {}
        rx = re.compile(re.escape(self.prefix) + r"(\d+)" + re.escape(self.suffix) + r"\Z")
        out = {}
        for entry in os.scandir(self.folder):
            m = rx.match(entry.name)
            if m and (len(m.group(1)) == self.padding or (len(m.group(1)) > self.padding and m.group(1)[0] != "0")):
                out[int(m.group(1))] = Path(entry.path)
        return out


def parse_pattern(path) -> SequencePattern | None:
    """`shot.####.exr` or `shot.%04d.exr` -> SequencePattern; None when `path` has no frame number field."""
    path = Path(path)
    name = path.name
    fields = [(m, len(m.group(0))) for m in _HASHES.finditer(name)]
    fields += [(m, int(m.group(2) or 1)) for m in _PRINTF.finditer(name)]
    if not fields:
        return None
    if len(fields) > 1:
        raise UserInputError("a sequence pattern needs exactly one frame-number field (#### or %04d)", path=path)
    m, padding = fields[0]
    if padding > MAX_PADDING:
        raise UserInputError(f"a frame-number field of {padding} digits is more than {MAX_PADDING}", path=path)
    return SequencePattern(path.parent, name[: m.start()], name[m.end():], max(1, padding))


def is_image_path(path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _pixel_format(image: np.ndarray, path: Path) -> tuple:
    """(pixel format text, bit depth) of a decoded frame."""
    layout = "RGBA" if image.shape[-1] == 4 else "RGB"
    if image.dtype == np.float32:
        if path.suffix.lower() == ".exr":
            half = exr_pixel_dtype(path) == np.float16
            return (f"half {layout}", 16) if half else (f"float {layout}", 32)
        return f"float {layout}", 32
    bits = 8 if image.dtype == np.uint8 else 16
    return f"{layout.lower()}{bits}", bits


class SequenceReader(Reader):
    """Frames of an image sequence (numbers from the file names) or a single still (frame 0)."""

    def __init__(self, path):
        self.path = Path(path)
        self.pattern = parse_pattern(self.path)
        if self.pattern is None:
            check_regular_file(self.path)  # a pipe would block the reader
            self._files = {0: self.path}
            kind = "image"
        else:
            if not self.pattern.folder.is_dir():
                raise MediaIOError("no such folder", path=self.pattern.folder)
            self._files = dict(sorted(self.pattern.numbers().items()))
            if not self._files:
                raise MediaIOError("no files match this sequence pattern", path=self.path)
            kind = "sequence"
        numbers = list(self._files)
        first, last = numbers[0], numbers[-1]
        if len(numbers) != last - first + 1:
            missing = sorted(set(range(first, last + 1)) - set(numbers))
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise MediaIOError(f"frame {missing[0]} is missing ({self.pattern.path(missing[0]).name}){more}; "
                               f"the sequence runs {first}-{last} with gaps", path=self.path)
        self._size = image_size(self._files[first])
        for n, f in self._files.items():
            size = image_size(f)
            if size != self._size:
                raise MediaIOError(f"frame {n} is {size[0]}x{size[1]} but frame {first} is "
                                   f"{self._size[0]}x{self._size[1]}", path=f)
        sample = read_image(self._files[first])
        pix, depth = _pixel_format(sample, self._files[first])
        codec = self._files[first].suffix.lower().lstrip(".").replace("jpeg", "jpg").replace("tiff", "tif")
        self.properties = MediaProperties(
            path=str(self.path), kind=kind, width=self._size[0], height=self._size[1], frame_count=len(numbers),
            first_frame=first, frame_rate=None, time_base=None, pixel_format=pix, bit_depth=depth,
            channels=sample.shape[-1], dtype=str(sample.dtype), codec=codec,
        )

    def frames(self, first: int | None = None, last: int | None = None, skip=frozenset()):
        p = self.properties
        first = p.first_frame if first is None else first
        last = p.last_frame if last is None else last
        for n in range(first, last + 1):
            if n in skip:
                continue
            image = read_image(self._files[n])
            if image.shape[:2] != (p.height, p.width):
                raise MediaIOError(f"frame {n} is {image.shape[1]}x{image.shape[0]}, expected {p.width}x{p.height}",
                                   path=self._files[n])
            if image.dtype != np.dtype(p.dtype) or image.shape[-1] != p.channels:
                image = convert_image(image, p.dtype, p.channels)
            yield Frame(n, image)


class SequenceWriter(Writer):
    """Writes one file per frame (temp name + rename), or one still when the path has no pattern.

    Formats by extension: .png 8/16-bit (16 when the source is deeper than 8 bits), .tif
    16-bit, .jpg 8-bit, .exr half (spec.codec "float" for 32-bit float).
    """

    def __init__(self, path, spec: OutputSpec):
        self.path, self.spec = Path(path), spec
        self.pattern = parse_pattern(self.path)
        ext = self.path.suffix.lower()
        if ext not in IMAGE_EXTENSIONS:
            raise UserInputError(f"unknown image format {ext or '(no extension)'!r}; use "
                                 f"{', '.join(sorted(IMAGE_EXTENSIONS))}", path=self.path)
        self.exr_type = "half"
        if ext == ".exr":
            self.exr_type = (spec.codec or "half").lower()
            if self.exr_type not in ("half", "float"):
                raise UserInputError(f"EXR frames are half or float, not {spec.codec!r}", path=self.path)
        elif spec.codec:
            raise UserInputError(f"a codec applies to videos and EXR frames (half|float), not to {ext} frames",
                                 path=self.path, about="codec")
        if spec.gop is not None:
            raise UserInputError("the frames of a sequence are files of their own; a GOP length (--gop) is for "
                                 "h264/h265 videos", path=self.path, about="gop")
        if spec.quality is not None:
            lo, hi = JPEG_QUALITY
            if ext not in (".jpg", ".jpeg"):
                raise UserInputError(f"{ext} frames have no quality setting (JPEG and h264/h265 videos have one)",
                                     path=self.path, about="quality")
            if not lo <= spec.quality <= hi:
                raise UserInputError(f"JPEG quality {spec.quality} is outside {lo}-{hi}", path=self.path,
                                     about="quality")
        self.dtype = {".exr": np.float32, ".jpg": np.uint8, ".jpeg": np.uint8, ".tif": np.uint16,
                      ".tiff": np.uint16}.get(ext, np.uint16 if spec.bit_depth > 8 else np.uint8)
        self.channels = 4 if spec.alpha and ext not in (".jpg", ".jpeg") else 3
        numbers = list(spec.frame_numbers)
        if self.pattern is None and len(numbers) > 1:
            raise UserInputError(f"{len(numbers)} frames cannot go into one image; use a pattern such as "
                                 f"{self.path.stem}.####{self.path.suffix}", path=self.path)
        existing = [n for n in numbers if os.path.lexists(self._final(n))]
        for n in existing:  # a folder or a pipe named like a frame is never replaced, nor taken as done
            if not self._final(n).is_file():
                check_target(self._final(n), overwrite=True, what="frame")
        if existing and not (spec.overwrite or spec.resume):
            what = self._final(existing[0]).name + (f" and {len(existing) - 1} more" if len(existing) > 1 else "")
            keep = " or keep them and render the rest" if self.pattern else ""
            raise OutputExistsError(f"output exists ({what}); replace it{keep}", path=self.path,
                                    resumable=self.pattern is not None)
        self.done_frames = frozenset(existing) if spec.resume and not spec.overwrite else frozenset()
        self._made = prepare_folder(self._final(numbers[0] if numbers else 0))
        remove_stale_partials(*(self._final(n) for n in numbers))  # partial frames of killed renders

    def _final(self, number: int) -> Path:
        return self.path if self.pattern is None else self.pattern.path(number)

    def write(self, frame: Frame) -> None:
        final = self._final(frame.number)
        quality = 95 if self.spec.quality is None else self.spec.quality
        try:
            with atomic_path(final, clean_stale=False) as tmp:  # stale partials were removed up front
                write_image(tmp, frame.image, exr_type=self.exr_type, quality=quality)
        except MediaIOError as exc:  # named by the final name: the temporary one means nothing to the user
            raise MediaIOError(exc.message, path=final) from None

    def commit(self) -> None:
        pass  # every frame was committed by its rename

    def abort(self) -> None:
        # Whole frames stay (they are valid, and a resumed render picks up after them); a frame
        # being written when the error came was removed by its atomic_path.
        remove_empty_folders(self._made)
