"""One headless Blender session for tests/plugin/test_blender.py (run in its own process and HOME).

    python blender_session.py config.json      # writes the results JSON and pixel arrays named there

Run by a Python that has bpy: the test's own, or one with nothing but bpy (GANFX_BLENDER_PYTHON,
as tests/blender_matrix.sh sets). First it closes every way this Python has to ganfx and its
compiled dependencies but Blender's extensions folder, so that, as in a Blender's own Python,
they can come only from the wheels in the extension zip. Then it installs the zip, builds a
Video Sequencer scene around a real clip, runs the operators (the effect, with a matte strip too, the texture, a
sound strip and a looped one with the sound's error paths, the model menus, then every error path, then a tiny training from keyframes with the test's Python as the trainer), unregisters, and records what it saw, where those modules were imported from
included. The test process makes the assertions. Blender API differences go through the
installed extension's own compat module.
"""

import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import types
from pathlib import Path

import bpy
import numpy as np

cfg = json.loads(Path(sys.argv[1]).read_text())
out = {"errors": {}, "blender": bpy.app.version_string, "python": "%d.%d" % sys.version_info[:2]}
MODULE = "bl_ext.user_default.ganfx"
# What the extension imports at run time that Blender does not ship: all from the zip's wheels.
# (Their own pure-Python dependencies are left to tests/blender_matrix.sh, whose venvs hold only bpy.)
PACKED = ("ganfx", "onnxruntime", "av", "cv2")


class ExtensionsOnly:
    """An import hook, first in sys.meta_path: PACKED modules are looked for only in `root`.

    This Python may have them (an editable ganfx with its import hook, the test's onnxruntime in
    site-packages); a Blender's own Python has none. Blender appends its wheels folder to sys.path
    after site-packages when it first installs wheels, so without this the test's copies would win.
    """

    def __init__(self, root: Path):
        self.root = root

    def _inside(self, entry) -> bool:
        try:
            return Path(entry).resolve().is_relative_to(self.root)
        except (OSError, ValueError):
            return False

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in PACKED:
            return None
        entries = [e for e in (sys.path if path is None else path) if self._inside(e)]
        spec = importlib.machinery.PathFinder.find_spec(name, entries, target)
        if spec is None:  # answered here, so no later hook (an editable install's) is asked
            raise ModuleNotFoundError(f"No module named {name!r} in Blender's extensions folder", name=name)
        return spec


def importable(name) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def snapshot(scene):
    ed = scene.sequence_editor
    return sorted((s.name, s.type, s.channel, *compat.span(s)) for s in compat.strips(ed))


def run_op(op):
    try:
        return sorted(op()), ""
    except RuntimeError as exc:  # an operator that reports an error raises here
        return ["CANCELLED"], str(exc).strip()


def image_pixels(path):
    img = bpy.data.images.load(str(path))
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return px.reshape(h, w, 4)[::-1, :, :3]  # top row first, RGB


extensions_dir = Path(bpy.utils.user_resource("EXTENSIONS")).resolve()
out["extensions_dir"] = str(extensions_dir)
out["imported_before"] = sorted(n for n in sys.modules if n.partition(".")[0] in PACKED)
sys.meta_path.insert(0, ExtensionsOnly(extensions_dir))
out["importable_before"] = {name: importable(name) for name in PACKED}
bpy.ops.extensions.package_install_files(filepath=cfg["zip"], repo="user_default", enable_on_install=True)
out["enabled"] = MODULE in bpy.context.preferences.addons
compat = importlib.import_module(f"{MODULE}.compat")
prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.models_folder = cfg["models"]
prefs.provider = "cpu"

scene = bpy.context.scene
scene.render.fps = 24
ed = scene.sequence_editor_create()
plate = compat.strips(ed).new_movie(name="plate", filepath=cfg["clip"], channel=1, frame_start=5)
first, end = compat.span(plate)
compat.set_span(plate, first + 2, end - 3)  # trim 2 frames at the head, 3 at the tail
ed.active_strip = plate
out["source"] = [plate.channel, *compat.span(plate), compat.content_duration(plate)]

