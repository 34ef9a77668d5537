"""The Blender extension's work, free of bpy: render jobs that a worker thread runs.

The operators turn a strip or the texture or sound settings into a job spec, run the job (in a
thread with progress, or synchronously in background mode) and only then touch the scene. Effect
and texture jobs render through the plugin layer's render session (ganfx.plugin.session), with the
runtime's readers and its sequence writer, like `ganfx render` (docs/architecture.md, "One render
path"); a sound job renders straight through the runtime (runtime/sound.py), like `ganfx generate
fire -o fire.wav`.

    spec = EffectJobSpec(model="watercolor", params={"strength": 0.8},
                         source=SourceClip("movie", ("/shots/plate.mp4",), first=0, last=47),
                         folder=Path("/shots/ganfx/plate_watercolor"),
                         matte=SourceClip("images", ("/shots/m.0001.png", ...), first=0, last=47))  # optional
    job = Job(render_effect, spec)
    job.start()                      # worker thread; poll job.done / job.progress; job.cancel()
    files = job.result               # PNG names in spec.folder, one per frame

    sound = SoundJobSpec(model="fire", params={"seed": 3, "gain": -6.0}, seconds=10.0, loop=True,
                         path=Path("/shots/ganfx/fire_seed3.wav"))
    Job(render_sound, sound).run()   # result: RenderedSound(path, samples, rate); progress in samples

Output folders are written under a hidden temporary name and renamed when the last frame is
done (a sound file under a partial name, renamed when complete); a failed or cancelled job
leaves nothing behind. A matte clip (a movie or image strip, read
like the source; RGBA: its alpha, otherwise its luma) weighs the effect per pixel: frame k of
the matte with frame k of the source, 0 keeps the source, 1 gives the effect. Training an effect from keyframes is a
Job too, whose function runs the trainer in another process (training.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganfx.runtime.errors import GanfxError, ModelLoadError, UserInputError


class Cancelled(Exception):
    """The user stopped the job."""


@dataclass(frozen=True)
class SourceClip:
    kind: str  # "movie" (one video file) | "images" (one file per frame)
    files: tuple  # (path,) for a movie; the image paths in frame order for images
    first: int = 0  # first content frame (movie frame index, or index into `files`)
    last: int = 0  # last content frame, inclusive
    name: str = ""  # the strip's name, for messages


@dataclass(frozen=True)
class EffectJobSpec:
    model: str  # model name or .onnx path (see resolve_model)
    params: dict  # parameter name -> value
    source: SourceClip
    folder: Path  # output folder to create (must not exist)
    name: str = "frame"  # file names: <name>.<0001>.png, numbered from 1
    providers: tuple | None = None  # onnxruntime providers; None = automatic
    tile: int | None = None  # host tile size; None = whole frames
    engine: str | None = None  # onnxruntime | openvino | auto (runtime/engines.py); None = the default
    precision: str = "fp32"  # fp32 | fp16 | bf16 | auto
    matte: SourceClip | None = None  # per-pixel weight of the effect (frame k with source frame k); None = none


@dataclass(frozen=True)
class TextureJobSpec:
    model: str
    params: dict
    size: tuple  # (width, height)
    frames: int  # 1 = a still
    fps: float  # animation time of frame n is n / fps
    folder: Path | None = None  # PNG sequence output; None = keep the frames in memory (stills)
    name: str = "texture"
    providers: tuple | None = None
    tile: int | None = None
    loop: bool = True  # an animated texture returns to frame 0 after `frames`
    engine: str | None = None
    precision: str = "fp32"


@dataclass(frozen=True)
class SoundJobSpec:
    model: str
    params: dict  # seed, gain (dB): the contract's sound_params()
    seconds: float  # length; with `loop`, rounded to whole noise cells (runtime.sound.loop_samples)
    loop: bool  # an exact loop of that length: the sample after the last is the first
    path: Path  # the .wav to write, 16-bit at the model's rate (48 kHz); must not exist
    providers: tuple | None = None
    engine: str | None = None
    precision: str = "fp32"


@dataclass(frozen=True)
class RenderedSound:
    """What a sound job wrote."""

    path: Path
    samples: int  # per channel
    rate: int  # samples per second

    @property
    def seconds(self) -> float:
        return self.samples / self.rate


# The operator that renders each kind, for the message when a model of another kind is given.
USE = {"effect": "Apply ganfx Effect", "texture": "Generate ganfx Texture", "sound": "Generate ganfx Sound"}


def check_kind(spec, wanted: str, path) -> None:
    """UserInputError (one line naming the file) when the model is not a `wanted` model."""
    kind = getattr(spec, "kind", None)  # a user plugin's spec has none: only effects and textures
    if kind is None or kind == wanted:
        return
    article = "an" if kind == "effect" else "a"
    raise UserInputError(f"{spec.name} is {article} {kind} model; use {USE.get(kind, 'another operator')}",
                         path=path)


def resolve_model(model: str, folder: str = "") -> str:
    """A model name from the extension's models folder, a path, or any name the runtime knows."""
    from ganfx.runtime.model import resolve_model_path

    model = (model or "").strip()
    if not model:
        raise UserInputError("no model chosen")
    if folder and not model.endswith(".onnx"):
        candidate = Path(folder).expanduser() / f"{model}.onnx"
        if candidate.is_file():
            return str(candidate)
    try:
        return str(resolve_model_path(model))
    except ModelLoadError as exc:
        if not folder or exc.path is not None:
            raise
        raise ModelLoadError(f"no model named {model!r} in the models folder {folder} "
                             f"or the ganfx model folders ({exc.message})") from None


