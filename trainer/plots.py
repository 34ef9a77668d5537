"""Pictures of a run: image grids, the loss plot and the time-to-quality curve (drawn with
OpenCV, no matplotlib needed).

    grid = image_row([exemplar, sample0, sample1])                 # [H,W,3] uint8 RGB
    plot_metrics("runs/00003-brick/metrics.jsonl", "runs/00003-brick/losses.png")
    points = quality_curve("runs/00004-watercolor/metrics.jsonl")  # [(training minutes, held-out PSNR)]
    plot_quality_curve(points, "watercolor-time-to-quality.png")

PNGs are written by the one PNG writer, ganfx.runtime.io.images.write_png.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ganfx.runtime.frames import from_unit
from ganfx.runtime.io.images import write_png

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
            (227, 119, 194), (127, 127, 127)]  # RGB
MARKER = (214, 39, 40)  # RGB of the dots on a quality curve


def image_row(images: list, gap: int = 4, height: int | None = None) -> np.ndarray:
    """Images side by side on a white background, scaled to one height. # -> [H,W,3] uint8"""
    import cv2

    height = height or max(im.shape[0] for im in images)
    tiles = []
    for im in images:
        im = np.asarray(im)
        if im.dtype != np.uint8:
            im = from_unit(im, np.uint8)
        if im.ndim == 2:
            im = im[..., None]
        if im.shape[2] == 1:
            im = np.repeat(im, 3, axis=2)
        if im.shape[0] != height:
            w = max(1, round(im.shape[1] * height / im.shape[0]))
            im = cv2.resize(im, (w, height), interpolation=cv2.INTER_AREA)
        tiles.append(im)
        tiles.append(np.full((height, gap, 3), 255, np.uint8))
    return np.concatenate(tiles[:-1], axis=1)


def label(image: np.ndarray, text: str) -> np.ndarray:
    """A caption strip above an image. # [H,W,3] uint8 -> [H+28,W,3] uint8"""
    import cv2

    strip = np.full((28, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def read_metrics(path) -> list:
    rows = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line:
            rows.append(json.loads(line))
    return rows


def _panel(canvas, box, xs, ys, title: str, colour, x_labels: tuple, markers=None, robust: bool = True) -> None:
    """One curve in the box (x0, y0, width, height) of the canvas: frame, title, y range, x labels
    (first, last; None: none); `markers`: an RGB colour to dot each point with; `robust`: the y range
    is the 1st to 99th percentile (a loss spike does not flatten the rest), else min to max."""
    import cv2

    x0, y0, pw, ph = box
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    lo, hi = (np.percentile(ys, 1), np.percentile(ys, 99)) if robust else (ys.min(), ys.max())
    hi = hi if hi > lo else lo + 1.0
    left, right, top, bottom = x0 + 50, x0 + pw - 10, y0 + 25, y0 + ph - 25
    cv2.rectangle(canvas, (left, top), (right, bottom), (200, 200, 200), 1)
    span = xs.max() - xs.min()
    px = left + (xs - xs.min()) / (span or 1.0) * (right - left)
    py = bottom - (np.clip(ys, lo, hi) - lo) / (hi - lo) * (bottom - top)
    poly = np.stack([px, py], axis=1).round().astype(np.int32)
    cv2.polylines(canvas, [poly], False, colour, 1, cv2.LINE_AA)
    for x, y in poly if markers else ():
        cv2.circle(canvas, (int(x), int(y)), 3, markers, -1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(canvas, title, (left, y0 + 18), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, f"{hi:.3g}", (x0 + 2, top + 10), font, 0.35, (80, 80, 80), 1, cv2.LINE_AA)
    cv2.putText(canvas, f"{lo:.3g}", (x0 + 2, bottom), font, 0.35, (80, 80, 80), 1, cv2.LINE_AA)
    for text, x in zip(x_labels, (left, right - 40)):
        if text is not None:
            cv2.putText(canvas, text, (x, bottom + 15), font, 0.35, (80, 80, 80), 1, cv2.LINE_AA)


def plot_metrics(metrics_path, png_path, width: int = 900, height: int = 420) -> bool:
    """One panel per loss (every numeric key except bookkeeping), x = iteration. False if no data."""
    rows = read_metrics(metrics_path) if Path(metrics_path).is_file() else []
    skip = {"iteration", "seconds", "it_per_s"}
    keys = sorted({k for r in rows for k, v in r.items() if k not in skip and isinstance(v, (int, float))})
    if len(rows) < 2 or not keys:
        return False
    cols = 2
    nrows = -(-len(keys) // cols)
    canvas = np.full((nrows * height // 2, cols * width // 2, 3), 255, np.uint8)
    pw, ph = width // 2, height // 2
    for i, key in enumerate(keys):
        pts = [(r["iteration"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        if len(pts) < 2:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        _panel(canvas, ((i % cols) * pw, (i // cols) * ph, pw, ph), xs, ys, key, _COLOURS[i % len(_COLOURS)],
               (None, f"{int(max(xs))}"))
    write_png(png_path, canvas)
    return True


def quality_curve(metrics_path, key: str = "holdout_psnr") -> list:
    """[(training minutes, value)] of the metric lines holding `key` (the loop's sample lines),
    in iteration order. Training minutes: the loop's "seconds" (optimisation time) / 60."""
    rows = [r for r in read_metrics(metrics_path) if isinstance(r.get(key), (int, float)) and "seconds" in r]
    return [(r["seconds"] / 60.0, float(r[key])) for r in sorted(rows, key=lambda r: r["iteration"])]


def plot_quality_curve(points: list, png_path, title: str = "held-out PSNR (dB) vs training minutes",
                       width: int = 480, height: int = 260) -> bool:
    """The curve of `points` [(minutes, value)], a dot (MARKER colour) at each point, x from the first
    to the last point (its minutes written at the right end). False (nothing written) with fewer
    than 2 points."""
    if len(points) < 2:
        return False
    canvas = np.full((height, width, 3), 255, np.uint8)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    _panel(canvas, (0, 0, width, height), xs, ys, title, _COLOURS[0], (f"{min(xs):.3g}", f"{max(xs):.3g}"),
           markers=MARKER, robust=False)
    write_png(png_path, canvas)
    return True
