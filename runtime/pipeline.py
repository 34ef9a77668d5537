"""The render pipeline: decode -> preprocess -> inference -> postprocess -> encode.

Each stage runs on its own thread and hands batches to the next through a bounded
queue, so decoding frame k+2, running the network on k+1 and encoding k overlap and the
slowest stage sets the pace (PyAV, onnxruntime, OpenCV and OpenEXR release the GIL while
they work). Memory stays bounded: at most `queue_size` batches wait between two stages.

The pipeline knows nothing about models: it drives any *processor* (the plugin layer's
render session, ganfx.plugin.session, in every command), an object with

    begin(frame_range: tuple[int, int], output: PixelFormat) -> None   # output: what the writer takes
    process(frames: np.ndarray | None, frame_numbers: list[int]) -> np.ndarray   # [N,H,W,C] -> [N,H,W,C]
    end() -> None

(`frames` is None for generators), a source of `Frame`s, and a `Writer`. A batch of frames
is stacked once (preprocess), reaches the processor as one array and is split once for the
encoder (postprocess); frames the processor made in the writer's format are not converted.
A render with a matte (`render_file(..., matte="roto.mov")`, a `MatteSource`) decodes it beside
the frames and calls `process(frames, frame_numbers, mattes)`, mattes `[N,H,W,1]`.

    with open_reader("plate.mov") as reader, open_writer("out.mp4", spec) as writer:
        stats = render(reader.frames(), processor, writer, total=reader.properties.frame_count,
                       batch=4, progress=Progress(reader.properties.frame_count, "bar"))
    print(stats.fps)

An error in any stage stops all of them and is raised here; so is Ctrl-C
(KeyboardInterrupt), after the threads have stopped. The caller's writer then aborts
(its `with` block), so nothing half-written is left behind.
"""

from __future__ import annotations

import itertools
import json
import queue
import re
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import frames as F
from .errors import GanfxError, UserInputError
from .io.base import Frame, MediaProperties, Reader

STAGES = ("decode", "preprocess", "inference", "postprocess", "encode")
_END = object()  # end-of-stream marker passed down the queues


@dataclass
class RenderStats:
    frames: int  # frames written
    seconds: float  # wall time of the whole render
    busy: dict = field(default_factory=dict)  # stage -> seconds spent working (not waiting)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class Progress:
    """Frames done, frames/s and ETA: a tqdm bar on stderr, JSON lines on stdout, or nothing.

    JSON lines (`--progress json`), one per frame, then one at the end:
        {"event": "frame", "frame": 1004, "done": 4, "total": 100, "fps": 23.1, "eta_s": 4.2}
        {"event": "done", "frames": 100, "seconds": 4.4, "fps": 22.8, "output": "out.mp4"}
    """

    def __init__(self, total: int, mode: str = "bar", label: str = "", stream=None):
        if mode not in ("bar", "json", "quiet"):
            raise ValueError(f"progress mode must be bar, json or quiet, got {mode!r}")
        self.total, self.mode, self.done = int(total), mode, 0
        self._start = time.perf_counter()
        self._stream = stream or sys.stdout
        self._bar = None
        if mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit="frame", desc=label or None, dynamic_ncols=True, file=sys.stderr)

    def update(self, number: int) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self.mode == "json":
            elapsed = time.perf_counter() - self._start
            fps = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / fps if fps > 0 else None
            self._line({"event": "frame", "frame": number, "done": self.done, "total": self.total,
                        "fps": round(fps, 3), "eta_s": None if eta is None else round(eta, 3)})

    def close(self, **summary) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.mode == "json" and summary:
            self._line({"event": "done", **summary})

    def _line(self, obj: dict) -> None:
        self._stream.write(json.dumps(obj) + "\n")
        self._stream.flush()


class _Stop(Exception):
    """Raised inside a stage when another stage failed or the user interrupted."""


