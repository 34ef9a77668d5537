"""The runtime and plugin layer never import torch (a fresh interpreter proves it)."""

import subprocess
import sys


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_runtime_and_plugin_do_not_import_torch():
    out = _fresh(
        "import sys, pkgutil, importlib\n"
        "import ganfx.runtime, ganfx.plugin\n"
        "import ganfx.runtime.contract, ganfx.runtime.model, ganfx.runtime.noise, ganfx.runtime.tiling\n"
        "import ganfx.runtime.frames, ganfx.runtime.providers, ganfx.runtime.onnxfile\n"
        "for pkg in (ganfx.runtime, ganfx.plugin):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if '.blender' not in m.name and not m.name.endswith('__main__'):\n"
        "            importlib.import_module(m.name)\n"
        "print('torch' in sys.modules, 'onnx' in sys.modules)\n"
    )
    assert out.split() == ["False", "False"]


def test_cli_help_does_not_import_heavy_modules():
    out = _fresh(
        "import sys\n"
        "from ganfx.plugin.cli import build_parser\n"
        "build_parser().format_help()\n"
        "print(sorted(m for m in ('torch', 'onnxruntime', 'cv2', 'av') if m in sys.modules))\n"
    )
    assert out.strip() == "[]"
