"""Small real effect-training data for tests: a textured clip with a camera pan, pairs folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganfx.runtime.io.images import write_png
from ganfx.trainer.effect_footage import render_shot, write_clip
from ganfx.trainer.effect_targets import apply_process


def photo(seed: int = 0, size=(160, 200)) -> np.ndarray:
    """A smooth random colour picture with edges (blobs and stripes). # -> [H,W,3] uint8"""
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.random((6, 8, 3)).astype(np.float32), size[::-1], interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[: size[0], : size[1]]
    img[(np.sin(xx / 7.0 + yy / 11.0) > 0.6)] *= 0.4
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def shift_filter(rgb: np.ndarray) -> np.ndarray:
    """A simple local 'effect' a tiny network learns in seconds: darken and blur a little."""
    import cv2

    return (cv2.GaussianBlur(rgb, (3, 3), 0) * 0.7).astype(np.uint8)


def make_clip(path, frames: int = 12, seed: int = 0) -> Path:
    """A pan over a random picture, 320x240 (the footage module's frame size), H.264."""
    return write_clip(path, render_shot(photo(seed, (300, 420)), (150, 150, 360), (250, 150, 360), frames))


def make_pairs(folder, names=("a.png", "b.png"), size=(72, 80), seed=0) -> Path:
    folder = Path(folder)
    (folder / "input").mkdir(parents=True, exist_ok=True)
    (folder / "target").mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        x = photo(seed + i, size)
        write_png(folder / "input" / name, x)
        write_png(folder / "target" / name, shift_filter(x))
    return folder


def make_keyframes(folder, clip, numbers, process=None) -> Path:
    from ganfx.trainer.effect_data import read_clip_frames

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = read_clip_frames(clip, numbers)
    for n in numbers:
        write_png(folder / f"{n:04d}.png", apply_process(process, frames[n], frame=n) if process else shift_filter(frames[n]))
    return folder
