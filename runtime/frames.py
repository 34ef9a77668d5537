"""Frames <-> model tensors.

Frames are what media IO and hosts hold: `[H,W,C]` (or a batch `[N,H,W,C]`) of uint8,
uint16 or float32, C = 1 (grey), 3 (RGB) or 4 (RGBA). Integer frames are display-referred
sRGB; float frames carry whatever colour space the caller names (EXR is usually linear).
Tensors are what the network sees: `[N,C,H,W]` in the contract's value range and colour
space. Alpha never goes through the network: it is split off and put back untouched.

    x, alpha = to_tensor(frame, spec.input)                     # [1,3,H,W] float32, [1,H,W,1]
    out = from_tensor(y, spec.output, dtype=frame.dtype, alpha=alpha)[0]   # [H,W,4] like frame

A `PixelFormat` is what a clip holds or a writer wants (dtype, colour space, channels); it is
what hosts negotiate in the clip-preferences action (docs/architecture.md, "Clip preferences").
`convert` is the one place frames change depth, colour space or channel count, and
`to_unit`/`from_unit` the one place integers are scaled (255, 65535) to and from 0..1.

A matte weighs an effect per pixel (0 = the source, 1 = the full effect). It is data, not
colour: its stored values are used as they are, never colour-converted. `matte_of` makes one
channel of any image (RGBA: its alpha; RGB: its luma), `as_matte` checks a matte against the
frames and scales it to 0..1.

    m = as_matte(matte_of(read_image("matte.png")), frames.shape)   # [1,H,W,1] float32 0..1
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from .contract import TensorSpec
from .errors import UserInputError

_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


@dataclass(frozen=True)
class PixelFormat:
    """Pixels as a clip holds them: numpy dtype name, colour space, channels (3 RGB | 4 RGBA)."""

    dtype: str  # "uint8" | "uint16" | "float32"
    colorspace: str  # "srgb" (integers, display-referred) | "linear" (floats, scene-linear)
    channels: int  # 3 | 4

    @classmethod
    def of(cls, frames: np.ndarray) -> "PixelFormat":
        """The media convention for an array: float = scene-linear, integers = sRGB; 1 channel counts as RGB."""
        a = np.asarray(frames)
        c = a.shape[-1] if a.ndim >= 3 else 1
        return cls.for_dtype(a.dtype, 4 if c == 4 else 3)

    @classmethod
    def for_dtype(cls, dtype, channels: int = 3) -> "PixelFormat":
        dtype = np.dtype(dtype)
        return cls(dtype.name, "linear" if dtype.kind == "f" else "srgb", int(channels))

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def matches(self, image: np.ndarray) -> bool:
        """True when `image` [...,H,W,C] is already in this format (no conversion needed)."""
        return image.dtype == self.numpy_dtype and image.ndim >= 3 and image.shape[-1] == self.channels


FLOAT_LINEAR_RGB = PixelFormat("float32", "linear", 3)  # a generator's output when nobody says otherwise


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0.04045) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return np.where(
        x <= 0.0031308, x * 12.92, 1.055 * np.power(np.maximum(x, 0.0031308), 1.0 / 2.4) - 0.055
    ).astype(np.float32)


def as_batch(frames) -> np.ndarray:
    """[H,W], [H,W,C] or [N,H,W,C] -> [N,H,W,C]; checks dtype and channels."""
    a = np.asarray(frames)
    if a.ndim == 2:
        a = a[None, :, :, None]
    elif a.ndim == 3:
        a = a[None]
    if a.ndim != 4:
        raise UserInputError(f"frames must be [H,W,C] or [N,H,W,C], got shape {a.shape}")
    if a.shape[-1] not in (1, 3, 4):
        raise UserInputError(f"frames must have 1, 3 or 4 channels, got {a.shape[-1]}")
    if a.dtype not in (np.uint8, np.uint16, np.float32, np.float16, np.float64):
        raise UserInputError(f"frames must be uint8, uint16 or float, got {a.dtype}")
    return a


def to_unit(frames: np.ndarray) -> np.ndarray:
    """Integer frames to float32 0..1; float frames as float32 unchanged."""
    scale = _SCALE.get(frames.dtype)
    if scale is None:
        return frames.astype(np.float32, copy=False)
    return frames.astype(np.float32) * np.float32(1.0 / scale)


def from_unit(x: np.ndarray, dtype) -> np.ndarray:
    """float 0..1 to `dtype` (integers rounded and clipped; floats kept as they are)."""
    dtype = np.dtype(dtype)
    scale = _SCALE.get(dtype)
    if scale is None:
        return x.astype(dtype, copy=False)
    return np.clip(np.rint(x * scale), 0, scale).astype(dtype)


def split_alpha(batch: np.ndarray):
    """[N,H,W,C] -> (colour [N,H,W,1|3], alpha [N,H,W,1] or None)."""
    if batch.shape[-1] == 4:
        return batch[..., :3], batch[..., 3:]
    return batch, None


def convert_colorspace(x: np.ndarray, src: str, dst: str) -> np.ndarray:
    if src == dst or "none" in (src, dst):
        return x
    return srgb_to_linear(x) if dst == "linear" else linear_to_srgb(x)


def to_tensor(frames, spec: TensorSpec, colorspace: str = "srgb"):
    """Frames -> ([N,C,H,W] tensor in spec's range/colour space/dtype, alpha [N,H,W,1] or None)."""
    batch = as_batch(frames)
    colour, alpha = split_alpha(batch)
    x = to_unit(colour)
    if x.shape[-1] == 1 and spec.channels == 3:
        x = np.repeat(x, 3, axis=-1)
    if x.shape[-1] != spec.channels:
        raise UserInputError(f"model input {spec.name!r} takes {spec.channels} channels, frame has {x.shape[-1]}")
    x = convert_colorspace(x, colorspace, spec.colorspace)
    lo, hi = spec.range
    if (lo, hi) != (0.0, 1.0):
        x = x * np.float32(hi - lo) + np.float32(lo)
    tensor = np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float16 if spec.dtype == "float16" else np.float32)
    return tensor, alpha


