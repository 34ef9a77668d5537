"""Tiny real media for IO, pipeline and CLI tests, written with PyAV, OpenCV and OpenEXR.

    make_clip(tmp_path / "clip.mp4")                       # 12 frames 64x48 h264 + aac, 24000/1001 fps
    make_clip(tmp_path / "vfr.mp4", vfr=True)              # alternating 80/40 ms frames
    make_sequence(tmp_path / "shot.####.png", range(1001, 1011))
    ffprobe(path)                                          # {"streams": [...], "format": {...}} or None
"""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = Fraction(24000, 1001)


def frame_image(i: int, width: int = 64, height: int = 48, alpha: bool = False, dtype=np.uint8) -> np.ndarray:
    """A frame whose left half's red level encodes its index modulo 25 (survives lossy codecs)."""
    scale = 257 if dtype == np.uint16 else 1
    img = np.zeros((height, width, 4 if alpha else 3), np.uint16 if dtype == np.uint16 else np.uint8)
    img[:, : width // 2, 0] = (20 + 9 * (i % 25)) * scale
    img[:, width // 2 :, 1] = 120 * scale
    img[height // 2 :, :, 2] = ((i * 37) % 200 + 30) * scale
    if alpha:
        img[..., 3] = np.linspace(0, 255 * scale, width, dtype=np.float64)[None, :].astype(img.dtype)
    return img


def index_of(image: np.ndarray) -> int:
    """Inverse of frame_image's red level (8-bit scale): the frame index modulo 25."""
    red = image[:, : image.shape[1] // 2, 0].astype(np.float64).mean()
    if image.dtype == np.uint16:
        red /= 257
    return int(round((red - 20) / 9))


def make_clip(path, frames: int = 12, width: int = 64, height: int = 48, rate: Fraction = RATE,
              codec: str = "libx264", pix_fmt: str = "yuv420p", audio: str | None = "aac", vfr: bool = False,
              alpha: bool = False, options: dict | None = None) -> Path:
    """A real video file; the audio (a 440 Hz tone) lasts exactly as long as the video."""
    path = Path(path)
    c = av.open(str(path), "w")
    v = c.add_stream(codec, rate=rate)
    v.width, v.height, v.pix_fmt = width, height, pix_fmt
    if options:
        v.codec_context.options = options
    tb = Fraction(1, 1000) if vfr else 1 / rate
    v.codec_context.time_base = tb
    a = None
    if audio:
        a = c.add_stream(audio, rate=48000)
        a.layout = "stereo"
    t, deep = 0, any(s in pix_fmt for s in ("10le", "12le", "16le"))
    for i in range(frames):
        img = frame_image(i, width, height, alpha, np.uint16 if deep else np.uint8)
        fmt = ("rgba64le" if alpha else "rgb48le") if deep else ("rgba" if alpha else "rgb24")
        f = av.VideoFrame.from_ndarray(img, format=fmt)
        f.pts, f.time_base = (t, tb) if vfr else (i, tb)
        t += 80 if i % 2 == 0 else 40
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode():
        c.mux(p)
    if a is not None:
        seconds = t / 1000 if vfr else float(frames / rate)
        _write_tone(c, a, audio, int(round(seconds * 48000)))
    c.close()
    return path


def _write_tone(c, a, codec, samples):
    fmt = "fltp" if codec in ("aac", "libopus", "mp3", "libmp3lame") else "s16p"
    size = a.codec_context.frame_size or 1024
    pos = 0
    while pos < samples:
        k = min(size, samples - pos)
        x = 0.2 * np.sin(np.arange(pos, pos + k) / 48000 * 2 * np.pi * 440)
        arr = np.stack([x, x]).astype(np.float32)
        if fmt == "s16p":
            arr = (arr * 32767).astype(np.int16)
        fr = av.AudioFrame.from_ndarray(arr, format=fmt, layout="stereo")
        fr.sample_rate, fr.pts = 48000, pos
        for p in a.encode(fr):
            c.mux(p)
        pos += k
    for p in a.encode():
        c.mux(p)


def make_video_without_frames(path) -> Path:
    """An mkv with an (empty) video stream and an audio stream."""
    c = av.open(str(path), "w")
    v = c.add_stream("ffv1", rate=24)
    v.width, v.height, v.pix_fmt = 64, 48, "bgr0"
    a = c.add_stream("aac", rate=48000)
    a.layout = "stereo"
    _write_tone(c, a, "aac", 4800)
    c.close()
    return Path(path)


def make_sequence(pattern, numbers, width: int = 64, height: int = 48, dtype=np.uint8, alpha=False):
    """Write frame_image(i) for each number into `pattern` (shot.####.png / .exr / .tif / .jpg)."""
    from ganfx.runtime.io.images import write_image
    from ganfx.runtime.io.sequence import parse_pattern

    pat = parse_pattern(pattern)
    pat.folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, n in enumerate(numbers):
        img = frame_image(k, width, height, alpha, np.uint16 if dtype == np.uint16 else np.uint8)
        if dtype == np.float32:
            img = (img.astype(np.float32) / 255.0) ** 2.2  # roughly linear
        write_image(pat.path(n), img, exr_type="float")
        out.append(pat.path(n))
    return out


def ffprobe(path) -> dict | None:
    """ffprobe's view of a file, or None where ffprobe is not installed."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    out = subprocess.run([exe, "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)
