"""Effect training data: before/after pairs, patch sampling, few-data augmentation.

Two forms, as an artist has them:

    pairs = load_pairs("shot/")                  # shot/input/NAME <-> shot/target/NAME (+ shot/mask/NAME)
    pairs = load_keyframes("plate.mp4", "kf/")   # kf/0008.png = treated frame 8 of the clip (+ masks/0008.png)

Each `Pair` holds `[H,W,3]` float32 0..1 images (and an optional `[H,W]` mask: 1 where the
loss applies). `PatchSampler` draws many small patches per step from them — a handful of
keyframes holds thousands of distinct patches — with augmentation that keeps the
input -> target mapping valid (flips, optional 90-degree turns, a little scale jitter; no
colour jitter: the effect of a colour change is exactly what we do not know).

Every bad input is a one-line UserInputError / MediaIOError naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganfx.runtime.errors import MediaIOError, UserInputError
from ganfx.runtime.frames import to_unit

from .config import ConfigError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


@dataclass
class Pair:
    name: str  # file name (pairs) or frame number (keyframes)
    input: np.ndarray  # [H,W,3] float32 0..1 sRGB
    target: np.ndarray  # [H,W,3] float32 0..1 sRGB
    mask: np.ndarray | None = None  # [H,W] float32 0..1, 1 = loss applies
    frame: int | None = None  # frame number in the clip (keyframes form)


# -- reading -------------------------------------------------------------------------------
def read_image(path) -> np.ndarray:
    """An image file as RGB. # -> [H,W,3] float32 0..1"""
    import cv2

    path = Path(path)
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise MediaIOError("cannot read image (missing, unreadable or not an image)", path=path)
    img = to_unit(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., 2::-1] if img.shape[2] >= 3 else np.repeat(img[..., :1], 3, axis=2))


def read_mask(path, shape) -> np.ndarray:
    """A mask image (grey, or the max of its channels). # -> [H,W] float32 0..1"""
    m = read_image(path).max(axis=2)
    if m.shape != tuple(shape):
        raise UserInputError(f"mask is {m.shape[1]}x{m.shape[0]} but its image is {shape[1]}x{shape[0]}", path=path)
    if m.max() <= 0:
        raise UserInputError("mask is empty (all black): no pixel would train", path=path)
    return m


