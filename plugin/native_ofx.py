"""Building the native OpenFX bundle: ganfx.ofx, one OFX plugin per model, for OFX hosts
(DaVinci Resolve, Nuke, Natron, ...). See docs/architecture.md, "The native OpenFX bundle".

    build_ofx_bundle("ganfx.ofx.bundle")                       # C++ from plugin/ofx_native, Linux x86-64
    build_ofx_bundle("out/ganfx.ofx.bundle", overwrite=True, models=["watercolor", "my.onnx"])

The bundle, in the OpenFX layout:

    ganfx.ofx.bundle/Contents/Linux-x86-64/ganfx.ofx                  the plugin (cmake + a C++17 compiler)
    ganfx.ofx.bundle/Contents/Linux-x86-64/libonnxruntime.so.1.X.Y    from the installed onnxruntime wheel
    ganfx.ofx.bundle/Contents/Resources/models/*.onnx                 the shipped models (and their cards)
    ganfx.ofx.bundle/Contents/Resources/onnxruntime/                  onnxruntime's licence and notices

ganfx.ofx opens onnxruntime by absolute path beside itself (RUNPATH is $ORIGIN too), so a host
that carries its own onnxruntime does not capture it. At run time the plugin also offers the
models of the folders named by GANFX_OFX_MODELS. The bundle is assembled under a temporary name
beside the output and renamed into place when complete.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ganfx.runtime.errors import MediaIOError, MissingDependencyError, OutputExistsError, UserInputError
from ganfx.runtime.files import partial_path, remove_quietly, remove_stale_partials

SOURCE_DIR = Path(__file__).resolve().parent / "ofx_native"
ARCH_DIR = "Linux-x86-64"  # the OpenFX name of the binary folder for 64-bit Linux
BINARY = "ganfx.ofx"
MODELS_ENV = "GANFX_OFX_MODELS"  # folders (':' separated) whose models the plugin offers too
IMAGE_KINDS = ("effect", "texture")  # the models an OFX plugin can show
_ORT_LIB = re.compile(r"^libonnxruntime\.so\.1\.(\d+)\.(\d+)$")


def check_platform() -> None:
    machine = platform.machine().lower()
    if not sys.platform.startswith("linux") or machine not in ("x86_64", "amd64"):
        raise UserInputError(f"the OFX bundle builds for Linux x86-64 only (this is {sys.platform} {machine}); "
                             "Windows and macOS builds are not there yet")


def onnxruntime_library() -> Path:
    """The onnxruntime shared library of the installed wheel (onnxruntime/capi/libonnxruntime.so.1.*)."""
    from ganfx.runtime.providers import onnxruntime

    capi = Path(onnxruntime().__file__).resolve().parent / "capi"
    found = sorted((p for p in capi.glob("libonnxruntime.so.1.*") if _ORT_LIB.match(p.name)),
                   key=lambda p: tuple(int(v) for v in _ORT_LIB.match(p.name).groups()))
    if not found:
        raise MissingDependencyError(f"{capi}: no libonnxruntime.so.1.* in this onnxruntime; the bundle needs the "
                                     'shared library of the CPU wheel (pip install "ganfx[cpu]")')
    return found[-1]


def toolchain() -> tuple:
    """(cmake, C++ compiler) found on PATH, or MissingDependencyError saying what to install."""
    cmake = shutil.which("cmake")
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    missing = [name for name, found in (("cmake", cmake), ("a C++17 compiler (g++ or clang++)", cxx)) if not found]
    if missing:
        raise MissingDependencyError(f"building the OFX bundle needs {' and '.join(missing)}; install them "
                                     "(Debian/Ubuntu: apt-get install cmake g++)")
    return cmake, cxx


def _first_error(log: str) -> str:
    for line in log.splitlines():
        if re.search(r"\berror\b", line, re.IGNORECASE):
            return line.strip()
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def build_binary(build_dir: Path, ort_name: str, jobs: int = 1) -> Path:
    """Configure and build plugin/ofx_native in `build_dir`; -> the built ganfx.ofx."""
    cmake, _ = toolchain()
    if not (SOURCE_DIR / "CMakeLists.txt").is_file():
        raise MissingDependencyError(f"{SOURCE_DIR}: the plugin's C++ sources are not installed with ganfx")
    build_dir.mkdir(parents=True, exist_ok=True)
    log_path = build_dir / "build.log"
    steps = (
        [cmake, "-S", str(SOURCE_DIR), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
         f"-DGANFX_ORT_LIBRARY_NAME={ort_name}"],
        [cmake, "--build", str(build_dir), "--parallel", str(max(1, int(jobs)))],
    )
    log = ""
    for step in steps:
        proc = subprocess.run(step, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                              check=False)
        log += proc.stdout
        log_path.write_text(log)
        if proc.returncode != 0:
            raise MediaIOError(f"the C++ build failed: {_first_error(proc.stdout)} (log: {log_path})")
    binary = build_dir / BINARY
    if not binary.is_file():
        raise MediaIOError(f"the C++ build made no {BINARY} (log: {log_path})")
    return binary


def _models(models) -> list:
    """The .onnx files to ship: the shipped models by default, else the names or paths given (each checked)."""
    from ganfx.runtime.contract import read_spec
    from ganfx.runtime.model import resolve_model_path

    if models is None:  # the shipped image models: effects and textures (OFX has no use for sound)
        from ganfx.exported_models import MODELS_DIR

        return sorted(p for p in Path(MODELS_DIR).glob("*.onnx")
                      if not p.name.endswith(".fp16.onnx") and read_spec(p).kind in IMAGE_KINDS)
    out, seen = [], set()
    for name in models:
        path = resolve_model_path(name)
        kind = read_spec(path).kind  # a model the plugin cannot describe is refused now, with the file and the problem
        if kind not in IMAGE_KINDS:
            raise UserInputError(f"is a {kind} model; the OFX plugin renders effect and texture models", path=path)
        if path.stem in seen:
            raise UserInputError(f"two models named {path.stem!r}; the bundle names plugins by file name", path=path)
        seen.add(path.stem)
        out.append(path)
    return out


def _check_output(output: Path, overwrite: bool) -> None:
    if not output.name.endswith(".ofx.bundle") or output.name == ".ofx.bundle":
        raise UserInputError("an OFX bundle is a folder named NAME.ofx.bundle: give a name ending in .ofx.bundle",
                             path=output)
    if output.exists() or output.is_symlink():
        if not output.is_dir() or output.is_symlink():
            raise MediaIOError("exists and is not a folder; the output must be a bundle folder name", path=output)
        if not overwrite:
            raise OutputExistsError("exists already; choose another name or allow overwriting", path=output)
        if not (output / "Contents").is_dir():
            raise MediaIOError("exists and is not an OFX bundle (no Contents folder); it was left as it is",
                               path=output)
    parent = output.parent
    if not parent.is_dir():
        raise MediaIOError("folder does not exist" if not parent.exists() else "is not a folder", path=parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MediaIOError("folder cannot be written (permission denied)", path=parent)


def build_ofx_bundle(output, overwrite: bool = False, jobs: int = 1, models=None, build_dir=None) -> dict:
    """Build the bundle at `output` (a NAME.ofx.bundle folder); see the module docstring.

    `models`: names or paths of the models to ship (default: the shipped ones); `build_dir`: where
    cmake builds (default: a temporary folder, removed afterwards). Returns a summary: the bundle
    path, the models shipped, the onnxruntime version, the bundle's size in bytes.
    """
    check_platform()
    output = Path(output)
    _check_output(output, overwrite)
    toolchain()
    ort = onnxruntime_library()
    shipped = _models(models)
    remove_stale_partials(output)
    tmp = partial_path(output)
    own_build = build_dir is None
    build = Path(tempfile.mkdtemp(prefix="ganfx-ofx-build-")) if own_build else Path(build_dir)
    keep_build = not own_build
    try:
        try:
            binary = build_binary(build, ort.name, jobs)
        except MediaIOError:
            keep_build = True  # the error names the build log in it
            raise
        arch = tmp / "Contents" / ARCH_DIR
        resources = tmp / "Contents" / "Resources"
        (resources / "models").mkdir(parents=True)
        arch.mkdir(parents=True)
        shutil.copy2(binary, arch / BINARY)
        shutil.copy2(ort, arch / ort.name)
        for model in shipped:
            shutil.copy2(model, resources / "models" / model.name)
            card = model.with_suffix(".md")
            if card.is_file():
                shutil.copy2(card, resources / "models" / card.name)
        notices = resources / "onnxruntime"
        notices.mkdir()
        ort_root = ort.parent.parent
        for name in ("LICENSE", "ThirdPartyNotices.txt", "Privacy.md"):
            if (ort_root / name).is_file():
                shutil.copy2(ort_root / name, notices / name)
        old = None
        if output.exists():  # overwrite: the old bundle steps aside only once the new one is complete
            old = output.with_name(f".{output.name}.old-{os.getpid()}")
            os.replace(output, old)
        try:
            os.replace(tmp, output)
        except OSError:
            if old is not None:
                os.replace(old, output)
            raise
        if old is not None:
            remove_quietly(old)
    except OSError as exc:
        raise MediaIOError(f"cannot write the bundle ({exc.strerror or exc})", path=output) from None
    finally:
        remove_quietly(tmp)
        if not keep_build:
            shutil.rmtree(build, ignore_errors=True)
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    version = ".".join(_ORT_LIB.match(ort.name).groups())
    return {"bundle": output, "models": [m.stem for m in shipped], "onnxruntime": f"1.{version}", "bytes": size}
