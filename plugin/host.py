"""The reference host: drives any ImageEffect through the OpenFX actions, in OpenFX order.

`ganfx render`, `ganfx generate`, `ganfx demo` and the Blender extension all render through
this class, by way of the render session (ganfx.plugin.session).

    host = Host(GanEffect.load("watercolor"), HostInfo(tile=512))
    instance = host.create_instance({"strength": "0.8"})          # values checked against the descriptor
    host.begin_sequence(instance, (0, 99), output=PixelFormat("uint8", "srgb", 3))
    out = host.render_frames(instance, [0, 1, 2, 3], frames)      # [4,H,W,C] in -> [4,H,W,C] uint8 out
    out = host.render_frames(instance, [0, 1], frames[:2], mattes=mattes)   # + [2,H,W(,C)]: the Matte clip
    host.end_sequence(instance)
    host.destroy_instance(instance)

The host tiles render windows with the runtime's one TileGrid, asks the plugin for each
window's region of interest and identity, and hands all frames of a window to the plugin in
one `render_frames` call. The output format is negotiated once per source format
(`get_clip_preferences`); a frame is converted only when the plugin rendered something else.
Mattes, where given, connect the plugin's optional Matte clip: the host reduces them to one
channel (frames.matte_of: RGBA its alpha, RGB its luma) and crops them like the source.
Every action goes through `Host.call`, so a subclass can record or time them (the tests do).
"""

from __future__ import annotations

import numpy as np

from ganfx.runtime import frames as F
from ganfx.runtime.contract import coerce_values
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.frames import FLOAT_LINEAR_RGB, PixelFormat
from ganfx.runtime.tiling import TileGrid

from .ofx import (
    FILTER, GENERATOR, MATTE, SOURCE, BeginSequenceRenderArgs, ClipPreferencesArgs, CreateInstanceArgs,
    EndSequenceRenderArgs, FramesNeededArgs, HostInfo, Image, ImageEffect, Instance, IsIdentityArgs, Rect,
    RegionOfDefinitionArgs, RegionsOfInterestArgs, RenderArgs,
)


