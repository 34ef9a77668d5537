"""Named target processes: the "artist" that treats keyframes for effect training.

A shipped effect model learns to imitate one of these; the model card names it, and
`ganfx eval` uses the same process as the reference when measuring the temporal
warping-error ratio (the process applied to every frame of the clip is the target effect).

    from ganfx.trainer.effect_targets import apply_process
    styled = apply_process("stylization", frame)     # [H,W,3] uint8 RGB -> [H,W,3] uint8 RGB
    painted = apply_process("painterly", frame, frame=12)   # seeded processes take the frame number

Seeded processes (SEEDED: strokes drawn at random) use the frame number as their seed, so a
clip treated frame by frame gets fresh strokes on every frame (it flickers, as painting each
frame by hand would) and the same frame always gets the same painting.

Only OpenCV and numpy: `ganfx eval` imports this without torch.
"""

from __future__ import annotations

import numpy as np

from ganfx.runtime.errors import UserInputError


def _stylization(rgb: np.ndarray) -> np.ndarray:
    """cv2.stylization(bgr, sigma_s=20, sigma_r=0.25) (OpenCV 4 non-photorealistic rendering)."""
    import cv2

    # OpenCV's "watercolour" filter (Gastal & Oliveira domain transform + edge inking).
    # sigma_s 20 keeps it local enough for a generator with a ~40 px receptive field.
    return cv2.stylization(rgb[..., ::-1].copy(), sigma_s=20, sigma_r=0.25)[..., ::-1].copy()


def _edge_preserving(rgb: np.ndarray) -> np.ndarray:
    """cv2.edgePreservingFilter(bgr, flags=RECURS_FILTER, sigma_s=20, sigma_r=0.3)."""
    import cv2

    return cv2.edgePreservingFilter(rgb[..., ::-1].copy(), flags=1, sigma_s=20, sigma_r=0.3)[..., ::-1].copy()


def _posterize(rgb: np.ndarray) -> np.ndarray:
    """Bilateral filter 9/40/5, 6 levels per channel, adaptive-threshold ink lines."""
    import cv2

    # Cartoon: bilateral smoothing, 6 levels per channel, dark lines from an adaptive threshold.
    smooth = cv2.bilateralFilter(rgb, 9, 40, 5)
    levels = (np.floor(smooth.astype(np.float32) / 256.0 * 6) + 0.5) * (256.0 / 6)
    grey = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 5)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4)
    return np.clip(levels * (edges[..., None] / 255.0), 0, 255).astype(np.uint8)


def _painterly(rgb: np.ndarray, frame: int = 0) -> np.ndarray:
    """Hertzmann 1998 curved brush strokes (ganfx.trainer.painterly.paint): radii 8, 4, 2 px, reference
    blur 0.5 R, grid R, threshold 50, strokes 4-16 steps along the isophotes, curvature filter 1,
    random order; seed = frame number."""
    from .painterly import paint

    return paint(rgb, seed=frame)


# name -> function; each docstring is the exact description a model card quotes
PROCESSES = {
    "stylization": _stylization,
    "edge_preserving": _edge_preserving,
    "posterize": _posterize,
    "painterly": _painterly,
}
# processes that draw at random: function(rgb, frame) with the frame number as seed
SEEDED = frozenset({"painterly"})


def _check(name: str) -> str:
    if name not in PROCESSES:
        raise UserInputError(f"unknown target process {name!r} (known: {', '.join(PROCESSES)})")
    return name


def apply_process(name: str, rgb: np.ndarray, frame: int | None = None) -> np.ndarray:
    """Apply a named process to one frame; `frame` (its number in the clip, default 0) seeds
    the SEEDED processes and is ignored by the others. # [H,W,3] uint8 RGB -> [H,W,3] uint8 RGB"""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise UserInputError(f"target process {name}: expected [H,W,3] uint8, got {rgb.shape} {rgb.dtype}")
    fn = PROCESSES[_check(name)]
    if name in SEEDED:
        return fn(np.ascontiguousarray(rgb), frame=int(frame or 0))
    return fn(np.ascontiguousarray(rgb))
