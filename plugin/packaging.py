"""Packing the Blender extension: the extension code, a ganfx wheel (runtime + plugin only) and
the third-party wheels it needs at run time inside Blender, listed in blender_manifest.toml.

    build_blender_extension("ganfx_blender.zip", platforms=("linux-x64", "windows-x64"))
    build_blender_extension("ext.zip", download=False)        # ganfx wheel only (offline, tests)

Blender ships numpy, so it is not packed; torch and the trainer never are. Third-party wheels
come from `pip download --only-binary=:all: --platform ... --python-version ...`, once for each
Python a supported Blender runs; Blender installs the wheels that match its own Python and platform.
"""

from __future__ import annotations

import base64
import hashlib
import platform
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ganfx.runtime.errors import UserInputError
from ganfx.runtime.files import atomic_path, check_target

# The Python of each supported Blender: 4.2 LTS to 5.0 run 3.11, 5.1 and later 3.13.
BLENDER_PYTHONS = ("3.11", "3.13")
# What ganfx.runtime + ganfx.plugin import at run time inside Blender (numpy is Blender's own).
RUNTIME_WHEELS = ("onnxruntime", "flatbuffers", "packaging", "protobuf", "av", "opencv-python-headless")
# Blender platform name -> pip --platform tags, best first.
PLATFORMS = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "windows-x64": ("win_amd64",),
    "macos-arm64": ("macosx_14_0_arm64", "macosx_13_0_arm64", "macosx_11_0_arm64"),
    "macos-x64": ("macosx_13_0_x86_64", "macosx_10_15_x86_64", "macosx_10_9_x86_64"),
}
EXTENSION_DIR = Path(__file__).resolve().parent / "blender"


def host_platform() -> str | None:
    """The Blender platform name of this machine ("linux-x64", ...); None where Blender has no build."""
    arch = {"x86_64": "x64", "amd64": "x64", "arm64": "arm64", "aarch64": "arm64"}.get(platform.machine().lower())
    system = {"linux": "linux", "win32": "windows", "darwin": "macos"}.get(sys.platform)
    name = f"{system}-{arch}"
    return name if name in PLATFORMS else None


def _wheel_files() -> list:
    """[(archive name, path)] of ganfx.runtime, ganfx.plugin and the shipped models."""
    import ganfx.exported_models
    import ganfx.plugin
    import ganfx.runtime

    out = []
    for module in (ganfx.runtime, ganfx.plugin, ganfx.exported_models):
        root = Path(module.__file__).resolve().parent
        prefix = module.__name__.replace(".", "/")
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
                out.append((f"{prefix}/{path.relative_to(root).as_posix()}", path))
    return out


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_ganfx_wheel(folder: Path) -> Path:
    """A pure-Python wheel of ganfx with runtime + plugin only (no trainer, no torch). -> its path"""
    from ganfx.runtime import __version__

    dist = f"ganfx-{__version__}.dist-info"
    path = Path(folder) / f"ganfx-{__version__}-py3-none-any.whl"
    metadata = (f"Metadata-Version: 2.1\nName: ganfx\nVersion: {__version__}\n"
                "Summary: ganfx runtime and plugin layer (no trainer)\nRequires-Python: >=3.10\n"
                + "".join(f"Requires-Dist: {name}\n" for name in ("onnxruntime", "av", "opencv-python-headless")))
    wheel = "Wheel-Version: 1.0\nGenerator: ganfx\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    records = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, src in _wheel_files():
            data = src.read_bytes()
            zf.writestr(name, data)
            records.append(_record_line(name, data))
        for name, text in ((f"{dist}/METADATA", metadata), (f"{dist}/WHEEL", wheel)):
            zf.writestr(name, text)
            records.append(_record_line(name, text.encode()))
        records.append(f"{dist}/RECORD,,")
        zf.writestr(f"{dist}/RECORD", "\n".join(records) + "\n")
    return path


def pinned(packages=RUNTIME_WHEELS) -> list:
    """Requirements pinned to the versions installed here (the combination the tests ran with).

    Blender 4.2-5.0 bundle numpy 1.26: a newer release of a compiled package may need numpy 2.
    tests/blender_matrix.sh runs these pins under each supported Blender.
    """
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in packages:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            out.append(name)
    return out


def download_wheels(folder: Path, platforms, packages=None, pythons=BLENDER_PYTHONS) -> list:
    """pip download the runtime wheels for each Blender platform and Python. -> wheel paths in folder"""
    packages = pinned() if packages is None else packages
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in platforms:
        tags = [arg for tag in PLATFORMS[name] for arg in ("--platform", tag)]
        for python in pythons:
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps",
                   "--python-version", python, *tags, "-d", str(folder), *packages]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
                raise UserInputError(f"pip download for {name}, Python {python} failed: {last}")
    return sorted(folder.glob("*.whl"))


def manifest_text(wheels: list, platforms) -> str:
    """The extension's manifest with ganfx's version, the platforms and the packed wheels."""
    from ganfx.runtime import __version__

    text = (EXTENSION_DIR / "blender_manifest.toml").read_text()
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{__version__}"', text)
    head, sep, perms = text.partition("\n[permissions]")
    extra = ""
    if platforms:
        extra += "platforms = [" + ", ".join(f'"{p}"' for p in platforms) + "]\n"
    if wheels:
        extra += "wheels = [\n" + "".join(f'  "./wheels/{Path(w).name}",\n' for w in wheels) + "]\n"
    return head.rstrip("\n") + "\n" + extra + sep + perms


def build_blender_extension(output, platforms=(), download: bool = True, wheel_dir=None,
                            overwrite: bool = True) -> dict:
    """Write the extension zip to `output` (temp name, renamed when complete). -> summary dict"""
    bad = [p for p in platforms if p not in PLATFORMS]
    if bad:
        raise UserInputError(f"unknown platform {bad[0]!r} (known: {', '.join(PLATFORMS)})")
    if download and not platforms:
        raise UserInputError("name the platforms to pack wheels for (linux-x64, ...), or pack without downloading",
                             about="platform")
    output = check_target(output, overwrite, what="extension zip")  # before any download

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheels = [build_ganfx_wheel(tmp)]
        if wheel_dir is not None:
            wheels += sorted(Path(wheel_dir).glob("*.whl"))
        if download:
            wheels += download_wheels(tmp / "dl", platforms)
        with atomic_path(output, overwrite=overwrite) as partial:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("blender_manifest.toml", manifest_text(wheels, platforms))
                for path in sorted(EXTENSION_DIR.glob("*.py")):
                    zf.write(path, path.name)
                for w in wheels:  # a wheel is a zip already: deflating it again costs time, saves nothing
                    zf.write(w, f"wheels/{w.name}", compress_type=zipfile.ZIP_STORED)
    return {"path": output, "wheels": [w.name for w in wheels], "bytes": output.stat().st_size}
