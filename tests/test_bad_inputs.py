"""Bad input through the CLI, as a new user gives it: one table, one rule for every row.

Every case runs `ganfx ...` in a fresh workspace (real tiny ONNX models, real media) and must
end with a non-zero exit, exactly one line on stderr that names the file (or the option) and
the problem, no traceback, nothing at the output name, no partial file, and every file that
was there before byte-identical (a snapshot of the whole workspace, before and after).

Cases run in-process (`ganfx.plugin.cli.main`) where that is faithful; in a subprocess where
it must be: anything that could hang (named pipes, run with a timeout) or needs a memory limit.

    pytest tests/test_bad_inputs.py -p no:cacheprovider -k "model or media"
"""

from __future__ import annotations

import hashlib
import logging
import os
import resource
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from ganfx.plugin.cli import main
from media import make_clip, make_sequence, make_video_without_frames
from onnx_models import effect_spec, flip_weight_bytes, make_effect_model


# -- the workspace every case starts from --------------------------------------------------

@pytest.fixture(scope="session")
def assets(tmp_path_factory, effect_path, texture_path):
    """Built once: models/, a clip, a Matroska clip and its cut-off copy, a sequence, exemplars."""
    import cv2

    d = tmp_path_factory.mktemp("assets")
    (d / "models").mkdir()
    shutil.copy(effect_path, d / "models" / "testfx.onnx")
    shutil.copy(texture_path, d / "models" / "testtex.onnx")
    make_clip(d / "clip.mp4", frames=6)
    mkv = make_clip(d / "clip.mkv", frames=40, codec="ffv1", pix_fmt="bgr0", audio=None)
    (d / "cut.mkv").write_bytes(mkv.read_bytes()[: int(mkv.stat().st_size * 0.6)])
    make_sequence(d / "seq" / "s.####.png", range(1, 5))
    rng = np.random.default_rng(0)
    for n in (1, 3, 8, 48):
        cv2.imwrite(str(d / f"ex{n}.png"), rng.integers(0, 256, (n, n, 3), dtype=np.uint8))
    return d


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple  # ganfx arguments, paths relative to the workspace (the working folder)
    problem: str  # what the error line must say
    names: str  # the file (or option) the line must name
    output: str | None = None  # must not exist afterwards (unless it was there: then unchanged)
    setup: tuple = ()  # callables(workspace) run before the snapshot
    env: dict = field(default_factory=dict)
    subprocess: bool = False  # may hang or needs limits: a child process with a timeout
    memory_limit: int | None = None  # RLIMIT_AS of the child, bytes


# -- setup helpers ---------------------------------------------------------------------------

def mkdir(name):
    return lambda d: (d / name).mkdir(parents=True, exist_ok=True)


def fifo(name):
    def make(d):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(d / name)
    return make


def write(name, data: bytes):
    def make(d):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    return make


def copy(src, dst):
    return lambda d: shutil.copy(d / src, d / dst)


def cut(name, fraction=0.5):
    return lambda d: (d / name).write_bytes((d / name).read_bytes()[: int((d / name).stat().st_size * fraction)])


def zero_bytes(name, start=60, count=20):
    def damage(d):
        data = bytearray((d / name).read_bytes())
        data[start : start + count] = bytes(count)
        (d / name).write_bytes(bytes(data))
    return damage


def model(name, **kw):
    return lambda d: make_effect_model(d / name, **kw)


def flipped(name):
    return lambda d: flip_weight_bytes(d / "models" / "testfx.onnx", d / name)


def metadata(name, **changes):
    md = {**effect_spec().to_metadata(), **changes}
    return lambda d: make_effect_model(d / name, metadata=md)


def external_outside(name):
    def make(d):
        import onnx
        from onnx import numpy_helper

        m = onnx.load(str(d / "models" / "testfx.onnx"))
        init = m.graph.initializer[0]
        arr = numpy_helper.to_array(init)
        init.ClearField("raw_data")
        init.data_location = onnx.TensorProto.EXTERNAL
        init.external_data.append(onnx.StringStringEntryProto(key="location", value="../w.bin"))
        init.external_data.append(onnx.StringStringEntryProto(key="length", value=str(arr.nbytes)))
        (d / "sub").mkdir()
        (d / "w.bin").write_bytes(arr.tobytes())
        (d / "sub" / name).write_bytes(m.SerializeToString())
    return make


