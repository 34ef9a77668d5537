"""Evaluate an exported texture model against its exemplar and the two classical baselines.

Runs the ONNX file through the runtime (what users get; no torch):

    report = evaluate_texture("brick", "skimage:brick", png="brick-eval.png")
    report["swd"]["ganfx"], report["swd"]["random_phase"], report["swd"]["quilting"]

Each method makes images the exemplar's size for `seeds` seeds; the SWD (ganfx.trainer.swd,
x1e3, lower is better) of each image against the exemplar is averaged per method, and so is
the copy share (ganfx.trainer.copying: the share of textured 32x32 patches whose best NCC
with an exemplar patch, as is or mirrored, exceeds 0.95; over the seeds that have textured
patches, None if none has):

    report["copy"]["ganfx"], report["copy"]["quilting"]   # 0..1 or None
    report["copy_goal"]    # ganfx share <= half of quilting's (quilting copies by design); None if undefined
    report["textured"]     # {method: share of grid patches that were textured}, mean over seeds

The PNG shows exemplar | ganfx | random-phase noise | image quilting (seed 0), labelled with
the SWDs and copy shares.
"""

from __future__ import annotations

import time

import numpy as np

from .baselines import image_quilting, random_phase_noise
from .copying import CopyMeter, copy_goal, mean_share
from .swd import swd

METHODS = ("ganfx", "random_phase", "quilting")
LABELS = {"ganfx": "ganfx", "random_phase": "random-phase noise", "quilting": "image quilting"}
CAPTIONS = {"ganfx": "ganfx", "random_phase": "random phase", "quilting": "image quilting"}  # fit a 384 px panel


def _exemplar(spec) -> np.ndarray:
    from .exemplars import load_exemplar

    return load_exemplar(spec)


def evaluate_texture(model, exemplar, seeds: int = 3, png=None, model_obj=None) -> dict:
    """SWD and copy share of model, random-phase noise and quilting against `exemplar`; writes `png` when given."""
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.model import load_model

    if seeds < 1:
        raise UserInputError(f"seeds must be >= 1, got {seeds}")
    m = model_obj or load_model(model)
    if m.spec.kind != "texture":
        raise UserInputError(f"{m.spec.name} is an {m.spec.kind} model, not a texture", path=m.path)
    ex = _exemplar(exemplar)  # [H,W,3] float32 0..1
    h, w = ex.shape[:2]
    makers = {
        "ganfx": lambda s: np.clip(m.generate(w, h, seed=s), 0.0, 1.0),
        "random_phase": lambda s: random_phase_noise(ex, seed=s),
        "quilting": lambda s: image_quilting(ex, (h, w), seed=s),
    }
    meter = CopyMeter(ex)
    scores, copies, textured, seconds, copy_seconds, firsts = {}, {}, {}, {}, {}, {}
    for name, make in makers.items():
        t0 = time.perf_counter()
        values, shares, fractions, spent = [], [], [], 0.0
        for s in range(seeds):
            img = make(s)
            if s == 0:
                firsts[name] = img
            values.append(swd(img, ex))
            t1 = time.perf_counter()
            measured = meter.measure(img)
            spent += time.perf_counter() - t1
            shares.append(measured["share"])
            fractions.append(measured["textured"] / max(measured["patches"], 1))
        seconds[name] = round(time.perf_counter() - t0, 2)
        copy_seconds[name] = round(spent, 2)
        scores[name] = round(float(np.mean(values)), 2)
        share = mean_share(shares)
        copies[name] = None if share is None else round(share, 4)
        textured[name] = round(float(np.mean(fractions)), 4)
    report = {
        "model": m.spec.name, "path": str(m.path), "exemplar": str(exemplar), "size": [w, h], "seeds": seeds,
        "swd": scores, "copy": copies, "textured": textured, "seconds": seconds, "copy_seconds": copy_seconds,
        "beats": {b: scores["ganfx"] < scores[b] for b in ("random_phase", "quilting")},
        "copy_goal": copy_goal(copies),
        # the noise-cell grid, ganfx (seed 0) beside the exemplar's own spectrum at the same frequencies
        "cell_grid": {"stride": m.spec.noise.stride, "ganfx": cell_grid(firsts["ganfx"], m.spec.noise.stride),
                      "exemplar": cell_grid(ex, m.spec.noise.stride)},
    }
    if png:
        write_side_by_side(png, ex, firsts, scores, copies)
        report["png"] = str(png)
    return report


