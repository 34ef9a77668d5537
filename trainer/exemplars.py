"""Exemplar images: files or scikit-image samples, as float RGB. numpy and OpenCV only (no torch).

    img = load_exemplar("brick.png")                     # [H,W,3] float32 0..1 (grey -> 3 equal channels)
    img = load_exemplar("skimage:brick")                 # skimage.data.brick()
    img = load_exemplar("skimage:chelsea:40,20,200,180")  # x,y,width,height cut of skimage.data.chelsea()
    fingerprint([img])                                   # short hash recorded in the exported contract
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ganfx.runtime.errors import UserInputError
from ganfx.runtime.frames import from_unit, to_unit

SKIMAGE_PREFIX = "skimage:"


def _skimage(spec: str) -> np.ndarray:
    parts = spec[len(SKIMAGE_PREFIX):].split(":")
    name = parts[0]
    try:
        import skimage.data
    except ImportError:
        raise UserInputError('scikit-image is not installed; install it with: pip install "ganfx[train]"') from None
    fn = getattr(skimage.data, name, None)
    if not callable(fn) or name.startswith("_"):
        raise UserInputError(f"{spec}: skimage.data has no image {name!r}")
    img = np.asarray(fn())
    if len(parts) > 1:
        try:
            x, y, w, h = (int(v) for v in parts[1].split(","))
        except ValueError:
            raise UserInputError(f"{spec}: the cut must be x,y,width,height in pixels") from None
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > img.shape[1] or y + h > img.shape[0]:
            raise UserInputError(f"{spec}: cut {x},{y},{w},{h} is outside the {img.shape[1]}x{img.shape[0]} image")
        img = img[y:y + h, x:x + w]
    return img


def _read_file(path: Path) -> np.ndarray:
    import cv2

    if not path.is_file():
        raise UserInputError("exemplar not found" if not path.exists() else "exemplar is not a file", path=path)
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise UserInputError("cannot read the exemplar as an image (not an image file, or corrupt)", path=path)
    if img.ndim == 3:
        img = img[..., :3][..., ::-1]  # BGR(A) -> RGB, alpha dropped
    return img


def load_exemplar(spec) -> np.ndarray:
    """An exemplar path or `skimage:NAME[:x,y,w,h]` -> [H,W,3] float32 0..1 sRGB."""
    text = str(spec)
    img = _skimage(text) if text.startswith(SKIMAGE_PREFIX) else _read_file(Path(text))
    out = to_unit(img) if img.dtype in (np.uint8, np.uint16) else np.clip(img.astype(np.float32), 0.0, 1.0)
    if out.ndim == 2:
        out = out[..., None]
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)  # grey textures are learned as three equal channels
    return np.ascontiguousarray(out)


def fingerprint(images: list) -> str:
    """Short hash of the exemplar pixels, recorded in the exported contract."""
    h = hashlib.sha256()
    for im in images:
        h.update(np.asarray(im.shape, np.int64).tobytes())
        h.update(from_unit(np.asarray(im), np.uint8).tobytes())
    return h.hexdigest()[:16]