def sequence(pattern, numbers, **kw):
    return lambda d: make_sequence(d / pattern, numbers, **kw)


def no_frames(name):
    return lambda d: make_video_without_frames(d / name)


def checkpoint(folder, tensors: bytes | None):
    """A run folder with a checkpoint .json and (garbage) .safetensors beside it."""
    import json

    def make(d):
        run = d / folder
        run.mkdir()
        (run / "checkpoint-000001.json").write_text(json.dumps(
            {"format": "ganfx-checkpoint", "version": 1, "iteration": 1, "tensors": "checkpoint-000001.safetensors",
             "config": {}}))
        if tensors is not None:
            (run / "checkpoint-000001.safetensors").write_bytes(tensors)
    return make


R = ("render", "testfx")  # the effect on the clip
Q = ("--quiet",)
FIFO_TIMEOUT = 60


CASES = [
    # -- models ------------------------------------------------------------------------------
    Case("model-empty-name", ("info", ""), "the model name is empty", "model name"),
    Case("model-unknown-name", ("info", "nosuch"), "no model named 'nosuch'", "nosuch"),
    Case("model-missing-file", ("info", "gone/x.onnx"), "model file not found", "gone/x.onnx"),
    Case("model-not-onnx", ("info", "notes.onnx"), "not an ONNX model", "notes.onnx",
         setup=(write("notes.onnx", b"this is not a model\n" * 20),)),
    Case("model-truncated", ("info", "cut.onnx"), "not an ONNX model", "cut.onnx",
         setup=(copy("models/testfx.onnx", "cut.onnx"), cut("cut.onnx", 0.6))),
    Case("model-no-contract", (*R[:1], "plain.onnx", "clip.mp4", "-o", "out.mp4", *Q), "no ganfx contract",
         "plain.onnx", "out.mp4", setup=(model("plain.onnx", metadata={}),)),
    Case("model-contract-graph-mismatch", ("render", "bad.onnx", "clip.mp4", "-o", "out.mp4", *Q),
         "declares outputs", "bad.onnx", "out.mp4",
         setup=(metadata("bad.onnx", **{"ganfx.io": effect_spec().to_metadata()["ganfx.io"].replace(
             '"styled"', '"out"')}),)),
    Case("model-bad-halo-key", ("info", "halo.onnx"), "ganfx.halo", "halo.onnx",
         setup=(metadata("halo.onnx", **{"ganfx.halo": "-3"}),)),
    Case("model-bad-digest-key", ("info", "dig.onnx"), "ganfx.digest", "dig.onnx",
         setup=(metadata("dig.onnx", **{"ganfx.digest": "md5:1234"}),)),
    Case("model-weights-flipped-render", ("render", "flipped.onnx", "clip.mp4", "-o", "out.mp4", *Q),
         "weights do not match the contract's ganfx.digest", "flipped.onnx", "out.mp4",
         setup=(flipped("flipped.onnx"),)),
    Case("model-weights-flipped-info", ("info", "flipped.onnx"), "weights do not match", "flipped.onnx",
         setup=(flipped("flipped.onnx"),)),
    Case("model-path-is-folder", ("render", "dir.onnx", "clip.mp4", "-o", "out.mp4", *Q), "is a folder",
         "dir.onnx", "out.mp4", setup=(mkdir("dir.onnx"),)),
    Case("model-external-data-outside", ("render", "sub/ext.onnx", "clip.mp4", "-o", "out.mp4", *Q),
         "points outside the model's folder", "sub/ext.onnx", "out.mp4", setup=(external_outside("ext.onnx"),)),
    Case("model-texture-for-render", ("render", "testtex", "clip.mp4", "-o", "out.mp4", *Q),
         "is a texture model", "testtex", "out.mp4"),
    Case("model-effect-for-generate", ("generate", "testfx", "-o", "out.png", "--size", "32x32", *Q),
         "is an effect model", "testfx", "out.png"),
    Case("model-no-fp16-variant", (*R, "clip.mp4", "-o", "out.mp4", "--precision", "fp16", *Q), "no fp16 variant",
         "testfx.onnx", "out.mp4"),
    Case("model-unavailable-provider", (*R, "clip.mp4", "-o", "out.mp4", "--provider", "tensorrt", *Q),
         "is not available", "TensorrtExecutionProvider", "out.mp4"),
    Case("model-threads-negative", (*R, "clip.mp4", "-o", "out.mp4", *Q), "GANFX_THREADS must be a whole number",
         "'-1'", "out.mp4", env={"GANFX_THREADS": "-1"}),
    Case("model-threads-not-a-number", (*R, "clip.mp4", "-o", "out.mp4", *Q), "GANFX_THREADS must be",
         "'four'", "out.mp4", env={"GANFX_THREADS": "four"}),
    Case("model-folder-of-that-name-in-cwd", ("render", "nosuchfx", "clip.mp4", "-o", "out.mp4", *Q),
         "no model named 'nosuchfx'", "nosuchfx", "out.mp4", setup=(mkdir("nosuchfx"),)),
    Case("model-plugin-import-fails", ("render", "boom.py", "clip.mp4", "-o", "out.mp4", *Q),
         "plugin failed to import: ZeroDivisionError", "boom.py", "out.mp4", setup=(write("boom.py", b"1 / 0\n"),)),
    Case("model-plugin-without-PLUGIN", ("render", "empty.py", "clip.mp4", "-o", "out.mp4", *Q),
         "must define PLUGIN", "empty.py", "out.mp4", setup=(write("empty.py", b"x = 1\n"),)),
    Case("model-fifo-by-name", ("render", "pipe", "clip.mp4", "-o", "out.mp4", *Q), "is a named pipe (FIFO)",
         "pipe.onnx", "out.mp4", setup=(fifo("models/pipe.onnx"),), subprocess=True),
    Case("model-fifo-beside-unknown-name", ("render", "nosuch", "clip.mp4", "-o", "out.mp4", *Q),
         "no model named 'nosuch'", "nosuch", "out.mp4", setup=(fifo("models/pipe.onnx"),), subprocess=True),
    Case("model-fifo-by-path", ("info", "models/pipe.onnx"), "is a named pipe (FIFO)", "models/pipe.onnx",
         setup=(fifo("models/pipe.onnx"),), subprocess=True),
    # -- media -------------------------------------------------------------------------------
    Case("media-missing-video", (*R, "nope.mp4", "-o", "out.mp4", *Q), "no such file", "nope.mp4", "out.mp4"),
    Case("media-not-a-video", (*R, "notes.mp4", "-o", "out.mp4", *Q), "not a readable video", "notes.mp4", "out.mp4",
         setup=(write("notes.mp4", b"hello\n" * 100),)),
    Case("media-truncated-mkv", (*R, "cut.mkv", "-o", "out.mkv", *Q), "only", "cut.mkv", "out.mkv"),
    Case("media-truncated-mkv-probe", ("probe", "cut.mkv"), "of its 40 frames can be read", "cut.mkv"),
    Case("media-input-is-folder", (*R, "in.mp4", "-o", "out.mp4", *Q), "is a folder", "in.mp4", "out.mp4",
         setup=(mkdir("in.mp4"),)),
    Case("media-video-without-frames", (*R, "empty.mkv", "-o", "out.mp4", *Q), "has no frames", "empty.mkv",
         "out.mp4", setup=(no_frames("empty.mkv"),)),
    Case("media-empty-input-path", (*R, "", "-o", "out.mp4", *Q), "the input path is empty", "input path", "out.mp4"),
    Case("media-sequence-folder-missing", (*R, "nodir/s.####.png", "-o", "out.mp4", *Q), "no such folder", "nodir",
         "out.mp4"),
    Case("media-sequence-no-match", (*R, "seq/t.####.png", "-o", "out.mp4", *Q), "no files match", "t.####.png",
         "out.mp4"),
    Case("media-sequence-gap", (*R, "gap/g.####.png", "-o", "o/o.####.png", *Q), "frame 3 is missing", "g.0003.png",
         "o", setup=(sequence("gap/g.####.png", [1, 2, 4, 5]),)),
    Case("media-sequence-size-changes", (*R, "mix/m.####.png", "-o", "o/o.####.png", *Q), "is 32x24 but frame 1",
         "m.0003.png", "o", setup=(sequence("mix/m.####.png", [1, 2]), sequence("mix/m.####.png", [3], width=32,
                                                                                 height=24))),
    # The first frame: a damaged frame later in a sequence stops the render too, but the whole
    # frames written before it stay (by design: --resume continues from them), so only a
    # first-frame failure can promise that nothing is at the output name.
    Case("media-sequence-damaged-frame", (*R, "seq/s.####.png", "-o", "o/o.####.png", *Q), "damaged PNG",
         "s.0001.png", "o", setup=(zero_bytes("seq/s.0001.png"),)),
    Case("media-sequence-cut-frame", (*R, "seq/s.####.png", "-o", "o/o.####.png", *Q), "truncated", "s.0001.png",
         "o", setup=(cut("seq/s.0001.png"),)),
    Case("media-probe-damaged-frame", ("probe", "seq/s.####.png"), "damaged PNG", "s.0003.png",
         setup=(zero_bytes("seq/s.0003.png"),)),
    Case("media-still-not-an-image", (*R, "bad.png", "-o", "out.png", *Q), "not a readable PNG", "bad.png",
         "out.png", setup=(write("bad.png", b"\x89PNG not really"),)),
    Case("media-fifo-video", (*R, "pipe.mp4", "-o", "out.mp4", *Q), "is a named pipe (FIFO)", "pipe.mp4", "out.mp4",
         setup=(fifo("pipe.mp4"),), subprocess=True),
    Case("media-fifo-frame", (*R, "seq/s.####.png", "-o", "o/o.####.png", *Q), "is a named pipe (FIFO)",
         "s.0005.png", "o", setup=(fifo("seq/s.0005.png"),), subprocess=True),
    # -- paths -------------------------------------------------------------------------------
    Case("path-output-is-folder", (*R, "clip.mp4", "-o", "out.mp4", "--overwrite", *Q), "is a folder", "out.mp4",
         setup=(mkdir("out.mp4"),)),
    Case("path-output-exists", (*R, "clip.mp4", "-o", "old.mp4", *Q), "exists already", "old.mp4",
         setup=(write("old.mp4", b"an earlier render"),)),
    Case("path-output-is-input", (*R, "clip.mp4", "-o", "clip.mp4", "--overwrite", *Q), "the output is the input",
         "clip.mp4"),
    Case("path-output-folder-unwritable", (*R, "clip.mp4", "-o", "/proc/ganfx/out.mp4", *Q), "cannot",
         "/proc", None),
    Case("path-output-parent-is-file", (*R, "clip.mp4", "-o", "afile/out.mp4", *Q), "is not a folder", "afile",
         "afile/out.mp4", setup=(write("afile", b"x"),)),
    Case("path-output-unknown-container", (*R, "clip.mp4", "-o", "out.xyz", *Q), "unknown video container",
         "out.xyz", "out.xyz"),
    Case("path-output-empty", (*R, "clip.mp4", "-o", "", *Q), "the output path is empty", "output path"),
    Case("path-sequence-frames-exist", (*R, "seq/s.####.png", "-o", "seq/s2.####.png", *Q), "output exists",
         "s2.0001.png", setup=(sequence("seq/s2.####.png", [1, 2]),)),
    Case("path-sequence-frame-is-folder", (*R, "seq/s.####.png", "-o", "o/o.####.png", "--overwrite", *Q),
         "is a folder", "o.0002.png", setup=(mkdir("o/o.0002.png"),)),
    Case("path-still-output-is-folder", ("generate", "testtex", "-o", "tex.png", "--size", "32x32", "--overwrite", *Q),
         "is a folder", "tex.png", setup=(mkdir("tex.png"),)),
    Case("path-eval-png-folder-missing", ("eval", "testtex", "--exemplar", "ex48.png", "--png", "nodir/x/out.png"),
         "folder does not exist", "nodir/x", "nodir"),
    Case("path-eval-png-is-folder", ("eval", "testtex", "--exemplar", "ex48.png", "--png", "out.png"),
         "is a folder", "out.png", setup=(mkdir("out.png"),)),
    Case("path-eval-png-is-exemplar", ("eval", "testtex", "--exemplar", "ex48.png", "--png", "ex48.png",
                                       "--overwrite"), "is the exemplar", "ex48.png"),
    Case("path-eval-default-png-exists", ("eval", "testtex", "--exemplar", "ex48.png"), "exists already",
         "testtex-eval.png", setup=(write("testtex-eval.png", b"an earlier picture"),)),
    Case("path-eval-png-not-png", ("eval", "testtex", "--exemplar", "ex48.png", "--png", "eval.jpg"),
         "ending in .png", "eval.jpg", "eval.jpg"),
    Case("path-blender-zip-folder-missing", ("plugin", "build-blender", "-o", "nodir/out.zip", "--no-download"),
         "folder does not exist", "nodir", "nodir"),
    Case("path-blender-zip-is-folder", ("plugin", "build-blender", "-o", "out.zip", "--no-download", "--overwrite"),
         "is a folder", "out.zip", setup=(mkdir("out.zip"),)),
    Case("path-blender-zip-exists", ("plugin", "build-blender", "-o", "old.zip", "--no-download"),
         "exists already", "old.zip", setup=(write("old.zip", b"PK old"),)),
    Case("path-demo-unwritable", ("demo", "-o", "/sys/ganfx-demo", "--no-progress"), "cannot create the demo folder",
         "/sys/ganfx-demo"),
    Case("path-demo-under-a-file", ("demo", "-o", "afile/demo", "--no-progress"), "cannot create the demo folder",
         "afile/demo", setup=(write("afile", b"x"),)),
    # -- options -----------------------------------------------------------------------------
    Case("option-crf-too-high", (*R, "clip.mp4", "-o", "out.mp4", "--crf", "99", *Q), "outside 0-51", "out.mp4",
         "out.mp4"),
    Case("option-crf-negative", (*R, "clip.mp4", "-o", "out.mp4", "--crf", "-1", *Q), "outside 0-51", "--crf",
         "out.mp4"),
    Case("option-crf-for-ffv1", (*R, "clip.mp4", "-o", "out.mkv", "--crf", "20", *Q), "no quality (CRF)", "out.mkv",
         "out.mkv"),
    Case("option-crf-for-png-frames", (*R, "clip.mp4", "-o", "o/o.####.png", "--crf", "20", *Q),
         "have no quality setting", "o.####.png", "o"),
    Case("option-jpeg-quality-range", (*R, "clip.mp4", "-o", "o/o.####.jpg", "--crf", "101", *Q),
         "JPEG quality 101 is outside 0-100", "o.####.jpg", "o"),
    Case("option-tile-too-small", (*R, "clip.mp4", "-o", "out.mp4", "--tile", "4", *Q), "at least 16", "--tile",
         "out.mp4"),
    Case("option-frames-reversed", (*R, "clip.mp4", "-o", "out.mp4", "--frames", "5-3", *Q),
         "the last frame comes before the first", "--frames", "out.mp4"),
    Case("option-frames-outside", (*R, "clip.mp4", "-o", "out.mp4", "--frames", "2-99", *Q), "outside the source",
         "clip.mp4", "out.mp4"),
    Case("option-frames-not-a-range", (*R, "clip.mp4", "-o", "out.mp4", "--frames", "two", *Q), "FIRST-LAST",
         "--frames", "out.mp4"),
    Case("option-frames-huge-number", (*R, "clip.mp4", "-o", "out.mp4", "--frames", "1-" + "9" * 5000, *Q),
         "frame numbers go up to", "--frames", "out.mp4"),
    Case("option-param-above-max", (*R, "clip.mp4", "-o", "out.mp4", "--param", "strength=2", *Q),
         "above the maximum", "strength", "out.mp4"),
    Case("option-param-unknown", (*R, "clip.mp4", "-o", "out.mp4", "--param", "gain=1", *Q), "no parameter 'gain'",
         "gain", "out.mp4"),
    Case("option-param-no-value", (*R, "clip.mp4", "-o", "out.mp4", "--param", "strength", *Q), "name=value",
         "--param", "out.mp4"),
    Case("option-param-bad-choice", (*R, "clip.mp4", "-o", "out.mp4", "--param", "look=hot", *Q),
         "one of warm, cool", "look", "out.mp4"),
    Case("option-param-not-finite", (*R, "clip.mp4", "-o", "out.mp4", "--param", "strength=nan", *Q),
         "must be finite", "strength", "out.mp4"),
    Case("option-batch-zero", (*R, "clip.mp4", "-o", "out.mp4", "--batch", "0", *Q), "at least 1", "--batch",
         "out.mp4"),
    Case("option-overwrite-and-resume", (*R, "clip.mp4", "-o", "o/o.####.png", "--overwrite", "--resume", *Q),
         "contradict", "--resume", "o"),
    Case("option-resume-video", (*R, "clip.mp4", "-o", "out.mp4", "--resume", *Q), "image-sequence", "out.mp4",
         "out.mp4"),
    Case("option-unknown-codec", (*R, "clip.mp4", "-o", "out.mp4", "--codec", "xvid9", *Q), "unknown codec",
         "out.mp4", "out.mp4"),
    Case("option-codec-container-mismatch", (*R, "clip.mp4", "-o", "out.mp4", "--codec", "prores", *Q),
         "cannot hold prores", "out.mp4", "out.mp4"),
    Case("option-codec-for-png-frames", (*R, "clip.mp4", "-o", "o/o.####.png", "--codec", "half", *Q),
         "a codec applies to videos and EXR", "o.####.png", "o"),
    Case("option-fps-zero", (*R, "seq/s.####.png", "-o", "out.mp4", "--fps", "0", *Q), "positive", "--fps",
         "out.mp4"),
    Case("option-fps-not-a-number", (*R, "seq/s.####.png", "-o", "out.mp4", "--fps", "fast", *Q),
         "a number or a ratio", "--fps", "out.mp4"),
    Case("option-writer-opencv-for-frames", (*R, "clip.mp4", "-o", "o/o.####.png", "--writer", "opencv", *Q),
         "writes videos", "o.####.png", "o"),
    Case("option-size-malformed", ("generate", "testtex", "-o", "t.png", "--size", "big", *Q), "WIDTHxHEIGHT",
         "--size", "t.png"),
    Case("option-size-over-limit", ("generate", "testtex", "-o", "t.png", "--size", "100000x100000", "--tile", "512",
                                    *Q), "larger than 32768 pixels a side", "--size", "t.png"),
    Case("option-size-beyond-memory", ("generate", "testtex", "-o", "t.png", "--size", "16000x16000", "--tile",
                                       "512", *Q), "GiB is available", "--size", "t.png",
         subprocess=True, memory_limit=3 << 30),
    Case("option-generate-frames-zero", ("generate", "testtex", "-o", "t.mp4", "--size", "32x32", "--frames", "0",
                                         *Q), "at least 1", "--frames", "t.mp4"),
    Case("option-generate-range-outside", ("generate", "testtex", "-o", "t/t.####.png", "--size", "32x32",
                                           "--frames", "6", "--range", "4-9", *Q), "outside the 6 frames", "--range",
         "t"),
    Case("option-generate-seed-negative", ("generate", "testtex", "-o", "t.png", "--size", "32x32", "--seed", "-1",
                                           *Q), "below the minimum", "seed", "t.png"),
    Case("option-eval-seeds-zero", ("eval", "testtex", "--exemplar", "ex48.png", "--seeds", "0"), "at least 1",
         "--seeds", "testtex-eval.png"),
    Case("option-demo-zero-seconds", ("demo", "-o", "d", "--seconds", "0", "--no-progress"), "at least 2 frames",
         "0.0 s", "d"),
    # -- training data and checkpoints -------------------------------------------------------
    Case("train-exemplar-missing", ("train", "texture", "nope.png", "--dry-run"), "exemplar not found", "nope.png"),
    Case("train-exemplar-corrupt", ("train", "texture", "bad.png", "--dry-run"), "cannot read the exemplar",
         "bad.png", setup=(write("bad.png", b"garbage"),)),
    Case("train-exemplar-folder", ("train", "texture", "exdir", "--dry-run"), "not a file", "exdir",
         setup=(mkdir("exdir"),)),
    Case("train-exemplar-tiny", ("train", "texture", "ex8.png", "--dry-run"), "exemplar is 8x8", "ex8.png"),
    Case("train-pairs-missing", ("train", "effect", "--pairs", "nodir", "--dry-run"), "folder not found", "nodir"),
    Case("train-resume-not-a-checkpoint", ("train", "texture", "--resume", "ck.json"), "not a ganfx checkpoint",
         "ck.json", setup=(write("ck.json", b'{"x": 1}'),)),
    Case("train-resume-missing", ("train", "texture", "--resume", "runs/00007-gone"), "checkpoint not found",
         "00007-gone"),
    Case("eval-exemplar-1px", ("eval", "testtex", "--exemplar", "ex1.png"), "the exemplar is 1x1", "ex1.png",
         "testtex-eval.png"),
    Case("eval-exemplar-3px", ("eval", "testtex", "--exemplar", "ex3.png"), "the exemplar is 3x3", "ex3.png",
         "testtex-eval.png"),
    Case("eval-exemplar-8px", ("eval", "testtex", "--exemplar", "ex8.png"), "the exemplar is 8x8", "ex8.png",
         "testtex-eval.png"),
    Case("eval-exemplar-fifo", ("eval", "testtex", "--exemplar", "pipe.png"), "is a named pipe (FIFO)", "pipe.png",
         "testtex-eval.png", setup=(fifo("pipe.png"),), subprocess=True),
    Case("export-empty-run", ("export", "emptyrun", "-o", "x.onnx"), "no checkpoint in this run folder", "emptyrun",
         "x.onnx", setup=(mkdir("emptyrun"),)),
    Case("export-not-a-checkpoint", ("export", "ck.json", "-o", "x.onnx"), "not a ganfx checkpoint", "ck.json",
         "x.onnx", setup=(write("ck.json", b"[1, 2"),)),
    Case("export-pickle-refused", ("export", "model.pt", "-o", "x.onnx"), "pickled checkpoints are refused",
         "model.pt", "x.onnx", setup=(write("model.pt", b"\x80\x04K\x01."),)),
    Case("export-tensors-missing", ("export", "run1", "-o", "x.onnx"), "checkpoint", "run1", "x.onnx",
         setup=(checkpoint("run1", None),)),
    Case("export-tensors-corrupt", ("export", "run2", "-o", "x.onnx"), "corrupt safetensors",
         "checkpoint-000001.safetensors", "x.onnx", setup=(checkpoint("run2", b"\x08\x00\x00\x00\x00\x00\x00\x00{}"),)),
]


