"""Engines side by side on every shipped model at 1080p, in one run (docs/architecture.md, "Engines").

    python benchmarks/engines.py                          # every shipped effect, texture and sound
    python benchmarks/engines.py --models watercolor --repeat 3 --size 1280x720

For each model, one network call on the same input (an effect: a 1920x1080 picture; a
texture: the noise window of a 1920x1080 frame plus its halo; a sound: one block of
runtime/sound.py), with the machine's threads. Each engine is timed in --repeat rounds
alternating with the plain onnxruntime loop, after a warm-up, and its ratio is best time to
best time of those rounds, so load from other processes falls on both alike:

- onnxruntime fp32, a plain loop: `InferenceSession(path).run(...)` with default options,
  what a script or chaiNNer would do; every ratio below is to this;
- torch eager: the same ONNX graph run node by node with torch operators (no trainer
  module is needed, so it works for any .onnx; its output is checked against onnxruntime);
  one call, no warm-up (it is the slowest);
- OpenVINO called directly: `compile_model(path, "CPU", {INFERENCE_PRECISION_HINT})` in
  fp32 and (where the CPU has them natively) bf16 and fp16, nothing else set;
- ganfx: the engine `load_model(name, precision="auto")` picks (runtime/engines.py: the
  rewrites of runtime/engine_openvino.py, the probe), timed through `Model.run`, and the
  whole `Model.apply`/`generate` of one frame for the end-to-end figure.

Every row prints ms per call, the ratio to the plain onnxruntime loop and the largest
difference to it in 8-bit steps of the output's range. The goal: ganfx auto >= 2.5x within
2/255 for every effect and texture. Then tiled against whole frames for the first effect
(fp32 and bf16, tile 256), and where onnxruntime has CUDA or TensorRT the GPU rows
(`gpu_section`: fp16 vs fp32, TensorRT vs CUDA, the share of time in copies, two frames in
flight; to be recorded in benchmarks/RESULTS.md with the GPU's name when a device is lent).
Prints measured figures only; no timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


# -- torch eager: the ONNX graph node by node ------------------------------------------------------
class TorchGraph:
    """An ONNX graph run with torch operators in eager mode (the ops the shipped generators use)."""

    def __init__(self, path):
        import onnx
        import torch
        from onnx import numpy_helper

        self.torch = torch
        model = onnx.load(str(path))
        g = model.graph
        self.inputs = [i.name for i in g.input]
        self.outputs = [o.name for o in g.output]
        self.consts = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in g.initializer}
        self.nodes = []
        for n in g.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            if n.op_type == "Constant":
                self.consts[n.output[0]] = torch.from_numpy(numpy_helper.to_array(attrs["value"]).copy())
                continue
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
            self.nodes.append((n.op_type, list(n.input), list(n.output), attrs))
        missing = sorted({op for op, *_ in self.nodes if not hasattr(self, "op_" + op)})
        if missing:  # e.g. a tile texture's gathers: no torch row rather than a traceback
            raise NotImplementedError(f"not measured (this benchmark's torch interpreter lacks {', '.join(missing)})")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        env = dict(self.consts)
        env[self.inputs[0]] = torch.from_numpy(x)
        with torch.inference_mode():
            for op, ins, outs, a in self.nodes:
                args = [env[i] if i else None for i in ins]
                env[outs[0]] = getattr(self, "op_" + op)(args, a)
        return env[self.outputs[0]].numpy()

    # operators -----------------------------------------------------------------------------
    def op_Conv(self, x, a):
        F = self.torch.nn.functional
        w, b = x[1], x[2] if len(x) > 2 else None
        nd = w.dim() - 2
        pads = a.get("pads", [0] * 2 * nd)
        if pads[:nd] != pads[nd:]:
            raise NotImplementedError("asymmetric pads")
        conv = F.conv2d if nd == 2 else F.conv1d
        return conv(x[0], w, b, a.get("strides", [1] * nd), pads[:nd], a.get("dilations", [1] * nd), a.get("group", 1))

    def op_ConvTranspose(self, x, a):
        F = self.torch.nn.functional
        w, b = x[1], x[2] if len(x) > 2 else None
        nd = w.dim() - 2
        pads = a.get("pads", [0] * 2 * nd)
        conv = F.conv_transpose2d if nd == 2 else F.conv_transpose1d
        return conv(x[0], w, b, a.get("strides", [1] * nd), pads[:nd], a.get("output_padding", [0] * nd),
                    a.get("group", 1), a.get("dilations", [1] * nd))

    def op_Resize(self, x, a):
        F = self.torch.nn.functional
        scales = [float(s) for s in x[2].tolist()] if len(x) > 2 and x[2] is not None and x[2].numel() else None
        mode = a.get("mode", "nearest")
        if scales is None:
            size = [int(s) for s in x[3].tolist()[2:]]
            kw = {"size": size}
        else:
            kw = {"scale_factor": scales[2:]}
        if mode == "nearest":
            return F.interpolate(x[0], mode="nearest", **kw)
        ctm = a.get("coordinate_transformation_mode", "half_pixel")
        return F.interpolate(x[0], mode="bilinear" if x[0].dim() == 4 else "linear", align_corners=ctm == "align_corners",
                             **kw)

    def op_LeakyRelu(self, x, a):
        return self.torch.nn.functional.leaky_relu(x[0], a.get("alpha", 0.01))

    def op_Relu(self, x, a):
        return self.torch.relu(x[0])

    def op_Tanh(self, x, a):
        return self.torch.tanh(x[0])

    def op_Sigmoid(self, x, a):
        return self.torch.sigmoid(x[0])

    def op_Clip(self, x, a):
        lo = x[1] if len(x) > 1 and x[1] is not None else a.get("min")
        hi = x[2] if len(x) > 2 and x[2] is not None else a.get("max")
        return self.torch.clamp(x[0], None if lo is None else float(lo), None if hi is None else float(hi))

    def op_Add(self, x, a):
        return x[0] + x[1]

    def op_Sub(self, x, a):
        return x[0] - x[1]

    def op_Mul(self, x, a):
        return x[0] * x[1]

    def op_Div(self, x, a):
        return x[0] / x[1]

    def op_Pow(self, x, a):
        return x[0] ** x[1]

    def op_Sqrt(self, x, a):
        return self.torch.sqrt(x[0])

    def op_Sin(self, x, a):
        return self.torch.sin(x[0])

    def op_Cos(self, x, a):
        return self.torch.cos(x[0])

    def op_Identity(self, x, a):
        return x[0]

    def op_Cast(self, x, a):
        import onnx

        return x[0].to(getattr(self.torch, np.dtype(onnx.helper.tensor_dtype_to_np_dtype(a["to"])).name))

    def op_ReduceMean(self, x, a):
        axes = a.get("axes") or (x[1].tolist() if len(x) > 1 and x[1] is not None else None)
        return self.torch.mean(x[0], dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))

    def op_Concat(self, x, a):
        return self.torch.cat(x, dim=a["axis"])

    def op_Slice(self, x, a):
        starts, ends = x[1].tolist(), x[2].tolist()
        axes = x[3].tolist() if len(x) > 3 and x[3] is not None else list(range(len(starts)))
        steps = x[4].tolist() if len(x) > 4 and x[4] is not None else [1] * len(starts)
        index = [slice(None)] * x[0].dim()
        for s, e, ax, st in zip(starts, ends, axes, steps):
            n = x[0].shape[ax]
            index[ax] = slice(max(-n, min(s, n)), max(-n - 1, min(e, n)), st)
        return x[0][tuple(index)]

    def op_DepthToSpace(self, x, a):
        t, b = x[0], a["blocksize"]
        n, c, h, w = t.shape
        if a.get("mode", "DCR") == "DCR":
            t = t.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
        else:
            t = t.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3)
        return t.reshape(n, c // (b * b), h * b, w * b)

    def op_Unsqueeze(self, x, a):
        axes = a.get("axes") or x[1].tolist()
        t = x[0]
        for ax in sorted(int(v) % (t.dim() + len(axes)) for v in axes):
            t = t.unsqueeze(ax)
        return t

    def op_Squeeze(self, x, a):
        axes = a.get("axes") or (x[1].tolist() if len(x) > 1 and x[1] is not None else None)
        t = x[0]
        for ax in sorted((int(v) % t.dim() for v in axes), reverse=True) if axes else []:
            t = t.squeeze(ax)
        return t

    def op_Shape(self, x, a):
        return self.torch.tensor(list(x[0].shape), dtype=self.torch.int64)

    def op_Gather(self, x, a):
        return self.torch.index_select(x[0], a.get("axis", 0), x[1].reshape(-1)).reshape(
            x[0].shape[:a.get("axis", 0)] + x[1].shape + x[0].shape[a.get("axis", 0) + 1:])

    def op_Reshape(self, x, a):
        shape = [int(s) for s in x[1].tolist()]
        shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return x[0].reshape(shape)

    def op_Transpose(self, x, a):
        return x[0].permute(*a["perm"])

    def op_Einsum(self, x, a):
        return self.torch.einsum(a["equation"], *x)

    def op_MatMul(self, x, a):
        return self.torch.matmul(x[0], x[1])


# -- measuring -------------------------------------------------------------------------------
def steps(a, b, spec) -> float:
    """Largest difference in 8-bit steps of the output range."""
    lo, hi = spec.output.range
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max() / (hi - lo) * 255)


def shipped(names=None) -> list:
    from ganfx.runtime.model import list_models

    out = [e for e in list_models() if e.source == "shipped" and e.spec is not None]
    if names:
        names = [n for text in names for n in text.split(",") if n]  # "a b" or "a,b"
        unknown = sorted(set(names) - {e.name for e in out})
        if unknown:
            sys.exit(f"engines.py: no shipped model named {', '.join(unknown)} "
                     f"(shipped: {', '.join(sorted(e.name for e in out))})")
        out = [e for e in out if e.name in names]
    order = {"effect": 0, "texture": 1, "sound": 2}
    return sorted(out, key=lambda e: (order.get(e.spec.kind, 3), e.name))


def paired(baseline, fn, repeat: int) -> tuple:
    """Rounds of (baseline, fn), so both see the same load from other processes. # -> (best baseline s, best fn s)"""
    fn()  # warm-up: compilation, allocations
    base, times = [], []
    for _ in range(repeat):
        for f, out in ((baseline, base), (fn, times)):
            t0 = time.perf_counter()
            f()
            out.append(time.perf_counter() - t0)
    return min(base), min(times)