def list_images(folder) -> list:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserInputError("folder not found", path=folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."))
    if not files:
        raise UserInputError(f"no images ({', '.join(IMAGE_EXTS)}) in this folder", path=folder)
    return files


def read_clip_frames(clip, numbers) -> dict:
    """Decode the given frame numbers (0 = first frame) of a video with PyAV. # -> {n: [H,W,3] uint8}

    Numbers past the end are simply absent from the result."""
    return decode_clip(clip, numbers)[0]


def decode_clip(clip, numbers=None) -> tuple:
    """({n: [H,W,3] uint8}, frames decoded); decodes to the end when a number is past it.
    numbers=None decodes every frame."""
    import av

    clip = Path(clip)
    wanted = None if numbers is None else set(int(n) for n in numbers)
    last = max(wanted, default=-1) if wanted is not None else None
    if not clip.is_file():
        raise MediaIOError("video not found", path=clip)
    out, count = {}, 0
    try:
        with av.open(str(clip)) as container:
            if not container.streams.video:
                raise MediaIOError("no video stream", path=clip)
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if wanted is None or count in wanted:
                    out[count] = frame.to_ndarray(format="rgb24")
                count += 1
                if wanted is not None and count > last:
                    break
    except av.error.FFmpegError as exc:
        raise MediaIOError(f"cannot decode video ({exc.strerror or type(exc).__name__})", path=clip) from None
    if count == 0:
        raise MediaIOError("video has no frames", path=clip)
    return out, count


def spread(items: list, count: int) -> list:
    """Up to `count` of the items, evenly spread, the first and the last included."""
    picks = np.unique(np.linspace(0, len(items) - 1, min(count, len(items))).round().astype(int))
    return [items[i] for i in picks]


# -- the two data forms --------------------------------------------------------------------
def _check_same_size(a: np.ndarray, b: np.ndarray, a_name: str, b_path) -> None:
    if a.shape[:2] != b.shape[:2]:
        raise UserInputError(
            f"{b.shape[1]}x{b.shape[0]} but {a_name} is {a.shape[1]}x{a.shape[0]} (pairs must have the same size)",
            path=b_path,
        )


def load_pairs(folder) -> list:
    """folder/input/NAME <-> folder/target/NAME, optional folder/mask/NAME."""
    folder = Path(folder)
    inputs = {p.name: p for p in list_images(folder / "input")}
    targets = {p.name: p for p in list_images(folder / "target")}
    for name in sorted(inputs):
        if name not in targets:
            raise UserInputError(f"no target/{name} for input/{name} (pairs are matched by file name)", path=folder)
    for name in sorted(targets):
        if name not in inputs:
            raise UserInputError(f"no input/{name} for target/{name} (pairs are matched by file name)", path=folder)
    mask_dir = folder / "mask"
    pairs = []
    for name in sorted(inputs):
        x, y = read_image(inputs[name]), read_image(targets[name])
        _check_same_size(x, y, f"input/{name}", targets[name])
        mask = read_mask(mask_dir / name, x.shape[:2]) if (mask_dir / name).is_file() else None
        pairs.append(Pair(name, x, y, mask))
    return pairs


def frame_number(path) -> int:
    """The frame number in a keyframe's name: the last run of digits ('shot.0012.png' -> 12)."""
    found = re.findall(r"\d+", Path(path).stem)
    if not found:
        raise UserInputError("keyframe name has no frame number (name keyframes like 0012.png)", path=path)
    return int(found[-1])


def numbered_images(folder) -> dict:
    """{frame number: path} of a keyframe-style folder; refuses two files for one frame."""
    out = {}
    for p in list_images(folder):
        n = frame_number(p)
        if n in out:
            raise UserInputError(f"two files for frame {n}: {out[n].name} and {p.name}", path=folder)
        out[n] = p
    return out


def load_keyframes(clip, keyframes, masks=None) -> list:
    """Keyframes named by frame number, inputs decoded from the clip; optional masks folder."""
    clip = Path(clip)
    files = numbered_images(keyframes)
    decoded, count = decode_clip(clip, files)
    for n, path in sorted(files.items()):
        if n not in decoded:
            raise UserInputError(f"frame {n} is outside the clip {clip.name} (frames 0-{count - 1})", path=path)
    mask_files = numbered_images(masks) if masks else {}
    pairs = []
    for n in sorted(files):
        x = to_unit(decoded[n])
        y = read_image(files[n])
        _check_same_size(x, y, f"frame {n} of {clip.name}", files[n])
        mask = read_mask(mask_files[n], x.shape[:2]) if n in mask_files else None
        pairs.append(Pair(str(n), x, y, mask, frame=n))
    return pairs


# -- patches -------------------------------------------------------------------------------
class PatchSampler:
    """Random patches from pairs. # sample() -> x [B,3,P,P], y [B,3,P,P], mask [B,1,P,P] float32 tensors

        sampler = PatchSampler(pairs, patch=64, batch=16, seed=0)
        x, y, m = sampler.sample()

    Its RNG state is plain JSON (`state()` / `set_state()`) so a resumed run draws the same
    patches as an uninterrupted one.
    """

    def __init__(self, pairs, patch: int = 64, batch: int = 16, hflip: bool = True, rot90: bool = False,
                 scale_jitter: float = 0.1, seed: int = 0):
        if not pairs:
            raise UserInputError("no training pairs")
        self.patch, self.batch, self.hflip, self.rot90 = int(patch), int(batch), hflip, rot90
        self.scale_jitter = float(scale_jitter)
        self.pairs = list(pairs)
        biggest = int(np.ceil(self.patch * (1 + self.scale_jitter)))
        for p in self.pairs:
            h, w = p.input.shape[:2]
            if min(h, w) < biggest:
                raise ConfigError(f"pair {p.name} is {w}x{h}, smaller than the {biggest} px patches (use a smaller patch)",
                                  "patch")
        # Bigger images (and bigger masked areas) give proportionally more patches.
        area = np.array([p.mask.sum() if p.mask is not None else p.input.shape[0] * p.input.shape[1] for p in self.pairs])
        self.weights = area / area.sum()
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def _window(self, shape, mask):
        """Top-left corner and side of a source window (before scale jitter)."""
        h, w = shape
        s = self.rng.uniform(1 - self.scale_jitter, 1 + self.scale_jitter) if self.scale_jitter else 1.0
        side = int(round(self.patch * s))
        if mask is not None:  # centre on a pixel where the loss applies
            ys, xs = np.nonzero(mask > 0)
            i = self.rng.integers(len(ys))
            y0 = int(np.clip(ys[i] - side // 2, 0, h - side))
            x0 = int(np.clip(xs[i] - side // 2, 0, w - side))
        else:
            y0, x0 = int(self.rng.integers(0, h - side + 1)), int(self.rng.integers(0, w - side + 1))
        return y0, x0, side

    def _augment(self, arrays, side):
        import cv2

        flip = self.hflip and self.rng.random() < 0.5
        turns = int(self.rng.integers(4)) if self.rot90 else 0
        out = []
        for a in arrays:
            if side != self.patch:
                a = cv2.resize(a, (self.patch, self.patch), interpolation=cv2.INTER_AREA if side > self.patch else cv2.INTER_LINEAR)
                a = a[..., None] if a.ndim == 2 else a
            if flip:
                a = a[:, ::-1]
            out.append(np.rot90(a, turns) if turns else a)
        return out

    def sample(self):
        import torch

        xs, ys, ms = [], [], []
        for _ in range(self.batch):
            p = self.pairs[self.rng.choice(len(self.pairs), p=self.weights)]
            y0, x0, side = self._window(p.input.shape[:2], p.mask)
            win = (slice(y0, y0 + side), slice(x0, x0 + side))
            mask = p.mask[win][..., None] if p.mask is not None else np.ones((side, side, 1), np.float32)
            x, y, m = self._augment([p.input[win], p.target[win], mask], side)
            xs.append(x), ys.append(y), ms.append(m)
        return tuple(torch.from_numpy(np.ascontiguousarray(np.stack(a).transpose(0, 3, 1, 2))) for a in (xs, ys, ms))
