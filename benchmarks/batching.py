"""Frames per network call: `--batch 1` vs `--batch 4` for the shipped effect at 1080p.

    python benchmarks/batching.py                       # watercolor, 1920x1080, 8 frames, all cores
    python benchmarks/batching.py --model path/to/effect.onnx --frames 16 --threads 2

Renders the same uint8 frames through the render session (ganfx.plugin.session, the path
`ganfx render` takes) with batches of 1 and of N, counts the network calls the model saw,
and prints frames/s of each and the ratio batch N / batch 1, with the largest difference
between the two outputs (batched and single-frame inference must agree). On a CPU the ratio
is usually near 1 (the cores are busy either way); on a GPU larger batches keep it fed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def run(session, frames, batch):
    session.begin((0, len(frames) - 1))
    runs0 = session.model.runs
    t0 = time.perf_counter()
    out = [session.process(frames[i : i + batch], list(range(i, min(i + batch, len(frames)))))
           for i in range(0, len(frames), batch)]
    seconds = time.perf_counter() - t0
    session.end()
    return len(frames) / seconds, session.model.runs - runs0, np.concatenate(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="watercolor")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--frames", type=int, default=8, help="a multiple of --batch: a smaller last batch is a new shape")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    from ganfx.plugin.session import SessionOptions, open_session

    w, h = (int(v) for v in args.size.lower().split("x"))
    frames = np.random.default_rng(0).integers(0, 256, (args.frames, h, w, 3), dtype=np.uint8)
    with open_session(args.model, {}, SessionOptions(threads=args.threads)) as session:
        # onnxruntime plans its memory per input shape: the first call of a new shape is slow
        # (here several times a steady call), so each batch size is warmed up right before it is timed.
        run(session, frames[:1], 1)
        fps1, calls1, out1 = run(session, frames, 1)
        run(session, frames[: args.batch], args.batch)
        fpsn, callsn, outn = run(session, frames, args.batch)
    diff = int(np.abs(out1.astype(np.int32) - outn.astype(np.int32)).max())
    print(f"{args.model} at {w}x{h}, {args.frames} frames")
    print(f"  batch 1: {fps1:6.2f} fps  ({calls1} network calls)")
    print(f"  batch {args.batch}: {fpsn:6.2f} fps  ({callsn} network calls)")
    print(f"  ratio batch {args.batch} / batch 1: {fpsn / fps1:.2f}   max |batched - single| = {diff}/255")


if __name__ == "__main__":
    main()