class _Runner:
    def __init__(self, queue_size: int):
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.queues = [queue.Queue(maxsize=max(1, queue_size)) for _ in range(len(STAGES) - 1)]
        self.busy = {name: 0.0 for name in STAGES}
        self._lock = threading.Lock()

    def put(self, q: queue.Queue, item) -> None:
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                q.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def get(self, q: queue.Queue):
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                return q.get(timeout=0.05)
            except queue.Empty:
                continue

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self.stop.set()

    def thread(self, name: str, body) -> threading.Thread:
        def run():
            try:
                body()
            except _Stop:
                pass
            except BaseException as exc:  # handed to the main thread, which raises it
                self.fail(exc)

        return threading.Thread(target=run, name=f"ganfx-{name}", daemon=True)

    def stage(self, index: int, fn):
        """Body of a middle/last stage: take from queue index-1, apply fn, put to queue index."""
        name = STAGES[index]
        inq = self.queues[index - 1]
        outq = self.queues[index] if index < len(self.queues) else None

        def body():
            while True:
                item = self.get(inq)
                if item is _END:
                    if outq is not None:
                        self.put(outq, _END)
                    return
                t0 = time.perf_counter()
                result = fn(item)
                self.busy[name] += time.perf_counter() - t0
                if outq is not None:
                    self.put(outq, result)

        return body


def render(source, processor, writer, *, total: int, batch: int = 1, frame_range: tuple | None = None,
           progress: Progress | None = None, queue_size: int = 4, on_frame=None, mattes=None) -> RenderStats:
    """Run `source` frames through `processor` into `writer`; see the module docstring.

    `mattes` (an iterable of [H,W,1], one per frame of `source`) go to the processor with their
    frames. `on_frame(done, total)` is called after each written frame (a host's progress
    display); an exception it raises (a host's cancel) stops the render like any other error.
    """
    if batch < 1:
        raise ValueError("batch must be >= 1")
    progress = progress or Progress(total, "quiet")
    run = _Runner(queue_size)
    written = [0]

    def decode():
        pending = []
        it, matte_it = iter(source), None if mattes is None else iter(mattes)
        while True:
            if run.stop.is_set():
                raise _Stop
            t0 = time.perf_counter()
            frame = next(it, None)
            matte = None if frame is None or matte_it is None else next(matte_it, None)
            run.busy["decode"] += time.perf_counter() - t0
            if frame is None:
                break
            if matte_it is not None and matte is None:
                raise GanfxError(f"the mattes ended before frame {frame.number}")
            pending.append((frame, matte))
            if len(pending) == batch:
                run.put(run.queues[0], pending)
                pending = []
        if pending:
            run.put(run.queues[0], pending)
        run.put(run.queues[0], _END)

    def preprocess(items):
        frames = [f for f, _ in items]
        if frames[0].image is None:
            return frames, None, None
        mattes_in = None if items[0][1] is None else np.stack([m for _, m in items])  # [N,H,W,1]
        return frames, np.stack([f.image for f in frames]), mattes_in  # [N,H,W,C]

    def inference(item):
        frames, batch_in, mattes_in = item
        numbers = [f.number for f in frames]
        try:  # a render without a matte keeps the protocol's two arguments
            out = (processor.process(batch_in, numbers) if mattes_in is None
                   else processor.process(batch_in, numbers, mattes_in))
        except MemoryError:
            raise GanfxError(f"out of memory rendering frame {numbers[0]}; render in smaller tiles or fewer frames at a time",
                             about="tile") from None
        except Exception as exc:
            if not type(exc).__module__.startswith("onnxruntime"):
                raise
            # Runtime failures (device out of memory, a provider error) are not bugs here: one line.
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise GanfxError(f"inference failed on frame {numbers[0]}: {text}") from None
        if not isinstance(out, np.ndarray) or out.ndim != 4 or out.shape[0] != len(frames):
            shape = getattr(out, "shape", type(out).__name__)
            raise GanfxError(f"processor returned {shape} for {len(frames)} frames; expected [N,H,W,C]")
        return frames, out

    def postprocess(item):
        frames, out = item
        fmt = writer.pixel_format
        if fmt.matches(out):  # the processor rendered what the writer takes: split only
            return [Frame(f.number, out[i], f.pts, f.duration) for i, f in enumerate(frames)]
        return [Frame(f.number, writer.convert(out[i]), f.pts, f.duration) for i, f in enumerate(frames)]

    def encode(frames):
        for f in frames:
            writer.write(f)
            written[0] += 1
            progress.update(f.number)
            if on_frame is not None:
                on_frame(written[0], total)

    bodies = [decode, run.stage(1, preprocess), run.stage(2, inference), run.stage(3, postprocess),
              run.stage(4, encode)]
    threads = [run.thread(name, body) for name, body in zip(STAGES, bodies)]
    start = time.perf_counter()
    processor.begin(frame_range, writer.pixel_format)
    try:
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads):
                threads[-1].join(timeout=0.1)  # a timed join lets Ctrl-C reach this thread
                if run.stop.is_set():
                    break
        except KeyboardInterrupt:
            run.stop.set()
            _join(threads)
            raise
        _join(threads)
    finally:
        processor.end()
    if run.error is not None:
        raise run.error
    return RenderStats(written[0], time.perf_counter() - start, dict(run.busy))


