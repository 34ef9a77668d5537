"""Effect model cards: teacher, keyframes, model vs keyframe propagation, speed and flicker
against the teacher, the time-to-quality curve, and the commands that reproduce the model.

Written by `python -m ganfx.trainer.model_card` for a model whose contract kind is "effect"
(ganfx.trainer.model_card holds what texture and effect cards share).
"""

from __future__ import annotations

import shlex

from ganfx.runtime.errors import UserInputError

from .effect_data import spread
from .model_card import _closing, portable_path, vgg_credit

_EFFECT_EVAL = "ganfx eval MODEL --video CLIP --propagate-from KEYFRAMES --far N --json"


def check_effect_report(report: dict, source=None) -> None:
    missing = [k for k in ("comparison", "propagation", "temporal", "heldout", "per_pair") if k not in report]
    if missing:
        raise UserInputError(f"not an effect report with the model-vs-propagation comparison (no "
                             f"{', '.join(missing)}); write it with `{_EFFECT_EVAL}`", path=source)


def _eval_command(name: str, report: dict, run_dir) -> str:
    """The `ganfx eval` line that measures the model again as the report did."""
    from .effect_targets import PROCESSES

    t, picked = report["temporal"], report["heldout"]
    args = ["ganfx", "eval", f"{name}.onnx", "--video", portable_path(t["clip"], run_dir),
            "--propagate-from", portable_path(report["propagation"]["folder"], run_dir)]
    if picked["picked"] == "far":
        args += ["--far", str(len(picked["frames"]))]
    else:
        args += ["--keyframes", portable_path(picked["folder"], run_dir)]
    ref = t.get("reference_effect")
    if ref:
        args += ["--reference", ref if ref in PROCESSES or ref == "source" else portable_path(ref, run_dir)]
    return " ".join(shlex.quote(a) for a in args + ["--png", f"{name}-eval.png", "--json"]) + f" > {name}-eval.json"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def effect_card(path, spec, config, report, data, notes, png, training_note, run_dir, curve, report_path) -> str:
    from .effect_targets import PROCESSES

    check_effect_report(report, report_path)
    name, tr, effect = spec.name, spec.training, config["effect"]
    teacher = effect.get("target_process") or tr.get("target_process")
    t, prop, c, picked, speed = (report["temporal"], report["propagation"], report["comparison"], report["heldout"],
                                 report.get("speed"))
    clip = portable_path(t["clip"], run_dir)
    look = "look" in c["model"]  # reports from before the look distance have none
    frames = ", ".join(r["name"] for r in report["per_pair"])
    by_teacher = teacher is not None and picked.get("targets") == f"target process {teacher}"
    last = "the teacher" if by_teacher else "the target"
    if picked["picked"] == "far":
        held = (f"frames {frames}, picked by `ganfx eval --far {len(picked['frames'])}` farthest from the keyframes "
                f"within their shots (targets: {picked['targets']})")
    else:
        held = f"frames {frames} (targets from `{portable_path(picked['folder'], run_dir)}`)"
    fp16 = path.with_name(path.stem + ".fp16.onnx")
    lines = [
        f"# {name} — ganfx effect model",
        "",
        spec.description,
        "",
        f"![held-out frames: input | propagation | model | {last.split()[-1]}]({png or name + '-eval.png'})",
        "",
        f"*Held-out frames of `{clip}` (never seen in training), left to right: the input, keyframe propagation "
        f"({prop['method']}), this model, {last}.*",
        "",
        "## Use",
        "",
        "```sh",
        f"ganfx render {name} plate.mov -o {name}.mp4",
        "```",
        "",
        f"File: `{path.name}` ({path.stat().st_size / 1e6:.2f} MB). Halo {spec.halo} px, size multiple "
        f"{spec.multiple}. onnxruntime vs torch at export: max abs difference {spec.parity:.2e}.",
        "",
        "## Teacher",
        "",
    ]
    if teacher in PROCESSES:
        doc = " ".join(PROCESSES[teacher].__doc__.split())
        lines.append(f"Target process `{teacher}` (`ganfx.trainer.effect_targets`): {doc} It treated the keyframes "
                     f"the model learned from, and is the reference of the measures below.")
    else:
        lines.append(f"No named target process: the keyframes were treated outside ganfx; the measures below use "
                     f"{t['reference']} as the reference.")
    lines += [
        "",
        "## Data and licence",
        "",
        data,
        "",
        f"- Keyframes (the training pairs): frames {', '.join(map(str, prop['keyframes']))} of `{clip}`.",
        f"- Held out during training (the time-to-quality curve): {tr.get('holdout', 0)} frames"
        + (f" from `{effect['holdout']}`." if effect.get("holdout") else "."),
        f"- Held out for the measures below: {held}.",
        f"- Model licence: {spec.license}",
        *(["", vgg_credit("--vgg")] if effect.get("vgg", 0) > 0 else []),
        "",
        "## Quality: model vs keyframe propagation",
        "",
        f"Measured by `ganfx eval` through onnxruntime on {report['pairs']} held-out frames. Keyframe propagation "
        f"(the baseline, docs/architecture.md \"Quality measures\"): every frame made from the keyframes along OpenCV "
        f"DIS optical flow ({prop['flow']}), the better of its variants by held-out PSNR ({prop['method']}). "
        f"Warping-error ratio: the warping error over the clip ({t['frames']} frames, {t['frame_pairs']} frame pairs, "
        f"{t['cuts']} cuts skipped) over that of the reference ({t['reference']}) on the same flows; below 1 is "
        f"steadier than the reference."
        + (" Look distance: per 16 px cell, the W1 distance between the sorted pixel differences of output and "
           "target (how flat and how sharp, not where the strokes land); lower is nearer the teacher's look."
           if look else ""),
        "",
        "| method | PSNR | SSIM |" + (" look distance |" if look else "") + " warping-error ratio |",
        "|---|---|---|" + ("---|" if look else "") + "---|",
    ]
    for label, m in (("ganfx (this model)", c["model"]), (f"keyframe propagation ({c['propagation']['method']})",
                                                          c["propagation"])):
        lines.append(f"| {label} | {m['psnr']:.2f} dB | {m['ssim']:.4f} |" + (f" {m['look']:.4f} |" if look else "")
                     + f" {m['ratio']:.3f} |")
    if "look_floor" in report:
        lines.append(f"| the teacher repainted with other seeds | | | {report['look_floor']:.4f} | |")
    gain = c["psnr_gain_db"]
    lines += ["", f"The model is {abs(gain):.2f} dB {'above' if gain >= 0 else 'below'} keyframe propagation.", "",
              "| frame | frames to a keyframe | model PSNR | model SSIM |" + (" model look |" if look else "")
              + " propagation PSNR | propagation SSIM |" + (" propagation look |" if look else ""),
              "|---|---|---|---|---|---|" + ("---|---|" if look else "")]
    for r in report["per_pair"]:
        gap = "-" if r.get("gap") is None else r["gap"]
        lines.append(f"| {r['name']} | {gap} | {r['psnr']:.2f} | {r['ssim']:.4f} |" + (f" {r['look']:.4f} |" if look else "")
                     + f" {r['propagation_psnr']:.2f} | {r['propagation_ssim']:.4f} |"
                     + (f" {r['propagation_look']:.4f} |" if look else ""))
    lines += ["", "## Speed and flicker against the teacher", ""]
    if speed:
        w, h = speed["size"]
        lines += [
            f"Seconds per frame at the clip's size ({w}x{h}), mean of {speed['frames']} frames, both measured by "
            f"`ganfx eval` in one process at their default threads; speed ratio = teacher time / model time "
            f"(above 1: the model is faster). Flicker ratio = the warping-error ratio above.",
            "",
            f"| | teacher (`{speed['teacher']}`) | this model (onnxruntime, {speed['provider']}) | ratio |",
            "|---|---|---|---|",
            f"| time per frame | {_ms(speed['teacher_s_per_frame'])} | {_ms(speed['model_s_per_frame'])} | "
            f"speed {speed['speed_ratio']:.2f} |",
        ]
    else:
        lines += [f"Speed: not measured (the reference, {t['reference']}, is not a named target process).", "",
                  "| | reference | this model | ratio |", "|---|---|---|---|"]
    lines += [f"| warping error | {t['reference_warping_error']:.5f} | {t['warping_error']:.5f} | "
              f"flicker {t['ratio']:.3f} |", "", "## Time to quality", ""]
    png_name, points = curve or (None, [])
    if points:
        lines += ([f"![held-out PSNR vs training minutes]({png_name})", ""] if png_name else []) + [
            f"Held-out PSNR of the EMA generator on the run's {tr.get('holdout', 0)} held-out frames, measured by the "
            f"training loop (torch) at each sample, against minutes of training (optimisation time only).",
            "",
            "| training minutes | held-out PSNR |",
            "|---|---|",
            *(f"| {m:.3g} | {v:.2f} dB |" for m, v in spread(points, 8)),
        ]
    else:
        lines.append("The run logged no held-out PSNR (trained without held-out frames): no curve.")
    lines.append("")
    minutes = (tr.get("training_seconds") or 0) / 60
    training = (f"{tr['iterations']} iterations, {minutes:.1f} minutes of training (data fingerprint "
                f"`{tr.get('data_fingerprint', '')}`).")
    lines += _closing(spec, config, notes, training, training_note, "ganfx.trainer.effect_task.EffectConfig",
                      _eval_command(name, report, run_dir), fp16.is_file())
    return "\n".join(lines)
