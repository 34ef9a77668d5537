"""Operators: apply an effect to the active strip, generate a texture or a sound strip, train an effect.

Each runs its job on a worker thread while a modal timer shows progress (Esc cancels); when run
from a script or in background mode (`blender -b`, tests) they run synchronously. The scene is
touched only after the job succeeded, so an error or a cancel leaves it as it was. Training runs
the trainer's own Python in another process (training.py).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import bpy
import numpy as np

from . import compat, jobs, training
from .props import MODEL_SETTINGS, param_values, preferences, sound_seconds

MOVIE_TYPES = {"MOVIE", "IMAGE"}


def free_channel(editor, above: int, start: int, end: int) -> int:
    """The lowest channel above `above` with nothing in frames [start, end)."""
    channel = above + 1
    spans = [(s.channel, *compat.span(s)) for s in compat.all_strips(editor)]
    while any(c == channel and first < end and stop > start for c, first, stop in spans):
        channel += 1
    return channel


def _output_base(settings) -> Path:
    base = settings.output_dir or "//ganfx/"
    if base.startswith("//") and not bpy.data.filepath:
        raise jobs.UserInputError("save the .blend file first, or choose an output folder")
    return Path(bpy.path.abspath(base))


def output_folder(settings, stem: str, suffix: str = "") -> Path:
    """A new folder (or, with a `suffix` such as ".wav", a new file) for this render under the output
    folder: <stem><suffix>, else <stem>_2<suffix>, ... (never an existing one)."""
    base = _output_base(settings)
    safe = bpy.path.clean_name(stem)
    path, n = base / f"{safe}{suffix}", 1
    while path.exists():
        n += 1
        path = base / f"{safe}_{n}{suffix}"
    return path


def strip_source(strip) -> jobs.SourceClip:
    """The content frames a movie/image strip shows, as a SourceClip."""
    start, end = compat.span(strip)
    first, last = start - compat.content_start(strip), end - compat.content_start(strip) - 1
    if strip.type == "MOVIE":
        return jobs.SourceClip("movie", (bpy.path.abspath(strip.filepath),), first, last, strip.name)
    folder = Path(bpy.path.abspath(strip.directory))
    return jobs.SourceClip("images", tuple(str(folder / e.filename) for e in strip.elements), first, last,
                           strip.name)


def matte_source(editor, name: str):
    """The SourceClip of the matte strip named in the settings; None when none is named."""
    name = (name or "").strip()
    if not name:
        return None
    strip = compat.all_strips(editor).get(name)
    if strip is None:
        raise jobs.UserInputError(f"matte strip {name!r} not found in the sequencer")
    if strip.type not in MOVIE_TYPES:
        raise jobs.UserInputError(f"matte strip {name!r} is a {strip.type.lower()} strip; "
                                  "choose a movie or image strip")
    return strip_source(strip)


class _JobOperator:
    """Shared run logic: prepare() -> a Job; finish(context, job) touches the scene."""

    _job = None
    _timer = None

    def execute(self, context):
        job = self._prepare_or_report(context)
        if job is None:
            return {"CANCELLED"}
        job.run()
        return self._finish_or_report(context, job)

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        job = self._prepare_or_report(context)
        if job is None:
            return {"CANCELLED"}
        self._job = job
        job.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = self._job
        if event.type == "ESC":
            job.cancel()
        if event.type != "TIMER" and event.type != "ESC":
            return {"PASS_THROUGH"}
        context.window_manager.progress_update(int(100 * job.progress))
        if context.workspace is not None:
            doing = job.status or f"frame {job.done_frames}/{job.total_frames}"
            context.workspace.status_text_set(f"ganfx: {doing} (Esc cancels)")
        if not job.done:
            return {"RUNNING_MODAL"}
        self._cleanup(context)
        return self._finish_or_report(context, job)

    def _cleanup(self, context):
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)

    def _prepare_or_report(self, context):
        try:
            return self.prepare(context)
        except jobs.GanfxError as exc:
            self.report({"ERROR"}, f"ganfx: {exc}")
            return None

    def _finish_or_report(self, context, job):
        if job.error:
            self.report({"WARNING"} if job.cancelled else {"ERROR"}, f"ganfx: {job.error}")
            return {"CANCELLED"}
        try:
            self.finish(context, job)
        except Exception as exc:  # noqa: BLE001 - reported in the UI; the scene is not half-changed
            self.report({"ERROR"}, f"ganfx: could not add the result: {exc}")
            return {"CANCELLED"}
        return {"FINISHED"}


class _StripOperator(_JobOperator):
    """A job on the Video Sequencer's active strip: offered where the scene has a sequencer."""

    @classmethod
    def poll(cls, context):
        return context.scene is not None and context.scene.sequence_editor is not None


