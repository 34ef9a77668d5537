"""The effect part of `ganfx demo`: the shipped effect model on the shipped clip, side by side.

    effect_side_by_side(args, Path("ganfx-demo"))   # -> [ganfx-demo/watercolor-side-by-side.mp4]

Reads `demo_clip.mp4` from the shipped models folder (a short clip of real photos with camera
moves), applies the shipped effect model frame by frame through the runtime, and writes a
video twice as wide: source on the left, effect on the right.
"""

from __future__ import annotations

from pathlib import Path

CLIP_NAME = "demo_clip.mp4"
EFFECT_MODEL = "watercolor"  # preferred; any shipped effect model works


def shipped_clip() -> Path:
    from ganfx.exported_models import MODELS_DIR
    from ganfx.runtime.errors import MediaIOError

    path = MODELS_DIR / CLIP_NAME
    if not path.is_file():
        raise MediaIOError("the demo clip is not installed in this build", path=path)
    return path


def effect_side_by_side(args, out_dir: Path) -> list:
    """source | effect video of the shipped clip."""
    import numpy as np
    from tqdm import tqdm

    from ganfx.plugin.cli.render_cmd import engine_settings
    from ganfx.plugin.session import SessionOptions, open_session
    from ganfx.runtime.errors import ModelLoadError
    from ganfx.runtime.frames import PixelFormat
    from ganfx.runtime.io import OutputSpec, open_reader, open_writer
    from ganfx.runtime.io.base import Frame
    from ganfx.runtime.model import list_models

    effects = [e for e in list_models() if e.source == "shipped" and e.spec and e.spec.kind == "effect"]
    if not effects:
        raise ModelLoadError("the demo needs a shipped effect model, and none is installed in this build")
    entry = next((e for e in effects if e.name == EFFECT_MODEL), effects[0])
    path = out_dir / f"{entry.name}-side-by-side.mp4"
    with open_session(entry.path, None, SessionOptions(**engine_settings(args))) as session, \
            open_reader(shipped_clip()) as reader:
        p = reader.properties
        spec = OutputSpec(2 * p.width, p.height, frame_rate=p.frame_rate, overwrite=True, quality=18)
        with open_writer(path, spec) as writer, tqdm(total=p.frame_count, desc=entry.name, unit="frame",
                                                     disable=getattr(args, "no_progress", False),
                                                     dynamic_ncols=True) as bar:
            session.begin((p.first_frame, p.last_frame), output=PixelFormat("uint8", "srgb", 3))
            for frame in reader.frames():
                src = frame.image[..., :3]
                side = np.concatenate([src, session.process(src[None], [frame.number])[0]], axis=1)
                writer.write(Frame(number=frame.number, image=np.ascontiguousarray(side)))
                bar.update(1)
            session.end()
    return [path]
