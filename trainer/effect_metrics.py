"""Quality measures of effect models (docs/architecture.md, "Quality measures"), numpy + OpenCV only.

- `psnr(a, b)`, `ssim(a, b)`: against held-out target frames, on 0..1 RGB.
- `warping_error(frames, flows)`: temporal flicker of a rendered clip — the mean of
  |out_t - warp(out_t+1)| over pixels that are visible in both frames, with the flow measured
  by OpenCV DIS on the *input* clip (so every rendering of the clip is judged against the same
  motion) and occlusions removed by a forward-backward check.
- `temporal_ratio(...)`: that error for the model's output divided by the same error of the
  target effect (1.0 = the model adds no flicker of its own).
- `look_distance(a, b)`: how far a frame's look is from the target's, not where its strokes
  land: per 16 px cell, the W1 distance between the sorted horizontal and vertical pixel
  differences of the two frames (the measure `--grad-stats` trains on).

    flows = clip_flows(inputs)                       # inputs: [H,W,3] uint8 frames of a clip
    ratio = warping_error(model_out, flows) / warping_error(target_out, flows)

No torch here: `ganfx eval` uses this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganfx.runtime.frames import from_unit, to_unit


def _unit(a) -> np.ndarray:
    return to_unit(np.asarray(a))


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio in dB of two images in 0..1 (or uint8). # [H,W,C], [H,W,C] -> float"""
    a, b = _unit(a), _unit(b)
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def ssim(a, b) -> float:
    """Structural similarity (Wang et al. 2004): Gaussian window sigma 1.5, K1 0.01, K2 0.03,
    data range 1, mean over pixels and channels. # [H,W,C], [H,W,C] -> float"""
    import cv2

    a, b = _unit(a).astype(np.float64), _unit(b).astype(np.float64)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    c1, c2 = 0.01**2, 0.03**2

    def blur(x):
        # 11x11 window truncated at 3.5 sigma, as in the reference implementation
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    scores = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch], b[..., ch]
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        scores.append(s[5:-5, 5:-5].mean())  # skip the border, where the window is incomplete
    return float(np.mean(scores))


