"""GanEffect: one OpenFX-style plugin built from any ganfx model's contract.

Effect models become filters (Source -> Output through Model.apply), texture models
generators (Output from Model.generate). The parameters are the model's ganfx.params.
Filters have an optional Matte clip: connected, it weighs the effect per pixel
(Model.apply's `matte`: 0 leaves the source, 1 gives the full effect, times strength).

    from ganfx.plugin.gan_effect import GanEffect
    from ganfx.plugin.host import Host
    host = Host(GanEffect.load("watercolor"))
    instance = host.create_instance({"strength": 0.8})
    out = host.render_frame(instance, 0, frame)          # [H,W,C] in -> [H,W,C] out

Every frame of a batch reaches the network in one call (`render_frames`), and the network's
output is written straight into the negotiated output format (RenderArgs.output): a
uint8 sRGB writer gets uint8 sRGB from the model's sRGB output, converted once.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ganfx.runtime import frames as F
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.frames import FLOAT_LINEAR_RGB, PixelFormat, fit_channels
from ganfx.runtime.model import Model
from ganfx.runtime.tiling import context_span

from .ofx import (
    FILTER, GENERATOR, MATTE, SOURCE, BeginSequenceRenderArgs, ClipDescriptor, ContextDescriptor, CreateInstanceArgs,
    IdentityResult, ImageEffect, Instance, IsIdentityArgs, PluginDescriptor, Rect, RegionsOfInterestArgs, RenderArgs,
)

# Texture parameters that models exported by older ganfx still list in ganfx.params but that
# the runtime no longer honours, with why. Such models load and render as before at the
# parameter's default; the plugin keeps the parameter (labelled removed, any range) so saved
# settings and scripts that pass the default still run, and refuses any other value in one line
# (create_instance) rather than render something other than what was asked.
RETIRED_TEXTURE_PARAMS = {
    "scale": "it rendered a smaller image and enlarged it bicubically, a blur rather than larger features",
}


def retired_params(spec) -> tuple:
    """The ParamSpecs of `spec` this runtime no longer honours (an old texture export's `scale`)."""
    if spec.kind != "texture":
        return ()
    return tuple(p for p in spec.params if p.name in RETIRED_TEXTURE_PARAMS)


def live_params(spec) -> tuple:
    """The ParamSpecs of `spec` that do something: what a host UI should show."""
    retired = retired_params(spec)
    return tuple(p for p in spec.params if p not in retired)


class GanEffect(ImageEffect):
    """The plugin of one loaded model; see the module docstring."""

    def __init__(self, model: Model):
        self.model, self.spec = model, model.spec

    @classmethod
    def load(cls, name_or_path, **load_options) -> "GanEffect":
        """`load_options` go to ganfx.runtime.load_model (providers, precision, threads, spinning)."""
        from ganfx.runtime.model import load_model

        return cls(load_model(name_or_path, **load_options))

    # -- description -------------------------------------------------------------------
    def describe(self) -> PluginDescriptor:
        s = self.spec
        return PluginDescriptor(
            identifier=f"org.ganfx.{s.name}", label=s.name, grouping="ganfx", version=s.version,
            contexts=(FILTER,) if s.kind == "effect" else (GENERATOR,), params=self._params(),
            description=s.description,
            # Textures render whole frames (the model tiles inside with the host's tile hint);
            # effects can render any window given their halo of source pixels.
            supports_tiles=s.kind == "effect",
        )

    def describe_in_context(self, context: str) -> ContextDescriptor:
        described = super().describe_in_context(context)
        if context != FILTER:
            return described
        # As OpenFX effects have mask clips: optional, one channel, weighing the effect per pixel.
        matte = ClipDescriptor(MATTE, components=("Alpha",), optional=True, is_mask=True)
        return replace(described, clips=described.clips + (matte,))

    def _params(self) -> tuple:
        """The contract's parameters; retired ones without their range, labelled removed."""
        retired = retired_params(self.spec)
        return tuple(
            replace(p, min=None, max=None, animatable=False, label=f"{p.label or p.name} (removed)",
                    help=f"removed: only {p.default} is accepted ({RETIRED_TEXTURE_PARAMS[p.name]})")
            if p in retired else p
            for p in self.spec.params
        )

    # -- instances -----------------------------------------------------------------------
    def create_instance(self, args: CreateInstanceArgs) -> Instance:
        for p in retired_params(self.spec):
            value = args.values.get(p.name, p.default)
            if value != p.default:
                raise UserInputError(
                    f"{self.spec.name}: parameter {p.name!r} was removed ({RETIRED_TEXTURE_PARAMS[p.name]}); "
                    f"this model was exported with it, but only {p.name}={p.default} is accepted, got {value}: "
                    f"drop the parameter (for the old look, render smaller and enlarge the result)")
        return super().create_instance(args)

    # -- per-frame actions ---------------------------------------------------------------
    def begin_sequence_render(self, instance: Instance, args: BeginSequenceRenderArgs) -> None:
        instance.data["frame_range"] = args.frame_range
        return None

    def get_regions_of_interest(self, instance: Instance, args: RegionsOfInterestArgs) -> dict | None:
        if self.spec.kind != "effect":
            return None
        # The model needs `halo` source pixels around every output pixel, and windows that
        # start on its size multiple (strided layers see the same phase as a whole frame).
        halo, m, w = self.spec.halo, self.spec.multiple, args.window
        (x1, x2), (y1, y2) = context_span(w.x1, w.x2, halo, m), context_span(w.y1, w.y2, halo, m)
        roi = Rect(x1, y1, x2, y2)
        return {SOURCE: roi, MATTE: roi}  # the matte over the same pixels: tiles mix exactly as a whole frame

    def is_identity(self, instance: Instance, args: IsIdentityArgs) -> IdentityResult | None:
        if self.spec.kind == "effect" and float(instance.values.get("strength", 1.0)) <= 0.0:
            return IdentityResult(SOURCE, args.time)  # strength 0: the source, no inference
        return None

    def render(self, instance: Instance, args: RenderArgs) -> np.ndarray:
        return self.render_frames(instance, [args])[0]

    def render_frames(self, instance: Instance, args: list) -> np.ndarray:
        """All frames of one window in one network call per tile. # -> [N,h,w,C] in args[0].output"""
        if self.spec.kind == "effect":
            return self._render_effect(instance, args)
        return self._render_texture(instance, args)

    def _render_effect(self, instance: Instance, args: list) -> np.ndarray:
        first = args[0]
        src = first.source  # covers the region of interest, clipped to the frame by the host
        if any(a.source.bounds != src.bounds for a in args):
            raise UserInputError(f"{self.spec.name}: frames of one window must share their region of interest")
        pixels = np.stack([a.source.pixels for a in args])  # [N,h,w,C] over src.bounds
        matte = None if first.matte is None else np.stack([a.matte.crop(src.bounds) for a in args])  # [N,h,w,1]
        source = PixelFormat.of(pixels)
        fmt = first.output or source
        # The model's own `tile` parameter (0 = off) tiles inside this render window.
        tile = int(instance.values.get("tile", 0) or 0) or None
        out = self.model.apply(pixels, strength=float(instance.values.get("strength", 1.0)), tile=tile,
                               colorspace=source.colorspace, dtype=fmt.numpy_dtype,
                               out_colorspace=fmt.colorspace, channels=fmt.channels, matte=matte)
        w, b = first.render_window, src.bounds
        return out[:, w.y1 - b.y1 : w.y2 - b.y1, w.x1 - b.x1 : w.x2 - b.x1]

    def _render_texture(self, instance: Instance, args: list) -> np.ndarray:
        v, host = instance.values, instance.host
        first = args[0]
        fmt = first.output or FLOAT_LINEAR_RGB
        fps = float(host.frame_rate)
        loop = int(v.get("loop", 0) or 0)
        window = first.render_window
        # A proxy render (render scale < 1) shows the same texture, smaller: the model renders
        # the full-resolution frame and it is reduced to the window (features keep their size
        # relative to the frame). At render scale 1 the model renders the window directly.
        sx, sy = (float(r) for r in first.render_scale)
        width, height = max(1, round(window.width / sx)), max(1, round(window.height / sy))
        resized = (width, height) != (window.width, window.height)
        out = self.model.generate(
            width, height, t=[float(a.time) / fps for a in args], seed=int(v.get("seed", 0)),
            speed=float(v.get("speed", 1.0)), loop=loop / fps if loop else None,
            tileable=bool(v.get("tileable", False)),
            tile=host.tile, dtype=np.float32 if resized else fmt.numpy_dtype, colorspace=fmt.colorspace,
        )  # [N,H,W,3]
        if resized:
            import cv2

            out = F.from_unit(np.stack([
                cv2.resize(f, (window.width, window.height), interpolation=cv2.INTER_AREA).reshape(
                    window.height, window.width, -1) for f in out]), fmt.numpy_dtype)
        return fit_channels(out, fmt.channels)
