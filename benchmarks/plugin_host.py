"""Cost of rendering through the OpenFX-style host instead of calling the model directly.

    python benchmarks/plugin_host.py                   # 1080p uint8, tiny test effect, 1 thread
    python benchmarks/plugin_host.py --model path/to/effect.onnx --size 3840x2160 --tile 512

`ganfx render`, `ganfx generate` and the Blender extension all go through
ganfx.plugin.host.Host. This prints seconds per frame of Model.apply alone and of
Host.render_frame (whole frames, and host tiles of --tile pixels, where the host asks the
plugin for each tile's region of interest), with the ratio host / direct (1.0 = free), and
the largest difference between the two outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="effect .onnx (default: the tiny test effect)")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    from ganfx.plugin.gan_effect import GanEffect
    from ganfx.plugin.host import Host
    from ganfx.plugin.ofx import HostInfo
    from ganfx.runtime.model import load_model

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model
        if path is None:
            from onnx_models import make_effect_model

            path = make_effect_model(Path(tmp) / "fx.onnx")
        model = load_model(path, threads=args.threads)
        w, h = (int(v) for v in args.size.lower().split("x"))
        frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        plugin = GanEffect(model)
        rows = []
        for label, tile in (("whole frame", None), (f"tile {args.tile}", args.tile)):
            direct_s, direct = best_of(lambda: model.apply(frame, strength=0.8, tile=tile), args.repeats)
            host = Host(plugin, HostInfo(tile=tile))
            inst = host.create_instance({"strength": 0.8})
            host_s, out = best_of(lambda: host.render_frame(inst, 0, frame), args.repeats)
            diff = int(np.abs(out.astype(np.int16) - direct).max())
            rows.append((label, direct_s, host_s, diff))
    print(f"{args.size}, {os.path.basename(str(path))}, {args.threads} thread(s), best of {args.repeats}")
    print(f"{'':12s} {'Model.apply s':>14s} {'Host s':>8s} {'host/direct':>12s} {'max |diff|':>11s}")
    for label, d, hs, diff in rows:
        print(f"{label:12s} {d:14.4f} {hs:8.4f} {hs / d:12.3f} {diff:11d}")


if __name__ == "__main__":
    main()
