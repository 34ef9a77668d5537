"""`--device auto|cpu|cuda`: the device is in the saved LoopConfig, every task trains there, mixed
precision steps (run here on the CPU, which autocasts too), checkpoints that resume anywhere."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from effect_fixtures import make_clip, make_keyframes
from test_texture_train import TINY_ARGS
from texture_fixtures import stripes, tiny_config, tiny_loop

from ganfx.plugin.cli import main
from ganfx.trainer.checkpoint import read_checkpoint
from ganfx.trainer.device import TrainingDevice, autocast_dtype
from ganfx.trainer.export import export_run
from ganfx.trainer.loop import train
from ganfx.trainer.texture_task import TextureTask


@pytest.fixture(scope="module")
def exemplar(tmp_path_factory):
    return stripes(tmp_path_factory.mktemp("ex") / "stripes.png")


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_cli_run_on_a_device_saves_it_with_the_run(exemplar, tmp_path, capsys, device):
    runs = tmp_path / "runs"
    argv = ["train", "texture", str(exemplar), "-o", str(runs), "--iterations", "2", "--device", device] + TINY_ARGS
    assert main(argv) == 0
    out = capsys.readouterr().out
    run = runs / "00000-stripes"
    assert json.loads((run / "config.json").read_text())["loop"]["device"] == device
    meta = read_checkpoint(run).meta
    want = "cuda:0" if device == "auto" and torch.cuda.is_available() else "cpu"
    assert meta["device"]["device"] == want and f"device: {want}" in out
    assert all(t.device.type == "cpu" for t in read_checkpoint(run).tensors.values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("dry", [False, True])
def test_cuda_without_cuda_is_one_line_and_writes_nothing(exemplar, tmp_path, capsys, dry):
    argv = ["train", "texture", str(exemplar), "-o", str(tmp_path / "runs"), "--device", "cuda"] + TINY_ARGS
    assert main(argv + (["--dry-run"] if dry else [])) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "sees no CUDA device" in err and "(--device)" in err, err
    assert not (tmp_path / "runs").exists()


def test_a_bad_device_name_is_one_line(exemplar, tmp_path, capsys):
    assert main(["train", "texture", str(exemplar), "-o", str(tmp_path), "--device", "tpu"] + TINY_ARGS) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "device must be auto, cpu, cuda or cuda:N, got 'tpu' (--device)" in err


def test_autocast_precision_by_device():
    assert autocast_dtype(torch.device("cpu"), True) is None  # the CPU trains in float32
    assert autocast_dtype(torch.device("cuda", 0), True) is torch.bfloat16  # no loss scaling needed
    assert autocast_dtype(torch.device("cuda", 0), False) is torch.float16
    cpu = TrainingDevice.resolve("cpu")
    assert cpu.dtype is None and cpu.scaler is None and cpu.state() is None
    assert TrainingDevice(torch.device("cpu"), torch.float16).scaler is not None  # fp16 gets a GradScaler
    assert TrainingDevice(torch.device("cpu"), torch.bfloat16).scaler is None


def test_precision_choice_on_the_cpu(monkeypatch):
    from ganfx.trainer import device as device_mod
    from ganfx.trainer.config import ConfigError

    native = device_mod.cpu_has_native_bf16()
    assert TrainingDevice.resolve("cpu", "float32", cpu_bf16=True).dtype is None
    assert TrainingDevice.resolve("cpu", "auto", cpu_bf16=False).dtype is None  # e.g. textures: float32
    auto = TrainingDevice.resolve("cpu", "auto", cpu_bf16=True)  # e.g. effects
    assert auto.dtype is (torch.bfloat16 if native else None) and auto.channels_last == native
    with pytest.raises(ConfigError, match="precision must be"):
        TrainingDevice.resolve("cpu", "half")
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: False)  # a processor without bf16
    assert TrainingDevice.resolve("cpu", "auto", cpu_bf16=True).dtype is None
    with pytest.raises(ConfigError, match="no native bf16"):
        TrainingDevice.resolve("cpu", "bfloat16")


def test_cpu_bfloat16_effect_run_resumes_exactly_and_exports(tmp_path):
    """bf16 autocast with channels-last networks on the CPU: checkpoints hold plain float32 tensors,
    a resumed run equals an uninterrupted one, and the export matches torch."""
    from ganfx.trainer import device as device_mod
    from ganfx.trainer.effect_task import EffectConfig, EffectTask

    if not device_mod.cpu_has_native_bf16():
        pytest.skip("this processor has no native bf16")
    clip = make_clip(tmp_path / "pan.mp4", frames=6)
    cfg = EffectConfig(video=str(clip), keyframes=str(make_keyframes(tmp_path / "kf", clip, [1, 4])),
                       patch=32, batch=2, g_width=8, g_blocks=1, d_width=8)
    loop = dataclasses.replace(tiny_loop(4), precision="bfloat16")
    whole = train(EffectTask(cfg), loop, tmp_path / "whole", log=lambda *_: None)
    part = tmp_path / "run"
    train(EffectTask(cfg), dataclasses.replace(loop, iterations=2), part, log=lambda *_: None)
    resumed = train(EffectTask(cfg), loop, part, resume=part, log=lambda *_: None)
    a, b = read_checkpoint(whole.last_checkpoint), read_checkpoint(resumed.last_checkpoint)
    assert a.meta["device"] == {"device": "cpu", "precision": "bfloat16 autocast"}
    for key in a.tensors:
        assert a.tensors[key].dtype != torch.bfloat16 or key.startswith("rng"), key
        assert torch.equal(a.tensors[key], b.tensors[key]), key
    _, parity = export_run(part, tmp_path / "fx.onnx")
    assert parity <= 1e-3


@pytest.fixture
def float16_everywhere(monkeypatch):
    """Make the loop train in float16 autocast with a GradScaler (the CUDA-without-bf16 path), on the CPU."""
    monkeypatch.setattr(TrainingDevice, "resolve",
                        classmethod(lambda cls, *args: cls(torch.device("cpu"), torch.float16)))


def test_mixed_precision_texture_run_resumes_with_its_scaler_and_then_in_float32(exemplar, tmp_path,
                                                                                 float16_everywhere, monkeypatch):
    cfg = tiny_config(exemplar, r1_every=1)  # R1 (float32 inside autocast) on every step
    whole = train(TextureTask(cfg), tiny_loop(4), tmp_path / "whole", log=lambda *_: None)
    part = tmp_path / "run"
    train(TextureTask(cfg), tiny_loop(2), part, log=lambda *_: None)
    assert read_checkpoint(part).meta["device"]["precision"] == "float16 autocast"
    resumed = train(TextureTask(cfg), tiny_loop(4), part, resume=part, log=lambda *_: None)
    a, b = read_checkpoint(whole.last_checkpoint), read_checkpoint(resumed.last_checkpoint)
    assert a.meta["grad_scaler"] == b.meta["grad_scaler"]  # the loss scale continued, not restarted
    for key in a.tensors:
        assert torch.equal(a.tensors[key], b.tensors[key]), key  # an exact resume in mixed precision too
    rows = [json.loads(line) for line in (part / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [2, 4] and all(np.isfinite(r["loss_g"]) for r in rows)
    # A checkpoint of a mixed-precision run (as a GPU run's) continues on a plain float32 CPU and exports.
    monkeypatch.undo()
    again = train(TextureTask(cfg), tiny_loop(6), part, resume=part, log=lambda *_: None)
    assert read_checkpoint(again.last_checkpoint).meta["device"] == {"device": "cpu", "precision": "float32"}
    _, parity = export_run(part, tmp_path / "t.onnx")
    assert parity <= 1e-3


def test_mixed_precision_effect_steps_with_consistency(tmp_path, float16_everywhere):
    from ganfx.trainer.effect_task import EffectConfig, EffectTask

    clip = make_clip(tmp_path / "pan.mp4", frames=6)
    cfg = EffectConfig(video=str(clip), keyframes=str(make_keyframes(tmp_path / "kf", clip, [1, 4])),
                       holdout=str(make_keyframes(tmp_path / "held", clip, [2])), patch=32, batch=2, g_width=8,
                       g_blocks=1, d_width=8)
    result = train(EffectTask(cfg), tiny_loop(2), tmp_path / "run", log=lambda *_: None)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(rows[-1][k]) for k in ("l1", "adv", "consistency", "d", "holdout_psnr"))
    assert rows[-1]["consistency"] > 0
    meta = read_checkpoint(result.last_checkpoint).meta
    assert meta["evaluation"]["holdout_psnr"] == rows[-1]["holdout_psnr"]  # what export records
    _, parity = export_run(result.run_dir, tmp_path / "fx.onnx")
    assert parity <= 1e-3
