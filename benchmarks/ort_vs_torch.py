"""onnxruntime vs PyTorch eager on the same texture generator, same input, same CPU threads.

    python benchmarks/ort_vs_torch.py                       # the shipped textures' architecture
    python benchmarks/ort_vs_torch.py --threads 2 --size 512 --repeat 5

Builds the generator the way the trainer does (random weights: speed does not depend on
the values), exports it with ganfx.trainer.export, then times one forward pass of each
engine on a noise grid of SIZE x SIZE output pixels, best of REPEAT after a warm-up.
Prints the ratio torch time / onnxruntime time (targets: docs/architecture.md, "Performance").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both engines (default 1)")
    parser.add_argument("--size", type=int, default=512, help="output pixels per side (default 512)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stride", type=int, default=8)
    parser.add_argument("--widths", default="128,96,64,32", help="generator widths per level")
    parser.add_argument("--dilations", default="1,2,2,4", help="dilation of each cell block")
    parser.add_argument("--waves", type=int, default=4, help="learned waves (0 for stochastic textures)")
    parser.add_argument("--lowpass", type=int, default=32, help="low-pass waves")
    args = parser.parse_args(argv)

    import onnxruntime as ort
    import torch

    from ganfx.runtime.contract import ModelSpec, NoiseSpec, TensorSpec, texture_params
    from ganfx.runtime.engines import best_of
    from ganfx.trainer.export import ExportPlan, export_plan
    from ganfx.trainer.texture_nets import TextureGenerator, measure_halo_cells

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    widths = tuple(int(w) for w in args.widths.split(","))
    dilations = tuple(int(d) for d in args.dilations.split(","))
    G = TextureGenerator(16, args.stride, widths, len(dilations), fine_noise=1, waves=((0.3, 0.9),) * args.waves,
                         dilations=dilations, lowpass=args.lowpass).eval()
    halo = measure_halo_cells(G)
    cells = args.size // args.stride + 2 * halo
    noise = torch.randn(1, G.input_channels, cells, cells)
    spec = ModelSpec(kind="texture", name="bench", version="1", description="benchmark", license="MIT",
                     inputs=(TensorSpec("noise", G.input_channels, (-4.0, 4.0), "none"),),
                     outputs=(TensorSpec("image", 3, (-1.0, 1.0), "srgb"),), halo=halo * args.stride, multiple=1,
                     params=texture_params(), noise=NoiseSpec(G.random_channels, args.stride, halo, G.wave_vectors()))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.onnx"
        side = 2 * halo + 3
        plan = ExportPlan(G, spec, torch.randn(1, G.input_channels, side, side), [noise[:, :, :side + 2, :side + 4]],
                          "noise", "image")
        export_plan(plan, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        feed = {"noise": noise.numpy()}
        with torch.inference_mode():
            t_torch = best_of(lambda: G(noise), args.repeat)
            want = G(noise).numpy()
        t_ort = best_of(lambda: sess.run(None, feed), args.repeat)
        got = sess.run(None, feed)[0]
    px = (cells * args.stride) ** 2
    print(f"generator: stride {args.stride}, widths {widths}, {sum(p.numel() for p in G.parameters()) / 1e6:.2f}M "
          f"params; input {cells}x{cells} cells -> {cells * args.stride}x{cells * args.stride} px; "
          f"threads {args.threads}; torch {torch.__version__}, onnxruntime {ort.__version__}")
    print(f"torch eager:  {t_torch * 1000:8.1f} ms  ({px / t_torch / 1e6:.2f} Mpx/s)")
    print(f"onnxruntime:  {t_ort * 1000:8.1f} ms  ({px / t_ort / 1e6:.2f} Mpx/s)")
    print(f"max abs difference: {np.abs(got - want).max():.2e}")
    print(f"ratio onnxruntime vs torch eager: {t_torch / t_ort:.2f}x (target >= 2x)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
