"""The onnxruntime engine: CPU, CUDA, TensorRT, CoreML and DirectML execution providers.

    from ganfx.runtime.engines import OrtOptions
    model = load_model("watercolor", providers=["cuda"])                     # fp32 on CUDA
    model = load_model("watercolor", options=OrtOptions(providers=("tensorrt",), fixed_shape=(1, 3, 544, 960)),
                       precision="fp16")                                     # TensorRT fp16, one profile

On the CPU a call is `session.run`. On CUDA and TensorRT (`OrtOptions.io_binding`, on by
default there) the input is copied once to the device, the output is bound on the device
and copied back once, and a batch of N frames runs with `in_flight` frames at a time on
their own bindings, so one frame's copies overlap another's compute. With a fixed input
shape (`fixed_shape`, a host's tile) CUDA captures the graph once and replays it
(`cuda_graph`) into buffers allocated once; a call of any other shape runs on a second
session without graphs. TensorRT builds fp16 kernels for precision fp16 from the fp32 file,
keeps its engine and timing caches in the cache folder and takes the fixed shape as its one
optimisation profile (runtime/providers.py `provider_options`). Every other provider in
fp16 runs the model's `.fp16.onnx` variant (`ganfx export --fp16`).

None of the GPU paths has been measured on a GPU yet (benchmarks/RESULTS.md); on the CPU
the same binding code runs with device "cpu", which the tests use.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .engines import Engine, EngineChoice, OrtOptions, expected_output_shape
from .errors import ModelLoadError, UserInputError
from .providers import choose_providers, default_threads, onnxruntime, provider_options

log = logging.getLogger("ganfx")

DEVICE_OF = {"CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "cuda"}


def fp16_file(path: Path) -> Path:
    """The .fp16.onnx variant beside a model (ModelLoadError naming it when it is missing)."""
    from .engines import _fp16_variant

    path = Path(path)
    fp16 = _fp16_variant(path)
    if not fp16.is_file():
        raise ModelLoadError(f"no fp16 variant ({fp16.name}) beside it; export one in fp16", path=path,
                             about="precision")
    return fp16


def session_options(ort, threads: int | None, spinning: bool):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 4  # failures come back as exceptions (one line each); its own log would add a line
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def open_session(ort, path: Path, opts, providers: list):
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"onnxruntime cannot load it: {first}", path=path) from None


class OrtEngine(Engine):
    """onnxruntime behind the Engine interface; see the module docstring."""

    name = "onnxruntime"

    def __init__(self, path, spec, options: OrtOptions = OrtOptions(), precision: str = "fp32", reason: str = "",
                 session=None):
        self.path, self.spec, self.options = Path(path), spec, options
        ort = self.ort = onnxruntime()
        if session is not None:  # an existing session (Model(path, spec, session) of older callers)
            chosen = list(session.get_providers())
            reason = reason or f"as given: {', '.join(chosen)}"
        else:
            chosen, why = choose_providers(options.providers)
            reason = reason or f"onnxruntime {precision}, execution provider {why}"
        first = chosen[0]
        trt = first == "TensorrtExecutionProvider"
        if precision == "bf16":
            raise UserInputError("onnxruntime has no bfloat16 kernels for these models; bf16 runs on the openvino "
                                 "engine", about="precision")
        file = self.path if precision == "fp32" or trt or session is not None else fp16_file(self.path)
        self.device = DEVICE_OF.get(first, "cpu")
        fixed = tuple(int(d) for d in options.fixed_shape) if options.fixed_shape else None
        self.cuda_graph = bool(first == "CUDAExecutionProvider" and fixed and options.cuda_graph is not False)
        self.io_binding = options.io_binding if options.io_binding is not None else self.device == "cuda"
        self.fixed_buffers = self.cuda_graph  # graphs replay into the addresses they were captured with
        self.in_flight = max(1, int(options.in_flight)) if self.io_binding and self.device != "cpu" else 1
        self._opts = session_options(ort, options.threads, options.spinning)
        self._providers = chosen
        if session is None:
            profile = {spec.input.name: fixed} if fixed and trt else None
            session = open_session(ort, file, self._opts, provider_options(
                chosen, options.cache_dir, fp16=trt and precision == "fp16", profile=profile,
                cuda_graph=self.cuda_graph))
        self.session = session
        self.file = file
        self._in = session.get_inputs()[0].name
        self.input_dtype = np.float16 if session.get_inputs()[0].type == "tensor(float16)" else np.float32
        self._out = session.get_outputs()[0].name
        self.fixed_shape = fixed
        self._plain = None  # a session without CUDA graphs, for shapes other than the fixed one
        self._bound = None  # (shape, binding, x_value, y_value) of the fixed buffers
        self._lock = threading.Lock()
        self._pool = None
        super().__init__(EngineChoice("onnxruntime", first, precision, reason), session.get_inputs()[0].shape)

    @property
    def providers(self) -> list:
        return list(self.session.get_providers())

    def run(self, x: np.ndarray) -> np.ndarray:
        """One call: [N,C,...] -> float32 output; on a GPU `in_flight` frames of the batch at a time."""
        if not self.io_binding:
            return self.session.run([self._out], {self._in: x})[0]
        if self.fixed_buffers and tuple(x.shape) == self.fixed_shape:
            with self._lock:
                return self._run_fixed(x)
        session = self._session_for(tuple(x.shape))
        if self.in_flight > 1 and x.shape[0] > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="ganfx-in-flight")
            parts = list(self._pool.map(lambda i: self._run_bound(session, x[i:i + 1]), range(x.shape[0])))
            return np.concatenate(parts)
        return self._run_bound(session, x)

    def _session_for(self, shape: tuple):
        if not self.cuda_graph:
            return self.session
        if self._plain is None:  # captured graphs take one shape: other shapes get a session of their own
            log.info("%s: input %s is not the fixed shape %s: a second session without CUDA graphs", self.path.name,
                     list(shape), list(self.fixed_shape))
            self._plain = open_session(self.ort, self.file, self._opts,
                                       provider_options(self._providers, self.options.cache_dir))
        return self._plain

    def _run_bound(self, session, x: np.ndarray) -> np.ndarray:
        """Input copied to the device once, output bound there and copied back once."""
        binding = session.io_binding()
        value = self.ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x), self.device, 0)
        binding.bind_ortvalue_input(self._in, value)
        binding.bind_output(self._out, self.device)
        session.run_with_iobinding(binding)
        return self._host(binding.get_outputs()[0])

    def _run_fixed(self, x: np.ndarray) -> np.ndarray:
        """Buffers allocated once for the fixed shape; a CUDA graph replays into them."""
        if self._bound is None:
            ov = self.ort.OrtValue
            xv = ov.ortvalue_from_shape_and_type(x.shape, x.dtype, self.device, 0)  # its own memory, never x's
            xv.update_inplace(np.ascontiguousarray(x))
            out_dtype = np.float16 if self.spec.output.dtype == "float16" else np.float32
            yv = ov.ortvalue_from_shape_and_type(expected_output_shape(self.spec, x.shape), out_dtype, self.device, 0)
            binding = self.session.io_binding()
            binding.bind_ortvalue_input(self._in, xv)
            binding.bind_ortvalue_output(self._out, yv)
            self._bound = (binding, xv, yv)
        else:
            binding, xv, yv = self._bound
            xv.update_inplace(np.ascontiguousarray(x))
        self.session.run_with_iobinding(binding)
        return self._host(yv)

    def _host(self, value) -> np.ndarray:
        """A device value as a numpy array: the one copy out (on the CPU device the value's own memory, copied)."""
        out = value.numpy()
        return out.copy() if self.device == "cpu" else out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

