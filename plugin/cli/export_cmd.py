"""`ganfx export RUN -o model.onnx [--fp16]`: a training run to a self-describing ONNX model.

    ganfx export runs/00003-brick -o brick.onnx
    ganfx export runs/00003-brick/checkpoint-004000.json -o exported_models/brick.onnx --fp16 \\
        --description "Brick wall" --license "CC0 (data: scikit-image brick)"

Exports the EMA generator of the run's latest checkpoint (or the one named) with dynamic
height/width, writes the ganfx contract, runs onnx.checker and compares onnxruntime with
torch; a difference above 1e-3 fails the export. --fp16 also writes <name>.fp16.onnx.
Only the generator is built (from the checkpoint's config and weights): the training data
need not be at hand, and a run trained on a GPU exports on a CPU.
"""

from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("run", metavar="RUN", help="run folder (latest checkpoint) or a checkpoint .json/.safetensors")
    parser.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    parser.add_argument("--fp16", action="store_true", help="also write <name>.fp16.onnx (fp16 inside, fp32 in/out)")
    parser.add_argument("--description", default="", help="one line for hosts and `ganfx models`")
    parser.add_argument("--license", default="", help="licence of the model and its training data")
    parser.add_argument("--version", default="1.0", help="model version (default 1.0)")


def run(args) -> int:
    from ganfx.runtime.errors import require

    require("torch", "torch", extra="train")
    require("onnx", "onnx", extra="train")
    from ganfx.trainer.export import export_run

    path, parity = export_run(args.run, args.output, fp16=args.fp16, description=args.description,
                              license=args.license, version=args.version)
    print(f"wrote {path} (onnxruntime vs torch max abs difference {parity:.2e})")
    if args.fp16:
        print(f"wrote {path.with_name(path.stem + '.fp16.onnx')}")
    return 0
