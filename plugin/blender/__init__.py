"""ganfx Blender extension: apply effect models to Video Sequencer strips, generate textures and sounds.

Installed from the zip `ganfx plugin build-blender` makes (Edit > Preferences > Get Extensions >
Install from Disk). The work itself (reading, rendering through the ganfx host, writing PNGs)
is in jobs.py, which needs no bpy; this package only registers the Blender side. Importing it
outside Blender is harmless: bpy is imported by register(). It runs in Blender 4.2 LTS to 5.x;
what differs between those versions' Python APIs is in compat.py.
"""


def _modules():
    from . import operators, props, ui

    return props, operators, ui


def register():
    import bpy

    props, operators, ui = _modules()
    props.register()
    for cls in operators.CLASSES + ui.CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    import bpy

    props, operators, ui = _modules()
    for cls in reversed(operators.CLASSES + ui.CLASSES):
        bpy.utils.unregister_class(cls)
    props.unregister()
