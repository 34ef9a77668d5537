"""Runtime performance targets (docs/architecture.md, "Benchmarks"), measured in one run.

    python benchmarks/runtime_targets.py            # prints one line per target with its ratio

3. tiling overhead at tile 512 on a 1080p frame (target <= 10%), and tiled == whole within 1/255
4. peak RSS of an 8K frame through a tiled effect (target <= 1.5 GB)
5. `import ganfx.runtime` and `ganfx --help` wall time (target <= 0.5 s each), torch never imported
6. the weights digest check at load (ganfx.digest), per shipped model: ms, and its share of load_model

The effect network is a synthetic local generator of realistic width (32 channels, five 3x3
convs, halo 5) built with onnx.helper, so the script needs no trained model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def build_model(path: str) -> str:
    from onnx import helper
    from onnx_models import _conv, _save, effect_spec

    rng = np.random.default_rng(0)
    nodes, inits, x, cin = [], [], "image", 3
    for i, cout in enumerate((32, 32, 32, 32, 3)):
        n, w = _conv(f"c{i}", x, cin, cout, rng)
        nodes.append(n)
        inits += w
        x, cin = f"c{i}", cout
        if cout != 3:
            nodes.append(helper.make_node("Relu", [x], [f"r{i}"]))
            x = f"r{i}"
    nodes.append(helper.make_node("Tanh", [x], ["styled"]))
    return str(_save(path, nodes, inits, "image", 3, "styled", 3, effect_spec(name="bench", halo=5)))


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def tiling_overhead(model_path: str) -> None:
    from ganfx.runtime.model import load_model

    model = load_model(model_path)
    frame = np.random.default_rng(1).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    whole = model.apply(frame, max_pixels=1920 * 1080)
    tiled = model.apply(frame, tile=512)
    diff = int(np.abs(whole.astype(int) - tiled.astype(int)).max())
    t_whole = best_of(lambda: model.apply(frame, max_pixels=1920 * 1080))
    t_tiled = best_of(lambda: model.apply(frame, tile=512))
    overhead = t_tiled / t_whole - 1.0
    print(f"3. tiling overhead @512 on 1080p: whole {t_whole:.3f}s, tiled {t_tiled:.3f}s -> "
          f"{overhead * 100:+.1f}% (target <= +10%), max |tiled-whole| = {diff}/255 (target <= 1)")


_RSS_CODE = """
import resource, sys, numpy as np
from ganfx.runtime.model import load_model
model = load_model(sys.argv[1])
frame = np.random.default_rng(2).integers(0, 256, (4320, 7680, 3), dtype=np.uint8)
out = model.apply(frame, tile=1024)
assert out.shape == frame.shape
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def rss_8k(model_path: str) -> None:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _RSS_CODE, model_path], capture_output=True, text=True, check=True)
    peak = int(out.stdout.strip().splitlines()[-1])
    print(f"4. 8K (7680x4320) frame, tile 1024: peak RSS {peak / 2**30:.2f} GiB -> ratio to 1.5 GB "
          f"{peak / 1.5e9:.2f} (target <= 1.0), {time.perf_counter() - t0:.1f}s")


def startup() -> None:
    def timed(args):
        return best_of(lambda: subprocess.run(args, check=True, capture_output=True), repeat=5)

    t_import = timed([sys.executable, "-c", "import ganfx.runtime"])
    t_help = timed([sys.executable, "-m", "ganfx.plugin.cli", "--help"])
    torch = subprocess.run([sys.executable, "-c", "import sys, ganfx.runtime, ganfx.plugin.cli as c; "
                            "c.build_parser(); print('torch' in sys.modules)"], capture_output=True, text=True)
    print(f"5. import ganfx.runtime {t_import:.3f}s, ganfx --help {t_help:.3f}s (target <= 0.5s each; "
          f"ratios {t_import / 0.5:.2f}, {t_help / 0.5:.2f}); torch imported: {torch.stdout.strip()}")


def digest_cost() -> None:
    from ganfx.exported_models import MODELS_DIR
    from ganfx.runtime.contract import read_spec
    from ganfx.runtime.model import load_model
    from ganfx.runtime.onnxfile import read_onnx_info, weights_digest

    for path in sorted(MODELS_DIR.glob("*.onnx")):
        info = read_onnx_info(path)
        assert weights_digest(info, path) == read_spec(path).digest, path
        t_digest = best_of(lambda: weights_digest(info, path), repeat=5)
        t_load = best_of(lambda: load_model(path, threads=1), repeat=3)
        print(f"6. digest check {path.name} ({path.stat().st_size / 1e6:.1f} MB, {len(info.tensors)} tensors): "
              f"{t_digest * 1e3:.1f} ms of a {t_load * 1e3:.0f} ms load_model ({t_digest / t_load * 100:.1f}%)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = build_model(os.path.join(tmp, "bench.onnx"))
        tiling_overhead(path)
        rss_8k(path)
    startup()
    digest_cost()


if __name__ == "__main__":
    main()
