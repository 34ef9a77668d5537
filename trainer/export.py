"""Export a trained generator to ONNX with the ganfx contract, checked and measured.

    from ganfx.trainer.export import export_run
    path, parity = export_run("runs/00003-brick", "brick.onnx", fp16=True)   # also writes brick.fp16.onnx

Generic over tasks, and needing nothing but the checkpoint: the task class named in its
config (ganfx.trainer.tasks) builds only the generator network from that config, the EMA
weights are loaded into it, and the task's static `export_plan` gives an `ExportPlan`
(module, ModelSpec, example input, parity inputs) from the generator, the config and what
the checkpoint recorded about the data (its training summary and the loop's evaluation of
that EMA generator). No training data, discriminator or optimiser is built, so a run
exports after its data has moved. This module then exports with dynamic N/H/W, writes the
contract into metadata_props, runs `onnx.checker`, and compares onnxruntime with torch on
inputs that were not used for tracing, sized unlike the example; the max abs difference is
stored in `ganfx.parity` and the export fails above 1e-3 (fp32). The file appears only when
complete.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganfx.runtime.contract import ModelSpec
from ganfx.runtime.errors import ModelLoadError, UserInputError
from ganfx.runtime.files import write_atomic

PARITY_LIMIT = 1e-3
OPSET = 17


class ExportError(ModelLoadError):
    """The exported graph is invalid or disagrees with torch."""


@dataclass
class ExportPlan:
    module: torch.nn.Module  # in eval mode, weights loaded
    spec: ModelSpec  # the contract without parity (filled in here)
    example: torch.Tensor  # traced input # [N,C,h,w] (sound: [N,C,cells])
    parity_inputs: list  # inputs compared torch vs onnxruntime, other sizes than `example`
    input_name: str
    output_name: str
    training: dict = field(default_factory=dict)  # what the task adds to ganfx.training (e.g. held-out PSNR)
    # Fold constant subgraphs into initializers. Off where a constant is derived from a weight and
    # far larger than it (a tile texture's padded 2x2 table: 9.7 MB from a 0.8 MB tile); the
    # runtimes fold it in memory when they load the model, at no cost per frame.
    fold_constants: bool = True


def _to_onnx_bytes(plan: ExportPlan) -> bytes:
    buf = io.BytesIO()
    if plan.example.dim() == 3:  # sound: [N,C,cells] -> [N,C,samples]
        axes, out_axes = {0: "batch", 2: "cells"}, {0: "batch", 2: "samples"}
    else:
        axes, out_axes = {0: "batch", 2: "height", 3: "width"}, {0: "batch", 2: "out_height", 3: "out_width"}
    # The TorchScript exporter handles these plain conv nets with dynamic H/W; silence its deprecation notice.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            plan.module, (plan.example,), buf, input_names=[plan.input_name], output_names=[plan.output_name],
            dynamic_axes={plan.input_name: axes, plan.output_name: out_axes},
            opset_version=OPSET, do_constant_folding=plan.fold_constants, dynamo=False,
        )
    return buf.getvalue()


def _session(model_bytes: bytes, threads: int = 1):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])


def measure_parity(module, model_bytes: bytes, inputs: list, input_name: str) -> float:
    """Max abs difference of onnxruntime against torch over `inputs`."""
    sess = _session(model_bytes)
    worst = 0.0
    with torch.no_grad():
        for x in inputs:
            want = module(x).numpy()
            got = sess.run(None, {input_name: x.numpy().astype(np.float32)})[0]  # fp16 keeps fp32 io
            if got.shape != want.shape:
                raise ExportError(f"onnxruntime output {list(got.shape)} differs from torch {list(want.shape)}")
            worst = max(worst, float(np.abs(got.astype(np.float32) - want).max()))
    return worst


def _with_metadata(model, spec: ModelSpec):
    import onnx

    from ganfx.runtime.contract import DIGEST_KEY
    from ganfx.runtime.onnxfile import weights_digest

    del model.metadata_props[:]
    # The digest of exactly these weights, checked at every load (runtime/contract.py check_weights).
    onnx.helper.set_model_props(model, {**spec.to_metadata(), DIGEST_KEY: weights_digest(model.SerializeToString())})
    model.doc_string = spec.description
    model.producer_name = "ganfx"
    return model


def export_plan(plan: ExportPlan, out_path, fp16: bool = False, limit: float = PARITY_LIMIT) -> tuple:
    """Export, check, measure parity, write. Returns (path, parity) (and writes <name>.fp16.onnx too)."""
    import onnx

    out_path = Path(out_path)
    if out_path.suffix != ".onnx":
        raise UserInputError("the output must end in .onnx", path=out_path)
    if not out_path.parent.is_dir():
        raise UserInputError("output folder does not exist", path=out_path.parent)
    plan.module.eval()
    raw = _to_onnx_bytes(plan)
    parity = measure_parity(plan.module, raw, plan.parity_inputs, plan.input_name)
    if not parity <= limit:
        raise ExportError(f"onnxruntime differs from torch by {parity:.3g} (limit {limit:g}); not written",
                          path=out_path)
    spec = dataclasses.replace(plan.spec, parity=float(parity))
    model = _with_metadata(onnx.load_from_string(raw), spec)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker refused the graph ({str(exc).splitlines()[0]})", path=out_path) from None
    write_atomic(out_path, model.SerializeToString())
    if fp16:
        export_fp16(model, plan, out_path)
    return out_path, parity


def export_fp16(model, plan: ExportPlan, out_path: Path) -> Path:
    """<name>.fp16.onnx: fp16 weights and arithmetic, fp32 at the boundary (keep_io_types)."""
    import onnx
    from onnxconverter_common import float16

    with warnings.catch_warnings():  # it warns for every tiny weight it rounds to zero
        warnings.simplefilter("ignore")
        half = float16.convert_float_to_float16(model, keep_io_types=True)
    raw = half.SerializeToString()
    parity = measure_parity(plan.module, raw, plan.parity_inputs, plan.input_name)
    spec = dataclasses.replace(plan.spec, parity=float(parity))
    half = _with_metadata(half, spec)
    onnx.checker.check_model(half)
    path = out_path.with_name(out_path.name[: -len(".onnx")] + ".fp16.onnx")
    write_atomic(path, half.SerializeToString())
    return path


@dataclass
class RunGenerator:
    """A run's EMA generator, rebuilt from its checkpoint alone (config + weights; no data)."""

    task: str  # task name (ganfx.trainer.tasks)
    cfg: object  # the task's config, as saved
    G: torch.nn.Module  # EMA weights, eval mode, on the CPU
    checkpoint: object  # the ganfx.trainer.checkpoint.Checkpoint it came from

    def export_plan(self, description: str = "", license: str = "", version: str = "1.0") -> ExportPlan:
        from .tasks import task_entry

        task_cls = task_entry(self.task).task_class()
        if not hasattr(task_cls, "export_plan"):
            raise UserInputError(f"the {self.task} task cannot be exported (no export_plan hook)")
        return task_cls.export_plan(self.G, self.cfg, self.checkpoint.meta, description=description,
                                    license=license, version=version)

    def training(self, plan: ExportPlan, extra: dict | None = None) -> dict:
        """ganfx.training: the checkpoint's task summary, the plan's additions, iterations and time.

        Data paths are written as the model card shows them (model_card.portable_path): a model
        carries no folder of the machine it was trained on."""
        from .model_card import portable_path

        meta = self.checkpoint.meta
        summary = dict(meta.get("training", {}))
        for key in getattr(type(self.cfg), "PATH_FIELDS", ()):
            value = summary.get(key)
            if isinstance(value, str):
                summary[key] = portable_path(value)
            elif isinstance(value, list):
                summary[key] = [portable_path(v) if isinstance(v, str) else v for v in value]
        return {**summary, **plan.training, "iterations": self.checkpoint.iteration,
                "training_seconds": meta.get("seconds"), **(extra or {})}


def load_run_generator(run_or_checkpoint) -> RunGenerator:
    """Build a run's generator from its checkpoint's config and load the EMA weights into it."""
    from .checkpoint import load_generator, read_checkpoint
    from .config import parse_run_config
    from .tasks import task_entry

    ckpt = read_checkpoint(run_or_checkpoint)
    name, _, task_cfg = parse_run_config(ckpt.meta.get("config", {}), ckpt.path)
    G = task_entry(name).task_class().generator(task_cfg)
    load_generator(ckpt, G, ema=True)
    G.eval().requires_grad_(False)
    return RunGenerator(name, task_cfg, G, ckpt)


def export_run(run_or_checkpoint, out_path, fp16: bool = False, description: str = "", license: str = "",
               version: str = "1.0", extra_training: dict | None = None) -> tuple:
    """Export the EMA generator of a run folder or checkpoint. Returns (path, parity)."""
    run = load_run_generator(run_or_checkpoint)
    plan = run.export_plan(description=description, license=license, version=version)
    plan.spec = dataclasses.replace(plan.spec, training=run.training(plan, extra_training))
    os.makedirs(Path(out_path).parent or ".", exist_ok=True)
    return export_plan(plan, out_path, fp16=fp16)