def model_names(folder: str = "") -> list:
    """[(name, kind)] of the models in `folder` and those the runtime knows, for the model pickers."""
    from ganfx.runtime.contract import read_spec
    from ganfx.runtime.model import list_models

    out, seen = [], set()
    if folder and Path(folder).expanduser().is_dir():
        for path in sorted(Path(folder).expanduser().glob("*.onnx")):
            if path.name.endswith(".fp16.onnx") or path.name.startswith("."):
                continue  # fp16 twins are not models of their own; hidden ones are being written
            try:
                out.append((path.stem, read_spec(path).kind))
                seen.add(path.stem)
            except GanfxError:
                continue  # unreadable models are not offered
    out += [(m.name, m.spec.kind) for m in list_models() if m.spec is not None and m.name not in seen]
    return out


def _session(model: str, params: dict, providers, tile, engine=None, precision="fp32", **options):
    from ganfx.plugin.session import SessionOptions, open_session

    return open_session(model, params, SessionOptions(tile=tile or None, providers=tuple(providers) if providers
                                                      else None, engine=engine, precision=precision, **options),
                        host_name="blender")


def read_source(source: SourceClip):
    """Yield the source frames [H,W,C] (uint8/uint16 sRGB, float32 linear) in order."""
    if source.kind == "movie":
        from ganfx.runtime.io import open_reader

        with open_reader(source.files[0]) as reader:
            count = 0
            for frame in reader.frames(source.first, source.last):
                count += 1
                yield frame.image
            if count != source.last - source.first + 1:
                raise UserInputError(f"the movie has no frames {source.first}-{source.last}", path=source.files[0])
    elif source.kind == "images":
        from ganfx.runtime.io.images import read_image

        for path in source.files[source.first : source.last + 1]:
            if not Path(path).is_file():
                raise UserInputError("image of the strip not found", path=path)
            yield read_image(path)
    else:
        raise UserInputError(f"unknown source kind {source.kind!r}")


def _png_writer(folder: Path, name: str, size: tuple, count: int, deep: bool):
    """The runtime's sequence writer for <name>.0001.png ... in `folder` (8-bit, or 16-bit when `deep`)."""
    from ganfx.runtime.io import OutputSpec, open_writer

    spec = OutputSpec(size[0], size[1], bit_depth=16 if deep else 8, frame_numbers=tuple(range(1, count + 1)))
    return open_writer(folder / f"{name}.####.png", spec)


