"""The per-frame work of `ganfx render` and `ganfx generate`, behind one small interface.

Both commands build their processor here and nowhere else, and the render pipeline
(ganfx.runtime.pipeline) only ever calls these three methods:

    processor = make_processor("watercolor", {"strength": "0.8"}, ProcessorOptions(tile=512))
    processor.begin((1001, 1100))                       # inclusive frame range about to render
    out = processor.process(frames, [1001, 1002])       # [N,H,W,C] in -> [N,H,W,C] out, same dtype
    processor.end()

    tex = make_processor("brick", {"speed": "0.5"}, ProcessorOptions(size=(1920, 1080), fps=Fraction(25)))
    out = tex.process(None, [0, 1, 2])                  # generators get no frames: [3,1080,1920,3] float32 linear

Frames follow the media convention: uint8/uint16 are sRGB, float32 is scene-linear; an
effect returns the dtype (and alpha) it was given, a generator float32 linear RGB. Besides the
three methods the commands read `processor.kind` ("effect" | "texture") and `processor.spec`
(the model's ModelSpec) to refuse the wrong kind of model with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ganfx.runtime.errors import UserInputError


@dataclass(frozen=True)
class ProcessorOptions:
    tile: int | None = None  # tile size in pixels; None = whole frames (very large frames tile anyway)
    providers: tuple | None = None  # onnxruntime execution providers, best first; None = automatic
    precision: str = "fp32"  # "fp32" | "fp16" (loads the model's .fp16.onnx variant)
    threads: int | None = None  # CPU threads for onnxruntime; None = GANFX_THREADS or all cores
    # generators only
    size: tuple | None = None  # (width, height) of generated frames
    fps: Fraction = Fraction(24)  # animation time of frame n is n / fps seconds
    loop_frames: int | None = None  # loop length in frames (frame n == frame 0); None = the model parameter "loop"


class ModelProcessor:
    """A loaded ganfx model applied to batches of frames (effect) or generating them (texture)."""

    def __init__(self, model, params: dict, options: ProcessorOptions):
        self.model, self.spec, self.options = model, model.spec, options
        self.kind = self.spec.kind  # "effect" | "texture"
        self.params = params  # coerced values of the model's parameters

    def begin(self, frame_range) -> None:
        self.frame_range = frame_range

    def process(self, frames, frame_numbers) -> np.ndarray:
        if self.kind == "effect":
            if frames is None:
                raise UserInputError(f"{self.spec.name} is an effect model: it needs source frames")
            colorspace = "linear" if frames.dtype.kind == "f" else "srgb"
            return self.model.apply(frames, strength=float(self.params.get("strength", 1.0)),
                                    tile=self.options.tile, colorspace=colorspace)
        return np.stack([self._generate(n) for n in frame_numbers])

    def _generate(self, number: int) -> np.ndarray:
        p, o = self.params, self.options
        if o.size is None:
            raise UserInputError(f"{self.spec.name} is a texture model: it needs an output size")
        width, height = o.size
        fps = Fraction(o.fps)
        loop_frames = o.loop_frames if o.loop_frames is not None else int(p.get("loop", 0) or 0)
        return self.model.generate(
            width, height, t=float(number / fps), seed=int(p.get("seed", 0)), speed=float(p.get("speed", 1.0)),
            loop=float(loop_frames / fps) if loop_frames else None, tileable=bool(p.get("tileable", False)),
            scale=float(p.get("scale", 1.0)), tile=o.tile, dtype=np.float32, colorspace="linear",
        )  # [H,W,C] float32, scene-linear

    def end(self) -> None:
        pass


def make_processor(model_name, params: dict, options: ProcessorOptions) -> ModelProcessor:
    """Load `model_name` (name or path), check `params` (name -> value or string) against its contract."""
    from ganfx.runtime.model import load_model

    # No spinning: the model shares the cores with the pipeline's decode and encode threads.
    model = load_model(model_name, providers=list(options.providers) if options.providers else None,
                       precision=options.precision, threads=options.threads, spinning=False)
    return ModelProcessor(model, model.spec.coerce_params(params), options)


def parse_params(items) -> dict:
    """["strength=0.5", "look=cool"] -> {"strength": "0.5", "look": "cool"}."""
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserInputError(f"--param takes name=value, got {item!r}")
        out[name.strip()] = value.strip()
    return out
