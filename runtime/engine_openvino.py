"""The OpenVINO engine: CPU (bf16 where the processor has it natively) and Intel GPUs.

    from ganfx.runtime.engines import OpenVinoOptions
    model = load_model("watercolor", engine="openvino", precision="bf16")
    model = load_model("watercolor", engine="openvino", options=OpenVinoOptions(device="GPU"), precision="fp16")

Optional: `pip install "ganfx[openvino]"`; nothing here imports openvino until an engine is
made (`openvino_module()` gives the one-line install hint when it is missing).

The ONNX file is read by OpenVINO's ONNX frontend, then graph rewrites run before compiling
(`rewrite_graph`; docs/architecture.md, "Engines"). Two are exact in any precision:

- a convolution over a channel concatenation becomes the sum of convolutions over the parts,
  so the concatenated full-resolution tensor is never built (OpenVINO's CPU plugin otherwise
  runs such a Concat in a planar layout with reorders on either side);
- a 3x3 convolution over a nearest-neighbour x2 upsampling becomes one stride-2 transposed
  convolution (4x4 kernel, padding 1) of the low-resolution input: every output pixel reads
  2x2 low-resolution pixels, 4/9 of the multiply-adds, and no upsampled tensor.

Both change only the order of floating-point additions (fp32 results within ~1e-6). In bf16
and fp16 a third keeps the input and the first convolution at twice the reduced mantissa
(`_precise_input`): the input's rounding was the largest error of the shipped effects.
Compiled models are kept per input shape (the tile shape is fixed, so one or two), compiled
with the input's static shape, and OpenVINO's own model cache lives in the ganfx cache folder,
one subfolder per precision (OpenVINO's cache key does not include the precision).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from .engines import Engine, EngineChoice, OpenVinoOptions, cache_subfolder
from .errors import MissingDependencyError, ModelLoadError, ProviderError, UserInputError, first_line
from .providers import default_threads

log = logging.getLogger("ganfx")

OV_PRECISION = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}
MAX_COMPILED = 4  # compiled shapes kept per engine (hosts tile with one window shape)


def openvino_module():
    """Import openvino or explain which extra installs it."""
    try:
        import openvino
    except ImportError:
        raise MissingDependencyError('openvino is not installed; install it with: pip install "ganfx[openvino]"',
                                     about="engine") from None
    return openvino


def available_devices() -> list:
    """OpenVINO devices here (["CPU"], ["CPU", "GPU"], ...); [] without openvino."""
    try:
        ov = openvino_module()
    except MissingDependencyError:
        return []
    try:
        return list(ov.Core().available_devices)
    except Exception:  # a broken driver must not stop the CPU
        return ["CPU"]


# -- graph rewrites ------------------------------------------------------------------------
def _const(output):
    node = output.get_node()
    return node.get_data() if node.get_type_name() == "Constant" else None


def _conv_attrs(conv) -> dict:
    a = conv.get_attributes()
    return {k: list(a[k]) if k != "auto_pad" else a[k] for k in ("strides", "dilations", "pads_begin", "pads_end",
                                                                 "auto_pad")}


def _consumers(output) -> list:
    return [t.get_node() for t in output.get_target_inputs()]


def _split_concat_convs(ops, model) -> int:
    """Conv(Concat(a, b, ...)) -> Conv_a(a) + Conv_b(b) + ...: the same sum in another order."""
    count = 0
    for conv in [o for o in model.get_ordered_ops() if o.get_type_name() == "Convolution"]:
        concat = conv.input_value(0).get_node()
        weights = _const(conv.input_value(1))
        if (concat.get_type_name() != "Concat" or weights is None or weights.ndim != 4
                or concat.get_attributes().get("axis") not in (1, -3) or len(_consumers(concat.output(0))) != 1):
            continue
        parts = [concat.input_value(i) for i in range(concat.get_input_size())]
        sizes = [p.get_partial_shape()[1] for p in parts]
        if len(parts) < 2 or not all(s.is_static for s in sizes):
            continue
        sizes = [s.get_length() for s in sizes]
        if sum(sizes) != weights.shape[1]:
            continue
        a = _conv_attrs(conv)
        total, start = None, 0
        for part, size in zip(parts, sizes):
            w = ops.constant(np.ascontiguousarray(weights[:, start:start + size]))
            start += size
            y = ops.convolution(part, w, a["strides"], a["pads_begin"], a["pads_end"], a["dilations"], a["auto_pad"])
            total = y if total is None else ops.add(total, y)
        total.set_friendly_name(conv.get_friendly_name())
        for target in list(conv.output(0).get_target_inputs()):
            target.replace_source_output(total.output(0))
        count += 1
    return count


def _nearest_x2(interp) -> bool:
    """True for a nearest-neighbour x2 upsampling of H and W that reads source pixel floor(x / 2)."""
    if interp.get_type_name() != "Interpolate":
        return False
    a = interp.get_attributes()
    if a.get("mode") != "nearest" or any(a.get("pads_begin", [0])) or any(a.get("pads_end", [0])):
        return False
    ok = {("asymmetric", "floor"), ("asymmetric", "round_prefer_floor"), ("half_pixel", "round_prefer_floor"),
          ("half_pixel", "round_prefer_ceil"), ("pytorch_half_pixel", "round_prefer_floor"),
          ("pytorch_half_pixel", "round_prefer_ceil")}
    if (a.get("coordinate_transformation_mode"), a.get("nearest_mode")) not in ok:
        return False
    if a.get("shape_calculation_mode") != "scales" or interp.get_input_size() < 2:
        return False
    scales = _const(interp.input_value(1))
    axes = list(range(interp.get_input_partial_shape(0).rank.get_length())) if interp.get_input_size() < 3 \
        else _const(interp.input_value(2))
    if scales is None or axes is None or interp.get_input_partial_shape(0).rank.get_length() != 4:
        return False
    per_axis = dict(zip([int(x) % 4 for x in np.atleast_1d(axes)], np.atleast_1d(scales).tolist()))
    return per_axis.get(2) == 2.0 and per_axis.get(3) == 2.0 and per_axis.get(0, 1.0) == 1.0 \
        and per_axis.get(1, 1.0) == 1.0


UPSAMPLED_TAPS = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], np.float64)


def transposed_kernel(weights: np.ndarray) -> np.ndarray:
    """3x3 kernels over a nearest x2 upsampling -> the 4x4 kernels of a stride-2 transposed convolution
    (padding 1) over the low-res input. # [Co,Ci,3,3] -> [Co,Ci,4,4]

    Output row Y = 2x + k - 1 takes low-res row x with tap k: k = 0 holds w2, 1 holds w1+w2,
    2 holds w0+w1, 3 holds w0 (UPSAMPLED_TAPS), and likewise for columns.
    """
    m = UPSAMPLED_TAPS
    return np.einsum("ku,oiuv,lv->oikl", m, weights.astype(np.float64), m).astype(weights.dtype)


def _subpixel_convs(ops, model) -> int:
    """Conv3x3(NearestUpsample2x(x)) -> ConvTranspose4x4/stride 2(x): each output pixel reads 2x2 low-res pixels."""
    count = 0
    for conv in [o for o in model.get_ordered_ops() if o.get_type_name() == "Convolution"]:
        interp = conv.input_value(0).get_node()
        weights = _const(conv.input_value(1))
        a = _conv_attrs(conv)
        if (weights is None or weights.shape[2:] != (3, 3) or not _nearest_x2(interp) or a["strides"] != [1, 1]
                or a["dilations"] != [1, 1] or a["pads_begin"] != [1, 1] or a["pads_end"] != [1, 1]
                or a["auto_pad"] not in ("explicit", "notset")):
            continue
        source = interp.input_value(0)
        k = np.ascontiguousarray(transposed_kernel(weights).transpose(1, 0, 2, 3))  # [Ci,Co,4,4]
        y = ops.convolution_backprop_data(source, ops.constant(k), [2, 2], pads_begin=[1, 1], pads_end=[1, 1],
                                          dilations=[1, 1], auto_pad="explicit")
        y.set_friendly_name(conv.get_friendly_name())
        for target in list(conv.output(0).get_target_inputs()):
            target.replace_source_output(y.output(0))
        count += 1
    return count


# -- the engine ------------------------------------------------------------------------------
class OpenVinoEngine(Engine):
    """OpenVINO behind the Engine interface (runtime/engines.py); see the module docstring."""

    name = "openvino"

    def __init__(self, path, spec, options: OpenVinoOptions | None = None, precision: str = "fp32",
                 reason: str = ""):
        ov = self.ov = openvino_module()
        self.path, self.spec = Path(path), spec
        self.options = options or OpenVinoOptions()
        device = self.options.device
        if precision not in OV_PRECISION:
            raise UserInputError(f"precision must be fp32, fp16 or bf16 on openvino, got {precision!r}",
                                 about="precision")
        self.core = ov.Core()
        if device not in self.core.available_devices and device.split(".")[0] not in \
                {d.split(".")[0] for d in self.core.available_devices}:
            raise ProviderError(f"OpenVINO device {device} is not available (has: "
                                f"{', '.join(self.core.available_devices) or 'none'})", about="provider")
        try:
            self.model = self.core.read_model(str(self.path))
        except Exception as exc:  # OpenVINO raises its own untyped errors
            raise ModelLoadError(f"OpenVINO cannot read it: {first_line(exc)}", path=self.path) from None
        self.rewrites = rewrite_graph(self.model, precision) if self.options.rewrite else {}
        self._lo = ROUND[precision] if self.rewrites.get("precise_input") else None
        self.config = {"INFERENCE_PRECISION_HINT": OV_PRECISION[precision], "PERFORMANCE_HINT": "LATENCY"}
        if device.startswith("CPU"):
            self.config.update({"INFERENCE_NUM_THREADS": int(self.options.threads or default_threads()),
                                "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": False})
        if self.options.model_cache:
            # One folder per precision: OpenVINO 2026.4's cache key leaves out INFERENCE_PRECISION_HINT,
            # so a model compiled once in fp16 was loaded again for fp32 and bf16 (measured: the same
            # 0.35/255 from fp32 as from fp16 on redbrick). Tested in test_engines.py.
            folder = cache_subfolder(f"openvino/{precision}")
            if folder is not None:
                self.core.set_property({"CACHE_DIR": str(folder)})
        self.in_flight = max(1, int(self.options.in_flight)) if not device.startswith("CPU") else 1
        shape = self.model.inputs[0].get_partial_shape()
        dims = [d.get_length() if d.is_static else f"d{i}" for i, d in enumerate(shape)]
        why = reason or f"openvino {device} {precision}: as requested"
        super().__init__(EngineChoice("openvino", device, precision, why), dims)
        self._compiled = {}  # input shape -> (compiled model, infer request), most recent last
        self._dynamic = None
        self._lock = threading.Lock()

    @property
    def providers(self) -> list:
        return [f"OpenVINO:{self.choice.device}"]

    def _compile(self, shape):
        model = self.model
        if shape is not None:
            model = self.model.clone()
            model.reshape({p: self.ov.PartialShape(list(shape)) for p in model.inputs})
        try:
            compiled = self.core.compile_model(model, self.choice.device, self.config)
        except Exception as exc:
            raise ModelLoadError(f"OpenVINO cannot compile it for {self.choice.device}: {first_line(exc)}",
                                 path=self.path) from None
        return compiled, compiled.create_infer_request()

    def _request_for(self, shape: tuple):
        """A compiled model of this exact input shape (a few kept), else one of dynamic shape."""
        entry = self._compiled.pop(shape, None)
        if entry is None:
            if len(self._compiled) >= MAX_COMPILED:
                if self._dynamic is None:
                    log.info("%s: more than %d input shapes: a dynamic-shape model serves the rest",
                             self.path.name, MAX_COMPILED)
                    self._dynamic = self._compile(None)
                return self._dynamic
            entry = self._compile(shape)
        self._compiled[shape] = entry
        return entry

    def run(self, x: np.ndarray) -> np.ndarray:
        """One call: [N,C,...] float32 -> float32 output (a copy: the request's buffer is reused)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            if self.in_flight > 1 and x.shape[0] > 1:
                return self._run_in_flight(x)
            _, request = self._request_for(tuple(x.shape))
            request.infer(self._feed(x))
            return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)

    def _feed(self, x: np.ndarray) -> dict:
        """The graph's inputs: x, and x's rounding error where the first layer keeps it (_precise_input)."""
        return {0: x} if self._lo is None else {0: x, 1: x - self._lo(x)}

    def _run_in_flight(self, x: np.ndarray) -> np.ndarray:
        """Frames of a batch queued `in_flight` at a time (a GPU overlaps one's copies with another's compute)."""
        compiled, _ = self._request_for((1, *x.shape[1:]))
        queue = self.ov.AsyncInferQueue(compiled, self.in_flight)
        out = [None] * x.shape[0]

        def done(request, i):
            out[i] = np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)

        queue.set_callback(done)
        for i in range(x.shape[0]):
            queue.start_async(self._feed(x[i:i + 1]), i)
        queue.wait_all()
        return np.concatenate(out)

    def close(self) -> None:
        self._compiled.clear()
        self._dynamic = None