def tensor_to_unit(tensor: np.ndarray, spec: TensorSpec, colorspace: str = "srgb") -> np.ndarray:
    """[N,C,H,W] network output -> [N,H,W,C] float32 in `colorspace`, 0..1 for display data."""
    x = np.asarray(tensor, dtype=np.float32).transpose(0, 2, 3, 1)
    lo, hi = spec.range
    if (lo, hi) != (0.0, 1.0):
        x = (x - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    return convert_colorspace(x, spec.colorspace, colorspace)


def from_tensor(tensor: np.ndarray, spec: TensorSpec, dtype=np.float32, colorspace: str = "srgb", alpha=None):
    """[N,C,H,W] network output -> [N,H,W,C] frames of `dtype`, alpha appended when given."""
    x = tensor_to_unit(tensor, spec, colorspace)
    out = from_unit(x, dtype)
    if alpha is not None:
        if alpha.dtype != out.dtype:
            alpha = from_unit(to_unit(alpha), out.dtype)
        out = np.concatenate([out, alpha], axis=-1)
    return out


def fit_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """[...,C] -> [...,channels]: grey repeated to RGB, alpha dropped or added opaque."""
    c = image.shape[-1]
    if c == 1:
        image, c = np.repeat(image, 3, axis=-1), 3
    if c == channels:
        return image
    if c == 4 and channels == 3:
        return image[..., :3]
    if c == 3 and channels == 4:
        opaque = 1.0 if image.dtype.kind == "f" else _SCALE[image.dtype]
        return np.concatenate([image, np.full(image.shape[:-1] + (1,), opaque, image.dtype)], axis=-1)
    raise UserInputError(f"cannot fit {c} channels to {channels}")


# Rec. 709 luma weights (sRGB shares the Rec. 709 primaries); they sum to 1, so grey keeps its level.
LUMA_709 = np.array([0.2126, 0.7152, 0.0722])


def matte_of(image) -> np.ndarray:
    """[H,W] or [...,H,W,C] image -> [...,H,W,1] matte of the same dtype: one channel as it is,
    RGBA its alpha, RGB its Rec. 709 luma of the stored values (exact for grey: the luma of
    (v, v, v) is v)."""
    a = np.asarray(image)
    if a.ndim == 2:
        return a[..., None]
    c = a.shape[-1] if a.ndim > 2 else 0
    if c in (1, 4):
        return a[..., c - 1 :]
    if c != 3:
        raise UserInputError(f"a matte image has 1, 3 or 4 channels, got shape {list(a.shape)}")
    luma = (a @ LUMA_709)[..., None]  # float64: rounds back to v for grey (v, v, v)
    return luma.astype(a.dtype) if a.dtype.kind == "f" else np.rint(luma).astype(a.dtype)


def as_matte(matte, shape) -> np.ndarray:
    """A matte for frames of `shape` [N,H,W,C] -> [N|1,H,W,1] float32 in 0..1.

    `matte` is [H,W], [H,W,1] (every frame), [N,H,W] or [N,H,W,1]; uint8/uint16 (scaled by
    255/65535), bool or float 0..1 (clipped).
    """
    n, h, w = shape[:3]
    a = np.asarray(matte)
    if a.ndim == 2:
        a = a[None, ..., None]
    elif a.ndim == 3:
        a = a[None] if a.shape[:2] == (h, w) else a[..., None]  # [H,W,C] for every frame, else [N,H,W]
    if a.ndim != 4 or a.shape[-1] != 1:
        raise UserInputError(f"a matte is [H,W], [H,W,1] or [N,H,W(,1)] (one channel), got shape {list(a.shape)}")
    if a.shape[1:3] != (h, w):
        raise UserInputError(f"the matte is {a.shape[2]}x{a.shape[1]} but the frames are {w}x{h}")
    if a.shape[0] not in (1, n):
        raise UserInputError(f"{a.shape[0]} mattes for {n} frames")
    if a.dtype.kind == "b":
        return a.astype(np.float32)
    if a.dtype not in (np.uint8, np.uint16) and a.dtype.kind != "f":
        raise UserInputError(f"a matte must be uint8, uint16, bool or float, got {a.dtype}")
    return np.clip(to_unit(a), 0.0, 1.0)


def convert(image: np.ndarray, dtype, channels: int) -> np.ndarray:
    """[...,H,W,C] frames -> `dtype` with `channels` (3|4), by the media convention.

    Float is scene-linear, integers sRGB; 8 <-> 16 bit is exact (x257, round(x/257)). Alpha is
    never colour-converted; a missing alpha becomes opaque. Frames already in the format are
    returned as they are.
    """
    dtype = np.dtype(dtype)
    img = image if image.ndim >= 3 else image[..., None]
    if img.dtype == dtype and img.shape[-1] == channels:
        return img
    if img.shape[-1] == 4 and channels == 3:
        img = img[..., :3]  # drop alpha first: less to convert
    if img.dtype == np.uint8 and dtype == np.uint16:
        img = img.astype(np.uint16) * np.uint16(257)  # exact: 255 * 257 = 65535
    elif img.dtype == np.uint16 and dtype == np.uint8:
        img = ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)  # round(x / 257), no ties
    elif img.dtype != dtype:
        c, a = img[..., :3], img[..., 3:]
        src_float = img.dtype.kind == "f"
        c, a = to_unit(c), to_unit(a)
        if dtype.kind == "f":
            c = c if src_float else srgb_to_linear(c)
        elif src_float:
            c = linear_to_srgb(c)
        img = from_unit(np.concatenate([c, a], axis=-1) if a.size else c, dtype)
    return np.ascontiguousarray(fit_channels(img, channels))