class Host:
    """Renders frames with one plugin; see the module docstring."""

    def __init__(self, plugin: ImageEffect, info: HostInfo | None = None):
        self.plugin, self.info = plugin, info or HostInfo()
        self.descriptor = self.call("describe")
        self.contexts = {c: self.call("describe_in_context", c) for c in self.descriptor.contexts}

    def has_clip(self, context: str, name: str) -> bool:
        """True when the plugin describes clip `name` in `context` (optional clips included)."""
        return name in {c.name for c in self.contexts[context].clips}

    def call(self, action: str, *args):
        """Run one action of the plugin. The single place actions are invoked."""
        return getattr(self.plugin, action)(*args)

    # -- instances ---------------------------------------------------------------------
    def check_values(self, values: dict) -> dict:
        """Defaults overlaid with `values` (strings allowed), each coerced; unknown names refused."""
        return coerce_values(self.descriptor.params, values, self.descriptor.label)

    def create_instance(self, values: dict | None = None, context: str | None = None) -> Instance:
        context = context or self.descriptor.contexts[0]
        if context not in self.contexts:
            raise UserInputError(f"{self.descriptor.label} has no {context} context "
                                 f"(it offers {', '.join(self.descriptor.contexts)})")
        return self.call("create_instance", CreateInstanceArgs(context, self.check_values(values), self.info))

    def destroy_instance(self, instance: Instance) -> None:
        self.call("destroy_instance", instance)

    # -- sequences ---------------------------------------------------------------------
    def begin_sequence(self, instance: Instance, frame_range: tuple, render_scale=(1.0, 1.0),
                       output: PixelFormat | None = None) -> None:
        """Begin rendering `frame_range`; `output` is what the caller's writer takes (None: the
        source's format for filters, float linear RGB for generators)."""
        instance.data["_host_range"] = tuple(frame_range)
        instance.data["_host_output"] = output
        instance.data["_host_prefs"] = {}
        self.call("begin_sequence_render", instance, BeginSequenceRenderArgs(tuple(frame_range), tuple(render_scale)))

    def end_sequence(self, instance: Instance) -> None:
        frame_range = instance.data.pop("_host_range", None)
        instance.data.pop("_host_output", None)
        instance.data.pop("_host_prefs", None)
        if frame_range is not None:
            self.call("end_sequence_render", instance, EndSequenceRenderArgs(frame_range))

    def output_format(self, instance: Instance, source: PixelFormat | None) -> tuple:
        """(what the caller wants, what the plugin will render), negotiated once per source format."""
        wanted = instance.data.get("_host_output") or (source if source is not None else FLOAT_LINEAR_RGB)
        prefs = instance.data.setdefault("_host_prefs", {})
        if source not in prefs:
            chosen = self.call("get_clip_preferences", instance, ClipPreferencesArgs(wanted, source))
            prefs[source] = chosen or wanted
        return wanted, prefs[source]

    def render_frame(self, instance: Instance, time: float, source: np.ndarray | None = None,
                     render_scale=(1.0, 1.0)) -> np.ndarray:
        """One frame. # source [H,W,C] (filters) or None (generators) -> [H',W',C']"""
        sources = None if source is None else self._as_frame(source)[None]
        return self.render_frames(instance, [time], sources, render_scale)[0]

    def render_frames(self, instance: Instance, times, sources: np.ndarray | None = None,
                      render_scale=(1.0, 1.0), mattes: np.ndarray | None = None) -> np.ndarray:
        """Whole outputs of frames `times`. # sources [N,H,W,C] (filters) or None -> [N,H',W',C']

        `mattes` [N,H,W] or [N,H,W,C], the size of the sources, connect the Matte clip. Frames
        whose regions of definition agree render together: one `render_frames` call per window.
        The result is in the format the caller asked for at begin_sequence.
        """
        times = list(times)
        scale = tuple(render_scale)
        if instance.context == FILTER:
            if sources is None:
                raise UserInputError(f"{self.descriptor.label} is a filter: it needs source frames")
            sources = np.asarray(sources)
            if sources.ndim == 3:
                sources = sources[..., None]
            if sources.ndim != 4 or sources.shape[0] != len(times):
                raise UserInputError(f"source frames must be [N,H,W,C] for {len(times)} frames, "
                                     f"got shape {list(sources.shape)}")
        if mattes is not None:
            mattes = self._matte_clip(instance, mattes, sources)
        src_format = PixelFormat.of(sources) if sources is not None else None
        wanted, made = self.output_format(instance, src_format)
        src_rod = Rect(0, 0, sources.shape[2], sources.shape[1]) if sources is not None else None
        rods = []
        for time in times:
            rod = self.call("get_region_of_definition", instance, RegionOfDefinitionArgs(time, scale))
            if rod is None:  # host default: the source's extent, or the project size for generators
                rod = src_rod if src_rod is not None else Rect(0, 0, *self.info.project_size).scaled(scale)
            rods.append(rod)
            needed = self.call("get_frames_needed", instance, FramesNeededArgs(time))
            if needed is not None and any(r != (time, time) for ranges in needed.values() for r in ranges):
                raise UserInputError(f"{self.descriptor.label} needs frames {needed}; "
                                     "this host gives the current frame only")
        if any(r != rods[0] for r in rods):  # different extents: one frame at a time
            return np.stack([self.render_frames(instance, [t], None if sources is None else sources[i:i + 1], scale,
                                                None if mattes is None else mattes[i:i + 1])[0]
                             for i, t in enumerate(times)])
        rod = rods[0]
        out = np.empty((len(times), rod.height, rod.width, made.channels), made.numpy_dtype)
        for window, crop, dst in self._windows(rod):
            pixels = self._render_window(instance, times, window, scale, sources, src_rod, made, mattes)
            out[:, dst[0], dst[1]] = pixels[:, crop[0], crop[1]]
        return out if wanted == made else F.convert(out, wanted.numpy_dtype, wanted.channels)

    def _matte_clip(self, instance: Instance, mattes, sources) -> np.ndarray:
        """Mattes as the Matte clip holds them: one channel, the sources' size. # [N,H,W(,C)] -> [N,H,W,1]"""
        if not self.has_clip(instance.context, MATTE):
            raise UserInputError(f"{self.descriptor.label} has no {MATTE} clip: it takes no matte")
        m = np.asarray(mattes)
        m = F.matte_of(m[..., None] if m.ndim == 3 else m)
        if m.ndim != 4 or m.shape[:3] != sources.shape[:3]:
            raise UserInputError(f"mattes must be [N,H,W] like the source frames {list(sources.shape[:3])}, "
                                 f"got shape {list(np.shape(mattes))}")
        return m

    @staticmethod
    def _as_frame(source) -> np.ndarray:
        source = np.asarray(source)
        if source.ndim == 2:
            source = source[..., None]
        if source.ndim != 3:
            raise UserInputError(f"source frame must be [H,W,C], got shape {list(source.shape)}")
        return source

    def _windows(self, rod: Rect):
        """(window, crop, dst) covering the region: the whole region, or tiles of the runtime's TileGrid
        when the host tiles and the plugin can. Every tile has one shape (the last in a row or
        column is shifted back inside), so a network never sees a new shape within a frame."""
        tile = self.info.tile
        if not tile or not self.descriptor.supports_tiles:
            whole = (slice(0, rod.height), slice(0, rod.width))
            yield rod, whole, whole
            return
        for t in TileGrid(rod.height, rod.width, int(tile)):
            (sy, sx) = t.src
            window = Rect(rod.x1 + sx.start, rod.y1 + sy.start, rod.x1 + sx.stop, rod.y1 + sy.stop)
            yield window, t.crop, t.dst

    @staticmethod
    def _image(frames: np.ndarray, i: int, roi: Rect) -> Image:
        return Image(frames[i, roi.y1 : roi.y2, roi.x1 : roi.x2], roi)

    def _render_window(self, instance, times, window: Rect, scale, sources, src_rod, made, mattes=None) -> np.ndarray:
        """[N, window.height, window.width, C] in format `made`: identities copied, the rest rendered at once."""
        out = np.empty((len(times), window.height, window.width, made.channels), made.numpy_dtype)
        todo = []
        for i, time in enumerate(times):
            image = matte = None
            if instance.context == FILTER:
                rois = self.call("get_regions_of_interest", instance, RegionsOfInterestArgs(time, window, scale)) or {}
                # the host clips each region to what exists
                image = self._image(sources, i, rois.get(SOURCE, window).intersect(src_rod))
                if mattes is not None:
                    matte = self._image(mattes, i, rois.get(MATTE, window).intersect(src_rod))
            identity = self.call("is_identity", instance, IsIdentityArgs(time, window, scale))
            if identity is not None:
                if instance.context == GENERATOR or identity.clip != SOURCE or identity.time != time:
                    raise UserInputError(f"{self.descriptor.label}: identity with {identity} is not supported here")
                src = sources[i, window.y1 : window.y2, window.x1 : window.x2]
                out[i] = F.convert(src, made.numpy_dtype, made.channels)
                continue
            todo.append((i, RenderArgs(time, window, scale, image, output=made, matte=matte)))
        if todo:
            pixels = self.call("render_frames", instance, [a for _, a in todo])
            pixels = np.asarray(pixels)
            if pixels.ndim != 4 or pixels.shape[:3] != (len(todo), window.height, window.width):
                raise UserInputError(f"{self.descriptor.label}: render returned {list(pixels.shape)} for "
                                     f"{len(todo)} frames of a {window.width}x{window.height} window; "
                                     "expected [N,H,W,C]")
            if not made.matches(pixels):  # a plugin that ignored the negotiated format
                pixels = F.convert(pixels, made.numpy_dtype, made.channels)
            out[[i for i, _ in todo]] = pixels
        return out