def bf16_round(x: np.ndarray) -> np.ndarray:
    """float32 -> the nearest bfloat16 value (ties to even), as float32."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return r.view(np.float32)


def fp16_round(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


ROUND = {"bf16": bf16_round, "fp16": fp16_round}


def _precise_input(ops, model, precision: str) -> int:
    """In bf16/fp16, the input and the first convolution keep fp32-like precision.

    Rounding the input and the first layer's weights to bf16 is the largest error of an
    effect in bf16 (watercolor: 2.2/255 and 1.5/255 of the 2.8/255 in all). Conv(x, W) becomes
    Conv(Concat(x, x_lo, x), [W_hi, W_hi, W_lo]) with x_lo = x - round(x) a second graph input
    (run() computes it) and W_hi = round(W), W_lo = W - W_hi: x_hi*W_hi + x_lo*W_hi + x_hi*W_lo,
    twice the mantissa bits for the cost of a first layer with three times the input channels.
    # -> convolutions rewritten
    """
    rnd = ROUND[precision]
    param = model.get_parameters()[0]
    convs = [t.get_node() for t in param.output(0).get_target_inputs()
             if t.get_node().get_type_name() == "Convolution" and t.get_index() == 0]
    convs = [c for c in convs if _const(c.input_value(1)) is not None]
    if not convs:
        return 0
    lo = ops.parameter(param.get_partial_shape(), param.get_element_type(), name="ganfx_input_lo")
    x3 = ops.concat([param.output(0), lo.output(0), param.output(0)], 1)
    for conv in convs:
        w = _const(conv.input_value(1)).astype(np.float32)
        hi = rnd(w)
        k = np.ascontiguousarray(np.concatenate([hi, hi, w - hi], axis=1))
        a = _conv_attrs(conv)
        y = ops.convolution(x3, ops.constant(k), a["strides"], a["pads_begin"], a["pads_end"], a["dilations"],
                            a["auto_pad"])
        y.set_friendly_name(conv.get_friendly_name())
        for target in list(conv.output(0).get_target_inputs()):
            target.replace_source_output(y.output(0))
    model.add_parameters([lo])
    return len(convs)


def _opset():
    try:
        import openvino.opset13 as ops
    except ImportError:  # OpenVINO before 2025 kept the opsets under openvino.runtime
        import openvino.runtime.opset13 as ops
    return ops


def rewrite_graph(model, precision: str = "fp32") -> dict:
    """The rewrites of the module docstring, in place. # -> {"split_concat": n, "subpixel": m, "precise_input": k}"""
    ops = _opset()
    done = {"split_concat": _split_concat_convs(ops, model), "subpixel": _subpixel_convs(ops, model),
            "precise_input": _precise_input(ops, model, precision) if precision in ROUND else 0}
    if any(done.values()):
        model.validate_nodes_and_infer_types()
    return done