settings = scene.ganfx
settings.output_dir = cfg["out"]
settings.model = "testfx"
out["params"] = {p.name: [p.kind, p.label, p.value()] for p in settings.params}
settings.params["strength"].value_float = 0.7
settings.params["look"].value_choice = "cool"

# -- the effect ------------------------------------------------------------------------------
out["apply"] = run_op(bpy.ops.ganfx.apply_effect)
if out["apply"][0] != ["FINISHED"]:  # the rest needs its result; say why it did not come
    sys.exit(f"Apply ganfx Effect did not finish: {out['apply'][1]}")
new = ed.active_strip
out["new"] = [new.name, new.type, new.channel, *compat.span(new)]
folder = Path(bpy.path.abspath(new.directory))
np.save(cfg["effect_pixels"], np.stack([image_pixels(folder / e.filename) for e in new.elements]))

# -- an image-sequence strip as the source ------------------------------------------------------
first, *rest = sorted(Path(cfg["sequence"]).iterdir())
shots = compat.strips(ed).new_image(name="shots", filepath=str(first), channel=5, frame_start=60)
for path in rest:
    shots.elements.append(path.name)
ed.active_strip = shots
out["apply_images"] = run_op(bpy.ops.ganfx.apply_effect)
new = ed.active_strip
out["new_images"] = [new.type, new.channel, *compat.span(new)]
folder = Path(bpy.path.abspath(new.directory))
np.save(cfg["sequence_pixels"], np.stack([image_pixels(folder / e.filename) for e in new.elements]))
out["images_folder"] = [str(folder), [e.filename for e in new.elements]]

# -- a matte strip weighs the effect: the source where it is black, the effect where it is white --
first, *rest = sorted(Path(cfg["matte"]).iterdir())
matte = compat.strips(ed).new_image(name="matte", filepath=str(first), channel=8, frame_start=100)
for path in rest:
    matte.elements.append(path.name)
props = importlib.import_module(f"{MODULE}.props")
out["matte_offered"] = props._matte_search(settings, bpy.context, "")  # the Matte field's search
settings.matte = "matte"
ed.active_strip = shots
out["apply_matte"] = run_op(bpy.ops.ganfx.apply_effect)
new = ed.active_strip
out["new_matte"] = [new.type, new.channel, *compat.span(new)]
out["matte_folder"] = [str(Path(bpy.path.abspath(new.directory))), [e.filename for e in new.elements]]
ed.active_strip = shots
settings.matte = "plate"  # 64x48, the source 40x30: refused
before = (snapshot(scene), sorted(p.name for p in Path(cfg["out"]).iterdir()))
out["matte_wrong_size"] = list(run_op(bpy.ops.ganfx.apply_effect))
out["matte_wrong_size"].append((snapshot(scene), sorted(p.name for p in Path(cfg["out"]).iterdir())) == before)
settings.matte = ""

# -- textures: a still into an image, an animated loop as a strip -------------------------------
settings.texture_model = "testtex"
settings.texture_params["seed"].value_int = 5
settings.texture_params["tileable"].value_bool = True
settings.width, settings.height, settings.frames = 64, 32, 1
out["texture_still"] = run_op(bpy.ops.ganfx.generate_texture)
image = bpy.data.images["testtex_seed5"]
px = np.empty(image.size[0] * image.size[1] * 4, np.float32)
image.pixels.foreach_get(px)
out["texture_image"] = [list(image.size), image.is_float]
np.save(cfg["texture_pixels"], px.reshape(image.size[1], image.size[0], 4)[::-1])
settings.frames, settings.texture_target = 6, "STRIP"
scene.frame_current = 40
out["texture_anim"] = run_op(bpy.ops.ganfx.generate_texture)
anim = ed.active_strip if ed.active_strip.name.startswith("testtex") else None
anim = anim or next(s for s in compat.strips(ed) if s.name.startswith("testtex"))
anim_dir = Path(bpy.path.abspath(anim.directory))
out["texture_strip"] = [anim.channel, *compat.span(anim), len(anim.elements)]
loop = [image_pixels(anim_dir / anim.elements[i].filename) for i in (0, 1)]
out["texture_anim_differs"] = bool(np.abs(loop[0] - loop[1]).max() > 1e-3)

