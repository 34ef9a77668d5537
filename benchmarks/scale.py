"""Scale-out overheads: a shot as 4 farm chunks + `ganfx concat` vs one render, and a local Ray render.

    python benchmarks/scale.py                          # watercolor, a 5 s 1080p shot, ffv1 .mkv
    python benchmarks/scale.py --size 640x360 --frames 48 --no-ray      # a short, small shot

Every render is a `ganfx` process, as on a farm: one render of the whole shot; the `--plan 4`
chunks run one after another on this machine (so the extra is what chunking costs: process
starts, model loads, seeks, the join), then their concat; and `--ray` on a local cluster (its
start included). Prints the wall times and the measured ratios (target for chunks: <= 1.10)
and checks that the joined and Ray outputs decode to the single render's pixels.

Each chunk pays a fixed cost the single render pays once: a process start and imports
(about 0.4 s here), the model's first run at the frame size (memory for its activations),
and decoding from the keyframe before its first frame. The plate is h264 with a keyframe
every `--keyint` frames (24: a second, as camera files and editorial intermediates have), so
the overhead ratio says how much of a chunk that fixed cost is: small for a real shot, large
for a few small frames.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def make_clip(path: Path, frames: int, width: int, height: int, keyint: int = 24) -> Path:
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.codec_context.time_base = Fraction(1, 24)
        v.codec_context.options = {"g": str(keyint)}
        base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for i in range(frames):
            img = np.roll(base, 4 * i, axis=1)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 24)
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
    return path


def ganfx(*argv) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", *map(str, argv)], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"ganfx {' '.join(map(str, argv[:2]))} failed: {r.stderr.strip()[-500:]}")
    return time.perf_counter() - t0


def frames_of(path):
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="watercolor")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--keyint", type=int, default=24, help="keyframe interval of the h264 plate")
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray measurement")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="ganfx-scale-") as tmp:
        tmp = Path(tmp)
        clip = make_clip(tmp / "plate.mp4", args.frames, w, h, args.keyint)
        common = ["--quiet"]
        ganfx("render", args.model, clip, "-o", tmp / "warm.mkv", "--frames", "0-1", *common)  # warm the disk cache
        single = ganfx("render", args.model, clip, "-o", tmp / "single.mkv", *common)
        chunk = math.ceil(args.frames / args.chunks)
        r = subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", "render", args.model, str(clip), "-o",
                            str(tmp / "chunked.mkv"), "--plan", str(chunk), *common], capture_output=True, text=True)
        lines = r.stdout.splitlines()
        if r.returncode or not lines:
            sys.exit(f"--plan failed: {r.stderr.strip()}")
        times = [ganfx(*shlex.split(line)[1:]) for line in lines[:-1]]
        join = ganfx(*shlex.split(lines[-1])[1:])
        chunked = sum(times) + join
        same = all(np.array_equal(a, b) for a, b in zip(frames_of(tmp / "single.mkv"), frames_of(tmp / "chunked.mkv")))
        print(f"{args.model} at {w}x{h}, {args.frames} frames (plate: h264, a keyframe every {args.keyint}), "
              f"ffv1 .mkv, {os.cpu_count()} CPUs")
        print(f"  one render:             {single:7.2f} s")
        print(f"  {len(times)} chunks + concat:     {chunked:7.2f} s  (chunks {' + '.join(f'{t:.2f}' for t in times)}, "
              f"concat {join:.2f})  pixels equal: {same}")
        print(f"  chunk overhead ratio:   {chunked / single:7.3f}  (target <= 1.10)")
        if not args.no_ray:
            try:
                import ray  # noqa: F401
            except ImportError:
                print("  ray: not installed (pip install \"ganfx[ray]\")")
                return
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            t = ganfx("render", args.model, clip, "-o", tmp / "ray.mkv", "--ray", "--plan", chunk, *common)
            same = all(np.array_equal(a, b) for a, b in zip(frames_of(tmp / "single.mkv"), frames_of(tmp / "ray.mkv")))
            print(f"  Ray (local cluster):    {t:7.2f} s  pixels equal: {same}")
            print(f"  Ray / one render ratio: {t / single:7.3f}  (cluster start included)")


if __name__ == "__main__":
    main()
