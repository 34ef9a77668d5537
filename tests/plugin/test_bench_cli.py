"""`ganfx bench`, the engine flags of the commands, and the engines part of `ganfx info`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ganfx.plugin.cli import main
from ganfx.runtime import engines
from onnx_models import make_sound_model

try:
    import openvino  # noqa: F401

    HAVE_OV = True
except ImportError:
    HAVE_OV = False


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("GANFX_CACHE", str(folder))
    return folder


def _ganfx(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_bench_json_rows_and_pick(user_models, cache, capsys):
    assert main(["bench", "testfx", "--size", "48x32", "--repeat", "1", "--json", "--threads", "1"]) == 0
    r = json.loads(capsys.readouterr().out)
    keys = [row["key"] for row in r["rows"]]
    assert "onnxruntime/CPUExecutionProvider/fp32" in keys and ("openvino/CPU/fp32" in keys) == HAVE_OV
    ref = next(row for row in r["rows"] if row["key"] == "onnxruntime/CPUExecutionProvider/fp32")
    assert ref["max_diff"] == 0 and ref["speedup"] == 1 and ref["fps"] > 0 and ref["gflops"] > 0
    assert r["flops_per_output"] == pytest.approx(2 * (3 * 9 * 8 + 8 * 9 * 3)) and r["size"] == "48x32"
    assert r["picks"]["auto"] in keys and r["picks"]["fp32"] in keys
    record = json.loads(next((cache / "engines").glob("*.json")).read_text())
    assert record["bench"]["picks"] == r["picks"] and record["model"] == "testfx"
    for row in r["rows"]:
        if row["precision"] != "fp32":
            assert row["ok"] == (row["max_diff"] <= 2 / 255 and row["probe"]["ok"])


def test_bench_table_and_info_show_the_pick(user_models, capsys):
    assert main(["bench", "testtex", "--size", "40x24", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "testtex (texture) at 40x24" in out and "FLOP per output pixel" in out and "auto picks:" in out
    assert "onnxruntime" in out and "1.00x" in out
    assert main(["info", "testtex"]) == 0
    info = capsys.readouterr().out
    assert "engines here: onnxruntime" in info and "native bf16:" in info and "bench (40x24" in info
    assert "precision auto:" in info and "measured fastest by ganfx bench" in info
    assert main(["info", "testtex", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ganfx.kind"] == "texture" and data["engines"]["bench"]["picks"]["auto"]


def test_bench_of_a_sound_counts_samples(tmp_path, capsys):
    path = make_sound_model(tmp_path / "snd.onnx")
    assert main(["bench", str(path), "--repeat", "1", "--no-keep"]) == 0
    out = capsys.readouterr().out
    assert "(sound) at" in out and "samples per call" in out and "samples/s" in out and "x real time" in out
    assert "FLOP per output sample" in out and "kept for --precision auto" not in out
    assert not (tmp_path / "cache" / "engines").exists()  # --no-keep
    r = _ganfx("bench", str(path), "--size", "64x64")
    assert r.returncode == 1 and "one block of samples; --size is for images" in r.stderr
    assert str(path) in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args,needle", [
    (("bench", "nosuch"), "no model named 'nosuch'"),
    (("bench", "testfx", "--size", "0x9"), "--size takes WIDTHxHEIGHT"),
    (("bench", "testfx", "--repeat", "0"), "--repeat must be at least 1"),
    (("render", "testfx", "in.mp4", "-o", "o.mp4", "--engine", "onnxruntime", "--precision", "bf16"),
     "bf16 runs on the openvino engine (see --precision)"),
])
def test_bad_input_is_one_line(user_models, args, needle):
    r = _ganfx(*args, env={"GANFX_MODELS": str(user_models)})
    assert r.returncode == 1 and needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_every_model_command_takes_the_engine_flags():
    from ganfx.plugin.cli import build_parser

    parser = build_parser()
    for command in ("render", "generate", "demo", "eval", "info"):
        sub = parser._subparsers._group_actions[0].choices[command]
        flags = {o for a in sub._actions for o in a.option_strings}
        assert {"--engine", "--provider", "--precision"} <= flags, command
        precision = next(a for a in sub._actions if "--precision" in a.option_strings)
        assert tuple(precision.choices) == ("fp32", "fp16", "bf16", "auto") and precision.default == "fp32"


def test_session_options_carry_the_engine():
    from ganfx.plugin.cli import build_parser
    from ganfx.plugin.cli.render_cmd import session_options

    args = build_parser().parse_args(["render", "m", "i.mp4", "-o", "o.mp4", "--engine", "openvino",
                                      "--provider", "gpu", "--precision", "fp16"])
    opts = session_options(args)
    assert opts.engine == "openvino" and opts.providers == ("gpu",) and opts.precision == "fp16"
    args = build_parser().parse_args(["render", "m", "i.mp4", "-o", "o.mp4"])
    assert session_options(args).engine is None and session_options(args).precision == "fp32"


@pytest.mark.skipif(not (HAVE_OV and engines.native_bf16()), reason="needs OpenVINO and native bf16")
def test_render_with_auto_precision_end_to_end(user_models, tmp_path):
    from media import make_clip

    from ganfx.runtime import load_model
    from ganfx.runtime.io import open_reader

    clip = make_clip(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "out.mp4"
    r = _ganfx("-v", "render", "testfx", str(clip), "-o", str(out), "--precision", "auto", "--quiet",
               env={"GANFX_MODELS": str(user_models)})
    assert r.returncode == 0, r.stderr
    assert "engine openvino/CPU/" in r.stderr  # the log line says which engine and why
    with open_reader(out) as reader:
        assert reader.properties.frame_count == 3
    model = load_model("testfx", precision="auto")
    assert model.engine.choice.engine == "openvino"
    frame = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    ref = load_model("testfx").apply(frame)
    assert np.abs(model.apply(frame).astype(int) - ref.astype(int)).max() <= 2  # within 2/255


def test_blender_preferences_name_engine_and_precision_only_when_set():
    pytest.importorskip("bpy")
    from ganfx.plugin.blender.props import host_options

    assert host_options("AUTO", 0) == {"providers": None, "tile": None}
    assert host_options("cuda", 512) == {"providers": ("cuda",), "tile": 512}
    assert host_options("cuda", 0, "openvino", "bf16") == {"providers": None, "tile": None, "engine": "openvino",
                                                           "precision": "bf16"}
    assert host_options("AUTO", 0, "auto", "auto") == {"providers": None, "tile": None, "engine": "auto",
                                                       "precision": "auto"}