def cell_grid(img: np.ndarray, stride: int) -> float:
    """How much a render's spectrum peaks at the noise-cell frequency: a visible cell grid. # -> ratio >= 0

    The luminance's power at k/stride cycles per pixel (k = 1 .. stride/2) along both axes and on
    the diagonal lattice, each against the median power of a small ring around it; the largest
    ratio. A texture without a grid gives about 1 (a natural image's spectrum is smooth there);
    a grid that shows at 1:1 gives several times that. Compare with the exemplar's own figure.
    """
    lum = np.asarray(img, np.float64)[..., :3].mean(axis=2)
    h, w = lum.shape
    power = np.abs(np.fft.fft2((lum - lum.mean()) * np.outer(np.hanning(h), np.hanning(w)))) ** 2
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    worst = 0.0
    for ky in range(0, stride // 2 + 1):
        for kx in range(0, stride // 2 + 1):
            if ky == kx == 0:
                continue
            cy, cx = ky / stride, kx / stride
            d = np.hypot(((fy - cy + 0.5) % 1.0 - 0.5) * h, ((fx - cx + 0.5) % 1.0 - 0.5) * w)  # bins, wrapped
            peak = power[d <= 1.0].max()
            ring = power[(d >= 3.0) & (d <= 6.0)]
            worst = max(worst, float(peak / (np.median(ring) + 1e-20)))
    return round(worst, 2)


def percent(share) -> str:
    """A copy share as a whole percentage; "-" when undefined (no textured patch)."""
    return "-" if share is None else f"{100 * share:.0f}%"


def write_side_by_side(png, exemplar: np.ndarray, images: dict, scores: dict, copies: dict | None = None,
                       height: int = 384) -> None:
    """exemplar | ganfx | random-phase | quilting, each captioned with its SWD (and copy share when given)."""
    from ganfx.runtime.io.images import write_png

    from .plots import image_row, label

    tiles = [label(image_row([exemplar], height=height), "exemplar")]
    for name in METHODS:
        caption = f"{CAPTIONS[name]}  SWD {scores[name]:.1f}"
        if copies is not None:
            caption += f"  copy {percent(copies.get(name))}"
        tiles.append(label(image_row([images[name]], height=height), caption))
    write_png(png, image_row(tiles, gap=6))


def copy_goal_line(report: dict) -> str:
    """The copy goal, in words: ganfx copies at most half as much as image quilting."""
    copies, goal = report["copy"], report.get("copy_goal")
    if goal is None:
        return "copy goal (at most half of image quilting's share): not measurable, no textured patches"
    limit = percent(0.5 * copies["quilting"])
    return (f"copy goal (at most half of image quilting's {percent(copies['quilting'])}, i.e. {limit}): "
            f"{'met' if goal else 'missed'}, ganfx copies {percent(copies['ganfx'])}")


def format_report(report: dict) -> str:
    has_copy = "copy" in report
    lines = [f"{report['model']}: SWD x1e3 against {report['exemplar']} ({report['size'][0]}x{report['size'][1]}, "
             f"mean of {report['seeds']} seed{'s' if report['seeds'] > 1 else ''}; lower is better)"]
    if has_copy:
        lines.append("  copy: share of textured 32x32 patches with NCC > 0.95 to an exemplar patch (or its mirror)")
        lines.append(f"  {'method':<20} {'SWD':>8} {'copy':>6}")
    for name in METHODS:
        row = f"  {LABELS[name]:<20} {report['swd'][name]:8.1f}"
        lines.append(row + (f" {percent(report['copy'][name]):>6}" if has_copy else ""))
    verdict = " and ".join(LABELS[b] for b, won in report["beats"].items() if won) or "neither baseline"
    lines.append(f"  ganfx beats {verdict}")
    if has_copy:
        lines.append(f"  {copy_goal_line(report)}")
    grid = report.get("cell_grid")
    if grid:
        lines.append(f"  cell grid ({grid['stride']} px): spectrum peak {grid['ganfx']:.1f}x its surroundings "
                     f"(exemplar {grid['exemplar']:.1f}x; a visible grid is several times the exemplar's)")
    if report.get("png"):
        lines.append(f"  side by side: {report['png']}")
    return "\n".join(lines)
