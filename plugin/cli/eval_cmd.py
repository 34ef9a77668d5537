"""`ganfx eval MODEL ...`: measure a model the way DESIGN.md defines quality.

    ganfx eval brick --exemplar skimage:brick                  # SWD beside random-phase noise and quilting
    ganfx eval wall.onnx --exemplar wall.jpg --png wall-eval.png --json

Texture models: SWD (x1e3) of generated images against the exemplar, beside the two
classical baselines computed on the spot, and a side-by-side PNG
(exemplar | ganfx | random-phase noise | image quilting). Runs through the runtime (no torch).
Effect models: PSNR/SSIM on held-out pairs and the temporal warping-error ratio on a clip
(`ganfx eval watercolor --video clip.mp4 --keyframes held/`, see ganfx.plugin.cli.eval_effect).

Evaluation is chosen by the model's kind from the table EVALUATORS (kind -> function).
"""

from __future__ import annotations

import json
from pathlib import Path


def add_arguments(parser):
    parser.add_argument("model", help="model name (see `ganfx models`) or path to an .onnx file")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    tex = parser.add_argument_group("texture models")
    tex.add_argument("--exemplar", metavar="IMG", help="the exemplar image (or skimage:NAME[:x,y,w,h])")
    tex.add_argument("--seeds", type=int, default=3, help="images per method, SWD averaged (default 3)")
    tex.add_argument("--png", metavar="PATH",
                     help="side-by-side PNG to write (default: <model>-eval.png in the current folder)")
    from ganfx.plugin.cli.eval_effect import add_effect_arguments

    add_effect_arguments(parser)


def _texture(args, path) -> tuple:
    from ganfx.runtime.errors import UserInputError
    from ganfx.trainer.texture_eval import evaluate_texture, format_report

    if not args.exemplar:
        raise UserInputError("texture models are measured against their exemplar: give --exemplar IMG")
    png = args.png or f"{Path(path).name.split('.')[0]}-eval.png"
    report = evaluate_texture(path, args.exemplar, seeds=args.seeds, png=png)
    return report, format_report(report)


def _effect(args, path) -> tuple:
    from ganfx.plugin.cli.eval_effect import evaluate

    return evaluate(args, path)


# model kind -> function(args, model path) -> (report dict, text for the console)
EVALUATORS = {
    "texture": _texture,
    "effect": _effect,
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
