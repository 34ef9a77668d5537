"""The reference host: drives any ImageEffect through the OpenFX actions, in OpenFX order.

`ganfx render`, `ganfx generate` and the Blender extension all render through this class.

    host = Host(GanEffect.load("watercolor"), HostInfo(tile=512))
    instance = host.create_instance({"strength": "0.8"})          # values checked against the descriptor
    host.begin_sequence(instance, (0, 99))
    for n, frame in enumerate(frames):                            # frame: [H,W,C]
        out = host.render_frame(instance, n, frame)               # [H,W,C]
    host.end_sequence(instance)
    host.destroy_instance(instance)

Every action goes through `Host.call`, so a subclass can record or time them (the tests do).
"""

from __future__ import annotations

import numpy as np

from ganfx.runtime.contract import coerce_values
from ganfx.runtime.errors import UserInputError

from .ofx import (
    FILTER, GENERATOR, SOURCE, BeginSequenceRenderArgs, CreateInstanceArgs, EndSequenceRenderArgs,
    FramesNeededArgs, HostInfo, Image, ImageEffect, Instance, IsIdentityArgs, Rect, RegionOfDefinitionArgs,
    RegionsOfInterestArgs, RenderArgs,
)


class Host:
    """Renders frames with one plugin; see the module docstring."""

    def __init__(self, plugin: ImageEffect, info: HostInfo | None = None):
        self.plugin, self.info = plugin, info or HostInfo()
        self.descriptor = self.call("describe")
        self.contexts = {c: self.call("describe_in_context", c) for c in self.descriptor.contexts}

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
    def begin_sequence(self, instance: Instance, frame_range: tuple, render_scale=(1.0, 1.0)) -> None:
        instance.data["_host_range"] = tuple(frame_range)
        self.call("begin_sequence_render", instance, BeginSequenceRenderArgs(tuple(frame_range), tuple(render_scale)))

    def end_sequence(self, instance: Instance) -> None:
        frame_range = instance.data.pop("_host_range", None)
        if frame_range is not None:
            self.call("end_sequence_render", instance, EndSequenceRenderArgs(frame_range))

    def render_frame(self, instance: Instance, time: float, source: np.ndarray | None = None,
                     render_scale=(1.0, 1.0)) -> np.ndarray:
        """Render the whole output of frame `time`. # source [H,W,C] (filters) -> [H',W',C']

        Filters get `source` (the Source clip at `time`); generators get None.
        """
        scale = tuple(render_scale)
        if instance.context == FILTER:
            if source is None:
                raise UserInputError(f"{self.descriptor.label} is a filter: it needs a source frame")
            source = np.asarray(source)
            if source.ndim == 2:
                source = source[..., None]
            if source.ndim != 3:
                raise UserInputError(f"source frame must be [H,W,C], got shape {list(source.shape)}")
        src_rod = Rect(0, 0, source.shape[1], source.shape[0]) if source is not None else None
        rod = self.call("get_region_of_definition", instance, RegionOfDefinitionArgs(time, scale))
        if rod is None:  # host default: the source's extent, or the project size for generators
            rod = src_rod if src_rod is not None else Rect(0, 0, *self.info.project_size).scaled(scale)
        needed = self.call("get_frames_needed", instance, FramesNeededArgs(time))
        if needed is not None and any(r != (time, time) for ranges in needed.values() for r in ranges):
            raise UserInputError(f"{self.descriptor.label} needs frames {needed}; this host gives the current frame only")
        out = None
        for window in self._windows(rod):
            pixels = self._render_window(instance, time, window, scale, source, src_rod)
            if out is None:
                if window == rod:
                    return pixels
                out = np.empty((rod.height, rod.width, pixels.shape[2]), pixels.dtype)
            out[window.y1 - rod.y1 : window.y2 - rod.y1, window.x1 - rod.x1 : window.x2 - rod.x1] = pixels
        return out

    def _windows(self, rod: Rect):
        """The render windows: the whole region, or tiles when the host tiles and the plugin can."""
        tile = self.info.tile
        if not tile or not self.descriptor.supports_tiles:
            yield rod
            return
        # One window shape: the last row/column is shifted back inside the region (it renders a
        # strip twice, identically) rather than shrunk, so a network never sees a new shape.
        def starts(lo, hi):
            if hi - lo <= tile:
                return [lo]
            return [min(p, hi - tile) for p in range(lo, hi, tile)]

        for y in starts(rod.y1, rod.y2):
            for x in starts(rod.x1, rod.x2):
                yield Rect(x, y, min(x + tile, rod.x2), min(y + tile, rod.y2))

    def _render_window(self, instance, time, window: Rect, scale, source, src_rod) -> np.ndarray:
        image = None
        if instance.context == FILTER:
            rois = self.call("get_regions_of_interest", instance, RegionsOfInterestArgs(time, window, scale))
            roi = (rois or {}).get(SOURCE, window).intersect(src_rod)  # the host clips to what exists
            image = Image(source[roi.y1 : roi.y2, roi.x1 : roi.x2], roi)
        identity = self.call("is_identity", instance, IsIdentityArgs(time, window, scale))
        if identity is not None:
            if instance.context == GENERATOR or identity.clip != SOURCE or identity.time != time:
                raise UserInputError(f"{self.descriptor.label}: identity with {identity} is not supported here")
            return source[window.y1 : window.y2, window.x1 : window.x2].copy()
        out = self.call("render", instance, RenderArgs(time, window, scale, image))
        out = np.asarray(out)
        if out.ndim != 3 or out.shape[:2] != (window.height, window.width):
            raise UserInputError(f"{self.descriptor.label}: render returned {list(out.shape)} for a "
                                 f"{window.width}x{window.height} window; expected [H,W,C]")
        return out