class GANFX_OT_apply_effect(_StripOperator, bpy.types.Operator):
    """Render the active movie or image strip through a ganfx effect model into a new strip above it"""

    bl_idname = "ganfx.apply_effect"
    bl_label = "Apply ganfx Effect"
    bl_options = {"REGISTER"}

    def prepare(self, context):
        scene, settings, prefs = context.scene, context.scene.ganfx, preferences(context)
        strip = scene.sequence_editor.active_strip
        if strip is None:
            raise jobs.UserInputError("no active strip: select a movie or image strip")
        if strip.type not in MOVIE_TYPES:
            raise jobs.UserInputError(f"strip {strip.name!r} is a {strip.type.lower()} strip; "
                                      "select a movie or image strip")
        model = jobs.resolve_model(settings.model, prefs.models_folder)
        self._target = (strip.name, strip.channel, *compat.span(strip))
        spec = jobs.EffectJobSpec(model=model, params=param_values(settings.params), source=strip_source(strip),
                                  folder=output_folder(settings, f"{strip.name}_{Path(model).stem}"),
                                  name=bpy.path.clean_name(strip.name),
                                  matte=matte_source(scene.sequence_editor, settings.matte), **prefs.host_options())
        return jobs.Job(jobs.render_effect, spec)

    def finish(self, context, job):
        editor = context.scene.sequence_editor
        name, channel, start, end = self._target
        folder, files = job.spec.folder, job.result
        new = compat.strips(editor).new_image(name=f"{name} ganfx", filepath=str(folder / files[0]),
                                              channel=free_channel(editor, channel, start, end), frame_start=start)
        for f in files[1:]:
            new.elements.append(f)
        editor.active_strip = new
        self.report({"INFO"}, f"ganfx: {len(files)} frames into {folder}")


class GANFX_OT_generate_texture(_JobOperator, bpy.types.Operator):
    """Generate a texture with a ganfx texture model: a still image, or an animated image sequence"""

    bl_idname = "ganfx.generate_texture"
    bl_label = "Generate ganfx Texture"
    bl_options = {"REGISTER"}

    def prepare(self, context):
        scene, settings, prefs = context.scene, context.scene.ganfx, preferences(context)
        model = jobs.resolve_model(settings.texture_model, prefs.models_folder)
        params = param_values(settings.texture_params)
        still_image = settings.frames == 1 and settings.texture_target == "IMAGE"
        stem = f"{Path(model).stem}_seed{params.get('seed', 0)}"
        folder = None if still_image else output_folder(settings, stem)
        fps = scene.render.fps / scene.render.fps_base
        spec = jobs.TextureJobSpec(model=model, params=params, size=(settings.width, settings.height),
                                   frames=settings.frames, fps=fps, folder=folder, name=bpy.path.clean_name(stem),
                                   loop=settings.loop, **prefs.host_options())
        self._stem = stem
        return jobs.Job(jobs.render_texture, spec)

    def finish(self, context, job):
        settings, spec = context.scene.ganfx, job.spec
        if spec.folder is None:  # a still, straight into an image datablock
            frame = job.result[0]  # [H,W,3] float32 linear
            h, w = frame.shape[:2]
            image = bpy.data.images.new(self._stem, w, h, alpha=True, float_buffer=True)
            rgba = np.concatenate([frame, np.ones((h, w, 1), np.float32)], axis=-1)
            image.pixels.foreach_set(rgba[::-1].ravel())  # Blender stores rows bottom-up
            image.pack()  # keep the pixels with the .blend
            self.report({"INFO"}, f"ganfx: image {image.name!r}")
            return
        first = spec.folder / job.result[0]
        if settings.texture_target == "IMAGE":
            image = bpy.data.images.load(str(first))
            image.source = "SEQUENCE"
            image.name = self._stem
            self.report({"INFO"}, f"ganfx: image sequence {image.name!r} ({spec.frames} frames)")
            return
        scene = context.scene
        editor = scene.sequence_editor or scene.sequence_editor_create()
        start = scene.frame_current
        new = compat.strips(editor).new_image(name=self._stem, filepath=str(first),
                                              channel=free_channel(editor, 0, start, start + len(job.result)),
                                              frame_start=start)
        for f in job.result[1:]:
            new.elements.append(f)
        self.report({"INFO"}, f"ganfx: strip {new.name!r} ({spec.frames} frames)")