# -- the rule every case follows ---------------------------------------------------------------

def snapshot(root: Path) -> dict:
    """relative path -> sha256 of a file, or what else it is (folder, pipe)."""
    out = {}
    for path in sorted(root.rglob("*")):
        mode = path.lstat().st_mode
        rel = str(path.relative_to(root))
        if stat.S_ISREG(mode):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "folder" if stat.S_ISDIR(mode) else "pipe" if stat.S_ISFIFO(mode) else "other"
    return out


def run_in_process(argv, monkeypatch, capsys):
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []  # the CLI's logging.basicConfig then writes to the captured stderr, as it would
    try:
        rc = main(list(argv))
    finally:
        root.handlers = saved
    out, err = capsys.readouterr()
    return rc, out, err


def run_child(argv, ws: Path, env: dict, memory_limit: int | None):
    def limits():
        if memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    try:
        r = subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", *argv], cwd=ws, env=env, capture_output=True,
                           text=True, timeout=FIFO_TIMEOUT, preexec_fn=limits)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ganfx {' '.join(argv)} hung (no answer in {FIFO_TIMEOUT} s)")
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, assets, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    shutil.copytree(assets, ws)
    for make in case.setup:
        make(ws)
    (tmp_path / "home").mkdir()  # outside the snapshot: onnxruntime keeps a cache there
    env = {"GANFX_MODELS": str(ws / "models"), "GANFX_THREADS": "1", "HOME": str(tmp_path / "home"),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", **case.env}
    before = snapshot(ws)
    existed = case.output is not None and os.path.lexists(ws / case.output)
    if case.subprocess:
        rc, out, err = run_child(case.argv, ws, {**os.environ, "GANFX_PLUGINS": "", **env}, case.memory_limit)
    else:
        monkeypatch.chdir(ws)
        monkeypatch.delenv("GANFX_PLUGINS", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        rc, out, err = run_in_process(case.argv, monkeypatch, capsys)

    lines = err.strip().splitlines()
    assert rc != 0, f"exit 0 for {case.argv}: {out}{err}"
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert lines[0].startswith(f"ganfx {case.argv[0]}: error: "), lines[0]
    assert case.problem in lines[0], lines[0]
    assert case.names in lines[0], f"{case.names!r} not named in: {lines[0]}"
    after = snapshot(ws)
    assert [p for p in after if ".partial-" in p] == [], after
    if case.output is not None and not existed:
        assert not os.path.lexists(ws / case.output), f"{case.output} was left behind"
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                             if before.get(k) != after.get(k)}


def test_the_table_covers_every_kind_of_input():
    kinds = {c.id.split("-")[0] for c in CASES}
    assert len(CASES) >= 50 and {"model", "media", "path", "option", "train", "export"} <= kinds
    assert len({c.id for c in CASES}) == len(CASES)


# -- beside the table: inputs that are accepted, with what they now say -------------------------

def _ganfx(ws, *argv, env=None):
    env = {**os.environ, "GANFX_THREADS": "1", "GANFX_MODELS": str(ws / "models"), "GANFX_PLUGINS": "",
           "HOME": str(ws), **(env or {})}
    return subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", *argv], cwd=ws, env=env, capture_output=True,
                          text=True, timeout=FIFO_TIMEOUT)


