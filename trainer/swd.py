"""Multi-scale sliced Wasserstein distance (Karras et al. 2018), for one image against its exemplar.

    from ganfx.trainer.swd import swd, swd_levels
    swd(generated, exemplar)          # mean over pyramid levels, x1e3; lower is closer
    swd_levels(generated, exemplar)   # [per level, finest first], x1e3

Both images are [H,W,3] float 0..1 (or uint8). For every level of a Laplacian pyramid down to
about 16 px, 7x7 neighbourhoods are sampled (all of them up to `descriptors`, else a fixed
random subset), normalised per channel with the *exemplar's* mean and standard deviation at
that level (so a shift in colour or contrast is measured, not normalised away), projected on
128 random unit directions, and the 1-D Wasserstein-1 distances (mean absolute difference of
the sorted projections) are averaged. Everything is seeded: the same pair gives the same
number on any machine. numpy and OpenCV only (no torch), so the runtime-side `ganfx eval`
can use it.
"""

from __future__ import annotations

import numpy as np

from ganfx.runtime.frames import to_unit

PATCH = 7
MIN_SIZE = 16


def _as_float(img) -> np.ndarray:
    a = to_unit(np.asarray(img))
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a[..., :3])


def laplacian_pyramid(img: np.ndarray, min_size: int = MIN_SIZE) -> list:
    """Band-pass levels, finest first, the last one the low-pass residual. # [H,W,3] -> [[h,w,3], ...]"""
    import cv2

    levels, cur = [], img
    while min(cur.shape[:2]) // 2 >= min_size:
        down = cv2.pyrDown(cur)
        up = cv2.pyrUp(down, dstsize=(cur.shape[1], cur.shape[0]))
        levels.append(cur - up)
        cur = down
    levels.append(cur)
    return levels


def _descriptors(level: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` 7x7 neighbourhoods of a level. # [h,w,3] -> [count,7,7,3]"""
    h, w = level.shape[:2]
    ny, nx = h - PATCH + 1, w - PATCH + 1
    idx = rng.choice(ny * nx, size=count, replace=False) if count < ny * nx else np.arange(ny * nx)
    ys, xs = idx // nx, idx % nx
    windows = np.lib.stride_tricks.sliding_window_view(level, (PATCH, PATCH), axis=(0, 1))  # [ny,nx,3,7,7]
    return windows[ys, xs].transpose(0, 2, 3, 1)


def swd_levels(image, exemplar, descriptors: int = 16384, projections: int = 128, seed: int = 0) -> list:
    """SWD x1e3 per Laplacian level, finest first (see the module docstring)."""
    a, b = _as_float(image), _as_float(exemplar)
    pa, pb = laplacian_pyramid(a), laplacian_pyramid(b)
    out = []
    for i, (la, lb) in enumerate(zip(pa, pb)):
        rng = np.random.default_rng(seed + 1000 * i)
        positions = min((la.shape[0] - PATCH + 1) * (la.shape[1] - PATCH + 1),
                        (lb.shape[0] - PATCH + 1) * (lb.shape[1] - PATCH + 1))
        if positions < 1:
            break
        n = min(descriptors, positions)
        # Same seed for both sides: equal-sized images are sampled at the same places.
        da = _descriptors(la, n, np.random.default_rng(seed + 1000 * i + 1)).astype(np.float64)
        db = _descriptors(lb, n, np.random.default_rng(seed + 1000 * i + 1)).astype(np.float64)
        mean = db.mean(axis=(0, 1, 2), keepdims=True)
        std = db.std(axis=(0, 1, 2), keepdims=True) + 1e-8
        da = ((da - mean) / std).reshape(n, -1)
        db = ((db - mean) / std).reshape(n, -1)
        dirs = rng.standard_normal((da.shape[1], projections))
        dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
        proj_a = np.sort(da @ dirs, axis=0)
        proj_b = np.sort(db @ dirs, axis=0)
        out.append(float(np.abs(proj_a - proj_b).mean() * 1e3))
    return out


def swd(image, exemplar, descriptors: int = 16384, projections: int = 128, seed: int = 0) -> float:
    """Mean SWD x1e3 over the Laplacian levels; 0 for identical images."""
    levels = swd_levels(image, exemplar, descriptors, projections, seed)
    return float(np.mean(levels))
