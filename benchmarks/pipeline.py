"""Render pipeline throughput (end-to-end vs the slowest stage; docs/architecture.md, "Benchmarks"), measured in one run.

    python benchmarks/pipeline.py                      # 48 frames of 1080p h264 -> h264, tiny test effect
    python benchmarks/pipeline.py --frames 96 --codec prores --batch 2 --model path/to/effect.onnx

    python benchmarks/pipeline.py --model watercolor --precision auto --frames 24   # the engine auto picks

Writes a 1080p clip (moving gradient and shapes, with an audio track) into a temporary
folder, then times each stage alone on the same frames — decode, preprocess (batching),
inference, postprocess (conversion for the writer), encode — and the whole threaded
pipeline (`ganfx.runtime.pipeline.render_file`). Prints frames/s of each and the ratio
end-to-end / slowest stage alone (target >= 0.9: the stages overlap and the slowest one
sets the pace). On a machine with few cores the stages compete for them, which the
ratio shows.

Then, on a CPU-only machine, the split of the cores between inference and the codecs by
measurement (`ganfx.runtime.providers.split_threads`): the pipeline is run on the first
--split-frames frames with 1..cores inference threads (decode and encode keep the rest,
their codecs choosing their own threads), and the fastest is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def make_clip(path: Path, frames: int, width: int, height: int, rate: Fraction) -> Path:
    """Moving content so the codecs do real work; 48 kHz stereo tone as long as the video."""
    import av

    from media import _write_tone

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.codec_context.options = {"preset": "veryfast", "crf": "18"}
        a = c.add_stream("aac", rate=48000)
        a.layout = "stereo"
        for i in range(frames):
            img = np.empty((height, width, 3), np.uint8)
            img[..., 0] = (128 + 127 * np.sin(xx / 97 + i / 5)).astype(np.uint8)
            img[..., 1] = (128 + 127 * np.cos(yy / 71 - i / 7)).astype(np.uint8)
            img[..., 2] = ((xx + yy + 9 * i) % 256).astype(np.uint8)
            x0 = (40 * i) % (width - 200)
            img[300:500, x0 : x0 + 200] = (250, 240, 30)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        _write_tone(c, a, "aac", int(round(frames / rate * 48000)))
    return path


class Offloaded:
    """Inference off the CPU, as on a GPU: waits the measured per-frame model time, returns the frames."""

    def __init__(self, seconds_per_frame):
        self.seconds = seconds_per_frame

    def begin(self, frame_range, output=None):
        pass

    def process(self, frames, numbers):
        time.sleep(self.seconds * len(numbers))
        return frames

    def end(self):
        pass


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--codec", default="h264", help="output codec (h264, h265, prores, ffv1, ...)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--tile", type=int, default=None)
    ap.add_argument("--model", help="effect .onnx (default: the tiny two-conv test effect)")
    ap.add_argument("--threads", type=int, default=None, help="inference CPU threads (default: all cores)")
    ap.add_argument("--engine", choices=("auto", "onnxruntime", "openvino"), help="engine (default onnxruntime)")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16", "auto"))
    ap.add_argument("--split-frames", type=int, default=12, help="frames per trial of the thread split (0: skip)")
    args = ap.parse_args()

    from ganfx.runtime.io import Frame, OutputSpec, open_reader, open_writer
    from ganfx.plugin.session import SessionOptions, open_session
    from ganfx.runtime.pipeline import RenderOptions, render_file

    width, height = (int(v) for v in args.size.lower().split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="ganfx-bench-"))
    if args.model:
        model_path = args.model
    else:
        from onnx_models import make_effect_model

        model_path = make_effect_model(tmp / "testfx.onnx")
    # The render session `ganfx render` drives (it loads the model without spinning threads).
    engine = {"engine": args.engine, "precision": args.precision}
    proc = open_session(model_path, {}, SessionOptions(tile=args.tile, threads=args.threads, **engine))
    ext = {"prores": ".mov", "prores4444": ".mov", "png": ".mov", "ffv1": ".mkv"}.get(args.codec, ".mp4")
    clip = make_clip(tmp / "clip.mp4", args.frames, width, height, Fraction(24000, 1001))
    print(f"clip: {width}x{height}, {args.frames} frames, h264 + aac -> {args.codec}{ext}; "
          f"model {Path(model_path).name}; batch {args.batch}; tile {args.tile}; cores {os.cpu_count()}; "
          f"engine {proc.model.engine.choice.key}; inference threads {args.threads or 'default'}")

    n = args.frames
    # Warm up (first-call allocations in onnxruntime and codecs) outside the timings.
    with open_reader(clip) as r:
        first = next(iter(r.frames()))
    proc.process(first.image[None], [0])

    with open_reader(clip) as r:
        p = r.properties
        frames = []
        t_decode = timed(lambda: frames.extend(r.frames()))
    batches = [frames[i : i + args.batch] for i in range(0, n, args.batch)]
    stacked = []
    t_pre = timed(lambda: stacked.extend(np.stack([f.image for f in b]) for b in batches))
    outputs = []
    t_inf = timed(lambda: outputs.extend(proc.process(s, list(range(len(s)))) for s in stacked))
    spec = OutputSpec(p.width, p.height, p.frame_rate, p.time_base, codec=args.codec, bit_depth=p.bit_depth,
                      audio_from=str(clip))
    writer = open_writer(tmp / f"encode_only{ext}", spec)
    converted = []
    t_post = timed(lambda: converted.extend(writer.convert(img) for out in outputs for img in out))

    def encode():
        for f, img in zip(frames, converted):
            writer.write(Frame(f.number, img, f.pts, f.duration))
        writer.commit()

    t_enc = timed(encode)
    del stacked, outputs, converted
    options = RenderOptions(batch=args.batch, codec=args.codec, progress="quiet")
    stats = render_file(clip, tmp / f"end_to_end{ext}", proc, options=options)

    stages = {"decode": t_decode, "preprocess": t_pre, "inference": t_inf, "postprocess": t_post, "encode": t_enc}
    for name, seconds in stages.items():
        print(f"  {name:<12} alone: {n / seconds:8.1f} fps")
    slowest = min(stages, key=lambda k: n / stages[k])
    print(f"  end-to-end        : {stats.fps:8.1f} fps   (busy s per stage in the pipeline: "
          + ", ".join(f"{k} {v:.2f}" for k, v in stats.busy.items()) + ")")
    ratio = stats.fps / (n / stages[slowest])
    print(f"ratio end-to-end / slowest stage ({slowest}): {ratio:.2f}  (target >= 0.9)")
    serial = n / sum(stages.values())
    print(f"  (stages one after another would give {serial:.1f} fps; all stages share {os.cpu_count()} cores)")

    # The same pipeline with the model's time spent off the CPU (as on a GPU), so the
    # stages no longer compete for cores: this isolates the pipeline's own overhead.
    off = render_file(clip, tmp / f"offloaded{ext}", Offloaded(t_inf / n), options=options)
    slowest_off = min(n / t_inf, n / t_decode, n / t_enc, n / t_pre, n / t_post)
    print(f"inference off the CPU ({1000 * t_inf / n:.0f} ms/frame wait): end-to-end {off.fps:.1f} fps, "
          f"ratio to the slowest stage {off.fps / slowest_off:.2f}")

    gpu = proc.model.engine.choice.device not in ("CPU", "CPUExecutionProvider")
    if args.split_frames and not gpu:
        from ganfx.runtime.providers import default_threads, split_threads

        cores = default_threads()
        short = RenderOptions(batch=args.batch, codec=args.codec, progress="quiet")
        k_frames = min(args.split_frames, n)

        def trial(threads):
            with open_session(model_path, {}, SessionOptions(tile=args.tile, threads=threads, **engine)) as s:
                s.process(first.image[None], [0])  # compile and warm up outside the timing
                stats = render_file(clip, tmp / f"split{threads}{ext}", s, frames=(0, k_frames - 1), options=short)
            return stats.fps

        best, table = split_threads(trial, cores)
        print(f"thread split by measurement ({k_frames} frames end to end per trial, {cores} cores): "
              + ", ".join(f"{k} inference thread{'s' if k > 1 else ''} {fps:.2f} fps" for k, fps in table.items()))
        print(f"  split: inference {best} thread{'s' if best > 1 else ''}, decode + encode the other "
              f"{cores - best} core{'s' if cores - best != 1 else ''} (and any the inference leaves idle)")


if __name__ == "__main__":
    main()