# -- sounds: strips at the playhead from the tiny sound model, a loop of the scene's length, errors --
class StubLayout:
    """Records what a menu's or panel's draw() puts in its layout (there is no UI in background mode)."""

    def __init__(self):
        self.items = []

    def row(self, **kw):
        return self

    column = row

    def label(self, text="", **kw):
        self.items.append(["label", text, kw.get("icon", "")])

    def prop(self, data, attr, **kw):
        self.items.append(["prop", attr, hasattr(data, attr)])

    def menu(self, idname, **kw):
        self.items.append(["menu", idname])

    def operator(self, idname, text="", **kw):
        op = types.SimpleNamespace()
        self.items.append(["operator", idname, text, kw.get("icon", ""), op])
        return op


def drawn(cls):
    stub = types.SimpleNamespace(layout=StubLayout())
    cls.draw(stub, bpy.context)
    return [[v if not isinstance(v, types.SimpleNamespace) else vars(v) for v in item] for item in stub.layout.items]


ui = importlib.import_module(f"{MODULE}.ui")
out["menus"] = {cls.kind: drawn(cls) for cls in (ui.EffectModels, ui.TextureModels, ui.SoundModels)}
out["set_sound_model"] = run_op(lambda: bpy.ops.ganfx.set_model(name="testsnd", kind="sound"))
out["set_models"] = [settings.model, settings.texture_model, settings.sound_model]
out["sound_params"] = {p.name: [p.kind, p.label, p.value()] for p in settings.sound_params}
out["sound_panel"] = drawn(ui.GANFX_PT_sound)
icons = bpy.types.UILayout.bl_rna.functions["operator"].parameters["icon"].enum_items.keys()
out["icons_known"] = all(item[3] in icons for item in out["sound_panel"] if item[0] == "operator")
out["sound_can"] = compat.can_hold_sound()
settings.sound_params["seed"].value_int = 7
settings.sound_params["gain"].value_float = -6.0


def outputs():
    return sorted(p.name for p in Path(cfg["out"]).iterdir())


def sound_strip(result):
    """[name, type, channel, first, end, content frames, file] of the sound strip an operator added."""
    if result[0] != ["FINISHED"]:
        return None
    new = ed.active_strip
    return [new.name, new.type, new.channel, *compat.span(new), compat.content_duration(new),
            bpy.path.abspath(new.sound.filepath)]


scene.frame_current = 70
settings.sound_seconds, settings.sound_loop = 1.3, False  # 31.2 frames at 24 fps
before = (snapshot(scene), outputs())
out["sound"] = list(run_op(bpy.ops.ganfx.generate_sound))
out["sound"].append((snapshot(scene), outputs()) == before)  # True only when nothing was added
out["sound_strip"] = sound_strip(out["sound"])
frame_range = (scene.frame_start, scene.frame_end)
scene.frame_start, scene.frame_end = 11, 70  # 60 frames: 2.5 s, the length of "0 seconds"
settings.sound_seconds, settings.sound_loop = 0.0, True
out["sound_loop"] = list(run_op(bpy.ops.ganfx.generate_sound))
out["sound_loop_strip"] = sound_strip(out["sound_loop"])
scene.frame_start, scene.frame_end = frame_range
out["sound_errors"] = {}
before = (snapshot(scene), outputs())
for case, model in (("effect model as sound", "testfx"), ("missing model", "no_such_model")):
    settings.sound_model = model
    result = list(run_op(bpy.ops.ganfx.generate_sound))
    out["sound_errors"][case] = result + [(snapshot(scene), outputs()) == before]
