"""Shipped ganfx models: `<name>.onnx` beside its model card `<name>.md`."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