def bench_model(entry, width: int, height: int, repeat: int, threads: int, rows: list) -> dict:
    import onnxruntime as ort

    from ganfx.runtime import engines
    from ganfx.runtime.model import load_model

    spec, path = entry.spec, entry.path
    x = engines.bench_input(spec, width, height)
    sound = spec.kind == "sound"
    plain = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # defaults: all cores
    name = plain.get_inputs()[0].name
    ref = plain.run(None, {name: x})[0]

    def baseline():
        plain.run(None, {name: x})

    result = {"model": entry.name, "kind": spec.kind, "input": list(x.shape)}
    what = f"{ref.shape[-1]} samples" if sound else f"{width}x{height}"
    print(f"\n{entry.name} ({spec.kind}, one call = {what}, input {list(x.shape)}):", flush=True)

    def row(label, t_ort, seconds, diff, note=""):
        ratio = t_ort / seconds
        rate = f"{ref.shape[-1] / seconds / spec.rate:8.1f}x real time" if sound else f"{1 / seconds:6.2f} fps"
        print(f"  {label:<34} {seconds * 1000:7.0f} ms {rate}  {ratio:5.2f}x (ort {t_ort * 1000:5.0f} ms)"
              f"  max diff {diff:5.2f}/255{note}", flush=True)
        rows.append((entry.name, label, seconds, ratio, diff))
        return ratio

    print("  (each row: best of its calls; the ratio is to the plain onnxruntime loop timed in the same rounds)")
    try:
        import torch

        torch.set_num_threads(threads)
        graph = TorchGraph(path)
        t0 = time.perf_counter()
        got = graph(x)  # one call (it is slow): no warm-up
        t_torch = time.perf_counter() - t0
        t0 = time.perf_counter()
        baseline()
        row(f"torch {torch.__version__.split('+')[0]} eager, 1 call", time.perf_counter() - t0, t_torch,
            steps(got, ref, spec))
        del graph
    except ImportError:
        print("  torch eager: torch not installed (ganfx[train])")
    except NotImplementedError as exc:
        print(f"  torch eager: {exc}")
    try:
        import openvino as ov

        core = ov.Core()
        for p in ["f32"] + (["bf16"] if engines.native_bf16() else []) + (["f16"] if engines.native_fp16() else []):
            compiled = core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": p})
            request = compiled.create_infer_request()

            def call(request=request):
                request.infer({0: x})
                return request.get_output_tensor(0).data

            got = np.array(call())
            t_ort, t = paired(baseline, call, repeat)
            row(f"openvino {ov.get_version().split('-')[0]} direct {p}", t_ort, t, steps(got, ref, spec))
            del call, request, compiled
    except ImportError:
        print("  openvino: not installed (pip install ganfx[openvino])")

    model = load_model(path, precision="auto", threads=threads)
    eng = model.engine
    xi = x.astype(eng.input_dtype)
    got = model.run(xi)
    probe = engines.read_record(path, spec).get("probes", {}).get(eng.choice.key)
    note = f"   (probe {probe['max_diff'] * 255:.2f}/255)" if probe else ""
    t_ort, t = paired(baseline, lambda: model.run(xi), repeat)
    ratio = row(f"ganfx auto: {eng.choice.key}", t_ort, t, steps(got, ref, spec), note)
    result.update({"auto": eng.choice.key, "ratio": ratio, "diff": steps(got, ref, spec), "why": eng.reason,
                   "ort": t_ort})
    if spec.kind == "effect":
        frame = (np.clip(x[0].transpose(1, 2, 0)[:height, :width], 0, 1) * 255).astype(np.uint8)
        t = engines.best_of(lambda: model.apply(frame), 1)
        print(f"  ganfx auto, Model.apply of a uint8 frame: {t * 1000:.0f} ms ({1 / t:.2f} fps, with conversions)")
    elif spec.kind == "texture":
        t = engines.best_of(lambda: model.generate(width, height, seed=1), 1)
        print(f"  ganfx auto, Model.generate of a frame: {t * 1000:.0f} ms ({1 / t:.2f} fps, with the noise field)")
    print(f"  auto's reason: {eng.reason}")
    return result