settings.sound_model = "testsnd"

# -- where ganfx and its dependencies ran from (the renders above imported them) ----------------
out["modules_from"] = {name: importlib.import_module(name).__file__
                       for name in ("ganfx.runtime", "ganfx.plugin", "onnxruntime", "av", "cv2")}

# -- error paths: each must cancel and leave the scene and the output folder as they were ------
ed.active_strip = plate
before = (snapshot(scene), sorted(p.name for p in Path(cfg["out"]).iterdir()))


def error_case(name):
    out["errors"][name] = list(run_op(bpy.ops.ganfx.apply_effect))
    after = (snapshot(scene), sorted(p.name for p in Path(cfg["out"]).iterdir()))
    out["errors"][name].append(after == before)


settings.model = "no_such_model"
error_case("missing model")
settings.model = "testfx"
color = compat.new_effect(ed, "colour", "COLOR", channel=4, frame_start=1, length=10)
ed.active_strip = color
out["colour"] = list(compat.span(color))
before = (snapshot(scene), before[1])
error_case("wrong strip type")
ed.active_strip = plate
settings.model = "broken"
error_case("failed render")
settings.model = "testtex"
error_case("texture model as effect")

# -- train an effect from keyframes of the movie strip: the trainer's Python, in its own process ----
jobs = importlib.import_module(f"{MODULE}.jobs")
out["train_errors"] = {}
settings.train_keyframes, settings.train_holdout = cfg["keyframes"], cfg["holdout"]
settings.train_name, settings.train_iterations = "blendfx", 4
ed.active_strip = plate
before = (snapshot(scene), sorted(p.name for p in Path(cfg["out"]).iterdir()), sorted(os.listdir(cfg["models"])))


def train_error(name):
    out["train_errors"][name] = list(run_op(bpy.ops.ganfx.train_effect))
    after = (snapshot(scene), sorted(p.name for p in Path(cfg["out"]).iterdir()), sorted(os.listdir(cfg["models"])))
    out["train_errors"][name].append(after == before)


train_error("no trainer python")
prefs.trainer_python, prefs.trainer_options = cfg["trainer_python"], cfg["trainer_options"]
ed.active_strip = color
train_error("not a movie strip")
ed.active_strip = plate
settings.train_keyframes = str(Path(cfg["out"]) / "no_keyframes")
train_error("keyframes missing")
settings.train_keyframes = cfg["keyframes"]
settings.model = "testfx"
out["train"] = run_op(bpy.ops.ganfx.train_effect)
out["trained_model"] = settings.model
out["offered"] = [name for name, kind in jobs.model_names(prefs.models_folder) if kind == "effect"]
out["models_after"] = sorted(os.listdir(cfg["models"]))
out["training_folders"] = sorted(p.name for p in Path(cfg["out"]).iterdir() if "training" in p.name)
out["apply_trained"] = run_op(bpy.ops.ganfx.apply_effect)  # the new model is the effect model now
out["apply_trained_strip"] = [Path(bpy.path.abspath(ed.active_strip.directory)).name,
                              len(ed.active_strip.elements)]  # the folder is named after strip and model
ed.active_strip = plate
out["train_again"] = run_op(bpy.ops.ganfx.train_effect)  # the name is taken now: refused
out["models_again"] = sorted(os.listdir(cfg["models"]))

# -- unregister ------------------------------------------------------------------------------
bpy.ops.preferences.addon_disable(module=MODULE)
out["disabled"] = MODULE not in bpy.context.preferences.addons
out["operator_gone"] = not hasattr(bpy.types, "GANFX_OT_apply_effect")
out["scene_prop_gone"] = not hasattr(bpy.types.Scene, "ganfx")
Path(cfg["result"]).write_text(json.dumps(out))
