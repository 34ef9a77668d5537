"""The OpenFX image-effect model, in Python: descriptors, instances and actions.

Modelled on OpenFX (include/ofxImageEffect.h). A plugin is *described* once (label,
grouping, contexts, clips, typed parameters); a host creates an *instance* per use and
calls actions on it, each with one frozen argument dataclass. An action that returns None
means "do the host default", as kOfxStatReplyDefault does in OpenFX.

    class Invert(ImageEffect):
        def describe(self):
            return PluginDescriptor("org.example.invert", "Invert", grouping="Example",
                                    contexts=(FILTER,), params=(DoubleParam("mix", 1.0, 0, 1),))

        def render(self, instance, args):                   # args: RenderArgs
            src = args.source.crop(args.render_window)      # [h,w,C] of the source clip
            return (1.0 - src) * instance.values["mix"] + src * (1 - instance.values["mix"])

Coordinates: integer pixel rectangles (x1, y1, x2, y2), x2/y2 exclusive, origin at the
top-left of the frame (numpy order) — OpenFX puts the origin bottom-left; a host bridging to
real OFX flips y. Time is a frame number (float, as in OpenFX).

Action order a host follows (see ganfx.plugin.host.Host):

    describe -> describe_in_context -> create_instance
      -> begin_sequence_render(frame_range, render_scale)
         get_clip_preferences (once per source format: what the output clip will hold)
         per batch of frames: get_region_of_definition -> get_frames_needed
                    per window: get_regions_of_interest -> is_identity
                                -> render_frames (the frames that are not identities, in one call)
      -> end_sequence_render -> destroy_instance

`render_frames` is ganfx's one addition to the OpenFX model: a batch of frames for the same
window in one call, so a network sees `[N,C,H,W]` at once. Its default renders them one by
one with `render`, so a plugin that writes only `render` works everywhere.

A filter may describe an optional `Matte` clip (`ClipDescriptor(MATTE, ("Alpha",),
optional=True, is_mask=True)`), as OpenFX effects describe mask clips. Where the host has a
matte connected it hands the plugin one channel of it (`RenderArgs.matte`, the region of
interest `get_regions_of_interest` asks for under MATTE); otherwise `matte` is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ganfx.runtime.contract import ParamSpec
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.frames import PixelFormat

FILTER = "filter"  # one Source clip in, Output out (kOfxImageEffectContextFilter)
GENERATOR = "generator"  # no source, Output only (kOfxImageEffectContextGenerator)
CONTEXTS = (FILTER, GENERATOR)
SOURCE, OUTPUT = "Source", "Output"  # clip names, as in OpenFX
MATTE = "Matte"  # an optional single-channel clip weighing a filter per pixel (an OpenFX mask clip)


# -- rectangles ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rect:
    """Pixel rectangle [x1, x2) x [y1, y2), origin top-left."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    def grow(self, left: int, top: int | None = None, right: int | None = None, bottom: int | None = None) -> "Rect":
        top = left if top is None else top
        right = left if right is None else right
        bottom = top if bottom is None else bottom
        return Rect(self.x1 - left, self.y1 - top, self.x2 + right, self.y2 + bottom)

    def intersect(self, other: "Rect") -> "Rect":
        return Rect(max(self.x1, other.x1), max(self.y1, other.y1), min(self.x2, other.x2), min(self.y2, other.y2))

    def contains(self, other: "Rect") -> bool:
        return self.x1 <= other.x1 and self.y1 <= other.y1 and self.x2 >= other.x2 and self.y2 >= other.y2

    def scaled(self, scale: tuple) -> "Rect":
        sx, sy = scale
        return Rect(int(self.x1 * sx), int(self.y1 * sy), int(-(-self.x2 * sx // 1)), int(-(-self.y2 * sy // 1)))


@dataclass(frozen=True)
class Image:
    """Pixels of a clip covering `bounds`. # pixels: [bounds.height, bounds.width, C]

    uint8/uint16 pixels are sRGB-encoded, float32 pixels scene-linear (the media convention).
    """

    pixels: np.ndarray
    bounds: Rect

    def crop(self, rect: Rect) -> np.ndarray:
        """The pixels of `rect`, which must lie inside the bounds."""
        if not self.bounds.contains(rect):
            raise UserInputError(f"image covers {self.bounds}, asked for {rect}")
        b = self.bounds
        return self.pixels[rect.y1 - b.y1 : rect.y2 - b.y1, rect.x1 - b.x1 : rect.x2 - b.x1]


# -- parameters: typed descriptors that are ganfx ParamSpecs -------------------------------
def DoubleParam(name, default=0.0, min=None, max=None, label="", animatable=True, help=""):  # noqa: A002
    return ParamSpec(name, "double", float(default), min, max, label or name, animatable=animatable, help=help)


def IntParam(name, default=0, min=None, max=None, label="", animatable=False, help=""):  # noqa: A002
    return ParamSpec(name, "int", int(default), min, max, label or name, animatable=animatable, help=help)


def BoolParam(name, default=False, label="", help=""):
    return ParamSpec(name, "bool", bool(default), label=label or name, help=help)


def ChoiceParam(name, choices, default=None, label="", help=""):
    return ParamSpec(name, "choice", default if default is not None else choices[0], label=label or name,
                     choices=tuple(choices), help=help)


def RGBParam(name, default=(1.0, 1.0, 1.0), label="", animatable=True, help=""):
    return ParamSpec(name, "rgb", tuple(default), label=label or name, animatable=animatable, help=help)


def StringParam(name, default="", label="", help=""):
    return ParamSpec(name, "string", default, label=label or name, help=help)


def FileParam(name, default="", label="", help=""):
    return ParamSpec(name, "file", default, label=label or name, help=help)


def SeedParam(name="seed", default=0, label="Seed", help=""):
    return ParamSpec(name, "seed", int(default), 0, 2**31 - 1, label, help=help)


# -- descriptors ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipDescriptor:
    name: str  # "Source" | "Output" | "Matte"
    components: tuple = ("RGB", "RGBA")  # pixel layouts accepted (kOfxImageEffectPropSupportedComponents)
    optional: bool = False  # the host may leave it unconnected (kOfxImageClipPropOptional)
    is_mask: bool = False  # a matte: one channel, 0 = leave the source, 1 = full effect (kOfxImageClipPropIsMask)


@dataclass(frozen=True)
class PluginDescriptor:
    identifier: str  # reverse-DNS unique id, e.g. "org.ganfx.watercolor"
    label: str  # shown to users
    grouping: str = "ganfx"  # menu the host files it under
    contexts: tuple = (FILTER,)  # subset of CONTEXTS
    params: tuple = ()  # (ParamSpec, ...)
    version: str = "1.0"
    description: str = ""
    supports_tiles: bool = True  # the host may render any sub-window of the output
    temporal_access: bool = False  # renders need other frames than the current one

    def __post_init__(self):
        bad = [c for c in self.contexts if c not in CONTEXTS]
        if not self.contexts or bad:
            raise UserInputError(f"plugin {self.identifier}: contexts must be from {CONTEXTS}, got {self.contexts}")

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass(frozen=True)
class ContextDescriptor:
    """What a plugin says in one context: its clips."""

    context: str
    clips: tuple  # (ClipDescriptor, ...)


# -- action arguments (frozen: a plugin can not change what the host passed) --------------
@dataclass(frozen=True)
class HostInfo:
    name: str = "ganfx"
    project_size: tuple = (1920, 1080)  # (width, height): a generator's default extent
    frame_rate: float = 24.0  # frames per second; time t is frame t
    tile: int | None = None  # the host renders tiles of this size (plugins without tiles may tile inside)


@dataclass(frozen=True)
class CreateInstanceArgs:
    context: str
    values: dict  # parameter name -> value (already checked against the descriptor)
    host: HostInfo = HostInfo()


@dataclass(frozen=True)
class BeginSequenceRenderArgs:
    frame_range: tuple  # (first, last), inclusive
    render_scale: tuple = (1.0, 1.0)  # proxy scale (x, y) of the images the plugin will see


@dataclass(frozen=True)
class ClipPreferencesArgs:
    output: PixelFormat  # what the host's output (its writer) holds: the plugin should render this
    source: PixelFormat | None = None  # what the Source clip holds (filters)


@dataclass(frozen=True)
class RegionOfDefinitionArgs:
    time: float
    render_scale: tuple = (1.0, 1.0)


@dataclass(frozen=True)
class RegionsOfInterestArgs:
    time: float
    window: Rect  # the output region about to be rendered
    render_scale: tuple = (1.0, 1.0)


@dataclass(frozen=True)
class FramesNeededArgs:
    time: float


@dataclass(frozen=True)
class IsIdentityArgs:
    time: float
    window: Rect
    render_scale: tuple = (1.0, 1.0)


@dataclass(frozen=True)
class IdentityResult:
    clip: str = SOURCE  # the output equals this clip ...
    time: float = 0.0  # ... at this time


@dataclass(frozen=True)
class RenderArgs:
    time: float
    render_window: Rect  # the output pixels to produce
    render_scale: tuple = (1.0, 1.0)
    source: Image | None = None  # the Source clip at `time`, covering the region of interest (filters)
    field: str = "none"  # interlacing: always "none" here
    output: PixelFormat | None = None  # what the Output clip holds (negotiated by get_clip_preferences)
    matte: Image | None = None  # the Matte clip at `time` ([h,w,1], its region of interest), when connected


@dataclass(frozen=True)
class EndSequenceRenderArgs:
    frame_range: tuple


# -- instances and the plugin base class ---------------------------------------------------
@dataclass
class Instance:
    """One use of a plugin: its context, parameter values and the plugin's private data."""

    plugin: "ImageEffect"
    context: str
    values: dict
    host: HostInfo
    data: dict = field(default_factory=dict)  # the plugin's per-instance state (kOfxPropInstanceData)


class ImageEffect:
    """Base class of plugins. Override `describe` and `render`; every other action has a default."""

    def describe(self) -> PluginDescriptor:
        raise NotImplementedError

    def describe_in_context(self, context: str) -> ContextDescriptor:
        clips = (ClipDescriptor(OUTPUT),) if context == GENERATOR else (ClipDescriptor(SOURCE), ClipDescriptor(OUTPUT))
        return ContextDescriptor(context, clips)

    def create_instance(self, args: CreateInstanceArgs) -> Instance:
        return Instance(self, args.context, dict(args.values), args.host)

    def begin_sequence_render(self, instance: Instance, args: BeginSequenceRenderArgs) -> None:
        return None

    def get_clip_preferences(self, instance: Instance, args: ClipPreferencesArgs) -> PixelFormat | None:
        return None  # the Output clip holds what the host asked for (args.output)

    def get_region_of_definition(self, instance: Instance, args: RegionOfDefinitionArgs) -> Rect | None:
        return None  # filters: the source's extent; generators: the project size

    def get_regions_of_interest(self, instance: Instance, args: RegionsOfInterestArgs) -> dict | None:
        return None  # {clip name: Rect}; default: the render window itself

    def get_frames_needed(self, instance: Instance, args: FramesNeededArgs) -> dict | None:
        return None  # {clip name: ((t0, t1), ...)}; default: the current frame only

    def is_identity(self, instance: Instance, args: IsIdentityArgs) -> IdentityResult | None:
        return None  # None: the plugin must render

    def render(self, instance: Instance, args: RenderArgs) -> np.ndarray:
        """-> [render_window.height, render_window.width, C] pixels."""
        raise NotImplementedError

    def render_frames(self, instance: Instance, args: list) -> np.ndarray:
        """Several frames of one window: [RenderArgs, ...] -> [N, h, w, C]. Default: `render` each."""
        return np.stack([np.asarray(self.render(instance, a)) for a in args])

    def end_sequence_render(self, instance: Instance, args: EndSequenceRenderArgs) -> None:
        return None

    def destroy_instance(self, instance: Instance) -> None:
        instance.data.clear()