class GANFX_OT_generate_sound(_JobOperator, bpy.types.Operator):
    """Generate a sound with a ganfx sound model into a new sound strip at the current frame"""

    bl_idname = "ganfx.generate_sound"
    bl_label = "Generate ganfx Sound"
    bl_options = {"REGISTER"}

    def prepare(self, context):
        if not compat.can_hold_sound():  # refused before anything renders
            raise jobs.UserInputError(compat.NO_SOUND)
        scene, settings, prefs = context.scene, context.scene.ganfx, preferences(context)
        model = jobs.resolve_model(settings.sound_model, prefs.models_folder)
        params = param_values(settings.sound_params)
        stem = f"{Path(model).stem}_seed{params.get('seed', 0)}{'_loop' if settings.sound_loop else ''}"
        spec = jobs.SoundJobSpec(model=model, params=params, seconds=sound_seconds(settings, scene),
                                 loop=settings.sound_loop, path=output_folder(settings, stem, ".wav"),
                                 **{k: v for k, v in prefs.host_options().items() if k != "tile"})
        self._stem = stem
        return jobs.Job(jobs.render_sound, spec)

    def finish(self, context, job):
        scene, sound = context.scene, job.result
        editor = scene.sequence_editor or scene.sequence_editor_create()
        start = scene.frame_current
        length = max(1, round(sound.seconds * scene.render.fps / scene.render.fps_base))  # as Blender counts
        try:
            new = compat.new_sound(editor, name=self._stem, filepath=str(sound.path),
                                   channel=free_channel(editor, 0, start, start + length), frame_start=start)
        except BaseException:
            sound.path.unlink(missing_ok=True)  # no strip: no file either
            raise
        editor.active_strip = new
        loop = ", an exact loop" if job.spec.loop else ""
        self.report({"INFO"}, f"ganfx: sound strip {new.name!r} ({sound.seconds:.2f} s{loop}) from {sound.path}")


def _abspath(path: str) -> str:
    return bpy.path.abspath(path) if path else ""


class GANFX_OT_train_effect(_StripOperator, bpy.types.Operator):
    """Train an effect model from painted keyframes of the active movie strip's clip (runs the trainer's Python)"""

    bl_idname = "ganfx.train_effect"
    bl_label = "Train ganfx Effect"
    bl_options = {"REGISTER"}

    def prepare(self, context):
        settings, prefs = context.scene.ganfx, preferences(context)
        strip = context.scene.sequence_editor.active_strip
        if strip is None:
            raise jobs.UserInputError("no active strip: select the movie strip the keyframes treat")
        if strip.type != "MOVIE":
            raise jobs.UserInputError(f"strip {strip.name!r} is a {strip.type.lower()} strip; "
                                      "select the movie strip the keyframes treat")
        if not prefs.models_folder:
            raise jobs.UserInputError("no models folder set: in the ganfx preferences, choose the folder "
                                      "the trained model goes into")
        keyframes = _abspath(settings.train_keyframes)
        name = settings.train_name.strip() or bpy.path.clean_name(Path(keyframes).name if keyframes else strip.name)
        try:
            options = tuple(shlex.split(prefs.trainer_options))
        except ValueError as exc:
            raise jobs.UserInputError(f"trainer options {prefs.trainer_options!r}: {exc}") from None
        python = prefs.trainer_python.strip()
        spec = training.TrainingSpec(
            python=_abspath(python) if python.startswith("//") else python,
            video=_abspath(strip.filepath), keyframes=keyframes, masks=_abspath(settings.train_masks),
            holdout=_abspath(settings.train_holdout), name=name,
            work=output_folder(settings, f"{name}_training"),
            models=Path(_abspath(prefs.models_folder)).expanduser(),
            iterations=settings.train_iterations, max_minutes=settings.train_minutes, options=options)
        return jobs.Job(training.train_effect, spec.check())

    def finish(self, context, job):
        model = job.result
        context.scene.ganfx.model = model.stem  # Apply ganfx Effect now uses it (and shows its parameters)
        self.report({"INFO"}, f"ganfx: trained effect model {model.stem!r} into {model}")


class GANFX_OT_set_model(bpy.types.Operator):
    """Use this model"""

    bl_idname = "ganfx.set_model"
    bl_label = "Use Model"
    bl_options = {"INTERNAL"}

    name: bpy.props.StringProperty()
    kind: bpy.props.EnumProperty(items=[(k, k.title(), "") for k in MODEL_SETTINGS], default="effect",
                                 description="which model setting it sets: the effect, texture or sound model")

    def execute(self, context):
        setattr(context.scene.ganfx, MODEL_SETTINGS[self.kind], self.name)
        return {"FINISHED"}


CLASSES = (GANFX_OT_apply_effect, GANFX_OT_generate_texture, GANFX_OT_generate_sound, GANFX_OT_train_effect,
           GANFX_OT_set_model)