def look_distance(a, b, window: int = 16) -> float:
    """Mean over `window` px cells and channels of the exact 1-D W1 distance between the
    distributions of horizontal and vertical pixel differences of `a` and `b` (0..1 or uint8).

    How flat a cell is and how sharp its edges are must match, not where in the cell the edges
    fall: a look painted anew on every frame scores near its own floor (the same look with
    other random strokes) though its PSNR is noise. Equals
    `ganfx.trainer.texture_losses.local_gradient_loss` on the same images; the last row and
    column of a frame that is not a multiple of `window` are left out. # [H,W,C] x2 -> float
    """
    def cells(x):
        x = _unit(x).astype(np.float64)
        x = x[..., None] if x.ndim == 2 else x
        across = np.zeros_like(x)
        across[:, :-1] = x[:, 1:] - x[:, :-1]  # zero in the last column
        down = np.zeros_like(x)
        down[:-1] = x[1:] - x[:-1]  # zero in the last row
        d = np.concatenate([across, down], -1)
        h, w, c = d.shape
        h, w = h - h % window, w - w % window
        if not (h and w):
            raise ValueError(f"a {d.shape[1]}x{d.shape[0]} frame is smaller than one {window} px cell")
        d = d[:h, :w].reshape(h // window, window, w // window, window, c)
        return np.sort(d.transpose(0, 2, 4, 1, 3).reshape(h // window, w // window, c, -1), -1)

    return float(np.abs(cells(a) - cells(b)).mean())


# -- temporal ------------------------------------------------------------------------------
@dataclass
class Flow:
    """Motion from frame t to t+1 and where it can be trusted."""

    map_x: np.ndarray  # [H,W] float32: x in frame t+1 of each pixel of frame t
    map_y: np.ndarray  # [H,W] float32
    valid: np.ndarray  # [H,W] bool: visible in both frames (forward-backward consistent, inside)


def _grey(frame) -> np.ndarray:
    import cv2

    f = np.asarray(frame)
    f = f if f.dtype == np.uint8 else from_unit(_unit(f), np.uint8)
    return cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if f.ndim == 3 else f


def dis_flow(a, b, finest_scale=None) -> np.ndarray:
    """OpenCV DIS optical flow (medium preset) from frame a to b; `finest_scale` 0 takes the
    preset's patch search down to full resolution (medium stops at 1/2). # [H,W,3], [H,W,3] -> [H,W,2]"""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    if finest_scale is not None:
        dis.setFinestScale(finest_scale)
    return dis.calc(_grey(a), _grey(b), None)


def _remap(img, map_x, map_y):
    import cv2

    return cv2.remap(img, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _checked(fw, bw) -> Flow:
    """The flow fw (a->b) with its forward-backward check against bw (b->a)."""
    h, w = fw.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = gx + fw[..., 0], gy + fw[..., 1]
    bw_at = _remap(bw, map_x, map_y)
    diff = ((fw + bw_at) ** 2).sum(-1)
    bound = 0.01 * ((fw**2).sum(-1) + (bw_at**2).sum(-1)) + 0.5
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return Flow(map_x, map_y, (diff < bound) & inside)


def flow_pair(a, b, finest_scale=None) -> tuple:
    """(Flow a->b, Flow b->a), each checked against the other: two DIS runs for both directions."""
    fw, bw = dis_flow(a, b, finest_scale), dis_flow(b, a, finest_scale)
    return _checked(fw, bw), _checked(bw, fw)


def flow_between(a, b, finest_scale=None) -> Flow:
    """Forward flow a->b with occlusions removed by the forward-backward check of Sundaram et al.
    2010: |fw + bw(p + fw)|^2 < 0.01 (|fw|^2 + |bw(p + fw)|^2) + 0.5."""
    return _checked(dis_flow(a, b, finest_scale), dis_flow(b, a, finest_scale))


def clip_flows(inputs, cut_threshold: float = 0.5) -> list:
    """Flows between consecutive input frames; None across a cut (fewer than `cut_threshold`
    of the pixels pass the forward-backward check — a new shot, not motion)."""
    flows = []
    for a, b in zip(inputs[:-1], inputs[1:]):
        f = flow_between(a, b)
        flows.append(f if f.valid.mean() >= cut_threshold else None)
    return flows


def warping_error(frames, flows) -> float:
    """Mean |out_t - warp(out_t+1)| over valid pixels and channels, pooled over the clip, 0..1 scale.

    # frames: T x [H,W,C] (uint8 or float 0..1), flows: T-1 x Flow|None -> float
    """
    if len(frames) != len(flows) + 1:
        raise ValueError(f"{len(frames)} frames need {len(frames) - 1} flows, got {len(flows)}")
    total, count = 0.0, 0
    for t, f in enumerate(flows):
        if f is None:
            continue
        cur, nxt = _unit(frames[t]), _unit(frames[t + 1])
        back = _remap(nxt, f.map_x, f.map_y)
        err = np.abs(cur - back).mean(-1) if cur.ndim == 3 else np.abs(cur - back)
        total += float(err[f.valid].sum())
        count += int(f.valid.sum())
    if count == 0:
        raise ValueError("no frame pair with trustworthy motion (every pair is a cut or fully occluded)")
    return total / count


def temporal_ratio(outputs, references, flows) -> dict:
    """The warping error of `outputs` relative to `references` (the target effect), same flows."""
    model, ref = warping_error(outputs, flows), warping_error(references, flows)
    return {
        "warping_error": model,
        "reference_warping_error": ref,
        "ratio": model / ref if ref > 0 else float("inf"),
        "frame_pairs": sum(f is not None for f in flows),
        "cuts": sum(f is None for f in flows),
    }
