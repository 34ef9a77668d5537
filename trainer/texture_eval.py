"""Evaluate an exported texture model against its exemplar and the two classical baselines.

Runs the ONNX file through the runtime (what users get; no torch):

    report = evaluate_texture("brick", "skimage:brick", png="brick-eval.png")
    report["swd"]["ganfx"], report["swd"]["random_phase"], report["swd"]["quilting"]

Each method makes images the exemplar's size for `seeds` seeds; the SWD (ganfx.trainer.swd,
x1e3, lower is better) of each image against the exemplar is averaged per method. The PNG
shows exemplar | ganfx | random-phase noise | image quilting (seed 0), labelled with the SWDs.
"""

from __future__ import annotations

import time

import numpy as np

from .baselines import image_quilting, random_phase_noise
from .swd import swd

METHODS = ("ganfx", "random_phase", "quilting")
LABELS = {"ganfx": "ganfx", "random_phase": "random-phase noise", "quilting": "image quilting"}


def _exemplar(spec) -> np.ndarray:
    from .exemplars import load_exemplar

    return load_exemplar(spec)


def evaluate_texture(model, exemplar, seeds: int = 3, png=None, model_obj=None) -> dict:
    """SWD of model, random-phase noise and quilting against `exemplar`; writes `png` when given."""
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
    scores, seconds, firsts = {}, {}, {}
    for name, make in makers.items():
        t0 = time.perf_counter()
        values = []
        for s in range(seeds):
            img = make(s)
            if s == 0:
                firsts[name] = img
            values.append(swd(img, ex))
        seconds[name] = round(time.perf_counter() - t0, 2)
        scores[name] = round(float(np.mean(values)), 2)
    report = {
        "model": m.spec.name, "path": str(m.path), "exemplar": str(exemplar), "size": [w, h], "seeds": seeds,
        "swd": scores, "seconds": seconds,
        "beats": {b: scores["ganfx"] < scores[b] for b in ("random_phase", "quilting")},
    }
    if png:
        write_side_by_side(png, ex, firsts, scores)
        report["png"] = str(png)
    return report


def write_side_by_side(png, exemplar: np.ndarray, images: dict, scores: dict, height: int = 384) -> None:
    """exemplar | ganfx | random-phase | quilting, each captioned."""
    from ganfx.runtime.io.images import write_png

    from .plots import image_row, label

    tiles = [label(image_row([exemplar], height=height), "exemplar")]
    for name in METHODS:
        tiles.append(label(image_row([images[name]], height=height), f"{LABELS[name]}  SWD {scores[name]:.1f}"))
    write_png(png, image_row(tiles, gap=6))


def format_report(report: dict) -> str:
    lines = [f"{report['model']}: SWD x1e3 against {report['exemplar']} ({report['size'][0]}x{report['size'][1]}, "
             f"mean of {report['seeds']} seed{'s' if report['seeds'] > 1 else ''}; lower is better)"]
    for name in METHODS:
        lines.append(f"  {LABELS[name]:<20} {report['swd'][name]:8.1f}")
    verdict = " and ".join(LABELS[b] for b, won in report["beats"].items() if won) or "neither baseline"
    lines.append(f"  ganfx beats {verdict}")
    if report.get("png"):
        lines.append(f"  side by side: {report['png']}")
    return "\n".join(lines)
