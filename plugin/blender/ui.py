"""Panels in the Video Sequencer and Image Editor sidebars (tab "ganfx"), and the model menus (one per kind)."""

from __future__ import annotations

import bpy

from .props import preferences, scene_seconds


def _model_menu(wanted: str):
    """The menu of the `wanted` kind's models ("effect", "texture", "sound"): GANFX_MT_<kind>_models."""

    class Menu(bpy.types.Menu):
        bl_idname = f"GANFX_MT_{wanted}_models"
        bl_label = "ganfx Models"

        def draw(self, context):
            from .jobs import model_names

            names = [n for n, kind in model_names(preferences(context).models_folder) if kind == wanted]
            if not names:
                self.layout.label(text=f"no {wanted} models found")
            for name in names:
                op = self.layout.operator("ganfx.set_model", text=name)
                op.name, op.kind = name, wanted

    Menu.__name__ = Menu.bl_idname
    Menu.kind = wanted
    return Menu


EffectModels, TextureModels, SoundModels = _model_menu("effect"), _model_menu("texture"), _model_menu("sound")


def draw_params(layout, collection):
    for p in collection:
        layout.prop(p, p.field, text=p.label)


def draw_model(layout, settings, attr, menu):
    row = layout.row(align=True)
    row.prop(settings, attr, text="Model")
    row.menu(menu.bl_idname, text="", icon="DOWNARROW_HLT")


class GANFX_PT_effect(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "ganfx"
    bl_label = "ganfx Effect"

    def draw(self, context):
        settings = context.scene.ganfx
        layout = self.layout
        draw_model(layout, settings, "model", EffectModels)
        draw_params(layout.column(), settings.params)
        layout.prop(settings, "matte", icon="MOD_MASK")
        layout.prop(settings, "output_dir")
        layout.operator("ganfx.apply_effect", icon="RENDER_ANIMATION")


class GANFX_PT_train(bpy.types.Panel):
    """Train an effect from painted keyframes of the active movie strip, as Nuke's CopyCat does."""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "ganfx"
    bl_label = "ganfx Train Effect"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        settings, prefs = context.scene.ganfx, preferences(context)
        layout = self.layout
        layout.prop(settings, "train_keyframes")
        layout.prop(settings, "train_masks")
        layout.prop(settings, "train_holdout")
        layout.prop(settings, "train_name")
        row = layout.row(align=True)
        row.prop(settings, "train_iterations")
        row.prop(settings, "train_minutes")
        if not prefs.trainer_python:
            layout.label(text="set the trainer Python in the preferences", icon="INFO")
        layout.operator("ganfx.train_effect", icon="SHADERFX")


class _TexturePanel:
    bl_region_type = "UI"
    bl_category = "ganfx"
    bl_label = "ganfx Texture"

    def draw(self, context):
        settings = context.scene.ganfx
        layout = self.layout
        draw_model(layout, settings, "texture_model", TextureModels)
        draw_params(layout.column(), settings.texture_params)
        row = layout.row(align=True)
        row.prop(settings, "width")
        row.prop(settings, "height")
        row = layout.row(align=True)
        row.prop(settings, "frames")
        row.prop(settings, "loop")
        layout.prop(settings, "texture_target")
        layout.prop(settings, "output_dir")
        layout.operator("ganfx.generate_texture", icon="TEXTURE")


class GANFX_PT_texture_sequencer(_TexturePanel, bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"


class GANFX_PT_texture_image(_TexturePanel, bpy.types.Panel):
    bl_space_type = "IMAGE_EDITOR"


class GANFX_PT_sound(bpy.types.Panel):
    """Generate a sound with a ganfx sound model into a sound strip at the playhead."""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "ganfx"
    bl_label = "ganfx Sound"

    def draw(self, context):
        settings = context.scene.ganfx
        layout = self.layout
        draw_model(layout, settings, "sound_model", SoundModels)
        draw_params(layout.column(), settings.sound_params)
        row = layout.row(align=True)
        row.prop(settings, "sound_seconds")
        row.prop(settings, "sound_loop")
        if settings.sound_seconds <= 0:
            layout.label(text=f"the scene's length: {scene_seconds(context.scene):.2f} s", icon="TIME")
        layout.prop(settings, "output_dir")
        layout.operator("ganfx.generate_sound", icon="SOUND")


CLASSES = (EffectModels, TextureModels, SoundModels, GANFX_PT_effect, GANFX_PT_train, GANFX_PT_texture_sequencer,
           GANFX_PT_texture_image, GANFX_PT_sound)
