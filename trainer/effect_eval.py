"""Evaluate an exported effect model: held-out PSNR/SSIM, the temporal warping-error ratio,
and the same figures for keyframe propagation, the baseline the model has to beat.

Runs the ONNX file through the runtime (what users get, no torch):

    report = evaluate_effect("watercolor", keyframes="holdout/", video="clip.mp4", propagate_from="kf/")
    report["psnr"], report["ssim"], report["temporal"]["ratio"]
    report["comparison"]["model"], report["comparison"]["propagation"]   # psnr, ssim, ratio side by side
    report["speed"]["speed_ratio"]        # teacher s/frame over model s/frame (a named target process only)
    report["look"], report["look_floor"]   # look distance to the targets; the teacher repainted (seeded only)

Held-out pairs come as a pairs folder (`pairs=DIR`, DIR/input + DIR/target), as targets
named by frame number with their inputs decoded from `video` (`keyframes=DIR`), or are
picked by the eval (`far=N`: the N frames of the clip farthest from the keyframes of
`propagate_from`, in their shots, see `far_frames`; their targets are the reference
effect's frames, so the reference must be a target process or a treated video). With
`video`, the whole clip is rendered and its warping error is compared with that of the
reference effect on the same clip and the same flows: `reference` is a named target process
(ganfx.trainer.effect_targets; seeded ones get the frame number), a video of the target
effect, or "source"; by default the process the model was trained to imitate (its
ganfx.training "target_process"), else the source clip.

`propagate_from=DIR`: the painted keyframes the model learned from (named by frame number of
`video`). Every frame of the clip is then also made by warping them along DIS optical flow
(ganfx.trainer.propagation: the nearest keyframe of the shot, and a blend of the nearest
before and after); both variants are measured like the model, and the one with the higher
held-out PSNR is "propagation" in the comparison. Held-out frames must not be keyframes; each
held-out row records its gap (frames to the nearest keyframe of its shot), since propagation
is near-exact next to a keyframe: hold out frames far from them (`far=N` does).

Speed: with a clip and a named target process as the reference, report["speed"] holds the
seconds per frame of the teacher (the process, frame by frame, at the clip's size) and of the
model through the runtime (onnxruntime, the same frames, tiles and strength), each the mean
over the clip's frames, and "speed_ratio" = teacher seconds / model seconds (above 1: the
model is faster). The first frame's start-up (onnxruntime's first run) is in the mean.

Look: beside PSNR/SSIM each held-out frame gets its look distance to the target
(effect_metrics.look_distance: per 16 px cell, how flat and how sharp, not where the strokes
land), for the model and for propagation; lower is nearer the teacher's look. With a seeded
target process as the reference (strokes drawn at random, seeded by the frame number),
report["look_floor"] is the same distance of the teacher itself repainted with other seeds
(frame number + 1000): the look's own spread, which no model can be expected to beat.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ganfx.runtime.errors import UserInputError
from ganfx.runtime.frames import from_unit, to_unit

from .effect_data import decode_clip, load_pairs, numbered_images, read_image, spread
from .effect_metrics import clip_flows, look_distance, psnr, ssim, temporal_ratio
from .effect_targets import PROCESSES, SEEDED, apply_process
from .propagation import VARIANTS, propagate, shots_from_flows


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


def default_reference(reference, model_spec) -> str:
    """The reference effect: as given, else the process the model was trained on, else "source"."""
    return reference or model_spec.training.get("target_process") or "source"


def timed(fn, frames: list) -> tuple:
    """([fn(frame, number) for each frame], mean seconds per frame)."""
    start = time.perf_counter()
    out = [fn(f, i) for i, f in enumerate(frames)]
    return out, (time.perf_counter() - start) / len(frames)


def reference_frames(reference: str, inputs: list, model_spec) -> tuple:
    """(label, frames of the reference effect on the clip, seconds per frame of a target process
    or None for a video or the source)."""
    reference = default_reference(reference, model_spec)
    if reference == "source":
        return "source clip", inputs, None
    if reference in PROCESSES:
        frames, seconds = timed(lambda f, i: apply_process(reference, f, frame=i), inputs)
        return f"target process {reference}", frames, seconds
    path = Path(reference)
    if not path.is_file():
        known = ", ".join(PROCESSES)
        raise UserInputError(f"the reference effect must be 'source', a target process ({known}) or a video file, "
                             f"got {reference!r}")
    frames = clip_frames(path)
    if len(frames) != len(inputs) or frames[0].shape != inputs[0].shape:
        raise UserInputError(f"reference video has {len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]}, "
                             f"the clip {len(inputs)} of {inputs[0].shape[1]}x{inputs[0].shape[0]}", path=path)
    return f"video {path.name}", frames, None


def write_grid(path, rows: list, count: int = 4) -> None:
    """PNG of up to `count` rows (input | output | target, or input | propagation | model | target),
    spread over the held-out pairs."""
    from ganfx.runtime.io.images import write_png

    lines = [np.concatenate([_to_uint8(img) for img in row], axis=1) for row in spread(rows, count)]
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0)), constant_values=255) for line in lines]
    write_png(path, np.concatenate(lines, axis=0))


def gap_to_keyframe(frame: int, keyframes, shots) -> int | None:
    """Frames from `frame` to the nearest keyframe of its shot (None: none in its shot)."""
    return min((abs(frame - k) for k in keyframes if shots[k] == shots[frame]), default=None)


def far_frames(count: int, keyframes, shots) -> list:
    """The `count` frames to hold out, far from the keyframes: farthest-point picks over the
    frames of shots that hold a keyframe, each pick the frame farthest (in frames, within its
    shot) from the keyframes and the frames already picked; ties go to the earlier frame."""
    keys = set(keyframes)
    pool = [t for t in range(len(shots)) if t not in keys and any(shots[k] == shots[t] for k in keys)]
    picked = []
    for _ in range(min(count, len(pool))):
        anchors = keys | set(picked)
        best = max((t for t in pool if t not in picked), key=lambda t: (gap_to_keyframe(t, anchors, shots), -t))
        picked.append(best)
    return sorted(picked)


def _painted_keyframes(video, folder) -> dict:
    """{frame number: target float 0..1} of the keyframes a model learned from."""
    return {int(name): y for name, _, y in heldout_pairs(video=video, keyframes=folder)}


def _heldout_rows(pairs, video, keyframes, far, refs, painted, shots) -> list:
    """[(name, frame number or None, input, target)] of the held-out pairs."""
    if far:
        if refs is None:
            raise UserInputError("held-out frames picked by the eval take their targets from the reference effect: "
                                 "give a target process or a treated video as the reference "
                                 "(this one is the source clip)")
        return [(str(n), n, None, refs[n]) for n in far_frames(far, painted, shots)]
    rows = [(name, None if pairs else int(name), x, y) for name, x, y in heldout_pairs(pairs, video, keyframes)]
    if painted is not None:
        if pairs:
            raise UserInputError("propagation makes frames of the clip: give the held-out targets by frame number "
                                 "(keyframes folder) or let the eval pick them, not a pairs folder")
        both = sorted({r[1] for r in rows} & set(painted))
        if both:
            raise UserInputError(f"frames {both} are both keyframes the propagation starts from and held out",
                                 path=keyframes)
    return rows


def _propagation_report(prop, rows, refs_label, refs, flows, keyframes_dir) -> dict:
    """Per-variant held-out PSNR/SSIM and warping error of the propagated clip; the better variant."""
    variants = {}
    for v in VARIANTS:
        frames = prop.frames[v]
        per = [(psnr(frames[n], y), ssim(frames[n], y), look_distance(frames[n], y)) for _, n, _, y in rows]
        variants[v] = {"psnr": float(np.mean([p for p, _, _ in per])), "ssim": float(np.mean([q for _, q, _ in per])),
                       "look": float(np.mean([d for _, _, d in per])),
                       "per_pair": [{"psnr": p, "ssim": q, "look": d} for p, q, d in per],
                       **temporal_ratio(frames, refs, flows)}
    best = max(VARIANTS, key=lambda v: variants[v]["psnr"])
    return {"keyframes": prop.keyframes, "folder": str(keyframes_dir), "flow": prop.flow, "method": best,
            "psnr": variants[best]["psnr"], "ssim": variants[best]["ssim"], "look": variants[best]["look"],
            "warping_error": variants[best]["warping_error"], "ratio": variants[best]["ratio"],
            "reference": refs_label, "variants": variants}


def evaluate_effect(model, pairs=None, video=None, keyframes=None, reference=None, tile=None,
                    strength: float = 1.0, png=None, propagate_from=None, far=None) -> dict:
    """Measure an effect model; see the module docstring. `model` is a name, path or loaded Model.
    `png`: also write held-out rows input | output | target there (input | propagation | model |
    target with `propagate_from`)."""
    from ganfx.runtime.model import Model, load_model

    fx = model if isinstance(model, Model) else load_model(model)
    if fx.spec.kind != "effect":
        raise UserInputError(f"{fx.spec.name} is a {fx.spec.kind} model; effect evaluation needs an effect model")
    if not (pairs or keyframes or video):
        raise UserInputError("nothing to evaluate: give held-out pairs, held-out keyframes of a clip, or a clip")
    if (propagate_from or far) and not video:
        raise UserInputError("keyframe propagation runs along the clip: give the clip too")
    if far and not propagate_from:
        raise UserInputError("held-out frames far from the keyframes need the keyframes (propagate_from)")
    if far and (pairs or keyframes):
        raise UserInputError("give the held-out targets or let the eval pick them (far), not both")
    if propagate_from and not (keyframes or far):
        raise UserInputError("propagation is measured on held-out frames of the clip: give their targets by frame "
                             "number (keyframes folder) or let the eval pick them (far)")
    report = {"model": fx.spec.name, "path": str(fx.path)}
    reference = default_reference(reference, fx.spec)
    inputs = outputs = flows = shots = refs = label = prop = teacher_s = None
    painted = _painted_keyframes(video, propagate_from) if propagate_from else None
    rows = []
    if (pairs or keyframes) and not far:  # checked before anything is rendered
        rows = _heldout_rows(pairs, video, keyframes, None, None, painted, None)
    if video:
        inputs = clip_frames(video)
        if len(inputs) < 2:
            raise UserInputError("the temporal measure needs a clip of at least 2 frames", path=video)
        label, refs, teacher_s = reference_frames(reference, inputs, fx.spec)
        flows = clip_flows(inputs)
        shots = shots_from_flows(flows)
    if far:
        rows = _heldout_rows(None, video, None, far, None if label == "source clip" else refs, painted, shots)
        report["heldout"] = {"picked": "far", "frames": [n for _, n, _, _ in rows], "targets": label}
    elif keyframes and not pairs:
        report["heldout"] = {"picked": "folder", "folder": str(keyframes), "frames": [n for _, n, _, _ in rows]}
    rows = [(name, n, inputs[n] if x is None else x, to_unit(np.asarray(y))) for name, n, x, y in rows]
    if video:
        outputs, model_s = timed(lambda f, i: fx.apply(f, strength=strength, tile=tile), inputs)
        if teacher_s is not None:
            report["speed"] = {"teacher": reference, "frames": len(inputs),
                               "size": [inputs[0].shape[1], inputs[0].shape[0]], "provider": fx.providers[0],
                               "teacher_s_per_frame": teacher_s, "model_s_per_frame": model_s,
                               "speed_ratio": teacher_s / model_s}
    if painted is not None:
        prop = propagate(inputs, painted, flows=flows)
    if rows:
        results, images = [], []
        for name, n, x, y in rows:
            out = outputs[n] if n is not None and outputs is not None else fx.apply(x, strength=strength, tile=tile)
            row = {"name": name, "psnr": psnr(out, y), "ssim": ssim(out, y), "look": look_distance(out, y)}
            if prop is not None:
                row["gap"] = gap_to_keyframe(n, prop.keyframes, shots)
            results.append(row)
            images.append((x, out, y))
        report.update(pairs=len(results), psnr=float(np.mean([r["psnr"] for r in results])),
                      ssim=float(np.mean([r["ssim"] for r in results])),
                      look=float(np.mean([r["look"] for r in results])), per_pair=results)
        if reference in SEEDED and all(n is not None for _, n, _, _ in rows):
            report["look_floor"] = float(np.mean([look_distance(apply_process(reference, x, frame=n + 1000), y)
                                                  for _, n, x, y in rows]))
        if prop is not None:
            p = report["propagation"] = _propagation_report(prop, rows, label, refs, flows, propagate_from)
            for row, per, (name, n, x, y) in zip(results, p["variants"][p["method"]]["per_pair"], rows):
                row.update(propagation_psnr=per["psnr"], propagation_ssim=per["ssim"], propagation_look=per["look"])
            images = [(x, prop.frames[p["method"]][n], out, y) for (x, out, y), (_, n, _, _) in zip(images, rows)]
        if png:
            write_grid(png, images)
            report["png"] = str(png)
    if video:
        report["temporal"] = {"clip": str(video), "frames": len(inputs), "reference": label,
                              "reference_effect": reference,
                              **temporal_ratio(outputs, refs, flows)}
    if "propagation" in report:
        p, t = report["propagation"], report["temporal"]
        report["comparison"] = {
            "model": {"psnr": report["psnr"], "ssim": report["ssim"], "look": report["look"], "ratio": t["ratio"]},
            "propagation": {"psnr": p["psnr"], "ssim": p["ssim"], "look": p["look"], "ratio": p["ratio"],
                            "method": p["method"]},
            "psnr_gain_db": report["psnr"] - p["psnr"],
        }
    return report


def format_report(report: dict) -> str:
    lines = [f"model: {report['model']} ({report['path']})"]
    prop = report.get("propagation")
    if "psnr" in report:
        picked = report.get("heldout")
        if picked and picked["picked"] == "far":
            lines.append(f"held-out frames picked farthest from the keyframes: {', '.join(map(str, picked['frames']))} "
                         f"(targets: {picked['targets']})")
        lines.append(f"held-out pairs: {report['pairs']}  PSNR {report['psnr']:.2f} dB  SSIM {report['ssim']:.4f}"
                     f"  look {report['look']:.4f}")
        for r in report["per_pair"]:
            line = f"  {r['name']}: PSNR {r['psnr']:.2f} dB  SSIM {r['ssim']:.4f}  look {r['look']:.4f}"
            if "propagation_psnr" in r:
                gap = "no keyframe in its shot" if r["gap"] is None else f"{r['gap']} frames from a keyframe"
                line += (f"   propagation PSNR {r['propagation_psnr']:.2f} dB  SSIM {r['propagation_ssim']:.4f}"
                         f"  look {r['propagation_look']:.4f}   ({gap})")
            lines.append(line)
        if "look_floor" in report:
            lines.append(f"look distance of the teacher repainted with other seeds (its floor): {report['look_floor']:.4f}")
        if report.get("png"):
            what = "input | propagation | model | target" if prop else "input | output | target"
            lines.append(f"{what} rows: {report['png']}")
    t = report.get("temporal")
    if t:
        lines.append(f"temporal ({t['frames']} frames, {t['frame_pairs']} frame pairs, {t['cuts']} cuts skipped): "
                     f"warping error {t['warping_error']:.5f}, reference ({t['reference']}) {t['reference_warping_error']:.5f}, "
                     f"ratio {t['ratio']:.3f} (1.0 = adds no flicker)")
    speed = report.get("speed")
    if speed:
        w, h = speed["size"]
        lines.append(f"speed at {w}x{h} (mean of {speed['frames']} frames): teacher ({speed['teacher']}) "
                     f"{speed['teacher_s_per_frame'] * 1e3:.1f} ms/frame, model ({speed['provider']}) "
                     f"{speed['model_s_per_frame'] * 1e3:.1f} ms/frame, speed ratio {speed['speed_ratio']:.2f} "
                     f"(teacher time / model time; above 1 = the model is faster)")
    if prop:
        c = report["comparison"]
        keys = ", ".join(str(k) for k in prop["keyframes"])
        lines.append(f"model vs keyframe propagation (keyframes {keys}; {prop['flow']} DIS flow; "
                     f"better variant: {prop['method']}):")
        lines.append(f"  {'':<24}{'PSNR':>10}{'SSIM':>9}{'look':>9}{'warping-error ratio':>22}")
        rows = [("model", c["model"])] + [(f"propagation, {v}", prop["variants"][v]) for v in VARIANTS]
        for name, m in rows:
            mark = " *" if name.endswith(prop["method"]) else ""
            lines.append(f"  {name + mark:<24}{m['psnr']:>7.2f} dB{m['ssim']:>9.4f}{m['look']:>9.4f}{m['ratio']:>22.3f}")
        gain = c["psnr_gain_db"]
        lines.append(f"  model {'above' if gain >= 0 else 'below'} propagation by {abs(gain):.2f} dB")
    return "\n".join(lines)
