"""Classical texture synthesis baselines, measured beside every ganfx texture.

    from ganfx.trainer.baselines import random_phase_noise, image_quilting
    rpn = random_phase_noise(exemplar, seed=0)             # [H,W,3] float32 0..1, exemplar's size
    quilt = image_quilting(exemplar, (512, 512), seed=0)   # [512,512,3] float32 0..1

- Random-phase noise (Galerne, Gousseau, Morel 2011): keep the Fourier modulus of the
  exemplar's periodic component (Moisan 2011, so the image border adds no cross of spurious
  frequencies) and replace its phase by that of white noise (one phase for all channels,
  which keeps the colour correlations). Ideal for micro-textures, blind to shapes.
- Image quilting (Efros and Freeman 2001): paste exemplar blocks in raster order, each
  chosen at random among those whose overlap with the image so far is within 10% of the
  best, and cut along the minimum-error boundary through the overlap.

numpy and OpenCV only (no torch).
"""

from __future__ import annotations

import numpy as np


def periodic_component(img: np.ndarray) -> np.ndarray:
    """Moisan's periodic + smooth decomposition: the periodic part. # [H,W,C] -> [H,W,C] float64"""
    u = img.astype(np.float64)
    h, w = u.shape[:2]
    v = np.zeros_like(u)  # boundary jumps
    v[0] += u[-1] - u[0]
    v[-1] += u[0] - u[-1]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    fy = np.cos(2.0 * np.pi * np.arange(h) / h)[:, None]
    fx = np.cos(2.0 * np.pi * np.arange(w) / w)[None, :]
    denom = 2.0 * fy + 2.0 * fx - 4.0
    denom[0, 0] = 1.0
    smooth_hat = np.fft.fft2(v, axes=(0, 1)) / denom[..., None]
    smooth_hat[0, 0] = 0.0
    return u - np.real(np.fft.ifft2(smooth_hat, axes=(0, 1)))


def random_phase_noise(exemplar: np.ndarray, seed: int = 0) -> np.ndarray:
    """A random-phase-noise texture of the exemplar's size. # [H,W,3] 0..1 -> [H,W,3] float32 0..1"""
    u = periodic_component(np.asarray(exemplar, np.float64))
    h, w = u.shape[:2]
    mean = u.mean(axis=(0, 1), keepdims=True)
    spectrum = np.fft.fft2(u - mean, axes=(0, 1))
    noise = np.random.default_rng(seed).standard_normal((h, w))
    phase = np.exp(1j * np.angle(np.fft.fft2(noise)))  # Hermitian-symmetric: the result is real
    out = np.real(np.fft.ifft2(spectrum * phase[..., None], axes=(0, 1))) + mean
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _min_cut_mask(err: np.ndarray) -> np.ndarray:
    """Dynamic-programming minimum-error vertical path through `err` [h,ov]: True left of the cut."""
    h, ov = err.shape
    cost = err.copy()
    for y in range(1, h):
        prev = cost[y - 1]
        left = np.concatenate([[np.inf], prev[:-1]])
        right = np.concatenate([prev[1:], [np.inf]])
        cost[y] += np.minimum(np.minimum(left, prev), right)
    mask = np.zeros((h, ov), bool)
    x = int(np.argmin(cost[-1]))
    for y in range(h - 1, -1, -1):
        mask[y, :x] = True
        if y:
            lo, hi = max(0, x - 1), min(ov, x + 2)
            x = lo + int(np.argmin(cost[y - 1, lo:hi]))
    return mask


def image_quilting(exemplar: np.ndarray, size: tuple, block: int | None = None, overlap: int | None = None,
                   tolerance: float = 0.1, seed: int = 0) -> np.ndarray:
    """Quilt an image of `size` (height, width) from exemplar blocks. # -> [H,W,3] float32 0..1

    `block` defaults to 1/8 of the exemplar's shorter side (64 px for 512), `overlap` to block/6.
    """
    import cv2

    src = np.ascontiguousarray(np.asarray(exemplar, np.float32)[..., :3])
    sh, sw = src.shape[:2]
    block = int(block or max(16, min(sh, sw) // 8))
    overlap = int(overlap or max(2, block // 6))
    if block > min(sh, sw):
        raise ValueError(f"block {block} is larger than the exemplar ({sw}x{sh})")
    step = block - overlap
    out_h, out_w = int(size[0]), int(size[1])
    ny, nx = -(-(out_h - overlap) // step), -(-(out_w - overlap) // step)
    canvas = np.zeros((ny * step + overlap, nx * step + overlap, 3), np.float32)
    rng = np.random.default_rng(seed)
    limit_y, limit_x = sh - block + 1, sw - block + 1  # valid block corners
    for by in range(ny):
        for bx in range(nx):
            y, x = by * step, bx * step
            if by == 0 and bx == 0:
                sy, sx = int(rng.integers(limit_y)), int(rng.integers(limit_x))
                canvas[:block, :block] = src[sy:sy + block, sx:sx + block]
                continue
            cost = np.zeros((limit_y, limit_x), np.float32)
            if bx > 0:  # left overlap strip [block, overlap]
                tmpl = canvas[y:y + block, x:x + overlap]
                cost += cv2.matchTemplate(src, tmpl, cv2.TM_SQDIFF)[:limit_y, :limit_x]
            if by > 0:  # top overlap strip [overlap, block]
                tmpl = canvas[y:y + overlap, x:x + block]
                cost += cv2.matchTemplate(src, tmpl, cv2.TM_SQDIFF)[:limit_y, :limit_x]
            best = float(cost.min())
            candidates = np.flatnonzero(cost.ravel() <= best * (1.0 + tolerance) + 1e-6)
            pick = int(candidates[rng.integers(len(candidates))])
            sy, sx = divmod(pick, limit_x)
            patch = src[sy:sy + block, sx:sx + block]
            keep_old = np.zeros((block, block), bool)  # True where the canvas keeps its pixels
            if bx > 0:
                err = ((canvas[y:y + block, x:x + overlap] - patch[:, :overlap]) ** 2).sum(axis=2)
                keep_old[:, :overlap] |= _min_cut_mask(err)
            if by > 0:
                err = ((canvas[y:y + overlap, x:x + block] - patch[:overlap]) ** 2).sum(axis=2)
                keep_old[:overlap, :] |= _min_cut_mask(err.T).T
            region = canvas[y:y + block, x:x + block]
            region[~keep_old] = patch[~keep_old]
    return np.clip(canvas[:out_h, :out_w], 0.0, 1.0)
