"""Bad inputs to the texture commands give one clear line and exit code 1, never a traceback."""

import pytest
import torch
from test_texture_train import TINY_ARGS
from texture_fixtures import stripes

from ganfx.plugin.cli import main


def _one_line_error(capsys, argv, *needles):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_unreadable_and_missing_exemplars(tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    _one_line_error(capsys, ["train", "texture", str(bad), "-o", str(tmp_path)] + TINY_ARGS, str(bad), "cannot read")
    _one_line_error(capsys, ["train", "texture", str(tmp_path / "nope.png"), "-o", str(tmp_path)], "not found")
    _one_line_error(capsys, ["train", "texture", "skimage:nosuchimage", "-o", str(tmp_path)], "no image")
    assert not list(tmp_path.glob("0000*"))  # no run folder for a failed start


def test_exemplar_smaller_than_the_crop(tmp_path, capsys):
    small = stripes(tmp_path / "small.png", size=(40, 40))
    _one_line_error(capsys, ["train", "texture", str(small), "-o", str(tmp_path), "--crop", "64"],
                    str(small), "smaller than the", "use a smaller crop (--crop)")  # the CLI names the flag


def test_dry_run_writes_nothing(tmp_path, capsys):
    ex = stripes(tmp_path / "ex.png")
    assert main(["train", "texture", str(ex), "-o", str(tmp_path / "runs"), "--dry-run"] + TINY_ARGS) == 0
    out = capsys.readouterr().out
    assert "TextureConfig" in out and "LoopConfig" in out and "would write" in out
    assert not (tmp_path / "runs").exists()


def test_corrupt_and_pickled_checkpoints(tmp_path, capsys):
    ex = stripes(tmp_path / "ex.png")
    assert main(["train", "texture", str(ex), "-o", str(tmp_path / "runs"), "--iterations", "2"] + TINY_ARGS) == 0
    run = tmp_path / "runs" / "00000-ex"
    st = run / "checkpoint-000002.safetensors"
    st.write_bytes(b"garbage that is not safetensors")
    _one_line_error(capsys, ["export", str(run), "-o", str(tmp_path / "x.onnx")], str(st), "corrupt")
    _one_line_error(capsys, ["train", "texture", "-o", str(tmp_path), "--resume", str(run)], "corrupt")
    pickled = tmp_path / "weights.pth"
    torch.save({"G": torch.zeros(2)}, pickled)
    _one_line_error(capsys, ["export", str(pickled), "-o", str(tmp_path / "x.onnx")], str(pickled), "pickle")
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("argv, needle", [
    (["train", "texture", "-o", "runs"], "exemplar"),
    (["train", "texture", "x.png", "--stride", "6"], "power of two >= 2, got 6 (--stride)"),
])
def test_bad_options(argv, needle, capsys):
    _one_line_error(capsys, argv, needle)
