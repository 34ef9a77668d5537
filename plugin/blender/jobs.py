"""The Blender extension's work, free of bpy: render jobs that a worker thread runs.

The operators turn a strip or the texture settings into a job spec, run the job (in a thread
with progress, or synchronously in background mode) and only then touch the scene. Jobs
render through the reference host (ganfx.plugin.host.Host), like `ganfx render`.

    spec = EffectJobSpec(model="watercolor", params={"strength": 0.8},
                         source=SourceClip("movie", ("/shots/plate.mp4",), first=0, last=47),
                         folder=Path("/shots/ganfx/plate_watercolor"))
    job = Job(render_effect, spec)
    job.start()                      # worker thread; poll job.done / job.progress; job.cancel()
    files = job.result               # PNG names in spec.folder, one per frame

Output folders are written under a hidden temporary name and renamed when the last frame is
done; a failed or cancelled job leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
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


@dataclass(frozen=True)
class EffectJobSpec:
    model: str  # model name or .onnx path (see resolve_model)
    params: dict  # parameter name -> value
    source: SourceClip
    folder: Path  # output folder to create (must not exist)
    name: str = "frame"  # file names: <name>.<0001>.png, numbered from 1
    providers: tuple | None = None  # onnxruntime providers; None = automatic
    tile: int | None = None  # host tile size; None = whole frames


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
            if path.name.endswith(".fp16.onnx"):
                continue
            try:
                out.append((path.stem, read_spec(path).kind))
                seen.add(path.stem)
            except GanfxError:
                continue  # unreadable models are not offered
    out += [(m.name, m.spec.kind) for m in list_models() if m.spec is not None and m.name not in seen]
    return out


def _host(model: str, params: dict, providers, tile, **info):
    from ganfx.plugin.gan_effect import GanEffect
    from ganfx.plugin.host import Host
    from ganfx.plugin.ofx import HostInfo

    plugin = GanEffect.load(model, providers=list(providers) if providers else None)
    host = Host(plugin, HostInfo(name="blender", tile=tile or None, **info))
    return host, host.create_instance(params)


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


class _Folder:
    """Writes PNGs into a hidden sibling of `final`, renamed to `final` on commit."""

    def __init__(self, final: Path):
        self.final = Path(final)
        if self.final.exists():
            raise UserInputError("output folder exists already; choose another", path=self.final)
        self.temp = self.final.with_name(f".{self.final.name}.partial-{os.getpid()}")
        self.temp.mkdir(parents=True, exist_ok=True)
        self.files = []

    def write(self, name: str, image: np.ndarray) -> None:
        from ganfx.runtime.io import convert_image
        from ganfx.runtime.io.images import write_image

        # PNG keeps 8- and 16-bit sources at their depth; linear floats become 16-bit sRGB.
        dtype = np.uint8 if image.dtype == np.uint8 else np.uint16
        write_image(self.temp / name, convert_image(image, dtype, image.shape[-1]))
        self.files.append(name)

    def commit(self) -> list:
        os.replace(self.temp, self.final)
        return self.files

    def abort(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


def render_effect(spec: EffectJobSpec, job: "Job") -> list:
    """Apply the effect to every source frame; -> the PNG file names written into spec.folder."""
    host, instance = _host(spec.model, spec.params, spec.providers, spec.tile)
    if instance.context != "filter":
        raise UserInputError(f"{host.descriptor.label} is a texture model; use Generate Texture", path=spec.model)
    total = spec.source.last - spec.source.first + 1
    out = _Folder(spec.folder)
    try:
        host.begin_sequence(instance, (spec.source.first, spec.source.last))
        for i, image in enumerate(read_source(spec.source)):
            job.check()
            result = host.render_frame(instance, spec.source.first + i, image)
            out.write(f"{spec.name}.{i + 1:04d}.png", result)
            job.report(i + 1, total)
        host.end_sequence(instance)
        return out.commit()
    except BaseException:
        out.abort()
        raise
    finally:
        host.destroy_instance(instance)


def render_texture(spec: TextureJobSpec, job: "Job"):
    """Generate the texture; -> PNG names in spec.folder, or (folder None) a list of float32 linear frames."""
    width, height = spec.size
    host, instance = _host(spec.model, dict(spec.params), spec.providers, spec.tile, project_size=(width, height),
                           frame_rate=float(spec.fps), pixel_depth="float")
    if instance.context != "generator":
        raise UserInputError(f"{host.descriptor.label} is an effect model; use Apply Effect", path=spec.model)
    if spec.loop and spec.frames > 1 and host.descriptor.param("loop") is not None:
        instance.values["loop"] = spec.frames  # frame `frames` equals frame 0: the sequence loops
    out = _Folder(spec.folder) if spec.folder is not None else None
    frames = []
    try:
        host.begin_sequence(instance, (0, spec.frames - 1))
        for n in range(spec.frames):
            job.check()
            image = host.render_frame(instance, n)  # [H,W,3] float32 linear
            if out is not None:
                out.write(f"{spec.name}.{n + 1:04d}.png", image)
            else:
                frames.append(image)
            job.report(n + 1, spec.frames)
        host.end_sequence(instance)
        return out.commit() if out is not None else frames
    except BaseException:
        if out is not None:
            out.abort()
        raise
    finally:
        host.destroy_instance(instance)


@dataclass
class Job:
    """A render function run on a worker thread, with progress, cancel and the error kept."""

    fn: object  # fn(spec, job) -> result
    spec: object
    done_frames: int = 0
    total_frames: int = 0
    result: object = None
    error: str = ""  # one line for the UI; empty when it worked
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

