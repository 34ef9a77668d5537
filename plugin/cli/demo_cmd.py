"""`ganfx demo [-o DIR]`: render the shipped models, no input needed.

    ganfx demo                       # writes ./ganfx-demo/
    ganfx demo -o /tmp/demo --seconds 2

Parts, in order (the table PARTS; each is a function(args, out_dir) -> [written paths]):
- textures: a seamlessly looping 768x432 mp4 of the shipped textures in a 3x2 grid,
  each animated through its noise field (the last frame leads straight back to the first),
  rendered at the models' native size (1:1, no resampling);
- tileable: a 3840x2160 still of one shipped texture that tiles seamlessly (tileable noise),
  plus a 2x2 repeat preview at reduced size that shows there is no seam;
- effect: the shipped effect model on the shipped clip, source | effect side by side
  (ganfx.plugin.cli.demo_effect).
"""

from __future__ import annotations

from pathlib import Path

VIDEO_SIZE = (768, 432)
STILL_SIZE = (3840, 2160)
GRID = (3, 2)  # columns, rows of the texture video
STILL_MODEL = "redbrick"  # preferred for the tileable still; any shipped texture works
BATCH = 4  # frames per network call


def add_arguments(parser):
    parser.add_argument("-o", "--output", default="ganfx-demo", help="folder to write the demo into (default ganfx-demo)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the looping texture video (default 2)")
    parser.add_argument("--fps", type=int, default=24, help="frame rate of the texture video (default 24)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    from ganfx.plugin.cli.render_cmd import add_engine_arguments

    add_engine_arguments(parser)


def _engine(args) -> dict:
    """The engine flags as SessionOptions keywords."""
    from ganfx.plugin.cli.render_cmd import engine_settings

    return engine_settings(args)


def _shipped_textures() -> list:
    from ganfx.runtime.errors import ModelLoadError
    from ganfx.runtime.model import list_models

    shipped = [e for e in list_models() if e.source == "shipped" and e.spec and e.spec.kind == "texture"]
    if not shipped:
        raise ModelLoadError("the demo needs the shipped texture models, and none are installed in this build")
    return shipped


def _bar(args, total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=args.no_progress, dynamic_ncols=True)


def _video_frames(args) -> int:
    """Frames of the texture video; at least 2 (a loop needs somewhere to go)."""
    from ganfx.runtime.errors import UserInputError

    frames = int(round(args.seconds * args.fps))
    if frames < 2 or args.fps < 1:
        raise UserInputError(f"the video needs at least 2 frames ({args.seconds} s at {args.fps} fps)", about="seconds")
    return frames


def _texture_video(args, out_dir: Path) -> list:
    """A grid of shipped textures (repeated if fewer than its cells), looping exactly."""
    from fractions import Fraction

    import numpy as np

    from ganfx.plugin.session import SessionOptions, open_session
    from ganfx.runtime.io import OutputSpec, open_writer
    from ganfx.runtime.io.base import Frame

    frames = _video_frames(args)
    entries = _shipped_textures()
    cols, rows = GRID
    # cell edges: the video's width and height split as evenly as whole pixels allow
    xs = [VIDEO_SIZE[0] * i // cols for i in range(cols + 1)]
    ys = [VIDEO_SIZE[1] * i // rows for i in range(rows + 1)]
    path = out_dir / "textures-loop.mp4"
    spec = OutputSpec(VIDEO_SIZE[0], VIDEO_SIZE[1], frame_rate=Fraction(args.fps), overwrite=True, quality=20)
    sessions = []
    try:
        for i in range(cols * rows):
            r, c = divmod(i, cols)
            # frame `frames` would equal frame 0: the video loops
            options = SessionOptions(size=(xs[c + 1] - xs[c], ys[r + 1] - ys[r]), fps=Fraction(args.fps),
                                     loop_frames=frames, **_engine(args))
            sessions.append(open_session(entries[i % len(entries)].path, {"seed": i, "speed": 0.5}, options))
        with open_writer(path, spec) as writer, _bar(args, frames, "textures") as bar:
            for s in sessions:
                s.begin((0, frames - 1), output=writer.pixel_format)  # uint8 sRGB, straight from the model
            for start in range(0, frames, BATCH):
                numbers = list(range(start, min(start + BATCH, frames)))
                cells = [s.process(None, numbers) for s in sessions]  # [n,h,w,3] each
                grid = np.concatenate([np.concatenate(cells[r * cols:(r + 1) * cols], axis=2) for r in range(rows)],
                                      axis=1)
                for n, image in zip(numbers, grid):
                    writer.write(Frame(number=n, image=np.ascontiguousarray(image)))
                    bar.update(1)
    finally:
        for s in sessions:
            s.close()
    return [path]


def _tileable_still(args, out_dir: Path) -> list:
    """A 4K tileable still and a half-size 2x2 repeat that shows the seams are invisible."""
    import cv2
    import numpy as np

    from ganfx.plugin.session import SessionOptions, open_session
    from ganfx.runtime.frames import PixelFormat
    from ganfx.runtime.io.images import write_png

    entries = _shipped_textures()
    entry = next((e for e in entries if e.name == STILL_MODEL), entries[0])
    width, height = STILL_SIZE
    with _bar(args, 1, f"{entry.name} 4K") as bar, \
            open_session(entry.path, {"seed": 7, "tileable": True},
                         SessionOptions(size=STILL_SIZE, tile=1024, **_engine(args))) as s:
        s.begin((0, 0), output=PixelFormat("uint8", "srgb", 3))
        image = s.process(None, [0])[0]
        bar.update(1)
    still = write_png(out_dir / f"{entry.name}-tileable-4k.png", image)
    small = cv2.resize(image, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    repeat = write_png(out_dir / f"{entry.name}-tileable-2x2-preview.png", np.tile(small, (2, 2, 1)))
    return [still, repeat]


# part name -> function(args, out_dir) -> [paths]; run in this order.
def _effect_side_by_side(args, out_dir: Path) -> list:
    from ganfx.plugin.cli.demo_effect import effect_side_by_side

    return effect_side_by_side(args, out_dir)


PARTS = {
    "textures": _texture_video,
    "tileable": _tileable_still,
    "effect": _effect_side_by_side,
}


def run(args) -> int:
    import time

    from ganfx.runtime.errors import MediaIOError
    from ganfx.runtime.io.base import remove_empty_folders

    out_dir = Path(args.output)
    _video_frames(args)  # checked before the folder is made
    made = [p for p in reversed([out_dir, *out_dir.parents]) if not p.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # /sys/demo, a file of that name, a read-only disk: one line, not a traceback
        raise MediaIOError(f"cannot create the demo folder ({exc.strerror or exc})", path=out_dir) from None
    print(f"ganfx demo: writing into {out_dir.resolve()}")
    start = time.perf_counter()
    written = []
    try:
        for part in PARTS.values():
            written += part(args, out_dir)
    except BaseException:
        remove_empty_folders(made)  # a demo that failed before writing anything leaves no empty folder
        raise
    for path in written:
        print(f"  {path}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0
