"""Sound rendering speed (target: >= 100x real time at 48 kHz on this CPU), measured in one run.

    python benchmarks/sound.py                  # every shipped sound model
    python benchmarks/sound.py fire.onnx --seconds 60 --threads 2

For each model: the runtime's render of `--seconds` of sound (runtime/sound.py: blocks of the
absolute grid, noise made by the runtime), after one warm-up block, as x real time, on the
default engine (onnxruntime fp32) and on what `--precision auto` picks (for sound never a
reduced precision: its tolerance is two 16-bit steps); then the default through `ganfx
generate` into a 16-bit wav (noise, network, file writing and the process start). Numbers are for this machine as it
is at the time (other jobs sharing the CPU lower them); the script prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def main() -> int:
    from ganfx.runtime import load_model
    from ganfx.runtime.model import list_models
    from ganfx.runtime.sound import BLOCK_CELLS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="sound models (default: every shipped one)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (default: the runtime's)")
    args = ap.parse_args()
    names = args.models or [m.name for m in list_models() if m.spec is not None and m.spec.kind == "sound"
                            and m.source == "shipped"]
    if not names:
        print("no sound models to measure")
        return 1
    print(f"cpu cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} (other jobs lower the figures)")
    for name in names:
        speeds = {}
        for precision in ("fp32", "auto"):
            m = load_model(name, threads=args.threads or None, precision=precision)
            rate, n = m.spec.rate, int(args.seconds * m.spec.rate)
            block = BLOCK_CELLS * m.spec.noise.stride
            m.sound(block, first=10 * block, seed=99)  # warm-up: one block elsewhere
            t0 = time.perf_counter()
            m.sound(n, seed=1)
            speeds[precision] = (time.perf_counter() - t0, m.engine.choice.key)
        dt = speeds["fp32"][0]
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "x.wav")
            t1 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", "generate", name, "-o", out, "--seconds",
                            str(args.seconds), "--quiet"], check=True)
            dt_cli = time.perf_counter() - t1
        auto_dt, auto_key = speeds["auto"]
        print(f"{m.spec.name}: runtime {speeds['fp32'][1]} {args.seconds / dt:.0f}x real time ({args.seconds:g} s in "
              f"{dt:.2f} s); --precision auto ({auto_key}) {args.seconds / auto_dt:.0f}x; ganfx generate to wav "
              f"{args.seconds / dt_cli:.0f}x ({dt_cli:.2f} s, process start included); target 100x: "
              f"{'met' if args.seconds / min(dt, auto_dt) >= 100 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