@pytest.fixture
def ws(assets, tmp_path):
    shutil.copytree(assets, tmp_path / "ws")
    return tmp_path / "ws"


def test_a_pipe_in_the_models_folder_is_listed_never_opened(ws):
    os.mkfifo(ws / "models" / "pipe.onnx")
    r = _ganfx(ws, "models")
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith("pipe "))
    assert "unreadable: is a named pipe (FIFO), not a file" in row and "testfx" in r.stdout


def test_a_folder_named_like_a_shipped_model_does_not_hide_it(ws):
    (ws / "watercolor").mkdir()
    r = _ganfx(ws, "info", "watercolor")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("watercolor ") and "exported_models" in r.stdout.splitlines()[0]
    assert "weights: sha256:" in r.stdout and "(checked: they match)" in r.stdout


@pytest.mark.parametrize("command,variable", [(("plugin", "list"), "GANFX_PLUGINS"), (("models",), "GANFX_MODELS")])
def test_a_missing_folder_in_the_environment_is_said(ws, command, variable):
    r = _ganfx(ws, *command, env={variable: "/nope"})
    assert r.returncode == 0
    assert r.stderr.strip().splitlines() == [
        f"ganfx {command[0]}: warning: /nope: named in {variable} but does not exist"]
    if command[0] == "plugin":
        assert r.stdout.startswith("no plugins found (looked in: /nope")


