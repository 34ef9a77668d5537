"""The `ganfx` CLI skeleton: --version, models, info, error handling."""

import json
import os
import subprocess
import sys

import pytest

from ganfx.plugin.cli import main
from ganfx.runtime import __version__


def _ganfx(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_version():
    r = _ganfx("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"ganfx {__version__}"


def test_models_table(user_models, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["NAME", "KIND", "VERSION", "SOURCE"]
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["testfx"][1:4] == ["effect", "1.0", "user"]
    assert rows["testtex"][1] == "texture"


def test_models_json_marks_broken_files(user_models, tmp_path, capsys, monkeypatch):
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "broken.onnx").write_bytes(b"\x00garbage")
    monkeypatch.setenv("GANFX_MODELS", os.pathsep.join([str(user_models), str(extra)]))
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["testfx"]["kind"] == "effect"
    assert rows["broken"]["kind"] is None and "not an ONNX model" in rows["broken"]["error"]


def test_info_shows_contract(user_models, capsys):
    assert main(["info", "testtex"]) == 0
    out = capsys.readouterr().out
    assert "testtex 1.0 (texture)" in out
    assert "noise: 4 channels, 4 px per cell, halo 2 cells" in out
    assert "seed (seed) = 0" in out and "CPUExecutionProvider" in out
    assert main(["info", "testfx", "--json"]) == 0
    md = json.loads(capsys.readouterr().out)
    assert md["ganfx.kind"] == "effect" and md["ganfx.params"][0]["name"] == "strength"
    assert md["ganfx.io"]["inputs"][0]["channels"] == 3 and md["ganfx.halo"] == 2 and md["ganfx.parity"] == 0.0


@pytest.mark.parametrize("arg,needle", [("nosuch", "no model named 'nosuch'"), ("missing/x.onnx", "not found")])
def test_info_errors_are_one_line(user_models, arg, needle):
    r = _ganfx("info", arg, env={"GANFX_MODELS": str(user_models)})
    assert r.returncode == 1
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_no_command_prints_help():
    r = _ganfx()
    assert r.returncode == 2 and "COMMAND" in r.stdout
