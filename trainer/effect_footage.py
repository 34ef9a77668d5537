"""The demo footage: a short clip made from real photos with camera moves, plus keyframes.

Three shots cut from scikit-image's photos (astronaut: NASA, public domain; coffee: Rachel
Michetti, CC0; chelsea: Stefan van der Walt, CC0), each a slow camera move — a zoom in, a
pan, a pan with a push in — rendered at 320x240, 24 fps and encoded as H.264. The effect
trainer learns from a few keyframes of it treated by a named process; the other frames are
held out.

    python -m ganfx.trainer.effect_footage -o data/watercolor --process stylization
    # -> data/watercolor/keyframes/0008.png ..., holdout/0002.png ... from the shipped clip
    #    (ganfx/exported_models/demo_clip.mp4); --render makes a fresh clip.mp4 there first

Writes are atomic (ganfx.runtime.files: temporary name, then rename).
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np

from ganfx.runtime.files import atomic_path
from ganfx.runtime.io.images import write_png

WIDTH, HEIGHT, FPS, SHOT_FRAMES = 320, 240, 24, 32
KEYFRAMES = (8, 24, 48, 80)  # two in the zoom (its scale changes most), one per pan
HOLDOUT = tuple(range(2, 3 * SHOT_FRAMES, 8))  # every 8th frame, never a keyframe

# photo, (centre x, centre y, crop width) at the start and end of the shot, in photo pixels
SHOTS = (
    ("astronaut", (250, 200, 440), (235, 170, 300)),  # zoom in on the face
    ("coffee", (230, 200, 420), (370, 215, 420)),  # pan left to right
    ("chelsea", (190, 150, 360), (260, 140, 300)),  # pan with a push in
)


def _smooth(t: float) -> float:
    return t * t * (3 - 2 * t)  # ease in/out, like a camera operator


def render_shot(photo: np.ndarray, start, end, frames: int = SHOT_FRAMES) -> list:
    """Camera move over a photo. # [H,W,3] uint8 -> frames x [HEIGHT,WIDTH,3] uint8"""
    import cv2

    out = []
    for i in range(frames):
        t = _smooth(i / (frames - 1))
        cx, cy, cw = (a + (b - a) * t for a, b in zip(start, end))
        s = WIDTH / cw  # output pixels per photo pixel
        # Anti-alias before the affine resample: blur by the minification.
        src = cv2.GaussianBlur(photo, (0, 0), 0.5 / s) if s < 1 else photo
        m = np.array([[s, 0, WIDTH / 2 - s * cx], [0, s, HEIGHT / 2 - s * cy]], np.float64)
        out.append(cv2.warpAffine(src, m, (WIDTH, HEIGHT), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT))
    return out


def render_frames() -> list:
    import skimage.data

    frames = []
    for name, start, end in SHOTS:
        frames += render_shot(getattr(skimage.data, name)(), start, end)
    return frames


def write_clip(path, frames, fps: int = FPS, crf: int = 20) -> Path:
    """Encode RGB uint8 frames as H.264 yuv420p mp4 (temporary name, then rename)."""
    import av

    path = Path(path)
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "slow"}
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        container.mux(stream.encode(None))
    return path


def write_keyframes(clip, numbers, process: str, folder) -> list:
    """Treat frames of a clip (as decoded) with a named process; write folder/NNNN.png."""
    from .effect_data import read_clip_frames
    from .effect_targets import apply_process

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = read_clip_frames(clip, numbers)
    paths = []
    for n in numbers:
        paths.append(folder / f"{n:04d}.png")
        write_png(paths[-1], apply_process(process, frames[n], frame=n))
    return paths


def shipped_clip() -> Path:
    from ganfx.exported_models import MODELS_DIR

    return MODELS_DIR / "demo_clip.mp4"


def make_footage(out_dir, process: str = "stylization", clip=None, render: bool = False) -> dict:
    """keyframes/ and holdout/ target folders in out_dir, from `clip` (default: the shipped
    clip; render=True renders a fresh out_dir/clip.mp4 from the photos)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clip = write_clip(out_dir / "clip.mp4", render_frames()) if render else Path(clip or shipped_clip())
    write_keyframes(clip, KEYFRAMES, process, out_dir / "keyframes")
    write_keyframes(clip, HOLDOUT, process, out_dir / "holdout")
    return {"clip": clip, "keyframes": out_dir / "keyframes", "holdout": out_dir / "holdout"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True, help="folder for clip.mp4, keyframes/, holdout/")
    p.add_argument("--process", default="stylization", help="named target process (ganfx.trainer.effect_targets)")
    p.add_argument("--clip", help="treat frames of this clip (default: the shipped demo clip)")
    p.add_argument("--render", action="store_true", help="render a fresh clip from the photos into the folder")
    args = p.parse_args(argv)
    for key, value in make_footage(args.output, args.process, args.clip, args.render).items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