def _strip_name(clip: SourceClip, default: str) -> str:
    return f"{default} {clip.name!r}" if clip.name else default


def _matte_frames(matte: SourceClip, source: SourceClip):
    """The matte's frames for the source's, frame k with frame k; too few is an error naming the matte."""
    count = source.last - source.first + 1
    what = _strip_name(matte, "the matte strip")
    if matte.last - matte.first + 1 < count:  # checked here, before anything renders
        raise UserInputError(f"{what} has {max(matte.last - matte.first + 1, 0)} frames but "
                             f"{_strip_name(source, 'the source strip')} has {count}")

    def frames():
        try:
            yield from read_source(SourceClip(matte.kind, matte.files, matte.first, matte.first + count - 1))
        except UserInputError as exc:
            raise UserInputError(f"{what}: {exc.message}", path=exc.path) from None

    return frames()


def _render_sequence(session, frame_range: tuple, frames, count: int, folder: Path, name: str, job: "Job",
                     size=None, mattes=None, matte_name: str = "", source_name: str = "") -> list:
    """Frames (source images, or None per frame for generators) through the session into a PNG
    sequence numbered from 1, in a hidden folder renamed to `folder` when the last frame is done.
    `mattes` yields one matte image per frame (None: no matte)."""
    from ganfx.runtime.files import atomic_path
    from ganfx.runtime.io.base import Frame

    first = frame_range[0]
    names = []
    with atomic_path(folder, folder=True) as tmp:
        writer = None
        try:
            for i, image in enumerate(frames):
                job.check()
                matte = None
                if mattes is not None:
                    matte = next(mattes, None)
                    if matte is None:  # the reader gave fewer frames than the strip shows
                        raise UserInputError(f"{matte_name} has only {i} frames for {count}")
                    if matte.shape[:2] != image.shape[:2]:
                        raise UserInputError(f"{matte_name} is {matte.shape[1]}x{matte.shape[0]} but {source_name} "
                                             f"is {image.shape[1]}x{image.shape[0]}: a matte must be the size "
                                             "of the source")
                    matte = matte[None]
                if writer is None:
                    h, w = image.shape[:2] if image is not None else size[::-1]
                    # PNG keeps 8- and 16-bit sources at their depth; linear floats become 16-bit sRGB.
                    deep = image is None or image.dtype != np.uint8
                    writer = _png_writer(Path(tmp), name, (w, h), count, deep)
                    session.begin(frame_range, output=writer.pixel_format)
                batch = None if image is None else image[None]
                out = session.process(batch, [first + i], matte)[0]
                writer.write(Frame(i + 1, out))
                names.append(f"{name}.{i + 1:04d}.png")
                job.report(i + 1, count)
            session.end()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
    return names


def render_effect(spec: EffectJobSpec, job: "Job") -> list:
    """Apply the effect to every source frame; -> the PNG file names written into spec.folder."""
    mattes = None if spec.matte is None else _matte_frames(spec.matte, spec.source)
    with _session(spec.model, spec.params, spec.providers, spec.tile, spec.engine, spec.precision) as session:
        check_kind(session.spec, "effect", spec.model)
        if session.kind != "effect":
            raise UserInputError(f"{session.spec.name} is a texture plugin; use {USE['texture']}", path=spec.model)
        if spec.matte is not None and not session.takes_matte:
            raise UserInputError(f"{session.spec.name} takes no matte", path=spec.model)
        frame_range = (spec.source.first, spec.source.last)
        return _render_sequence(session, frame_range, read_source(spec.source), frame_range[1] - frame_range[0] + 1,
                                spec.folder, spec.name, job, mattes=mattes,
                                matte_name=_strip_name(spec.matte, "the matte strip") if spec.matte else "",
                                source_name=_strip_name(spec.source, "the source strip"))


