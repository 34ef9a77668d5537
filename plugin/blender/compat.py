"""The Blender Python API differences the extension meets, from Blender 4.2 LTS to 5.x, in one place.

Each difference is detected by what the running Blender has, not by its version number, so a
later release that keeps an API keeps working. The extension and its tests use only these:

    from . import compat
    editor = scene.sequence_editor
    plate = compat.strips(editor).new_movie(name="plate", filepath=path, channel=1, frame_start=1)
    colour = compat.new_effect(editor, "colour", "COLOR", channel=2, frame_start=1, length=10)
    compat.set_span(plate, 3, 9)                      # trim: show timeline frames 3..8
    first, end = compat.span(plate)                   # (3, 9)
    busy = [s for s in compat.all_strips(editor) if s.channel == 2]
    sound = compat.new_sound(editor, "rain", "/renders/rain.wav", channel=3, frame_start=1)

What differs:
- The Video Sequencer's strip collections: `SequenceEditor.strips` / `strips_all` since 4.4,
  `sequences` / `sequences_all` before; 5.0 removed the old names.
- `new_effect`: the strip's extent is `frame_end` (exclusive) up to 4.5 and `length` from 5.0;
  its inputs are `seq1` / `seq2` in 4.2 and `input1` / `input2` from 4.4.
- A strip's frames: `frame_final_start` / `frame_final_end` / `frame_start` / `frame_duration`
  up to 5.0; 5.1 adds `left_handle` / `right_handle` / `content_start` / `content_duration` and
  deprecates the old names.
- Sound strips: `new_sound(name, filepath, channel, frame_start)` is the same call from 4.2 to 5.3
  (on `sequences` before 4.4, `strips` after); Blender sets the strip's length from the file,
  round(seconds x fps) frames. A Blender built without Audaspace (the `bpy` 4.2 module on PyPI)
  cannot make one: `new_sound` refuses it there with one line, `can_hold_sound()` says so beforehand.
- Not an API call but a version difference all the same: Blender 4.2-5.0 run Python 3.11 and
  5.1+ Python 3.13, so the extension zip packs compiled wheels for both (plugin/packaging.py).

Everything else the extension uses (strip types and files, image datablocks, operators, the
extension install and add-on preferences) is the same in 4.2, 4.5, 5.0 and 5.3; the Blender
tests run it under each (tests/blender_matrix.sh).
"""

from __future__ import annotations


def strips(editor):
    """The top-level strips of a sequence editor: where new_movie, new_image and new_effect live."""
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def all_strips(editor):
    """Every strip of a sequence editor, those inside meta strips included."""
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def new_effect(editor, name: str, type: str, channel: int, frame_start: int, length: int,
               input1=None, input2=None):
    """Add an effect strip covering frames [frame_start, frame_start + length). -> the new strip"""
    collection = strips(editor)
    params = collection.bl_rna.functions["new_effect"].parameters.keys()
    extent = {"length": length} if "length" in params else {"frame_end": frame_start + length}
    input_names = ("input1", "input2") if "input1" in params else ("seq1", "seq2")
    inputs = {key: strip for key, strip in zip(input_names, (input1, input2)) if strip is not None}
    return collection.new_effect(name=name, type=type, channel=channel, frame_start=frame_start,
                                 **extent, **inputs)


def can_hold_sound() -> bool:
    """Whether this Blender can make sound strips (it was built with Audaspace)."""
    import bpy

    return bool(getattr(bpy.app.build_options, "audaspace", True))


NO_SOUND = "this Blender was built without audio (Audaspace), so it cannot hold sound strips"


def new_sound(editor, name: str, filepath: str, channel: int, frame_start: int):
    """Add a sound strip of an audio file at frame_start; its length comes from the file. -> the new strip"""
    if not can_hold_sound():
        raise RuntimeError(NO_SOUND)
    return strips(editor).new_sound(name=name, filepath=filepath, channel=channel, frame_start=frame_start)


def span(strip) -> tuple:
    """The timeline frames [first, end) a strip shows, between its handles."""
    if hasattr(strip, "left_handle"):
        return int(strip.left_handle), int(strip.right_handle)
    return int(strip.frame_final_start), int(strip.frame_final_end)


def set_span(strip, first: int, end: int) -> None:
    """Move a strip's handles so that it shows timeline frames [first, end) (its content stays put)."""
    if hasattr(strip, "left_handle"):
        strip.left_handle, strip.right_handle = first, end
    else:
        strip.frame_final_start, strip.frame_final_end = first, end


def content_start(strip) -> int:
    """The timeline frame where the strip's first source frame sits, whatever the handles trim."""
    return int(strip.content_start if hasattr(strip, "content_start") else strip.frame_start)


def content_duration(strip) -> int:
    """How many frames the strip's source has, before the handles trim it."""
    return int(strip.content_duration if hasattr(strip, "content_duration") else strip.frame_duration)