def test_fps_with_a_video_is_a_warning_and_the_rate_is_kept(ws):
    r = _ganfx(ws, "render", "testfx", "clip.mp4", "-o", "out.mp4", "--fps", "60", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [
        "ganfx render: warning: --fps 60 is ignored: clip.mp4 is a video and keeps its own frame rate "
        "(--fps sets the rate of image-sequence inputs)"]
    from ganfx.runtime.io import open_reader
    from media import RATE

    with open_reader(ws / "out.mp4") as reader:
        assert reader.properties.frame_rate == RATE


def test_a_model_without_digest_loads_with_one_warning(ws):
    make_effect_model(ws / "old.onnx", metadata=effect_spec().to_metadata())  # as exported before ganfx.digest
    r = _ganfx(ws, "render", "old.onnx", "clip.mp4", "-o", "out.mp4", "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [
        "ganfx: old.onnx: no weights digest (ganfx.digest, exported by an older ganfx): its weights cannot be "
        "checked; export it again to add one"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("output,partial", [("out.mp4", ".out.partial-{}.mp4"),
                                            ("o/o.####.png", "o/.o.0002.partial-{}.png")])
def test_a_render_removes_partials_of_dead_processes_only(ws, output, partial):
    (ws / "o").mkdir()
    dead, live = ws / partial.format(_dead_pid()), ws / partial.format(os.getpid())  # this test process runs on
    dead.write_bytes(b"left by a render killed with SIGKILL")
    live.write_bytes(b"being written by a render that still runs")
    r = _ganfx(ws, "render", "testfx", "clip.mp4", "-o", output, "--quiet")
    assert r.returncode == 0, r.stderr
    assert not dead.exists() and live.read_bytes() == b"being written by a render that still runs"
