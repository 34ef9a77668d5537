"""`ganfx eval MODEL --exemplar IMG [--json]`: how close a model comes to its data, beside baselines."""

from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("model", help="model name or .onnx path")
    parser.add_argument("--exemplar", help="texture models: the exemplar image (or skimage:NAME[:x,y,w,h])")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")


def run(args) -> int:
    raise NotImplementedError
