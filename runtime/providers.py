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


def provider_options(providers: list, cache_dir: str | None = None) -> list:
    """Per-provider options: TensorRT keeps an engine cache so warm starts do not rebuild."""
    out = []
    for p in providers:
        if p == "TensorrtExecutionProvider":
            cache = cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "ganfx", "trt")
            os.makedirs(cache, exist_ok=True)
            out.append((p, {"trt_engine_cache_enable": True, "trt_engine_cache_path": cache,
                            "trt_timing_cache_enable": True, "trt_timing_cache_path": cache}))
        elif p == "CUDAExecutionProvider":
            out.append((p, {"cudnn_conv_algo_search": "HEURISTIC"}))
        else:
            out.append(p)
    return out


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
