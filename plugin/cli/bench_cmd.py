"""`ganfx bench MODEL`: time every engine and precision this machine has, and say what auto picks.

    ganfx bench watercolor                      # one 1920x1080 frame per call
    ganfx bench redbrick --size 3840x2160 --json
    ganfx bench fire                            # a sound: one block of samples per call

Each row: frames per second (best of --repeat after a warm-up), the largest difference to
onnxruntime fp32 on the same input in 8-bit steps of the output range, achieved GFLOP/s
(the model's convolution work per output pixel times the pixels, over the time), and the
speed-up over onnxruntime fp32 on the CPU. A sound model is timed on one block of
runtime/sound.py: samples per second and times real time. The fastest row within 2/255 of
fp32 (on the bench input and on the probe) becomes what `--precision auto` runs for this
model on this machine; it is kept in the cache folder (runtime/engines.py), and `ganfx info`
shows it.
"""

from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("model", help="model name (see `ganfx models`) or path to an .onnx file")
    parser.add_argument("--size", metavar="WxH", default=None, help="frame size of one call (default 1920x1080)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N", help="timed calls per row (default 3)")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads for every engine (default: all cores)")
    parser.add_argument("--engine", choices=("onnxruntime", "openvino"), help="time only this engine")
    parser.add_argument("--no-keep", action="store_true", help="do not keep the pick for --precision auto")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")


def run(args) -> int:
    import json
    import sys

    from ganfx.plugin.cli.generate_cmd import parse_size
    from ganfx.runtime.contract import read_checked
    from ganfx.runtime.engines import PROBE_TOLERANCE, bench
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.model import resolve_model_path

    path = resolve_model_path(args.model)
    spec, _ = read_checked(path)
    if spec.kind == "sound" and args.size:
        raise UserInputError("a sound model is timed on one block of samples; --size is for images", path=path)
    width, height = parse_size(args.size) if args.size else (1920, 1080)
    if args.repeat < 1:
        raise UserInputError(f"--repeat must be at least 1, got {args.repeat}")
    if args.threads is not None and args.threads < 1:
        raise UserInputError(f"--threads must be at least 1, got {args.threads}")

    def progress(key):
        if not args.json:
            print(f"  timing {key} ...", file=sys.stderr, flush=True)

    result = bench(path, spec, width, height, repeat=args.repeat, threads=args.threads, engine=args.engine,
                   keep=not args.no_keep, progress=progress)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(format_result(result, PROBE_TOLERANCE))
    return 0


def format_result(r: dict, tolerance: float) -> str:
    m = r["machine"]
    unit = r["unit"]
    lines = [f"{r['model']} ({r['kind']}) at {r['size']} per call; {m['cpu']}, {m['cores']} cores; best of "
             f"{r['repeat']}", f"model work: {_flops(r['flops_per_output'])} per output {unit}"]
    sound = r["kind"] == "sound"
    head = f"  {'engine':<12} {'device':<28} {'prec':<5} {'samples/s' if sound else 'fps':>10} " \
           f"{'x real time' if sound else 'ms/frame':>11} {'GFLOP/s':>8} {'vs ort fp32':>11}  max diff to fp32"
    lines.append(head)
    for row in r["rows"]:
        name = f"  {row['engine']:<12} {row['device']:<28} {row['precision']:<5}"
        if "error" in row:
            lines.append(f"{name} cannot run here: {row['error']}")
            continue
        rate = row["fps"] * r["outputs"] if sound else row["fps"]
        second = rate / r["rate"] if sound and r.get("rate") else row["seconds"] * 1000
        verdict = "" if row["precision"] == "fp32" else ("  within" if row["ok"] else "  outside") + \
            f" {tolerance * 255:.0f}/255" + (f" (probe {row['probe']['max_diff'] * 255:.2f})" if "probe" in row else "")
        speed = f"{row['speedup']:.2f}x" if row.get("speedup") else "-"
        lines.append(f"{name} {rate:>10.{0 if sound else 2}f} {second:>11.{1 if sound else 0}f} {row['gflops']:>8.1f} "
                     f"{speed:>11}  {row['max_diff'] * 255:.2f}/255{verdict}")
    picks = r["picks"]
    if "auto" in picks:
        best = next(x for x in r["rows"] if x["key"] == picks["auto"])
        lines.append(f"auto picks: {picks['auto']} ({best['speedup']:.2f}x onnxruntime fp32 on the CPU)"
                     if best.get("speedup") else f"auto picks: {picks['auto']}")
    else:
        lines.append("auto picks: nothing ran here")
    if r.get("kept"):
        lines.append(f"kept for --precision auto on this machine in {r['record']}")
    return "\n".join(lines)


def _flops(f: float) -> str:
    return f"{f / 1e3:.1f} kFLOP" if f >= 1000 else f"{f:.0f} FLOP"
