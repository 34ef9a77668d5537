"""One headless Blender session for tests/plugin/test_blender.py (run in its own process and HOME).

    python blender_session.py config.json      # writes the results JSON and pixel arrays named there

Installs the extension zip, builds a Video Sequencer scene around a real clip, runs the
operators (the effect, the texture, then every error path), unregisters, and records what
it saw. The test process makes the assertions.
"""

import json
import sys
from pathlib import Path

import bpy
import numpy as np

cfg = json.loads(Path(sys.argv[1]).read_text())
out = {"errors": {}}
MODULE = "bl_ext.user_default.ganfx"


def strips(ed):
    return ed.strips if hasattr(ed, "strips") else ed.sequences


def snapshot(scene):
    ed = scene.sequence_editor
    return sorted((s.name, s.type, s.channel, s.frame_final_start, s.frame_final_end) for s in strips(ed))


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


bpy.ops.extensions.package_install_files(filepath=cfg["zip"], repo="user_default", enable_on_install=True)
out["enabled"] = MODULE in bpy.context.preferences.addons
import ganfx.plugin.host  # noqa: E402 - from the wheel Blender unpacked for the extension

out["ganfx_from"] = ganfx.plugin.host.__file__
prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.models_folder = cfg["models"]
prefs.provider = "cpu"

scene = bpy.context.scene
scene.render.fps = 24
ed = scene.sequence_editor_create()
plate = strips(ed).new_movie(name="plate", filepath=cfg["clip"], channel=1, frame_start=5)
plate.frame_offset_start = 2
plate.frame_offset_end = 3
ed.active_strip = plate
out["source"] = [plate.channel, plate.frame_final_start, plate.frame_final_end, plate.frame_duration]

settings = scene.ganfx
settings.output_dir = cfg["out"]
settings.model = "testfx"
out["params"] = {p.name: [p.kind, p.label, p.value()] for p in settings.params}
settings.params["strength"].value_float = 0.7
settings.params["look"].value_choice = "cool"

# -- the effect ------------------------------------------------------------------------------
out["apply"] = run_op(bpy.ops.ganfx.apply_effect)
new = ed.active_strip
out["new"] = [new.name, new.type, new.channel, new.frame_final_start, new.frame_final_end]
folder = Path(bpy.path.abspath(new.directory))
np.save(cfg["effect_pixels"], np.stack([image_pixels(folder / e.filename) for e in new.elements]))

# -- an image-sequence strip as the source ------------------------------------------------------
first, *rest = sorted(Path(cfg["sequence"]).iterdir())
shots = strips(ed).new_image(name="shots", filepath=str(first), channel=5, frame_start=60)
for path in rest:
    shots.elements.append(path.name)
ed.active_strip = shots
out["apply_images"] = run_op(bpy.ops.ganfx.apply_effect)
new = ed.active_strip
out["new_images"] = [new.type, new.channel, new.frame_final_start, new.frame_final_end]
folder = Path(bpy.path.abspath(new.directory))
np.save(cfg["sequence_pixels"], np.stack([image_pixels(folder / e.filename) for e in new.elements]))

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
anim = anim or next(s for s in strips(ed) if s.name.startswith("testtex"))
anim_dir = Path(bpy.path.abspath(anim.directory))
out["texture_strip"] = [anim.channel, anim.frame_final_start, anim.frame_final_end, len(anim.elements)]
loop = [image_pixels(anim_dir / anim.elements[i].filename) for i in (0, 1)]
out["texture_anim_differs"] = bool(np.abs(loop[0] - loop[1]).max() > 1e-3)

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
color = strips(ed).new_effect(name="colour", type="COLOR", channel=4, frame_start=1, frame_end=11)
ed.active_strip = color
before = (snapshot(scene), before[1])
error_case("wrong strip type")
ed.active_strip = plate
settings.model = "broken"
error_case("failed render")
settings.model = "testtex"
error_case("texture model as effect")

# -- unregister ------------------------------------------------------------------------------
bpy.ops.preferences.addon_disable(module=MODULE)
out["disabled"] = MODULE not in bpy.context.preferences.addons
out["operator_gone"] = not hasattr(bpy.types, "GANFX_OT_apply_effect")
out["scene_prop_gone"] = not hasattr(bpy.types.Scene, "ganfx")
Path(cfg["result"]).write_text(json.dumps(out))
