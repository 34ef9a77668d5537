"""The render session: the one way every host drives a plugin over a sequence of frames.

`ganfx render`, `ganfx generate`, `ganfx demo` and the Blender jobs all open a session and
hand it to the runtime's pipeline (or call it directly); the session drives the plugin
through the reference host (ganfx.plugin.host.Host) and its OpenFX actions. See
docs/architecture.md, "One render path".

    with open_session("watercolor", {"strength": "0.8"}, SessionOptions(tile=512)) as session:
        session.begin((1001, 1100), output=writer.pixel_format)   # the writer's clip preferences
        out = session.process(frames, [1001, 1002])               # [N,H,W,C] in -> [N,H,W,C] out, one network call
        out = session.process(frames, [1001, 1002], mattes)       # + [N,H,W(,C)] mattes: the Matte clip connected
        session.end()

    tex = open_session("redbrick", {"speed": "0.5"}, SessionOptions(size=(1920, 1080), fps=Fraction(25)))
    out = tex.process(None, [0, 1, 2])                            # generators get no frames

Frames follow the media convention: uint8/uint16 are sRGB, float32 is scene-linear. The
output is what `begin(output=...)` asked for (a writer's `pixel_format`); without it, an
effect returns the format (and alpha) it was given, a generator float32 linear RGB.
Mattes (one per frame; RGBA: its alpha, otherwise its luma) weigh an effect per pixel:
0 keeps the source, 1 gives the effect at the `strength` parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ganfx.runtime.errors import UserInputError


@dataclass(frozen=True)
class SessionOptions:
    tile: int | None = None  # host tile size in pixels; None = whole frames (very large frames tile anyway)
    providers: tuple | None = None  # onnxruntime execution providers best first (openvino: the device); None = automatic
    precision: str = "fp32"  # "fp32" | "fp16" | "bf16" | "auto" (runtime/engines.py)
    engine: str | None = None  # "onnxruntime" | "openvino" | "auto"; None = onnxruntime, or chosen for bf16/auto
    threads: int | None = None  # CPU threads for onnxruntime; None = GANFX_THREADS or all cores
    spinning: bool = False  # idle onnxruntime threads busy-wait; off: decode and encode share the cores
    # generators only
    size: tuple | None = None  # (width, height) of generated frames
    fps: Fraction = Fraction(24)  # animation time of frame n is n / fps seconds
    loop_frames: int | None = None  # loop length in frames (frame n == frame 0); None = the model parameter "loop"


@dataclass(frozen=True)
class _PluginSpec:
    name: str  # what commands print about a user plugin


class RenderSession:
    """One plugin instance rendered through the reference host; see the module docstring.

    `kind` is "effect" (a filter) or "texture" (a generator); `spec` the model's ModelSpec (for
    a user plugin just its `.name`); `params` the checked parameter values.
    """

    def __init__(self, plugin, params: dict | None = None, options: SessionOptions = SessionOptions(),
                 host_name: str = "ganfx"):
        from ganfx.plugin.host import Host
        from ganfx.plugin.ofx import FILTER, HostInfo

        self.plugin, self.options = plugin, options
        self.model = getattr(plugin, "model", None)  # the loaded Model of a GanEffect; None for user plugins
        width, height = options.size or (1920, 1080)
        info = HostInfo(name=host_name, project_size=(width, height), frame_rate=float(Fraction(options.fps)),
                        tile=options.tile)
        self.host = Host(plugin, info)
        self.spec = getattr(plugin, "spec", None) or _PluginSpec(self.host.descriptor.label)
        # A model's contract names its kind (effect, texture, sound); a user plugin's contexts tell.
        self.kind = getattr(self.spec, "kind", None) or ("effect" if FILTER in self.host.descriptor.contexts
                                                          else "texture")
        params = dict(params or {})
        if self.kind == "texture" and options.loop_frames is not None and self.host.descriptor.param("loop"):
            params["loop"] = options.loop_frames  # loop over the whole frame count
        self.instance = self.host.create_instance(params)
        self.params = self.instance.values
        self._open = False

    @property
    def takes_matte(self) -> bool:
        """True when the plugin has a Matte clip (`process` then takes mattes)."""
        from ganfx.plugin.ofx import MATTE

        return self.host.has_clip(self.instance.context, MATTE)

    def begin(self, frame_range=None, output=None) -> None:
        """Begin a sequence (inclusive frame range); `output` is the writer's PixelFormat, or None."""
        self.end()
        self.frame_range = tuple(frame_range) if frame_range else (0, 0)
        self.host.begin_sequence(self.instance, self.frame_range, output=output)
        self._open = True

    def process(self, frames, frame_numbers, mattes=None) -> np.ndarray:
        """Render frames. # frames [N,H,W,C] (effects) or None (textures), mattes [N,H,W(,C)] or None -> [N,H',W',C']"""
        numbers = list(frame_numbers)
        if not self._open:  # called without begin(): a sequence of just these frames
            self.begin((min(numbers), max(numbers)))
        if self.kind == "effect":
            if frames is None:
                raise UserInputError(f"{self.spec.name} is an effect model: it needs source frames")
            return self.host.render_frames(self.instance, numbers, frames, mattes=mattes)
        if self.options.size is None:
            raise UserInputError(f"{self.spec.name} is a texture model: it needs an output size")
        return self.host.render_frames(self.instance, numbers, mattes=mattes)  # refused: generators have no Matte clip

    def end(self) -> None:
        if self._open:
            self._open = False
            self.host.end_sequence(self.instance)

    def close(self) -> None:
        self.end()
        if self.instance is not None:
            self.host.destroy_instance(self.instance)
            self.instance = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_session(name, params: dict | None = None, options: SessionOptions = SessionOptions(),
                 host_name: str = "ganfx") -> RenderSession:
    """Open `name` (a model name/path, or a user plugin name/.py) and check `params` against it."""
    from ganfx.plugin.discovery import open_plugin

    plugin = open_plugin(name, providers=list(options.providers) if options.providers else None,
                         precision=options.precision, threads=options.threads, spinning=options.spinning,
                         **({"engine": options.engine} if options.engine else {}))
    return RenderSession(plugin, params, options, host_name)
