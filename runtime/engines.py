"""Engines: what runs a model's graph, in which precision, on which device.

Two engines serve every model kind (effects and textures [N,C,H,W], sounds [N,C,L]) behind
one `Engine.run(tensor) -> float32 array`, which `Model.run` calls (docs/architecture.md,
"Engines"):

- `onnxruntime` (runtime/engine_onnxruntime.py; `OrtOptions`): CPU, CUDA, TensorRT, CoreML,
  DirectML execution providers (runtime/providers.py); on CUDA/TensorRT inputs and outputs
  go through IO binding, CUDA graphs where the input shape is fixed, two frames in flight.
- `openvino` (runtime/engine_openvino.py; `OpenVinoOptions`, the `openvino` extra): CPU, in
  bfloat16 where the processor has it natively (AVX-512 BF16, AMX), and Intel GPUs.

Precision is `fp32`, `fp16`, `bf16` or `auto`:

    model = load_model("watercolor", precision="auto")           # the fastest choice within 2/255
    model = load_model("watercolor", engine="openvino", precision="bf16")
    model.engine.choice                                          # EngineChoice(engine, device, precision, reason)

`auto` takes, best first: the pick `ganfx bench` measured for this model on this machine;
else a GPU in fp16 (then fp32); else on a CPU with native bf16 OpenVINO in bf16; else the
fastest fp32 engine installed (OpenVINO, then onnxruntime). A reduced precision is only
used when the model's output on a probe input stays within `PROBE_TOLERANCE` (2/255 of the
output range) of onnxruntime fp32; the probe runs once per model and machine and its result
is kept in the cache folder (`cache_folder()`: $GANFX_CACHE, else ~/.cache/ganfx), where
`ganfx info` reads it. With no engine named, fp32 and fp16 run on onnxruntime as they
always did; bf16 and auto choose the engine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GanfxError, MissingDependencyError, ProviderError, UserInputError

log = logging.getLogger("ganfx")

ENGINES = ("onnxruntime", "openvino")
ENGINE_ALIASES = {"ort": "onnxruntime", "onnxruntime": "onnxruntime", "ov": "openvino", "openvino": "openvino",
                  "auto": "auto"}
PRECISIONS = ("fp32", "fp16", "bf16", "auto")
PROBE_TOLERANCE = 2 / 255  # of the output's range: what an 8-bit frame may differ by
SOUND_TOLERANCE = 2 / 65535  # of a sound's range: two 16-bit steps (bf16's 8-bit mantissa hisses at -60 dB)


def tolerance_for(spec) -> float:
    """The largest share of the output range a reduced precision may differ from fp32 by, for this model."""
    return SOUND_TOLERANCE if getattr(spec, "kind", None) == "sound" else PROBE_TOLERANCE
CACHE_ENV = "GANFX_CACHE"
RECORD_VERSION = 1
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CoreMLExecutionProvider",
                 "DmlExecutionProvider")


# -- options ---------------------------------------------------------------------------
@dataclass(frozen=True)
class OrtOptions:
    """How the onnxruntime engine runs (runtime/engine_onnxruntime.py)."""

    providers: tuple | None = None  # execution providers best first (aliases: cuda, tensorrt, ...); None = automatic
    threads: int | None = None  # CPU intra-op threads; None = GANFX_THREADS or all cores
    spinning: bool = True  # idle threads busy-wait (off when decode and encode share the cores)
    io_binding: bool | None = None  # device buffers, one copy in and out per frame; None = on CUDA/TensorRT
    cuda_graph: bool | None = None  # replay a captured CUDA graph; None = on CUDA when fixed_shape is given
    fixed_shape: tuple | None = None  # the input shape every call has (a host's fixed tile): TensorRT profile
    in_flight: int = 2  # frames of a batch in flight at once on a GPU
    cache_dir: str | None = None  # TensorRT engine and timing caches; None = cache_folder() / "tensorrt"


@dataclass(frozen=True)
class OpenVinoOptions:
    """How the OpenVINO engine runs (runtime/engine_openvino.py)."""

    device: str = "CPU"  # "CPU", "GPU", "GPU.1", ... (see available_engines())
    threads: int | None = None  # CPU inference threads; None = GANFX_THREADS or all cores
    rewrite: bool = True  # the exact graph rewrites of engine_openvino (sum of convolutions, sub-pixel)
    in_flight: int = 2  # frames of a batch in flight at once on a GPU (the CPU runs one at a time)
    model_cache: bool = True  # keep OpenVINO's compiled models in cache_folder() / "openvino"


def openvino_device(name: str) -> str:
    """"cpu" -> "CPU", "gpu.1" -> "GPU.1"; onnxruntime provider names are refused by name."""
    text = str(name).strip().upper()
    if not text or not (text.split(".")[0] in ("CPU", "GPU", "NPU")):
        raise ProviderError(f"the openvino engine runs on a device (cpu, gpu, gpu.1, ...), not {name!r}",
                            about="provider")
    return text


def normalize_engine(name) -> str | None:
    """None/"" -> None (onnxruntime for fp32/fp16, chosen for bf16/auto); aliases -> a name of ENGINES or "auto"."""
    if name is None or not str(name).strip():
        return None
    key = ENGINE_ALIASES.get(str(name).strip().lower())
    if key is None:
        raise UserInputError(f"engine must be auto, onnxruntime or openvino, got {name!r}", about="engine")
    return key


def check_precision(precision) -> str:
    p = str(precision or "fp32").strip().lower()
    if p not in PRECISIONS:
        raise UserInputError(f"precision must be fp32, fp16, bf16 or auto, got {precision!r}", about="precision")
    return p


# -- the machine ---------------------------------------------------------------------------
_FEATURES: set | None = None


def cpu_features() -> set:
    """Flags of this CPU that matter for precision: {"avx512_bf16", "amx_bf16", "avx512_fp16", "amx_fp16", "bf16", ...}."""
    global _FEATURES
    if _FEATURES is None:
        flags = set()
        try:
            with open("/proc/cpuinfo") as fh:
                for line in fh:
                    key = line.split(":", 1)[0].strip().lower()
                    if key in ("flags", "features"):  # x86 | arm64
                        flags.update(line.split(":", 1)[1].split())
                        break
        except OSError:
            pass
        if platform.system() == "Darwin" and platform.machine() == "arm64":
            flags.update(_sysctl_features())
        _FEATURES = flags
    return set(_FEATURES)


def _sysctl_features() -> set:
    import subprocess

    try:
        out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return set()
    return {"bf16"} if out == "1" else set()


def native_bf16(features: set | None = None) -> bool:
    """True where the CPU computes bfloat16 natively (x86: AVX-512 BF16 or AMX; arm64: BF16)."""
    f = cpu_features() if features is None else features
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & f)


def native_fp16(features: set | None = None) -> bool:
    """True where the CPU computes float16 natively (x86: AVX-512 FP16 or AMX-FP16; arm64: fphp)."""
    f = cpu_features() if features is None else features
    return bool({"avx512_fp16", "amx_fp16", "fphp"} & f)


def fast_fp16(features: set | None = None) -> bool:
    """True where CPU float16 is expected to beat fp32, so auto tries it: AMX-FP16, or Arm's fphp.

    AVX-512 FP16 alone is not enough: on such a Xeon (AMX-BF16 but no AMX-FP16) OpenVINO fp16
    measured slower than its fp32 (benchmarks/engines.py, OpenVINO direct, to the onnxruntime
    loop: painterly 0.65x against 0.79x, redbrick 0.96x against 1.12x). `ganfx bench` still times
    it there, and follows what it measures.
    """
    f = cpu_features() if features is None else features
    return bool({"amx_fp16", "fphp"} & f)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_ENGINES: dict | None = None


def available_engines() -> dict:
    """{"onnxruntime": {"version", "providers"} | {"missing"}, "openvino": {"version", "devices"} | {"missing"}}.

    Asked once per process (OpenVINO's device list starts its plugins)."""
    global _ENGINES
    if _ENGINES is None:
        _ENGINES = _find_engines()
    return {k: dict(v) for k, v in _ENGINES.items()}


def _find_engines() -> dict:
    out = {}
    try:
        from .providers import onnxruntime

        ort = onnxruntime()
        out["onnxruntime"] = {"version": ort.__version__, "providers": list(ort.get_available_providers())}
    except MissingDependencyError as exc:
        out["onnxruntime"] = {"missing": str(exc)}
    try:
        from .engine_openvino import available_devices, openvino_module

        ov = openvino_module()
        out["openvino"] = {"version": ov.get_version().split("-")[0], "devices": available_devices()}
    except MissingDependencyError as exc:
        out["openvino"] = {"missing": str(exc)}
    return out


_MACHINE: dict | None = None


def machine() -> dict:
    """What a measurement depends on: the CPU, its precision features, cores, engines and devices."""
    global _MACHINE
    if _MACHINE is None:
        f = cpu_features()
        _MACHINE = {
            "cpu": _cpu_name(), "arch": platform.machine(), "system": platform.system(), "cores": cpu_count(),
            "features": sorted(f & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16",
                                    "amx_fp16", "avx_vnni", "bf16", "fphp", "asimd"}),
            "engines": available_engines(),
        }
    return dict(_MACHINE)


