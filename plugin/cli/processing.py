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
(the model's ModelSpec; for a user plugin just its `.name`) to refuse the wrong kind of model.

The work itself is the plugin layer's: the model is wrapped in a GanEffect (or a user plugin
file is loaded, see ganfx.plugin.discovery) and every frame is rendered by the reference host
(ganfx.plugin.host.Host) through the OpenFX actions — the same path the Blender extension takes.
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
    """A plugin (a ganfx model's GanEffect, or a user plugin) driven through the reference host.

    The CLI is an OpenFX-style host: every frame goes through ganfx.plugin.host.Host, the same
    actions (regions, identity, render) the Blender extension and any other host call.
    """

    def __init__(self, plugin, params: dict, options: ProcessorOptions):
        from ganfx.plugin.ofx import FILTER, HostInfo
        from ganfx.plugin.host import Host

        self.plugin, self.options = plugin, options
        self.model = getattr(plugin, "model", None)  # the loaded Model of a GanEffect; None for user plugins
        width, height = options.size or (1920, 1080)
        info = HostInfo(name="ganfx-cli", project_size=(width, height), frame_rate=float(Fraction(options.fps)),
                        tile=options.tile, pixel_depth="float")
        self.host = Host(plugin, info)
        self.spec = getattr(plugin, "spec", None) or _PluginSpec(self.host.descriptor.label)
        self.kind = "effect" if FILTER in self.host.descriptor.contexts else "texture"
        if self.kind == "texture" and options.loop_frames is not None and self.host.descriptor.param("loop"):
            params = {**params, "loop": options.loop_frames}  # --loop: over the whole frame count
        self.instance = self.host.create_instance(params)
        self.params = self.instance.values  # checked values of the plugin's parameters
        self._open = False

    def begin(self, frame_range) -> None:
        self.end()
        self.frame_range = frame_range
        self.host.begin_sequence(self.instance, frame_range or (0, 0))
        self._open = True

    def process(self, frames, frame_numbers) -> np.ndarray:
        if not self._open:  # called without begin(): a sequence of just these frames
            self.begin((min(frame_numbers), max(frame_numbers)))
        if self.kind == "effect":
            if frames is None:
                raise UserInputError(f"{self.spec.name} is an effect model: it needs source frames")
            return np.stack([self.host.render_frame(self.instance, n, f) for f, n in zip(frames, frame_numbers)])
        if self.options.size is None:
            raise UserInputError(f"{self.spec.name} is a texture model: it needs an output size")
        return np.stack([self.host.render_frame(self.instance, n) for n in frame_numbers])  # float32 linear

    def end(self) -> None:
        if self._open:
            self._open = False
            self.host.end_sequence(self.instance)


@dataclass(frozen=True)
class _PluginSpec:
    name: str  # what the commands print about a user plugin


def make_processor(model_name, params: dict, options: ProcessorOptions) -> ModelProcessor:
    """Open `model_name` (model name/path, or user plugin name/.py), check `params` against it."""
    from ganfx.plugin.discovery import open_plugin

    # No spinning: the model shares the cores with the pipeline's decode and encode threads.
    plugin = open_plugin(model_name, providers=list(options.providers) if options.providers else None,
                         precision=options.precision, threads=options.threads, spinning=False)
    return ModelProcessor(plugin, params, options)


def parse_params(items) -> dict:
    """["strength=0.5", "look=cool"] -> {"strength": "0.5", "look": "cool"}."""
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserInputError(f"--param takes name=value, got {item!r}")
        out[name.strip()] = value.strip()
    return out
