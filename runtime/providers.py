"""Choosing onnxruntime execution providers.

An explicit list wins (each must be available). Otherwise the best available of
TensorRT, CUDA, CoreML, DirectML is used, with CPU last, and one log line says which
and why:

    providers, reason = choose_providers(None)
    # (['CPUExecutionProvider'], 'no GPU provider available in onnxruntime 1.20 (CPU build)')
"""

from __future__ import annotations

import logging
import os

from .errors import MissingDependencyError, ProviderError

log = logging.getLogger("ganfx")

PREFERRED = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
    "CPUExecutionProvider",
)
ALIASES = {
    "trt": "TensorrtExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
    "directml": "DmlExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


def onnxruntime():
    """Import onnxruntime or explain which extra installs it."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError(
            'onnxruntime is not installed; install it with: pip install "ganfx[cpu]" '
            '(or "ganfx[gpu]" for CUDA/TensorRT)'
        ) from None
    return ort


def available_providers() -> list:
    return list(onnxruntime().get_available_providers())


def normalize(name: str) -> str:
    key = name.strip()
    return ALIASES.get(key.lower(), key)


def choose_providers(requested=None, available=None) -> tuple:
    """Return (providers best first, one-line reason)."""
    available = list(available_providers() if available is None else available)
    if requested:
        names = [normalize(p) for p in ([requested] if isinstance(requested, str) else requested)]
        missing = [p for p in names if p not in available]
        if missing:
            raise ProviderError(
                f"execution provider {', '.join(missing)} is not available "
                f"(onnxruntime offers: {', '.join(available) or 'none'})"
            )
        if "CPUExecutionProvider" not in names and "CPUExecutionProvider" in available:
            names.append("CPUExecutionProvider")  # nodes a GPU provider cannot take
        return names, f"as requested: {', '.join(names)}"
    chosen = [p for p in PREFERRED if p in available]
    if not chosen:
        raise ProviderError(f"onnxruntime offers no usable execution provider (has: {', '.join(available)})")
    if chosen[0] == "CPUExecutionProvider":
        reason = "CPU: no GPU execution provider in this onnxruntime (install ganfx[gpu] for CUDA/TensorRT)"
    else:
        reason = f"{chosen[0]}: best available of {', '.join(available)}"
    return chosen, reason


def provider_options(providers: list, cache_dir: str | None = None, fp16: bool = False,
                     profile: dict | None = None, cuda_graph: bool = False) -> list:
    """Per-provider options, as onnxruntime takes them: [name | (name, {option: value})].

    TensorRT keeps its engine and timing caches in `cache_dir` (default: the ganfx cache
    folder's "tensorrt", runtime/engines.py `cache_folder`), so warm starts do not rebuild;
    `fp16` lets it build fp16 kernels; `profile` ({input name: [N,C,H,W]}, a host's fixed tile
    shape) becomes its one optimisation profile (min = opt = max), so no shape seen in use
    triggers a rebuild. CUDA replays a captured graph with `cuda_graph` (fixed shapes only).
    """
    out = []
    for p in providers:
        if p == "TensorrtExecutionProvider":
            cache = tensorrt_cache(cache_dir)
            opts = {"trt_engine_cache_enable": True, "trt_engine_cache_path": cache,
                    "trt_timing_cache_enable": True, "trt_timing_cache_path": cache,
                    "trt_fp16_enable": bool(fp16)}
            if profile:
                shapes = ",".join(f"{name}:{'x'.join(str(int(d)) for d in dims)}" for name, dims in profile.items())
                opts.update({"trt_profile_min_shapes": shapes, "trt_profile_opt_shapes": shapes,
                             "trt_profile_max_shapes": shapes})
            out.append((p, opts))
        elif p == "CUDAExecutionProvider":
            opts = {"cudnn_conv_algo_search": "EXHAUSTIVE" if profile else "HEURISTIC",
                    "do_copy_in_default_stream": True}
            if cuda_graph:
                opts["enable_cuda_graph"] = True
            out.append((p, opts))
        else:
            out.append(p)
    return out


def tensorrt_cache(cache_dir: str | None = None) -> str:
    """The folder of TensorRT engine and timing caches, made if missing."""
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        return str(cache_dir)
    from .engines import cache_subfolder

    folder = cache_subfolder("tensorrt")
    if folder is None:
        raise ProviderError("TensorRT needs a cache folder for its engines; set GANFX_CACHE to a writable folder")
    return str(folder)


def split_threads(trial, cores: int | None = None, candidates=None) -> tuple:
    """Threads for inference on a CPU shared with decode and encode, chosen by measurement.

    `trial(threads) -> frames per second` renders a few frames end to end with the engine
    given that many threads; each candidate (default 1..cores) is tried once and the fastest
    wins (ties: fewer threads, leaving more to the codecs). # -> (threads, {threads: fps})
    """
    cores = cores or default_threads()
    options = sorted(set(candidates or range(1, cores + 1)))
    table = {k: float(trial(k)) for k in options}
    best = max(table, key=lambda k: (round(table[k], 3), -k))
    return best, table


MAX_THREADS = 1024  # more intra-op threads than this is a typo, not a machine


def default_threads() -> int:
    """Intra-op threads: GANFX_THREADS, else the CPUs this process may use."""
    env = os.environ.get("GANFX_THREADS")
    if env is not None and env.strip():
        try:
            threads = int(env)
        except ValueError:
            threads = 0
        if not 1 <= threads <= MAX_THREADS:  # -1 or 0 must not quietly become 1 (or all cores)
            raise ProviderError(f"GANFX_THREADS must be a whole number from 1 to {MAX_THREADS}, got {env!r}")
        return threads
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
