"""Blender properties of the ganfx extension: preferences, per-scene settings, contract parameters.

A model's parameters (ganfx.params) become items of a collection, one typed value each,
rebuilt whenever the model name changes; `param_values(collection)` reads them back.
"""

from __future__ import annotations

import json

import bpy
from bpy.props import (
    BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty, PointerProperty,
    StringProperty,
)

PROVIDERS = [
    ("AUTO", "Automatic", "best available: TensorRT, CUDA, CoreML, DirectML, then CPU"),
    ("cpu", "CPU", ""),
    ("cuda", "CUDA", "NVIDIA GPUs (onnxruntime-gpu)"),
    ("tensorrt", "TensorRT", "NVIDIA GPUs with TensorRT"),
    ("coreml", "CoreML", "Apple"),
    ("directml", "DirectML", "Windows GPUs"),
]
ENGINES = [
    ("onnxruntime", "onnxruntime", "onnxruntime with the execution provider above"),
    ("openvino", "OpenVINO", "Intel's OpenVINO (pip install ganfx[openvino]): CPU, bf16 where the CPU has it"),
    ("auto", "Automatic", "the fastest engine measured or probed on this machine"),
]
PRECISIONS = [
    ("fp32", "fp32", "full precision"),
    ("fp16", "fp16", "GPUs; onnxruntime uses the model's .fp16.onnx variant"),
    ("bf16", "bf16", "CPUs with native bfloat16 (AVX-512 BF16, AMX), on OpenVINO"),
    ("auto", "Automatic", "the fastest precision within 2/255 of fp32 (probed once per model and machine)"),
]
DEFAULT_ENGINE, DEFAULT_PRECISION = "onnxruntime", "fp32"


def preferences(context=None):
    """The extension's preferences (models folder, provider, tile size, trainer Python)."""
    context = context or bpy.context
    return context.preferences.addons[__package__].preferences


class GanfxPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    models_folder: StringProperty(name="Models folder", subtype="DIR_PATH",
                                  description="folder of .onnx ganfx models, looked up before the built-in places")
    provider: EnumProperty(name="Execution provider", items=PROVIDERS, default="AUTO")
    engine: EnumProperty(name="Engine", items=ENGINES, default=DEFAULT_ENGINE,
                         description="what runs the models (the provider above applies to onnxruntime)")
    precision: EnumProperty(name="Precision", items=PRECISIONS, default=DEFAULT_PRECISION)
    tile_size: IntProperty(name="Tile size", default=0, min=0, soft_max=4096,
                           description="render frames in tiles of this many pixels (0 = whole frames)")
    trainer_python: StringProperty(name="Trainer Python", subtype="FILE_PATH",
                                   description="Python interpreter with ganfx[train] (torch) installed, which "
                                               "runs the training; Blender's own Python has no torch")
    trainer_options: StringProperty(name="Trainer options",
                                    description="more options for `ganfx train effect`, e.g. --device cuda --patch 128")

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "models_folder")
        col.prop(self, "engine")
        col.prop(self, "provider")
        col.prop(self, "precision")
        col.prop(self, "tile_size")
        col.prop(self, "trainer_python")
        col.prop(self, "trainer_options")

    def host_options(self) -> dict:
        return host_options(self.provider, self.tile_size, self.engine, self.precision)


def host_options(provider: str, tile_size: int, engine: str = DEFAULT_ENGINE, precision: str = DEFAULT_PRECISION) -> dict:
    """The preferences as job-spec keywords. The engine and precision are named only when they differ
    from the defaults (onnxruntime, fp32), so job specs without those fields keep working; with
    engine "openvino" the provider is not an onnxruntime one and is left to the engine (its CPU)."""
    out = {"providers": None if provider == "AUTO" or engine == "openvino" else (provider,), "tile": tile_size or None}
    if engine != DEFAULT_ENGINE:
        out["engine"] = engine
    if precision != DEFAULT_PRECISION:
        out["precision"] = precision
    return out


_CHOICES = {}  # Blender needs the enum item strings kept alive by Python


def _choice_items(self, context):
    key = self.choices
    if key not in _CHOICES:
        _CHOICES[key] = [(c, c, "") for c in (json.loads(key) if key else [])] or [("-", "-", "")]
    return _CHOICES[key]


class GanfxParam(bpy.types.PropertyGroup):
    """One contract parameter; `kind` says which value field holds it."""

    label: StringProperty()
    kind: StringProperty()  # ParamSpec.type
    help: StringProperty()
    choices: StringProperty()  # JSON list, for kind "choice"
    value_float: FloatProperty(name="Value")
    value_int: IntProperty(name="Value")
    value_bool: BoolProperty(name="Value")
    value_string: StringProperty(name="Value")
    value_file: StringProperty(name="Value", subtype="FILE_PATH")
    value_color: FloatVectorProperty(name="Value", subtype="COLOR", size=3, min=0.0, soft_max=1.0)
    value_choice: EnumProperty(name="Value", items=_choice_items)

    FIELDS = {"double": "value_float", "int": "value_int", "seed": "value_int", "bool": "value_bool",
              "string": "value_string", "file": "value_file", "rgb": "value_color", "choice": "value_choice"}

    @property
    def field(self) -> str:
        return self.FIELDS[self.kind]

    def value(self):
        v = getattr(self, self.field)
        return tuple(v) if self.kind == "rgb" else v


def fill_params(collection, specs) -> None:
    """Rebuild `collection` from ParamSpecs, keeping values the user set for names that remain."""
    kept = {p.name: (p.kind, p.value()) for p in collection}
    collection.clear()
    for spec in specs:
        item = collection.add()
        item.name, item.kind, item.label, item.help = spec.name, spec.type, spec.label or spec.name, spec.help
        item.choices = json.dumps(list(spec.choices)) if spec.choices else ""
        old = kept.get(spec.name)
        value = old[1] if old and old[0] == spec.type else spec.default
        if value is not None:
            setattr(item, item.field, value)


