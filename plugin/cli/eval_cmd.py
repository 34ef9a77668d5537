"""`ganfx eval MODEL ...`: measure a model the way docs/architecture.md ("Quality measures") defines quality.

    ganfx eval brick --exemplar skimage:brick                  # SWD and copy share beside random-phase noise and quilting
    ganfx eval wall.onnx --exemplar wall.jpg --png wall-eval.png --json

Texture models: SWD (x1e3) of generated images against the exemplar and their copy share
(the share of textured 32x32 patches with NCC > 0.95 to an exemplar patch, ganfx.trainer.copying;
the goal is at most half of image quilting's), beside the two classical baselines computed on
the spot, and a side-by-side PNG (exemplar | ganfx | random-phase noise | image quilting).
Runs through the runtime (no torch).
Effect models: PSNR/SSIM on held-out pairs and the temporal warping-error ratio on a clip
(`ganfx eval watercolor --video clip.mp4 --keyframes held/`), beside keyframe propagation along
optical flow with `--propagate-from KEYFRAMES` (see ganfx.plugin.cli.eval_effect).
Sound models: the sound-texture statistics distance, a multi-resolution log-spectrum distance
and the copy share of `--seconds` renders, beside phase-randomised noise and a shuffle of
exemplar crops, the loop seam, speed and a spectrogram PNG (`ganfx eval fire --exemplar
fire.ogg`, ganfx.trainer.sound_eval).

Evaluation is chosen by the model's kind from the table EVALUATORS (kind -> function).
Everything is checked before the measuring starts: the picture's name (a new .png in an
existing folder, never one of the inputs; an existing one only with --overwrite) and the
exemplar (a readable image of at least MIN_EXEMPLAR pixels a side).
"""

from __future__ import annotations

import json
from pathlib import Path

# Image quilting moves blocks of at least 16 px over the exemplar, SWD compares 7x7 patches
# over several scales and the copy measure compares 32x32 patches: below 32 px a side there is
# nothing to move or compare.
MIN_EXEMPLAR = 32


def add_arguments(parser):
    parser.add_argument("model", help="model name (see `ganfx models`) or path to an .onnx file")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    tex = parser.add_argument_group("texture and sound models")
    tex.add_argument("--exemplar", metavar="FILE", help="the exemplar image (or skimage:NAME[:x,y,w,h]); "
                                                         "for a sound model, its recording")
    tex.add_argument("--seeds", type=int, default=3, help="renders per method, measures averaged (default 3)")
    tex.add_argument("--seconds", type=float, default=10.0, help="sound models: length of each render (default 10)")
    parser.add_argument("--png", metavar="PATH",
                        help="side-by-side PNG to write (default: <model>-eval.png in the current folder)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --png picture")
    from ganfx.plugin.cli.eval_effect import add_effect_arguments
    from ganfx.plugin.cli.render_cmd import add_engine_arguments

    add_effect_arguments(parser)
    add_engine_arguments(parser)


def _engine_model(args, path):
    """The model opened with the engine flags, or None when they are all defaults (the evaluator opens it)."""
    from ganfx.plugin.cli.render_cmd import engine_settings

    settings = engine_settings(args)
    if settings == {"providers": None, "precision": "fp32", "engine": None}:
        return None
    from ganfx.runtime.model import load_model

    return load_model(path, **settings)


def default_png(path) -> Path:
    return Path(f"{Path(path).name.split('.')[0]}-eval.png")


def check_png(png, overwrite: bool, inputs: dict) -> Path:
    """The picture's name, refused now rather than after minutes of measuring.

    A .png name in an existing folder; never one of `inputs` ({"the exemplar": path, ...};
    even with --overwrite, an input is not replaced by the picture of it); an existing file
    only with `overwrite`.
    """
    import os

    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.files import check_target

    png = Path(png)
    if png.suffix.lower() != ".png":
        raise UserInputError("the side-by-side picture is a PNG: give a name ending in .png", path=png)
    for role, source in inputs.items():
        if source and png.exists() and Path(source).exists() and os.path.samefile(png, source):
            raise UserInputError(f"is {role}; the picture must not replace it", path=png)
    return check_target(png, overwrite, what="picture")


def check_exemplar(spec):
    """Load the exemplar (path or skimage:NAME[:x,y,w,h]) and refuse one too small to measure against."""
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.files import check_regular_file
    from ganfx.trainer.exemplars import SKIMAGE_PREFIX, load_exemplar

    if not str(spec).startswith(SKIMAGE_PREFIX):
        check_regular_file(spec, UserInputError, missing="exemplar not found")  # a pipe would block the reader
    image = load_exemplar(spec)  # [H,W,3] float32
    h, w = image.shape[:2]
    if min(h, w) < MIN_EXEMPLAR:
        raise UserInputError(f"the exemplar is {w}x{h}; measuring needs at least {MIN_EXEMPLAR}x{MIN_EXEMPLAR} pixels",
                             path=None if str(spec).startswith(SKIMAGE_PREFIX) else spec)
    return image


def _texture(args, path) -> tuple:
    from ganfx.runtime.errors import UserInputError
    from ganfx.trainer.texture_eval import evaluate_texture, format_report

    if not args.exemplar:
        raise UserInputError("texture models are measured against their exemplar: give --exemplar IMG")
    if args.seeds < 1:
        raise UserInputError(f"--seeds must be at least 1, got {args.seeds}")
    png = check_png(args.png or default_png(path), args.overwrite,
                    inputs={"the exemplar": args.exemplar, "the model": path})
    check_exemplar(args.exemplar)
    report = evaluate_texture(path, args.exemplar, seeds=args.seeds, png=png, model_obj=_engine_model(args, path))
    return report, format_report(report)


def _sound(args, path) -> tuple:
    from ganfx.runtime.errors import UserInputError
    from ganfx.trainer.sound_eval import evaluate_sound, format_report

    if not args.exemplar:
        raise UserInputError("sound models are measured against their recording: give --exemplar FILE")
    if args.seeds < 1:
        raise UserInputError(f"--seeds must be at least 1, got {args.seeds}")
    if not args.seconds > 0:
        raise UserInputError(f"--seconds must be positive, got {args.seconds}")
    png = check_png(args.png or default_png(path), args.overwrite,
                    inputs={"the exemplar": args.exemplar, "the model": path})
    report = evaluate_sound(path, args.exemplar, seeds=args.seeds, seconds=args.seconds, png=png,
                            model_obj=_engine_model(args, path))
    return report, format_report(report)


def _effect(args, path) -> tuple:
    from ganfx.plugin.cli.eval_effect import evaluate

    return evaluate(args, path)


# model kind -> function(args, model path) -> (report dict, text for the console)
EVALUATORS = {
    "texture": _texture,
    "effect": _effect,
    "sound": _sound,
}


def run(args) -> int:
    from ganfx.runtime.contract import read_spec
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.model import resolve_model_path

    path = resolve_model_path(args.model)
    kind = read_spec(path).kind
    if kind not in EVALUATORS:
        raise UserInputError(f"no evaluation for {kind} models in this build", path=path)
    report, text = EVALUATORS[kind](args, path)
    print(json.dumps(report, indent=2) if args.json else text)
    return 0
