"""Data-parallel training (trainer/distributed.py): a two-process CPU (gloo) run under torchrun writes one
checkpoint set from rank 0 and resumes with one process; the gradient averaging itself."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from test_texture_train import TINY_ARGS
from texture_fixtures import stripes

from ganfx.trainer.checkpoint import list_checkpoints, read_checkpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    return env


def _trainer(*argv, nproc=None):
    cmd = [sys.executable]
    if nproc:
        cmd += ["-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--master-addr", "127.0.0.1",
                "--master-port", str(_free_port())]
    cmd += ["-m", "ganfx.trainer", *map(str, argv)]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)


def test_two_processes_train_one_run_and_resume_with_one(tmp_path):
    ex = stripes(tmp_path / "ex.png")
    runs = tmp_path / "runs"
    r = _trainer("texture", ex, "-o", runs, "--iterations", 4, *TINY_ARGS, nproc=2)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "data parallel over 2 processes (gloo): effective batch 2 x 2 = 4" in r.stdout
    assert "learning rate lr_g 0.0002, lr_d 0.0002" in r.stdout
    assert r.stdout.count("run folder:") == 1  # rank 0 alone speaks
    assert [p.name for p in runs.iterdir()] == ["00000-ex"]  # one run folder, made by rank 0
    run = runs / "00000-ex"
    assert [it for it, _ in list_checkpoints(run)] == [2, 4]
    assert sorted(p.name for p in run.glob("samples-*.png")) == ["samples-000004.png"]
    rows = [json.loads(line)["iteration"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows == [2, 4]  # one writer
    assert not list(run.glob(".*"))  # no partial files left

    loop_args = TINY_ARGS[TINY_ARGS.index("--threads"):]
    r = _trainer("texture", "-o", runs, "--resume", run, "--iterations", 6, *loop_args)  # one process
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "resuming" in r.stdout and "data parallel" not in r.stdout
    assert [it for it, _ in list_checkpoints(run)] == [4, 6]
    rows = [json.loads(line)["iteration"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows == [2, 4, 6]
    ck = read_checkpoint(run)
    assert ck.iteration == 6 and all(torch.isfinite(t).all() for t in ck.tensors.values())


def test_distributed_outside_torchrun_is_one_line(tmp_path, capsys):
    from ganfx.plugin.cli import main

    ex = stripes(tmp_path / "ex.png")
    env = {k: os.environ.pop(k) for k in ("WORLD_SIZE", "RANK") if k in os.environ}
    try:
        rc = main(["train", "texture", str(ex), "-o", str(tmp_path / "runs"), "--distributed", *TINY_ARGS])
    finally:
        os.environ.update(env)
    err = capsys.readouterr().err
    assert rc == 1 and "torchrun --nproc-per-node N -m ganfx.trainer" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def _worker(rank, world, port, out):
    import torch.distributed as dist

    from ganfx.trainer.distributed import Distributed

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    d = Distributed(rank, world, rank, "gloo")
    torch.manual_seed(rank)  # different weights on each process
    net = torch.nn.Linear(3, 2)
    d.broadcast_parameters({"G": net})
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    d.wrap_optimizers({"G": opt})
    net(torch.full((1, 3), float(rank + 1))).sum().backward()
    opt.step()  # averages the gradients first
    grad = net.weight.grad.clone()
    torch.save({"weight": net.weight.detach(), "grad": grad, "mean": d.mean({"x": float(rank)})}, out / f"{rank}.pt")
    d.close()


def test_gradients_are_averaged_and_weights_stay_identical(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(2, _free_port(), tmp_path), nprocs=2)
    a, b = (torch.load(tmp_path / f"{r}.pt") for r in (0, 1))
    assert torch.equal(a["weight"], b["weight"])  # same start (rank 0's), same averaged step
    assert torch.allclose(a["grad"], torch.full((2, 3), 1.5))  # mean of inputs 1 and 2
    assert a["mean"] == b["mean"] == {"x": 0.5}


def _effect_args(tmp_path):
    from effect_fixtures import make_clip, make_keyframes
    from test_effect_cli import TINY

    clip = make_clip(tmp_path / "pan.mp4", frames=8)
    kf = make_keyframes(tmp_path / "kf", clip, [1, 6])
    i = TINY.index("--iterations")
    tiny = TINY[:i] + TINY[i + 2:]  # the test gives its own
    return ["effect", "--video", clip, "--keyframes", kf, "--name", "pan", *tiny], "00000-pan"


def _sound_args(tmp_path):
    import numpy as np
    from test_sound import TINY, write_wav

    rng = np.random.default_rng(0)
    ex = write_wav(tmp_path / "hiss.wav", 0.2 * rng.standard_normal(48000))
    return ["sound", ex, "--sample-every", 2, "--checkpoint-every", 2, "--log-every", 1, "--threads", 1,
            "--no-progress", *TINY], "00000-hiss"


@pytest.mark.parametrize("task", ["effect", "sound"])
def test_effect_and_sound_tasks_train_data_parallel_and_resume_with_one(tmp_path, task):
    argv, name = (_effect_args if task == "effect" else _sound_args)(tmp_path)
    runs = tmp_path / "runs"
    r = _trainer(*argv, "-o", runs, "--iterations", 2, nproc=2)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "data parallel over 2 processes (gloo): effective batch 2 x 2 = 4" in r.stdout
    assert r.stdout.count("run folder:") == 1
    assert [p.name for p in runs.iterdir()] == [name]
    run = runs / name
    assert [it for it, _ in list_checkpoints(run)] == [2]
    r = _trainer(task, "-o", runs, "--resume", run, "--iterations", 4, "--threads", 1, "--no-progress",
                 "--checkpoint-every", 2, "--sample-every", 2)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "resuming" in r.stdout and "data parallel" not in r.stdout
    ck = read_checkpoint(run)
    assert ck.iteration == 4 and all(torch.isfinite(t).all() for t in ck.tensors.values())