# 2: probes and bench rows from before OpenVINO's compiled models were kept per precision may have
# timed a model compiled in another precision (runtime/engine_openvino.py); they are measured again.
RECORD_VERSION = 2


def machine_key() -> str:
    key = {"record": RECORD_VERSION, **machine()}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def model_key(path, spec) -> str:
    """The weights' digest (or the file's bytes) and the graph's size: one model, wherever it lies."""
    path = Path(path)
    digest = getattr(spec, "digest", None)
    if not digest:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
    return hashlib.sha256(f"{digest}:{path.stat().st_size}".encode()).hexdigest()[:16]


# -- the cache folder ----------------------------------------------------------------------
def cache_folder() -> Path:
    """$GANFX_CACHE, else $XDG_CACHE_HOME/ganfx, else ~/.cache/ganfx (made on first write)."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path("~/.cache").expanduser()) / "ganfx"


def cache_subfolder(name: str) -> Path | None:
    """cache_folder()/name, made; None (and one log line) where it cannot be made: caches are optional."""
    folder = cache_folder() / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.info("cache folder %s cannot be made (%s): running without it", folder, exc.strerror or exc)
        return None
    return folder


def record_path(path, spec) -> Path:
    return cache_folder() / "engines" / f"{model_key(path, spec)}-{machine_key()}.json"


def read_record(path, spec) -> dict:
    """What was measured for this model on this machine: {"probes": {...}, "bench": {...}}; {} if nothing."""
    try:
        data = json.loads(record_path(path, spec).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("version") == RECORD_VERSION else {}


def write_record(path, spec, update: dict) -> dict:
    """Merge `update` into the record (probes merge by key) and write it atomically; failures only log."""
    from .files import write_atomic

    record = read_record(path, spec) or {"version": RECORD_VERSION}
    record.update({"version": RECORD_VERSION, "model": spec.name, "machine": machine()})
    for key, value in update.items():
        if key == "probes":
            record.setdefault("probes", {}).update(value)
        else:
            record[key] = value
    target = record_path(path, spec)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(record, indent=1, sort_keys=True), overwrite=True)
    except (OSError, GanfxError) as exc:
        log.info("cannot keep the engine record %s (%s)", target, exc)
    return record


# -- choices ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EngineChoice:
    engine: str  # "onnxruntime" | "openvino"
    device: str  # onnxruntime: the first execution provider ("CPUExecutionProvider"); openvino: "CPU", "GPU"
    precision: str  # "fp32" | "fp16" | "bf16"
    reason: str = ""  # one line: why this one

    @property
    def key(self) -> str:
        """"openvino/CPU/bf16": how probes and bench rows are named."""
        return f"{self.engine}/{self.device}/{self.precision}"

    @classmethod
    def from_key(cls, key: str, reason: str = "") -> "EngineChoice":
        engine, device, precision = key.split("/")
        return cls(engine, device, precision, reason)


def candidates(spec=None, engine: str | None = None, path=None, every: bool = False) -> list:
    """The (engine, device, precision) choices auto tries on this machine, best guess first.

    `engine` restricts to one engine. onnxruntime fp16 needs the model's .fp16.onnx variant
    except on TensorRT, which builds fp16 itself; the CPU takes bf16 (OpenVINO) only where it
    computes it natively, and fp16 only where that is also fast (fast_fp16). `every`: also the
    CPU fp16 that runs natively but is expected slower (what ganfx bench times).
    """
    eng = available_engines()
    gpu, cpu = [], []
    if "providers" in eng.get("onnxruntime", {}) and engine in (None, "auto", "onnxruntime"):
        provs = eng["onnxruntime"]["providers"]
        variant = path is not None and _fp16_variant(path).is_file()
        for p in GPU_PROVIDERS:
            if p in provs:
                if p == "TensorrtExecutionProvider" or (variant and p != "DmlExecutionProvider"):
                    gpu.append(EngineChoice("onnxruntime", p, "fp16"))
                gpu.append(EngineChoice("onnxruntime", p, "fp32"))
    if "devices" in eng.get("openvino", {}) and engine in (None, "auto", "openvino"):
        devices = eng["openvino"]["devices"]
        gpu += [EngineChoice("openvino", d, p) for d in devices if d.startswith("GPU") for p in ("fp16", "fp32")]
        if "CPU" in devices:
            fp16 = native_fp16() if every else fast_fp16()
            cpu += [EngineChoice("openvino", "CPU", p) for p, ok in (("bf16", native_bf16()), ("fp16", fp16)) if ok]
            # OpenVINO fp32 before onnxruntime fp32: measured faster on the shipped models (benchmarks/engines.py)
            cpu.append(EngineChoice("openvino", "CPU", "fp32"))
    if "providers" in eng.get("onnxruntime", {}) and engine in (None, "auto", "onnxruntime"):
        cpu.append(EngineChoice("onnxruntime", "CPUExecutionProvider", "fp32"))
    return gpu + cpu


def _fp16_variant(path) -> Path:
    path = Path(path)
    if path.name.endswith(".fp16.onnx"):
        return path
    return path.with_name(path.name[: -len(".onnx")] + ".fp16.onnx") if path.suffix == ".onnx" else path


# -- the probe -------------------------------------------------------------------------------
def synthetic_picture(width: int, height: int, channels: int = 3, seed: int = 20240515) -> np.ndarray:
    """A deterministic picture: smooth colour fields, hard-edged shapes, fine grain. # -> [C,H,W] float32 0..1"""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([_upsample(rng.random((5, 5)).astype(np.float32), width, height) for _ in range(channels)])
    img += 0.25 * np.sin(6.0 * xx / width + 3.0 * yy / height)[None]
    side = max(16, min(width, height) // 5)
    for _ in range(6):
        y0, x0 = rng.integers(0, max(1, height - side)), rng.integers(0, max(1, width - side))
        img[:, y0:y0 + rng.integers(side // 3, side), x0:x0 + rng.integers(side // 3, side)] = rng.random((channels, 1, 1))
    img += rng.normal(0, 0.03, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def bench_input(spec, width: int = 1920, height: int = 1080) -> np.ndarray:
    """One network call's input for a width x height output, as the runtime makes it.

    Effects: the picture padded to the size multiple; textures: the noise window of the
    cells under the frame plus the halo on every side (Model.generate's one window); sounds:
    one block of runtime/sound.py (BLOCK_CELLS cells plus the halo; the size is not used).
    """
    from .noise import NoiseField
    from .tiling import round_up

    if spec.kind == "effect":
        m = spec.multiple
        img = synthetic_picture(round_up(width, m), round_up(height, m), spec.input.channels)
        lo, hi = spec.input.range
        return (lo + (hi - lo) * img)[None]
    n = spec.noise
    if spec.kind == "sound":
        from .sound import BLOCK_CELLS

        field = NoiseField(seed=7, channels=n.channels)
        return field.window(0, -n.halo, 1, BLOCK_CELLS + 2 * n.halo)[:, 0][None].astype(np.float32)
    field = NoiseField(seed=7, channels=n.channels, waves=n.waves, still=n.still)
    cy = round_up(-(-height // n.stride) + 2 * n.halo, spec.multiple)
    cx = round_up(-(-width // n.stride) + 2 * n.halo, spec.multiple)
    return field.window(-n.halo, -n.halo, cy, cx, 0.0)[None].astype(np.float32)


def probe_input(spec) -> np.ndarray:
    """A deterministic input of the kind the model sees in use, small enough to run in a moment.

    Effects: a 256x256 picture (smooth colour fields, hard-edged shapes, fine grain) in the
    input's range; textures: the model's own noise field (waves included) over 32 cells plus
    the halo; sounds: the noise of 512 cells plus the halo. # -> [1,C,H,W] or [1,C,L] float32
    """
    from .noise import NoiseField
    from .tiling import round_up

    if spec.kind == "effect":
        size = round_up(256, spec.multiple)
        lo, hi = spec.input.range
        return (lo + (hi - lo) * synthetic_picture(size, size, spec.input.channels))[None]
    n = spec.noise
    if spec.kind == "sound":
        field = NoiseField(seed=7, channels=n.channels)
        return field.window(0, -n.halo, 1, 512 + 2 * n.halo)[:, 0][None].astype(np.float32)
    field = NoiseField(seed=7, channels=n.channels, waves=n.waves, still=n.still)
    cells = round_up(32 + 2 * n.halo, spec.multiple)
    return field.window(-n.halo, -n.halo, cells, cells, 0.0)[None].astype(np.float32)


def _upsample(grid: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def output_difference(a: np.ndarray, b: np.ndarray, spec) -> float:
    """Largest |a - b| as a share of the output's range (1/255: one 8-bit step)."""
    lo, hi = spec.output.range
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max() / (hi - lo))


def reference_engine(path, spec):
    """fp32 on the CPU: onnxruntime (or OpenVINO where onnxruntime is missing), the probes' reference."""
    try:
        return open_choice(path, spec, EngineChoice("onnxruntime", "CPUExecutionProvider", "fp32"), OrtOptions())
    except MissingDependencyError:
        return open_choice(path, spec, EngineChoice("openvino", "CPU", "fp32"), OpenVinoOptions())


def probe(path, spec, engine, reference=None) -> dict:
    """Run `engine` and the fp32 reference on probe_input(spec). # -> {"max_diff", "ok", "tolerance", "input"}"""
    x = probe_input(spec)
    ref = (reference or reference_engine(path, spec)).run(x)
    got = engine.run(x.astype(engine.input_dtype)).astype(np.float32)
    diff = output_difference(got, ref, spec)
    return {"max_diff": diff, "ok": bool(diff <= tolerance_for(spec)), "tolerance": tolerance_for(spec),
            "input": "x".join(str(d) for d in x.shape[2:]), "when": time.strftime("%Y-%m-%d %H:%M:%S")}


# -- opening ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """What a host sets for whichever engine runs: both engines' options, narrowed by what was named."""

    ort: OrtOptions = OrtOptions()
    ov: OpenVinoOptions = OpenVinoOptions()
    provider: str | None = None  # an onnxruntime provider named first: auto keeps to it
    device: str | None = None  # an OpenVINO device named: auto keeps to it


def settings(engine: str | None, options=None, providers=None, threads: int | None = None,
             spinning: bool = True) -> Settings:
    """Host-level values (providers, threads, spinning) and an engine's options -> Settings."""
    import dataclasses

    from .providers import normalize

    names = [providers] if isinstance(providers, str) else list(providers or ())
    ort = options if isinstance(options, OrtOptions) else OrtOptions()
    ov = options if isinstance(options, OpenVinoOptions) else OpenVinoOptions()
    device = ov.device if isinstance(options, OpenVinoOptions) and ov.device != "CPU" else None
    if engine == "openvino" and names:
        if len(names) > 1:
            raise ProviderError(f"the openvino engine runs on one device, got {', '.join(names)}", about="provider")
        device = openvino_device(names[0])
        ov = dataclasses.replace(ov, device=device)
        names = []
    if names:
        ort = dataclasses.replace(ort, providers=tuple(names))
    if threads:
        ort, ov = dataclasses.replace(ort, threads=threads), dataclasses.replace(ov, threads=threads)
    if not spinning:
        ort = dataclasses.replace(ort, spinning=False)
    provider = normalize(ort.providers[0] if not isinstance(ort.providers, str) else ort.providers) \
        if ort.providers else None
    return Settings(ort, ov, provider, device)


def open_choice(path, spec, choice: EngineChoice, options=None):
    """The engine of one choice (no probing). fp16 on onnxruntime (not TensorRT) opens the .fp16.onnx variant.

    `options`: Settings, or one engine's options."""
    s = options if isinstance(options, Settings) else settings(choice.engine, options)
    if choice.engine == "openvino":
        from .engine_openvino import OpenVinoEngine

        opts = s.ov if s.ov.device == choice.device else _replace(s.ov, device=choice.device)
        return OpenVinoEngine(path, spec, opts, choice.precision, choice.reason)
    from .engine_onnxruntime import OrtEngine

    opts = s.ort
    if choice.device != "auto" and s.provider != choice.device:
        opts = _replace(opts, providers=(choice.device,))
    return OrtEngine(path, spec, opts, choice.precision, choice.reason)


def _replace(opts, **changes):
    import dataclasses

    return dataclasses.replace(opts, **changes)


def open_engine(path, spec, engine: str | None = None, precision: str = "fp32", options=None, providers=None,
                threads: int | None = None, spinning: bool = True):
    """Choose and open the engine for a model; see the module docstring. # -> Engine (with .choice)

    `options` is an OrtOptions or OpenVinoOptions (one engine's own settings); `providers`
    names onnxruntime execution providers, or with engine="openvino" the device (cpu, gpu);
    a provider or device named narrows what auto may take.
    """
    engine = normalize_engine(engine)
    precision = check_precision(precision)
    if isinstance(options, OpenVinoOptions) and engine is None:
        engine = "openvino"
    s = options if isinstance(options, Settings) else settings(engine, options, providers, threads, spinning)
    if precision == "auto" or (engine == "auto" and precision == "fp32"):
        return _open_auto(path, spec, None if engine == "auto" else engine, precision, s)
    if engine in (None, "auto"):
        engine = "openvino" if precision == "bf16" else "onnxruntime"
    if engine == "openvino":
        device = s.ov.device
        _check_openvino_precision(device, precision)
        return open_choice(path, spec, EngineChoice("openvino", device, precision,
                                                    f"openvino {device} {precision}: as requested"), s)
    if precision == "bf16":
        raise UserInputError("onnxruntime has no bfloat16 kernels for these models; bf16 runs on the "
                             "openvino engine", about="precision")
    return open_choice(path, spec, EngineChoice("onnxruntime", "auto", precision, ""), s)


def _check_openvino_precision(device: str, precision: str) -> None:
    if device.startswith("CPU"):
        if precision == "bf16" and not native_bf16():
            raise UserInputError("this CPU has no native bfloat16 (AVX-512 BF16, AMX or Arm BF16): bf16 would only "
                                 "run as fp32 emulation; use fp32", about="precision")
        if precision == "fp16" and not native_fp16():
            raise UserInputError("this CPU has no native float16 (AVX-512 FP16 or AMX-FP16); use fp32, or bf16 "
                                 "where the CPU has it", about="precision")
    elif precision == "bf16":
        raise UserInputError(f"OpenVINO {device} takes fp16 or fp32, not bf16", about="precision")


def _allowed(choice: EngineChoice, engine: str | None, s: Settings) -> bool:
    if engine and choice.engine != engine:
        return False
    if s.device is not None:
        return choice.engine == "openvino" and choice.device == s.device
    if s.provider is not None:
        return choice.engine == "onnxruntime" and choice.device == s.provider
    return True


def _open_auto(path, spec, engine: str | None, precision: str, s: Settings):
    """Precision auto (or engine auto at fp32): the cached bench pick, else the first candidate that passes its probe."""
    record = read_record(path, spec)
    avail = [c for c in candidates(spec, engine, path) if _allowed(c, engine, s)]
    if precision == "fp32":
        avail = [c for c in avail if c.precision == "fp32"]
    if not avail:
        here = ", ".join(k for k, v in available_engines().items() if "missing" not in v) or "none"
        raise ProviderError(f"no engine here can run the model with these settings (engines installed: {here})",
                            about="engine")
    keys = {c.key: c for c in avail}
    pick = ((record.get("bench") or {}).get("picks") or {}).get(precision)
    if pick in keys:
        c = keys[pick]
        why = f"{c.key}: fastest measured by ganfx bench at {record['bench'].get('size', '?')}"
        if c.precision != "fp32":
            why += f", within {PROBE_TOLERANCE * 255:.0f}/255 of fp32"
        return open_choice(path, spec, _with_reason(c, why), s)
    probes = record.get("probes", {})
    reference, last_error = None, None
    for c in avail:
        known = probes.get(c.key)
        if c.precision != "fp32" and known is not None and not known.get("ok"):
            continue  # measured before: outside the tolerance
        try:
            eng = open_choice(path, spec, c, s)
        except GanfxError as exc:  # a provider that fails on this model: the next one
            last_error = exc
            log.info("%s: %s cannot run it (%s); trying the next engine", Path(path).name, c.key, exc)
            continue
        if c.precision == "fp32":
            eng.choice = _with_reason(c, f"{c.key}: {_fp32_why(c)}")
            return eng
        if known is None:
            reference = reference or reference_engine(path, spec)
            known = probe(path, spec, eng, reference)
            write_record(path, spec, {"probes": {c.key: known}})
            log.info("%s: probe of %s: max difference %.2f/255 of fp32", Path(path).name, c.key,
                     known["max_diff"] * 255)
        if known["ok"]:
            eng.choice = _with_reason(c, f"{c.key}: within {PROBE_TOLERANCE * 255:.0f}/255 of fp32 on the probe "
                                         f"(max {known['max_diff'] * 255:.2f}/255)")
            return eng
        eng.close()
    if last_error is not None:
        raise last_error
    raise ProviderError("no engine here can run this model", about="engine")


def _fp32_why(c: EngineChoice) -> str:
    if c.device != "CPU" and c.device != "CPUExecutionProvider":
        return "fp32 on the GPU (reduced precision not available or outside the tolerance)"
    if c.engine == "openvino":
        return "fp32 (no reduced precision within the tolerance here; OpenVINO measured faster than onnxruntime)"
    return "fp32 (no faster engine installed here)"


def _with_reason(c: EngineChoice, reason: str) -> EngineChoice:
    return EngineChoice(c.engine, c.device, c.precision, reason)


# -- the engine interface -----------------------------------------------------------------
class Engine:
    """One opened graph. `run(x)`: [N,C,H,W] (or [N,C,L]) of the graph's input dtype -> float32 output."""

    name = ""
    session = None  # the onnxruntime InferenceSession, where there is one
    input_dtype = np.float32  # what run() takes (an fp16 variant's graph takes float16)

    def __init__(self, choice: EngineChoice, input_shape: list):
        self.choice = choice
        self.input_shape = list(input_shape)  # the graph's input dims: int or a name (dynamic)

    @property
    def max_batch(self) -> int | None:
        n = self.input_shape[0] if self.input_shape else None
        return n if isinstance(n, int) and n > 0 else None

    @property
    def precision(self) -> str:
        return self.choice.precision

    @property
    def providers(self) -> list:
        return [self.choice.device]

    @property
    def reason(self) -> str:
        return self.choice.reason or self.choice.key

    def run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return self.choice.key


def expected_output_shape(spec, shape: tuple) -> tuple:
    """The output shape the contract promises for an input shape (preallocated device buffers)."""
    n, c_out = shape[0], spec.output.channels
    if spec.kind == "effect":
        return (n, c_out, *shape[2:])
    s = spec.noise.stride
    return (n, c_out, *(d * s for d in shape[2:]))


# -- FLOPs ----------------------------------------------------------------------------------
def model_flops(path, x: np.ndarray) -> dict:
    """Multiply-add work of one call on `x`, counted from onnxruntime's per-node shapes.

    Convolutions (and transposed ones), MatMul and Gemm, 2 FLOPs per multiply-add; other
    nodes are left out. # -> {"flops": total, "per_output": per output pixel (or sample), "by_op": {...}}
    """
    import tempfile

    from .providers import onnxruntime

    ort = onnxruntime()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph's own nodes
    opts.log_severity_level = 4
    opts.intra_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        opts.enable_profiling = True
        opts.profile_file_prefix = os.path.join(tmp, "flops")
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        y = sess.run(None, {name: x})[0]
        events = json.loads(Path(sess.end_profiling()).read_text())
    total, by_op = 0, {}
    for e in events:
        args = e.get("args") or {}
        op = args.get("op_name")
        if e.get("cat") != "Node" or op not in ("Conv", "ConvTranspose", "MatMul", "Gemm") \
                or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        ins = [list(d.values())[0] for d in args.get("input_type_shape", [])]
        outs = [list(d.values())[0] for d in args.get("output_type_shape", [])]
        if len(ins) < 2 or not outs:
            continue
        if op == "Conv":
            f = 2 * int(np.prod(outs[0])) * int(np.prod(ins[1][1:]))
        elif op == "ConvTranspose":
            f = 2 * int(np.prod(ins[0])) * int(np.prod(ins[1][1:]))
        else:
            k = ins[0][-1]
            f = 2 * int(np.prod(outs[0])) * int(k)
        total += f
        by_op[op] = by_op.get(op, 0) + f
    per = int(np.prod(y.shape[2:])) or 1
    return {"flops": total, "per_output": total / per, "by_op": by_op}


# -- bench -----------------------------------------------------------------------------------
def best_of(fn, repeat: int) -> float:
    """Best time of `repeat` calls of fn (at least one) after a warm-up call; seconds."""
    fn()  # warm-up: compilation, allocations, kernel choice
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(path, spec, width: int = 1920, height: int = 1080, repeat: int = 3, threads: int | None = None,
          engine: str | None = None, keep: bool = True, progress=None) -> dict:
    """Time every engine x precision here on one call of a width x height frame (a sound: one block).

    Each row: fps (frames, or blocks, per second; best of `repeat` after a warm-up), the
    largest difference to onnxruntime fp32 on the same input (/255 of the output range),
    achieved GFLOP/s; reduced precisions also run the probe. `picks`: the fastest row (auto:
    within PROBE_TOLERANCE on the bench input and the probe; fp32: the fastest fp32), kept in
    the cache record when `keep`, where precision auto then follows it.
    """
    x = bench_input(spec, width, height)
    s = settings(None, None, None, threads, True)
    reference = reference_engine(path, spec) if threads is None else open_choice(
        path, spec, EngineChoice("onnxruntime", "CPUExecutionProvider", "fp32"), s)
    ref = reference.run(x)
    outputs = int(np.prod(ref.shape[2:]))
    small = probe_input(spec)
    work = model_flops(path, small)
    per_output = work["per_output"]
    rows = []
    for c in candidates(spec, engine, path, every=True):
        if progress:
            progress(c.key)
        row = {"engine": c.engine, "device": c.device, "precision": c.precision, "key": c.key}
        try:
            eng = open_choice(path, spec, c, s)
            xi = x.astype(eng.input_dtype)
            seconds = best_of(lambda: eng.run(xi), repeat)
            y = eng.run(xi).astype(np.float32)
            row.update({"seconds": seconds, "fps": 1.0 / seconds, "max_diff": output_difference(y, ref, spec),
                        "gflops": per_output * outputs / seconds / 1e9})
            if c.precision != "fp32":
                row["probe"] = probe(path, spec, eng, reference)
                write_record(path, spec, {"probes": {c.key: row["probe"]}}) if keep else None
            row["ok"] = bool(row["max_diff"] <= tolerance_for(spec) and row.get("probe", {"ok": True})["ok"]) \
                if c.precision != "fp32" else True
            eng.close()
        except GanfxError as exc:
            row.update({"error": str(exc), "ok": False})
        rows.append(row)
    timed = [r for r in rows if "fps" in r]
    picks = {}
    good = [r for r in timed if r["ok"]]
    if good:
        picks["auto"] = max(good, key=lambda r: r["fps"])["key"]
    fp32 = [r for r in timed if r["precision"] == "fp32"]
    if fp32:
        picks["fp32"] = max(fp32, key=lambda r: r["fps"])["key"]
    base = next((r for r in timed if r["key"] == "onnxruntime/CPUExecutionProvider/fp32"), None)
    for r in timed:
        r["speedup"] = r["fps"] / base["fps"] if base else None
    size = f"{width}x{height}" if spec.kind != "sound" else f"{outputs} samples"
    result = {"model": spec.name, "kind": spec.kind, "size": size, "input": list(x.shape), "outputs": outputs,
              "repeat": repeat, "flops_per_output": per_output, "unit": "sample" if spec.kind == "sound" else "pixel",
              "rate": spec.rate, "rows": rows, "picks": picks, "machine": machine(),
              "when": time.strftime("%Y-%m-%d %H:%M:%S"), "record": str(record_path(path, spec)),
              "kept": bool(keep and picks)}
    if keep and picks:
        write_record(path, spec, {"bench": {k: result[k] for k in ("size", "when", "picks", "repeat")}
                                  | {"rows": [{k: r.get(k) for k in ("key", "fps", "max_diff", "ok")} for r in rows]}})
    return result


def predict_auto(path, spec, engine: str | None = None) -> tuple:
    """What precision auto would open now, from the record alone (nothing is run). # -> (key | None, why)"""
    record = read_record(path, spec)
    avail = [c for c in candidates(spec, engine, path) if _allowed(c, engine, Settings())]
    keys = {c.key for c in avail}
    pick = ((record.get("bench") or {}).get("picks") or {}).get("auto")
    if pick in keys:
        return pick, f"measured fastest by ganfx bench at {record['bench'].get('size', '?')}"
    probes = record.get("probes", {})
    for c in avail:
        known = probes.get(c.key)
        if c.precision == "fp32":
            return c.key, "fp32: " + _fp32_why(c)
        if known is None:
            return c.key, "if its probe passes (not probed on this machine yet: the first use of auto runs it)"
        if known.get("ok"):
            return c.key, f"probed: max {known['max_diff'] * 255:.2f}/255 of fp32"
    return None, "no engine installed"


def summary(path, spec) -> dict:
    """For `ganfx info`: engines here, native precisions, and what was probed/measured for this model."""
    record = read_record(path, spec)
    return {"machine": machine(), "native_bf16": native_bf16(), "native_fp16": native_fp16(), "fast_fp16": fast_fp16(),
            "cache": str(record_path(path, spec)), "probes": record.get("probes", {}), "bench": record.get("bench"),
            "candidates": [c.key for c in candidates(spec, None, path)], "auto": dict(zip(("pick", "why"),
                                                                                          predict_auto(path, spec)))}


__all__ = ["ENGINES", "PRECISIONS", "PROBE_TOLERANCE", "SOUND_TOLERANCE", "tolerance_for", "OrtOptions",
           "OpenVinoOptions", "EngineChoice", "Engine", "open_engine", "open_choice", "candidates", "probe",
           "probe_input", "cache_folder", "read_record", "write_record", "native_bf16", "native_fp16", "fast_fp16",
           "machine", "model_flops", "summary", "settings", "Settings"]