def _join(threads) -> None:
    for t in threads:
        while t.is_alive():
            t.join(timeout=0.1)


# -- whole renders: open the media, check the request, run the pipeline --------------------

@dataclass(frozen=True)
class RenderOptions:
    batch: int = 1  # frames per network call
    codec: str | None = None  # output codec (videos: h264|h265|prores|prores4444|ffv1|png; EXR: half|float)
    writer: str | None = None  # "pyav" (default) | "opencv" for videos
    overwrite: bool = False  # replace an existing output
    resume: bool = False  # image sequences: skip frames already written
    progress: str = "bar"  # "bar" | "json" | "quiet"
    fps: Fraction | None = None  # rate of outputs whose source has none (sequences, generators)
    quality: int | None = None  # CRF for h264/h265, quality for JPEG
    gop: int | None = None  # h264/h265: closed GOPs of this many frames (OutputSpec.gop)
    sound: object = None  # a generated sound (io.base.SoundTrack) under a video output; its start is set per range


def _sound_for(options: RenderOptions, output_path, first: int, fps) -> object:
    """The options' sound track starting at frame `first` (sample first/fps*rate), or None; refused for
    outputs that hold no audio."""
    import dataclasses

    from .io import is_sequence

    if options.sound is None:
        return None
    if is_sequence(output_path) or Path(output_path).suffix.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
        raise UserInputError("a sound goes under a video output (.mp4, .mov, .mkv); write the sound alone with "
                             "`ganfx generate SOUND -o file.wav`", path=output_path, about="sound")
    if options.writer == "opencv":
        raise UserInputError("the opencv writer writes no audio; a sound needs the pyav writer", path=output_path,
                             about="sound")
    start = round(Fraction(first) / Fraction(fps) * options.sound.rate)
    return dataclasses.replace(options.sound, start_sample=int(start))


def parse_frame_range(text: str, about: str = "frames") -> tuple:
    """"1001-1100" -> (1001, 1100); "12" -> (12, 12). UserInputError for anything else."""
    m = re.fullmatch(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?", text or "")
    if not m:
        raise UserInputError(f"a frame range is FIRST-LAST (e.g. 1001-1100), got {text!r}", about=about)
    if any(g and len(g.lstrip("0")) > 9 for g in m.groups()):  # int() of 5000 digits raises; no shot is that long
        raise UserInputError(f"frame range {text.strip()[:40]!r}: frame numbers go up to 999999999", about=about)
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) is not None else first
    if last < first:
        raise UserInputError(f"frame range {text}: the last frame comes before the first", about=about)
    return first, last