def render_texture(spec: TextureJobSpec, job: "Job"):
    """Generate the texture; -> PNG names in spec.folder, or (folder None) a list of float32 linear frames."""
    from fractions import Fraction

    loop = spec.frames if spec.loop and spec.frames > 1 else None  # frame `frames` equals frame 0: it loops
    with _session(spec.model, dict(spec.params), spec.providers, spec.tile, spec.engine, spec.precision,
                  size=tuple(spec.size),
                  fps=Fraction(spec.fps).limit_denominator(1001), loop_frames=loop) as session:
        check_kind(session.spec, "texture", spec.model)
        if session.kind != "texture":
            raise UserInputError(f"{session.spec.name} is an effect plugin; use {USE['effect']}", path=spec.model)
        frame_range = (0, spec.frames - 1)
        if spec.folder is not None:
            return _render_sequence(session, frame_range, (None for _ in range(spec.frames)), spec.frames,
                                    spec.folder, spec.name, job, size=tuple(spec.size))
        frames = []
        session.begin(frame_range)  # no writer: float32 linear RGB, for an image datablock
        for n in range(spec.frames):
            job.check()
            frames.append(session.process(None, [n])[0])
            job.report(n + 1, spec.frames)
        session.end()
        return frames


def render_sound(spec: SoundJobSpec, job: "Job") -> RenderedSound:
    """Render the sound into spec.path (a 16-bit WAV at the model's rate, 48 kHz); -> what was written.

    Progress is reported in samples; a cancel stops at the next block and leaves no file."""
    from ganfx.runtime.model import load_model
    from ganfx.runtime.sound import loop_samples, write_sound_file

    job.check()
    model = load_model(spec.model, providers=tuple(spec.providers) if spec.providers else None,
                       engine=spec.engine, precision=spec.precision)
    check_kind(model.spec, "sound", spec.model)
    params = model.spec.coerce_params(dict(spec.params))
    seconds = float(spec.seconds)
    if not 0 < seconds < float("inf"):
        raise UserInputError(f"a sound needs a positive length in seconds, got {spec.seconds}", about="seconds")
    rate = model.spec.rate
    total = loop_samples(seconds, rate, model.spec.noise.stride) if spec.loop else round(seconds * rate)
    renderer = model.sound_renderer(seed=int(params["seed"]), loop=total if spec.loop else None)
    done = 0

    def progress(n):
        nonlocal done
        done += n
        job.report(done, total)
        job.status = f"sound {done / rate:.1f}/{total / rate:.1f} s"
        job.check()  # inside the writer: a cancel aborts the partial file

    job.report(0, total)
    job.status = f"sound 0.0/{total / rate:.1f} s"
    written = write_sound_file(Path(spec.path), renderer, 0, total, rate, "s16", gain_db=float(params["gain"]),
                               progress=progress)
    return RenderedSound(Path(spec.path), written, rate)


@dataclass
class Job:
    """A render (or training) function run on a worker thread, with progress, cancel and the error kept."""

    fn: object  # fn(spec, job) -> result
    spec: object
    done_frames: int = 0
    total_frames: int = 0
    result: object = None
    error: str = ""  # one line for the UI; empty when it worked
    status: str = ""  # what it is doing, for the UI, where "frame N/M" does not say it (training)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _finished: threading.Event = field(default_factory=threading.Event)

    @property
    def progress(self) -> float:
        return self.done_frames / self.total_frames if self.total_frames else 0.0

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def report(self, done: int, total: int) -> None:
        self.done_frames, self.total_frames = done, total

    def check(self) -> None:
        if self._stop.is_set():
            raise Cancelled

    def cancel(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Run here and now (background mode, tests); errors end up in `error`."""
        try:
            self.result = self.fn(self.spec, self)
        except Cancelled:
            self.error = "cancelled"
        except GanfxError as exc:
            self.error = str(exc)
        except Exception as exc:  # a failed render must reach the UI as a message, not kill Blender
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.error = f"render failed: {type(exc).__name__}: {text}"
        finally:
            self._finished.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="ganfx-job", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