def gpu_section(entries, width: int, height: int, repeat: int) -> None:
    """Where onnxruntime has CUDA or TensorRT: the GPU targets (not measured yet: no GPU was lent).

    Per effect, one 1920x1080 frame per call through ganfx's engines: CUDA fp32 (the baseline),
    CUDA fp16 (with a .fp16.onnx variant), TensorRT fp32 and fp16 with the frame's shape as its
    fixed profile; the share of a CUDA call spent in the two copies (bound call vs the same
    call with input and output left on the device); a batch of 4 frames with 1 and 2 in flight.
    Targets: fp16 >= 1.5x fp32, TensorRT >= 1.3x CUDA, <= 10% in copies, 2 in flight >= 1.4x one.
    """
    import onnxruntime as ort

    from ganfx.runtime import engines
    from ganfx.runtime.engines import EngineChoice, OrtOptions

    provs = ort.get_available_providers()
    gpus = [p for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider") if p in provs]
    if not gpus:
        print("\nGPU: onnxruntime here has no CUDA or TensorRT provider; the GPU rows are not measured")
        return
    print(f"\nGPU ({', '.join(gpus)}; onnxruntime {ort.__version__}):")
    for entry in entries:
        spec, path = entry.spec, entry.path
        x = engines.bench_input(spec, width, height)
        opened = {}
        for p in gpus:
            for precision in ("fp32", "fp16"):
                choice = EngineChoice("onnxruntime", p, precision)
                fixed = tuple(x.shape) if p == "TensorrtExecutionProvider" else None
                try:
                    opened[choice.key] = engines.open_choice(path, spec, choice, OrtOptions(fixed_shape=fixed))
                except Exception as exc:  # a missing fp16 variant, a provider that fails on the model
                    print(f"  {entry.name} {choice.key}: cannot run ({exc})")
        base_key = "onnxruntime/CUDAExecutionProvider/fp32"
        base = opened.get(base_key) or next(iter(opened.values()), None)
        if base is None:
            continue
        ref = base.run(x)
        for key, eng in opened.items():
            xi = x.astype(eng.input_dtype)
            t_base, t = paired(lambda: base.run(x), lambda e=eng, xi=xi: e.run(xi), repeat)
            print(f"  {entry.name:<12} {key:<42} {t * 1000:7.1f} ms  {t_base / t:5.2f}x {base.choice.key}  "
                  f"max diff {steps(eng.run(xi), ref, spec):.2f}/255")
        if "CUDAExecutionProvider" in gpus and base.choice.device == "CUDAExecutionProvider":
            session = base.session
            xv = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
            binding = session.io_binding()
            binding.bind_ortvalue_input(spec.input.name, xv)
            binding.bind_output(spec.output.name, "cuda")
            session.run_with_iobinding(binding)
            t_total, t_device = paired(lambda: base.run(x), lambda: session.run_with_iobinding(binding), repeat)
            print(f"  {entry.name:<12} copies: {100 * max(0.0, 1 - t_device / t_total):.0f}% of a CUDA call "
                  f"({t_total * 1000:.1f} ms with copies, {t_device * 1000:.1f} ms on the device)")
            batch = np.repeat(x, 4, axis=0)
            base.in_flight = 1
            one = engines.best_of(lambda: base.run(batch), repeat)
            base.in_flight = 2
            two = engines.best_of(lambda: base.run(batch), repeat)
            print(f"  {entry.name:<12} 4 frames: 1 in flight {one * 1000:.0f} ms, 2 in flight {two * 1000:.0f} ms "
                  f"({one / two:.2f}x)")


def tiling_check(entry, threads: int) -> None:
    """Tiled vs whole on the ganfx engines (a local model: equal within 1/255 in fp32)."""
    from ganfx.runtime import engines
    from ganfx.runtime.model import load_model

    frame = (engines.synthetic_picture(960, 544).transpose(1, 2, 0) * 255).astype(np.uint8)
    print(f"\ntiled (256) vs whole 960x544 frame, {entry.name}:")
    for kw in ({"engine": "onnxruntime"}, {"engine": "openvino"},
               {"engine": "openvino", "precision": "bf16"} if engines.native_bf16() else None):
        if kw is None:
            continue
        try:
            m = load_model(entry.path, threads=threads, **kw)
        except Exception as exc:  # openvino missing
            print(f"  {kw}: {exc}")
            continue
        whole, tiled = m.apply(frame), m.apply(frame, tile=256)
        d = np.abs(whole.astype(int) - tiled.astype(int)).max()
        print(f"  {m.engine.choice.key:<40} max |tiled - whole| = {d}/255")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", help="shipped model names (default: all)")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--repeat", type=int, default=2, help="timed rounds per row after a warm-up (default 2)")
    ap.add_argument("--threads", type=int, default=None, help="threads for torch and ganfx (default: all cores)")
    ap.add_argument("--no-tiling", action="store_true")
    args = ap.parse_args(argv)

    from ganfx.runtime import engines
    from ganfx.runtime.providers import default_threads

    width, height = (int(v) for v in args.size.lower().split("x"))
    threads = args.threads or default_threads()
    m = engines.machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, features {', '.join(m['features'])}; native bf16: "
          f"{engines.native_bf16()}; engines: " + "; ".join(
              f"{k} {v.get('version', 'missing')}" for k, v in m["engines"].items()))
    print(f"threads {threads}; {args.repeat} rounds per row after a warm-up; load average "
          f"{os.getloadavg()[0]:.2f} (above 0: other processes share the CPU)")
    start = time.perf_counter()
    rows, results = [], []
    for entry in shipped(args.models):
        results.append(bench_model(entry, width, height, args.repeat, threads, rows))
    effects = [e for e in shipped(args.models) if e.spec.kind == "effect"]
    if effects and not args.no_tiling:
        tiling_check(effects[0], threads)
    gpu_section(effects, width, height, args.repeat)
    print("\nsummary: ganfx auto vs the plain onnxruntime fp32 loop (goal >= 2.5x within 2/255 for effects and textures)")
    for r in results:
        goal = "" if r["kind"] == "sound" else ("  meets the goal" if r["ratio"] >= 2.5 and r["diff"] <= 2 else
                                               "  misses the goal")
        print(f"  {r['model']:<12} {r['kind']:<8} {r['auto']:<40} {r['ratio']:5.2f}x  max diff {r['diff']:.2f}/255"
              f"{goal}")
    print(f"whole run: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