def _same_file(a, b) -> bool:
    """True when two paths (or sequence patterns, #### or %04d) name the same files."""
    from .io.sequence import parse_pattern

    def key(path):
        pattern = parse_pattern(path)
        return Path(pattern.text if pattern else path).resolve()

    try:
        return key(a) == key(b)
    except (OSError, GanfxError):
        return False


QUEUED_BYTES = 2 << 30  # frames waiting between stages, at most (about)


def queue_size_for(width: int, height: int, batch: int, max_size: int = 4) -> int:
    """Batches per queue so that all frames in flight fit QUEUED_BYTES (8K float frames: 1).

    In flight: one batch in each of the 5 stages plus `size` in each of the 4 queues.
    """
    batch_bytes = width * height * 4 * 4 * batch  # RGBA float32 bounds every frame type
    return int(max(1, min(max_size, (QUEUED_BYTES // batch_bytes - len(STAGES)) // (len(STAGES) - 1))))


def _run(source, processor, writer, total, frame_range, options: RenderOptions, label: str,
         on_frame=None, mattes=None) -> RenderStats:
    progress = Progress(total, options.progress, label)
    try:
        stats = render(source, processor, writer, total=total, batch=options.batch, frame_range=frame_range,
                       progress=progress, on_frame=on_frame, mattes=mattes,
                       queue_size=queue_size_for(writer.spec.width, writer.spec.height, options.batch))
        writer.commit()
    except BaseException:
        progress.close()
        writer.abort()
        raise
    progress.close(frames=stats.frames, seconds=round(stats.seconds, 3), fps=round(stats.fps, 3),
                   output=str(writer.path))
    return stats


class MatteSource:
    """The matte of each frame of a render, read like the input: a video or a sequence frame by
    frame, or one still image for every frame. # -> [H,W,1] per frame, of the reader's dtype

    Frames pair up in order: the input's first frame takes the matte's first frame (a sequence
    numbered from 1001 can take a matte video, numbered from 0), so a frame range of the input
    picks the same frames of the matte. A matte's own values are used (no colour conversion):
    RGBA mattes give their alpha, others their Rec. 709 luma (frames.matte_of).

        with open_reader("plate.mov") as plate, open_reader("roto.mov") as roto:
            mattes = MatteSource(roto, plate.properties, 10, 20)   # checks size and frame count
            images = mattes.images(skip={12})                      # frames 10, 11, 13, ... 20
    """

    def __init__(self, reader: Reader, source: MediaProperties, first: int, last: int):
        m = reader.properties
        if (m.width, m.height) != (source.width, source.height):
            raise UserInputError(f"the matte is {m.width}x{m.height} but the input is {source.width}x{source.height}",
                                 path=m.path)
        self.reader, self.first, self.last = reader, first, last
        self.still = m.kind == "image"
        self.offset = m.first_frame - source.first_frame  # matte frame of input frame n: n + offset
        if not self.still and last + self.offset > m.last_frame:
            raise UserInputError(f"the matte has {m.frame_count} frames ({m.first_frame}-{m.last_frame}) but frames "
                                 f"{first}-{last} of the input need {last - source.first_frame + 1} (matched in order)",
                                 path=m.path)

    def images(self, skip=frozenset()):
        """The mattes of the input's frames first..last that are not in `skip`, in order."""
        if self.still:
            return itertools.repeat(F.matte_of(next(iter(self.reader.frames())).image))
        o = self.offset
        frames = self.reader.frames(self.first + o, self.last + o, skip={n + o for n in skip})
        return (F.matte_of(f.image) for f in frames)


def render_file(input_path, output_path, processor, frames: tuple | None = None,
                options: RenderOptions = RenderOptions(), on_frame=None, matte=None) -> RenderStats:
    """Apply `processor` to the frames of a video, sequence or still and write `output_path`.

        render_file("plate.mov", "out/shot.####.exr", processor, frames=(10, 20))
        render_file("plate.mov", "out.mov", session, matte="roto.mov")   # see MatteSource

    `matte` (a video, a sequence or a still, read like the input) is decoded beside the input
    and handed to the processor with the frames.
    """
    from .io import OutputSpec, is_sequence, open_reader, open_writer

    if _same_file(input_path, output_path):
        raise UserInputError("the output is the input; choose another output", path=output_path)
    if matte is not None and not str(matte).strip():
        raise UserInputError("the matte path is empty")
    if matte is not None and _same_file(matte, output_path):
        raise UserInputError("the output is the matte; choose another output", path=output_path)
    if options.resume and not is_sequence(output_path):
        raise UserInputError("resuming works with image-sequence outputs (shot.####.exr) only", path=output_path,
                             about="resume")
    with ExitStack() as stack:
        reader = stack.enter_context(open_reader(input_path))
        p = reader.properties
        first, last = frames or (p.first_frame, p.last_frame)
        if first < p.first_frame or last > p.last_frame:
            raise UserInputError(f"frames {first}-{last} are outside the source's frames "
                                 f"{p.first_frame}-{p.last_frame}", path=input_path, about="frames")
        mattes = None if matte is None else MatteSource(stack.enter_context(open_reader(matte)), p, first, last)
        trim = (first, last) != (p.first_frame, p.last_frame)
        spec = OutputSpec(
            p.width, p.height, frame_rate=p.frame_rate or options.fps or Fraction(24), time_base=p.time_base,
            codec=options.codec, alpha=p.channels == 4, bit_depth=p.bit_depth,
            audio_from=p.path if p.audio else None, trim=trim, constant_rate=not p.variable_frame_rate,
            pixel_aspect=p.pixel_aspect, timecode=p.timecode,
            overwrite=options.overwrite, resume=options.resume,
            frame_numbers=tuple(range(first, last + 1)), quality=options.quality, gop=options.gop,
            sound=_sound_for(options, output_path, first - p.first_frame, p.frame_rate or options.fps or Fraction(24)),
        )
        writer = open_writer(output_path, spec, options.writer)
        skip = writer.done_frames
        total = last - first + 1 - len(skip)
        source = reader.frames(first, last, skip=skip)
        return _run(source, processor, writer, total, (first, last), options, Path(output_path).name, on_frame,
                    None if mattes is None else mattes.images(skip))


def generate_file(output_path, processor, count: int, size: tuple,
                  options: RenderOptions = RenderOptions(), frames: tuple | None = None,
                  on_frame=None) -> RenderStats:
    """Render generated frames 0..count-1 (or the chunk `frames` = (first, last) of them) to a
    still, a sequence or a video. Frame n is the same image whichever chunk renders it.

        generate_file("tex/wall.####.exr", processor, count=240, size=(2048, 2048), frames=(0, 59))
    """
    from .io import OutputSpec, is_sequence, open_writer

    if count < 1:
        raise UserInputError(f"the frame count must be at least 1, got {count}", about="frames")
    first, last = frames or (0, count - 1)
    if first < 0 or last > count - 1:
        raise UserInputError(f"frames {first}-{last} are outside the {count} frames 0-{count - 1}", about="range")
    if options.resume and not is_sequence(output_path):
        raise UserInputError("resuming works with image-sequence outputs (tex.####.exr) only", path=output_path,
                             about="resume")
    spec = OutputSpec(int(size[0]), int(size[1]), frame_rate=options.fps or Fraction(24), codec=options.codec,
                      bit_depth=8, overwrite=options.overwrite, resume=options.resume,
                      frame_numbers=tuple(range(first, last + 1)), quality=options.quality, gop=options.gop,
                      sound=_sound_for(options, output_path, first, options.fps or Fraction(24)))
    writer = open_writer(output_path, spec, options.writer)
    numbers = [n for n in range(first, last + 1) if n not in writer.done_frames]
    source = (Frame(n, None) for n in numbers)
    return _run(source, processor, writer, len(numbers), (first, last), options, Path(output_path).name, on_frame)
