"""Model cards: the Markdown file shipped beside every model, written from what was measured.

    python -m ganfx.trainer.model_card exported_models/brick.onnx --run runs/00000-brick \\
        --eval exported_models/brick-eval.json --data "scikit-image `brick`: ..." --notes notes.md

The card states the data and its licence, the full training config, iterations and training
time (from the checkpoint), the SWD and copy-share table beside both baselines (from
`ganfx eval --json`; reports from before the copy measure get the SWD column alone),
the side-by-side PNG, and the exact commands that reproduce the model. A card holds no
path of the machine that trained: data paths in its config are shown relative to the run
folder when inside it, as typed when relative, else by file name (`portable_config`).
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path, PurePath

from ganfx.runtime.contract import read_spec
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.files import write_atomic

from .config import parse_run_config
from .texture_eval import copy_goal_line, percent

LABELS = {"ganfx": "ganfx (this model)", "random_phase": "random-phase noise (Galerne et al. 2011)",
          "quilting": "image quilting (Efros & Freeman 2001)"}


def portable_path(value, run_dir=None):
    """A data path as a card shows it: relative to the run folder if inside it, as typed if
    relative (and not climbing out with ..), else its file name. skimage:NAME specs unchanged."""
    if value is None or str(value).startswith("skimage:"):
        return value
    path = PurePath(str(value))
    if run_dir is not None:
        try:
            return Path(value).resolve().relative_to(Path(run_dir).resolve()).as_posix()
        except ValueError:
            pass
    if not path.is_absolute() and ".." not in path.parts:
        return path.as_posix()
    return path.name


def portable_config(run_config: dict, run_dir=None) -> dict:
    """The run config with every data path of its task config made portable (see portable_path)."""
    name, _, task_cfg = parse_run_config(run_config)
    task = dict(run_config.get(name, {}))
    for field in getattr(type(task_cfg), "PATH_FIELDS", ()):
        if field not in task:
            continue
        value = task[field]
        task[field] = [portable_path(v, run_dir) for v in value] if isinstance(value, list) else \
            portable_path(value, run_dir)
    return {**run_config, name: task}


def _train_command(config: dict, runs: str = "runs") -> str:
    """The `ganfx train texture` command line that rebuilds this exact config."""
    from .texture_task import TextureConfig

    _, loop, tex = parse_run_config(config)
    base_loop, base_tex = type(loop)(), TextureConfig()
    args = ["ganfx", "train", "texture", *tex.exemplars]
    flags = {"name": "--name", "crop": "--crop", "batch": "--batch", "scale_jitter": "--scale-jitter",
             "augment": "--augment", "noise_channels": "--noise-channels", "fine_noise": "--fine-noise",
             "waves": "--waves", "lowpass": "--lowpass", "stride": "--stride",
             "g_widths": "--g-widths", "cell_blocks": "--cell-blocks", "dilations": "--dilations",
             "margin_cells": "--margin-cells",
             "d_width": "--d-width", "d_downs": "--d-downs", "loss": "--loss", "r1_gamma": "--r1-gamma",
             "r1_every": "--r1-every", "swd_weight": "--swd-weight", "lr_g": "--lr-g", "lr_d": "--lr-d", "sample_px": "--sample-px"}
    for field, flag in flags.items():
        value = getattr(tex, field)
        if value != getattr(base_tex, field):
            args += [flag, ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    for field in ("flips", "rot90"):
        if getattr(tex, field):
            args.append(f"--{field}")
    if tex.seed != base_tex.seed:
        args += ["--seed", str(tex.seed)]
    for field, flag in (("iterations", "--iterations"), ("sample_every", "--sample-every"),
                        ("checkpoint_every", "--checkpoint-every"), ("ema_decay", "--ema-decay"),
                        ("device", "--device")):
        if getattr(loop, field) != getattr(base_loop, field):
            args += [flag, str(getattr(loop, field))]
    args += ["--threads", "1", "-o", runs]
    return " ".join(shlex.quote(a) for a in args)


def card_text(onnx_path, run_config: dict, report: dict, data: str, notes: str = "", png: str = "",
              training_note: str = "", run_dir=None) -> str:
    path = Path(onnx_path)
    spec = read_spec(path)
    tr = spec.training
    if run_config.get("task") != "texture":
        raise UserInputError(f"model cards are written for texture runs; this is a {run_config.get('task')} run",
                             path=run_dir)
    config = portable_config(run_config, run_dir)
    config["loop"] = {**config["loop"], "iterations": tr["iterations"], "max_minutes": 0.0}
    size_mb = path.stat().st_size / 1e6
    fp16 = path.with_name(path.stem + ".fp16.onnx")
    swd = report["swd"]
    best = min(swd, key=swd.get)
    copies = report.get("copy")  # absent in reports written before the copy measure
    lines = [
        f"# {spec.name} — ganfx texture model",
        "",
        spec.description,
        "",
        f"![exemplar | ganfx | random-phase noise | image quilting]({png or path.stem + '-eval.png'})",
        "",
        "*Left to right: the exemplar, this model (seed 0), random-phase noise, image quilting.*",
        "",
        "## Use",
        "",
        "```sh",
        f"ganfx generate {spec.name} -o {spec.name}.png --size 1920x1080",
        f"ganfx generate {spec.name} -o {spec.name}.mp4 --size 1280x720 --frames 96 --loop",
        f"ganfx generate {spec.name} -o {spec.name}-tile.png --size 2048x2048 --tileable",
        "```",
        "",
        f"File: `{path.name}` ({size_mb:.2f} MB)" + (f", fp16 variant `{fp16.name}` ({fp16.stat().st_size / 1e6:.2f} MB)"
                                                    if fp16.is_file() else "") + ".",
        f"Noise: {spec.noise.channels} channels, {spec.noise.stride} px per cell, halo {spec.noise.halo} cells "
        f"({spec.halo} px). onnxruntime vs torch at export: max abs difference {spec.parity:.2e}.",
        "",
        "## Data and licence",
        "",
        data,
        "",
        f"Model licence: {spec.license}",
        "",
        "## Quality: SWD " + ("and copying " if copies is not None else "") + "against the exemplar",
        "",
        f"Multi-scale sliced Wasserstein distance (x1e3, lower is better; docs/architecture.md) at the exemplar's size "
        f"({report['size'][0]}x{report['size'][1]}), mean over {report['seeds']} seeds per method, measured by "
        f"`ganfx eval`" + (". Copy share: the share of textured 32x32 patches whose best normalised "
                           "cross-correlation with an exemplar patch (as is or mirrored) exceeds 0.95; image "
                           "quilting copies by design." if copies is not None else ":"),
        "",
        "| method | SWD | copy share |" if copies is not None else "| method | SWD |",
        "|---|---|---|" if copies is not None else "|---|---|",
    ]
    for key in ("ganfx", "random_phase", "quilting"):
        value = f"**{swd[key]:.1f}**" if key == best else f"{swd[key]:.1f}"
        copy = f" {percent(copies.get(key))} |" if copies is not None else ""
        lines.append(f"| {LABELS[key]} | {value} |{copy}")
    beats = [LABELS[b].split(" (")[0] for b, won in report["beats"].items() if won]
    verdict = f"ganfx beats: {', '.join(beats) if beats else 'neither baseline'}"
    if copies is not None:
        verdict += f"; {copy_goal_line(report)}"
    lines += ["", verdict + ".", ""]
    if notes:
        lines += ["## How it looks, honestly", "", notes.strip(), ""]
    minutes = (tr.get("training_seconds") or 0) / 60
    lines += [
        "## Training",
        "",
        f"{tr['iterations']} iterations, {minutes:.0f} minutes of training on one thread of a shared 2-core CPU "
        f"(data fingerprint `{tr.get('data_fingerprint', '')}`)." + (f" {training_note.strip()}" if training_note else ""),
        "",
        "Config (ganfx.trainer.config.LoopConfig and ganfx.trainer.texture_task.TextureConfig):",
        "",
        "```json",
        json.dumps(config, indent=2, sort_keys=True),
        "```",
        "",
        "## Reproduce",
        "",
        "```sh",
        _train_command(config),
        f"ganfx export runs/00000-{spec.name} -o {spec.name}.onnx{' --fp16' if fp16.is_file() else ''} \\",
        f"    --description {shlex.quote(spec.description)} --license {shlex.quote(spec.license)}",
        f"ganfx eval {spec.name}.onnx --exemplar {shlex.quote(report['exemplar'])} --png {spec.name}-eval.png",
        "```",
        "",
        "Training is deterministic for a given machine and thread count (fixed seeds, one thread).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="write a model card beside an exported texture model")
    parser.add_argument("model", help="the exported .onnx file")
    parser.add_argument("--run", required=True, help="the run folder it was exported from")
    parser.add_argument("--eval", required=True, help="`ganfx eval --json` output")
    parser.add_argument("--data", required=True, help="data and licence paragraph (Markdown)")
    parser.add_argument("--notes", default="", help="file with honest notes on how it looks")
    parser.add_argument("--training-note", default="", help="a sentence on how it was trained (e.g. jobs sharing the CPU)")
    args = parser.parse_args(argv)
    report = json.loads(Path(args.eval).read_text())
    notes = Path(args.notes).read_text() if args.notes else ""
    run_config = json.loads((Path(args.run) / "config.json").read_text())
    report_png = Path(report.get("png", "")).name
    text = card_text(args.model, run_config, report, args.data, notes, report_png, args.training_note,
                     run_dir=args.run)
    out = Path(args.model).with_suffix(".md")
    write_atomic(out, text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
