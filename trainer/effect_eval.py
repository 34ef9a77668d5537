"""Evaluate an exported effect model: held-out PSNR/SSIM and the temporal warping-error ratio.

Runs the ONNX file through the runtime (what users get, no torch):

    report = evaluate_effect("watercolor", keyframes="holdout/", video="clip.mp4")
    report["psnr"], report["ssim"], report["temporal"]["ratio"]

Held-out pairs come as a pairs folder (`pairs=DIR`, DIR/input + DIR/target) or as targets
named by frame number with their inputs decoded from `video` (`keyframes=DIR`). With
`video`, the whole clip is rendered and its warping error is compared with that of the
reference effect on the same clip and the same flows: `reference` is a named target process
(ganfx.trainer.effect_targets), a video of the target effect, or "source"; by default the
process the model was trained to imitate (its ganfx.training "target_process"), else the
source clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganfx.runtime.errors import UserInputError
from ganfx.runtime.frames import from_unit

from .effect_data import decode_clip, load_pairs, numbered_images, read_image
from .effect_metrics import clip_flows, psnr, ssim, temporal_ratio
from .effect_targets import PROCESSES, apply_process


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return img if img.dtype == np.uint8 else from_unit(img, np.uint8)


def clip_frames(video) -> list:
    """Every frame of a clip. # -> T x [H,W,3] uint8"""
    frames, count = decode_clip(video)
    return [frames[i] for i in range(count)]


def heldout_pairs(pairs=None, video=None, keyframes=None) -> list:
    """[(name, input uint8, target float 0..1)] from a pairs folder or numbered targets of a clip."""
    if pairs:
        return [(p.name, _to_uint8(p.input), p.target) for p in load_pairs(pairs)]
    if not video:
        raise UserInputError("held-out targets named by frame number need the clip their inputs come from")
    files = numbered_images(keyframes)
    frames, count = decode_clip(video, files)
    out = []
    for n, path in sorted(files.items()):
        if n not in frames:
            raise UserInputError(f"frame {n} is outside the clip {Path(video).name} (frames 0-{count - 1})", path=path)
        target = read_image(path)
        if target.shape[:2] != frames[n].shape[:2]:
            raise UserInputError(f"{target.shape[1]}x{target.shape[0]} but frame {n} of {Path(video).name} is "
                                 f"{frames[n].shape[1]}x{frames[n].shape[0]}", path=path)
        out.append((str(n), frames[n], target))
    return out


def reference_frames(reference: str, inputs: list, model_spec) -> tuple:
    """(label, frames of the reference effect on the clip)."""
    if reference is None:
        reference = model_spec.training.get("target_process") or "source"
    if reference == "source":
        return "source clip", inputs
    if reference in PROCESSES:
        return f"target process {reference}", [apply_process(reference, f) for f in inputs]
    path = Path(reference)
    if not path.is_file():
        known = ", ".join(PROCESSES)
        raise UserInputError(f"the reference effect must be 'source', a target process ({known}) or a video file, "
                             f"got {reference!r}")
    frames = clip_frames(path)
    if len(frames) != len(inputs) or frames[0].shape != inputs[0].shape:
        raise UserInputError(f"reference video has {len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]}, "
                             f"the clip {len(inputs)} of {inputs[0].shape[1]}x{inputs[0].shape[0]}", path=path)
    return f"video {path.name}", frames


def write_grid(path, rows: list, count: int = 4) -> None:
    """PNG of up to `count` rows input | output | target, spread over the held-out pairs."""
    from ganfx.runtime.io.images import write_png

    picks = np.unique(np.linspace(0, len(rows) - 1, min(count, len(rows))).round().astype(int))
    lines = [np.concatenate([_to_uint8(rows[i][k]) for k in range(3)], axis=1) for i in picks]
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0)), constant_values=255) for line in lines]
    write_png(path, np.concatenate(lines, axis=0))


def evaluate_effect(model, pairs=None, video=None, keyframes=None, reference=None, tile=None,
                    strength: float = 1.0, png=None) -> dict:
    """Measure an effect model; see the module docstring. `model` is a name, path or loaded Model.
    `png`: also write held-out rows input | output | target there."""
    from ganfx.runtime.model import Model, load_model

    fx = model if isinstance(model, Model) else load_model(model)
    if fx.spec.kind != "effect":
        raise UserInputError(f"{fx.spec.name} is a {fx.spec.kind} model; effect evaluation needs an effect model")
    if not (pairs or keyframes or video):
        raise UserInputError("nothing to evaluate: give held-out pairs, held-out keyframes of a clip, or a clip")
    report = {"model": fx.spec.name, "path": str(fx.path)}
    if pairs or keyframes:
        rows, images = [], []
        for name, x, y in heldout_pairs(pairs, video, keyframes):
            out = fx.apply(x, strength=strength, tile=tile)
            rows.append({"name": name, "psnr": psnr(out, y), "ssim": ssim(out, y)})
            images.append((x, out, y))
        if png:
            write_grid(png, images)
            report["png"] = str(png)
        report.update(pairs=len(rows), psnr=float(np.mean([r["psnr"] for r in rows])),
                      ssim=float(np.mean([r["ssim"] for r in rows])), per_pair=rows)
    if video:
        inputs = clip_frames(video)
        if len(inputs) < 2:
            raise UserInputError("the temporal measure needs a clip of at least 2 frames", path=video)
        outputs = [fx.apply(f, strength=strength, tile=tile) for f in inputs]
        label, refs = reference_frames(reference, inputs, fx.spec)
        flows = clip_flows(inputs)
        report["temporal"] = {"clip": str(video), "frames": len(inputs), "reference": label,
                              **temporal_ratio(outputs, refs, flows)}
    return report


def format_report(report: dict) -> str:
    lines = [f"model: {report['model']} ({report['path']})"]
    if "psnr" in report:
        lines.append(f"held-out pairs: {report['pairs']}  PSNR {report['psnr']:.2f} dB  SSIM {report['ssim']:.4f}")
        for r in report["per_pair"]:
            lines.append(f"  {r['name']}: PSNR {r['psnr']:.2f} dB  SSIM {r['ssim']:.4f}")
        if report.get("png"):
            lines.append(f"input | output | target rows: {report['png']}")
    t = report.get("temporal")
    if t:
        lines.append(f"temporal ({t['frames']} frames, {t['frame_pairs']} frame pairs, {t['cuts']} cuts skipped): "
                     f"warping error {t['warping_error']:.5f}, reference ({t['reference']}) {t['reference_warping_error']:.5f}, "
                     f"ratio {t['ratio']:.3f} (1.0 = adds no flicker)")
    return "\n".join(lines)