def param_values(collection) -> dict:
    return {p.name: p.value() for p in collection}


def _refresh(settings, context, model_attr: str, params_attr: str) -> None:
    from .jobs import resolve_model

    collection = getattr(settings, params_attr)
    try:
        from ganfx.plugin.gan_effect import live_params
        from ganfx.runtime.contract import read_spec

        spec = read_spec(resolve_model(getattr(settings, model_attr), preferences(context).models_folder))
    except Exception:  # noqa: BLE001 - an unknown model shows no parameters; running it reports why
        collection.clear()
        return
    fill_params(collection, live_params(spec))  # not the `scale` an old texture export still lists


def _effect_model_changed(self, context):
    _refresh(self, context, "model", "params")


def _texture_model_changed(self, context):
    _refresh(self, context, "texture_model", "texture_params")


def _sound_model_changed(self, context):
    _refresh(self, context, "sound_model", "sound_params")


def scene_seconds(scene) -> float:
    """The scene's length in seconds: its frame range at its frame rate (what sound_seconds 0 means)."""
    return (scene.frame_end - scene.frame_start + 1) * scene.render.fps_base / scene.render.fps


def sound_seconds(settings, scene) -> float:
    """The length a generated sound gets: the Seconds setting, or the scene's length when it is 0."""
    return settings.sound_seconds if settings.sound_seconds > 0 else scene_seconds(scene)


# The setting holding each kind's model (GANFX_OT_set_model, the model menus).
MODEL_SETTINGS = {"effect": "model", "texture": "texture_model", "sound": "sound_model"}


MATTE_TYPES = ("MOVIE", "IMAGE")  # strips a matte can come from


def _matte_search(self, context, edit_text):
    """The movie and image strips of the scene's sequencer, for the Matte field."""
    from . import compat

    editor = context.scene.sequence_editor if context.scene else None
    if editor is None:
        return []
    text = (edit_text or "").lower()
    return sorted(s.name for s in compat.all_strips(editor) if s.type in MATTE_TYPES and text in s.name.lower())


class GanfxSettings(bpy.types.PropertyGroup):
    """Per-scene settings: scene.ganfx."""

    model: StringProperty(name="Effect model", update=_effect_model_changed,
                          description="effect model name (models folder, GANFX_MODELS, shipped) or .onnx path")
    params: CollectionProperty(type=GanfxParam)
    matte: StringProperty(name="Matte", search=_matte_search,
                          description="optional: a movie or image strip weighing the effect per pixel (white = the "
                                      "effect, black = the source; RGBA: its alpha), frame k with frame k of the "
                                      "active strip; empty = the whole frame")
    output_dir: StringProperty(name="Output folder", subtype="DIR_PATH", default="//ganfx/",
                               description="rendered frames go into a new folder here (// = next to the .blend)")
    texture_model: StringProperty(name="Texture model", update=_texture_model_changed)
    texture_params: CollectionProperty(type=GanfxParam)
    width: IntProperty(name="Width", default=512, min=1, soft_max=8192)
    height: IntProperty(name="Height", default=512, min=1, soft_max=8192)
    frames: IntProperty(name="Frames", default=1, min=1, soft_max=1000,
                        description="1 = a still; more = an animated texture")
    loop: BoolProperty(name="Loop", default=True, description="the animation returns to its first frame")
    texture_target: EnumProperty(name="Into", items=[
        ("IMAGE", "Image", "a Blender image (an image sequence when animated)"),
        ("STRIP", "Strip", "an image-sequence strip in the Video Sequencer"),
    ], default="IMAGE")
    sound_model: StringProperty(name="Sound model", update=_sound_model_changed,
                                description="sound model name (models folder, GANFX_MODELS, shipped) or .onnx path")
    sound_params: CollectionProperty(type=GanfxParam)  # seed, gain (dB)
    sound_seconds: FloatProperty(name="Seconds", default=0.0, min=0.0, soft_max=600.0, precision=2,
                                 description="length of the sound in seconds (0 = the scene's length: its frame "
                                             "range at its frame rate)")
    sound_loop: BoolProperty(name="Loop", default=False,
                             description="an exact loop of that length (rounded to the model's noise cells): "
                                         "the sample after the last is the first, no seam when repeated")
    train_keyframes: StringProperty(name="Keyframes", subtype="DIR_PATH",
                                    description="treated frames of the active movie strip's clip, named by frame "
                                                "number of the clip (0012.png = frame 12, the first frame is 0)")
    train_masks: StringProperty(name="Masks", subtype="DIR_PATH",
                                description="optional: masks of the keyframes, same names (white = learn here)")
    train_holdout: StringProperty(name="Held out", subtype="DIR_PATH",
                                  description="optional: treated frames kept out of training, same naming; "
                                              "their PSNR is shown while training")
    train_name: StringProperty(name="Model name",
                               description="name of the new model in the models folder (default: the keyframes "
                                           "folder's name)")
    train_iterations: IntProperty(name="Iterations", default=4000, min=1, soft_max=100000)
    train_minutes: FloatProperty(name="Max minutes", default=10.0, min=0.0, soft_max=600.0,
                                 description="stop training after this many minutes of training (0 = no limit); "
                                             "10 minutes on a 2-core CPU is enough to beat keyframe propagation "
                                             "on a 48-frame shot (see the effect model cards)")


CLASSES = (GanfxPreferences, GanfxParam, GanfxSettings)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.ganfx = PointerProperty(type=GanfxSettings)


def unregister() -> None:
    del bpy.types.Scene.ganfx
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
