"""The generic training loop: tasks supply data, networks and one step; the loop does the rest.

    from ganfx.trainer.loop import train
    from ganfx.trainer.config import LoopConfig, new_run_dir
    from ganfx.trainer.texture_task import TextureConfig, TextureTask

    task = TextureTask(TextureConfig(exemplars=("brick.png",)))
    result = train(task, LoopConfig(iterations=4000), new_run_dir("runs", "brick"))
    result.run_dir, result.iteration, result.seconds

A task is any object with these hooks (see `TextureTask`, `EffectTask`):

    name: str                      key in ganfx.trainer.tasks.TASKS ("texture", "effect")
    cfg                            its frozen config dataclass (saved in config.json)
    cpu_bf16: bool                 optional: its step is safe in bfloat16 autocast, so precision "auto"
                                   uses it on CPUs with native bf16 (ganfx.trainer.device)
    networks() -> {name: Module}   must contain "G" (the generator the loop averages and exports)
    optimizers() -> {name: Optimizer}
    step(iteration, dev) -> {name: float}   one optimisation step on the TrainingDevice `dev`
                                   (data to dev.to(), forward passes in dev.autocast(),
                                   dev.backward / dev.step / dev.update), losses as plain floats
    state() -> JSON-able / set_state(state)   the task's own RNG streams (exact resume)
    sample_grid(G) -> [H,W,3] uint8     a deterministic preview made with the EMA generator
    evaluate(G) -> {name: float}        optional numbers logged with each sample (may be {})
    training_summary() -> dict          what ganfx.training records at export
    generator(cfg) -> Module            (static) the generator alone, built from the config
    export_plan(G, cfg, recorded, ...)  (static) what export needs, from the checkpoint's JSON

The loop owns: seeding, the device (`LoopConfig.device`: networks, EMA and every tensor of
a step live there; mixed precision on CUDA, see `ganfx.trainer.device`), the EMA generator,
checkpoints (safetensors + JSON, atomic, CPU tensors whatever the device, torch RNG
included, so `resume=` continues exactly; each records the task's summary and the EMA
generator's evaluation, which is all export needs besides the weights), metrics JSON lines,
sample grids every `sample_every` steps, the loss plot at the end, and a progress bar.

Under torchrun (`dist=`, a ganfx.trainer.distributed.Distributed) every process runs this loop
on its own data with gradients averaged before each optimiser step; rank 0 alone writes the
run folder and logs (see trainer/distributed.py).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganfx.runtime.errors import UserInputError

from ganfx.runtime.files import write_atomic
from ganfx.runtime.io.images import write_png

from . import checkpoint as ckpt_io
from .config import LoopConfig, run_config_dict, save_run_config
from .device import TrainingDevice
from .plots import plot_metrics


@dataclass
class TrainResult:
    run_dir: Path
    iteration: int  # iterations done in total
    seconds: float  # training time in total (resumed runs included)
    G_ema: torch.nn.Module  # on the run's device
    last_checkpoint: Path
    device: TrainingDevice


def ema_update(ema: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net for parameters; buffers are copied."""
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), net.parameters()):
            pe.lerp_(p.detach(), 1.0 - decay)
        for be, b in zip(ema.buffers(), net.buffers()):
            be.copy_(b)


def ema_decay_at(iteration: int, decay: float) -> float:
    """Warm-up (as TF's ExponentialMovingAverage with num_updates): early weights are not frozen in."""
    return min(decay, (1.0 + iteration) / (10.0 + iteration))


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="it", dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]{postfix}")


def _trim_metrics(path: Path, iteration: int) -> None:
    """Drop metric lines written after the checkpoint we resume from (that work is redone)."""
    if not path.is_file():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln).get("iteration", 0) <= iteration]
    write_atomic(path, "".join(ln + "\n" for ln in keep))


def _check_task(task) -> None:
    for hook in ("networks", "optimizers", "step", "state", "set_state", "sample_grid", "training_summary"):
        if not callable(getattr(task, hook, None)):
            raise TypeError(f"task {type(task).__name__} has no {hook}() hook")


def train(task, loop: LoopConfig, run_dir, resume=None, log=print, dist=None) -> TrainResult:
    """Run (or continue) training; see the module docstring. `resume` is a run folder or checkpoint;
    `dist` the process group of a data-parallel run (None: one process)."""
    from .distributed import SINGLE

    dist = dist or SINGLE
    main = dist.is_main
    if not main:
        log = lambda *_: None  # noqa: E731 - rank 0 speaks for the run
    _check_task(task)
    loop = loop.check()
    # Before anything is written: `cuda` without CUDA stops here.
    dev = TrainingDevice.resolve(dist.device_name(loop.device), loop.precision, getattr(task, "cpu_bf16", False))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if loop.threads:
        torch.set_num_threads(loop.threads)
    torch.manual_seed(loop.seed)

    nets, opts = task.networks(), task.optimizers()
    if "G" not in nets:
        raise TypeError(f"task {type(task).__name__}.networks() must contain 'G'")
    for net in nets.values():  # in place: the optimisers keep the same parameters
        dev.prepare(net)
    dist.broadcast_parameters(nets)
    dist.wrap_optimizers(opts)
    log(f"device: {dev}")
    if dist.active:
        log(dist.describe(task.cfg))
    G = nets["G"]
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)

    start, seconds = 0, 0.0
    if resume is not None:
        ck = ckpt_io.read_checkpoint(resume)
        saved = ck.meta.get("config", {})
        now = run_config_dict(task.name, loop, task.cfg)
        if main and (saved.get(task.name) != now[task.name] or saved.get("task") != task.name):
            raise UserInputError("the task config differs from the checkpoint's; resume with the saved config",
                                 path=ck.path)
        ckpt_io.restore(ck, nets, opts, G_ema)
        if main:  # the other processes keep the fresh data streams of their own seeds
            task.set_state(ck.meta["task_state"])
        dev.set_state(ck.meta.get("grad_scaler"))
        start, seconds = ck.iteration, float(ck.meta.get("seconds", 0.0))
        if main:
            _trim_metrics(run_dir / "metrics.jsonl", start)
        log(f"resuming {run_dir} at iteration {start}")
    if main:
        save_run_config(run_dir, task.name, loop, task.cfg)

    evaluated = {}  # iteration -> the evaluation of G_ema then (what its checkpoint records)

    def evaluation(iteration: int) -> dict:
        if iteration not in evaluated:
            evaluate = getattr(task, "evaluate", None)
            evaluated.clear()
            evaluated[iteration] = evaluate(G_ema) if callable(evaluate) else {}
        return evaluated[iteration]

    def checkpoint(iteration: int) -> Path:
        extra = {"config": run_config_dict(task.name, loop, task.cfg), "task_state": task.state(),
                 "seconds": round(seconds, 3), "training": task.training_summary(),
                 "evaluation": evaluation(iteration), "device": dev.describe()}
        if dev.state() is not None:
            extra["grad_scaler"] = dev.state()
        path = ckpt_io.save_checkpoint(run_dir, iteration, nets, opts, G_ema, extra)
        ckpt_io.prune_checkpoints(run_dir, loop.keep_checkpoints)
        return path

    def samples(iteration: int) -> dict:
        write_png(run_dir / f"samples-{iteration:06d}.png", task.sample_grid(G_ema))
        return evaluation(iteration)

    last = None
    sums: dict = {}
    live: dict = {}  # the latest evaluation (e.g. SWD against the exemplar), kept in the progress line
    losses_now: dict = {}
    count = 0
    t_log = time.perf_counter()
    bar = _progress(loop.iterations, start, loop.progress and main)
    import contextlib

    with (open(run_dir / "metrics.jsonl", "a") if main else contextlib.nullcontext()) as metrics, bar:
        for it in range(start, loop.iterations):
            t0 = time.perf_counter()
            G.train()
            losses = task.step(it, dev)
            ema_update(G_ema, G, ema_decay_at(it, loop.ema_decay))
            seconds += time.perf_counter() - t0
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            count += 1
            done = it + 1
            bar.update(1)
            row = None
            if done % loop.log_every == 0 or done == loop.iterations:
                sums = dist.mean(sums)  # every process reaches this at the same iterations
                now = time.perf_counter()
                row = {"iteration": done, "seconds": round(seconds, 2), "it_per_s": round(count / max(now - t_log, 1e-9), 3)}
                row.update({k: round(v / count, 6) for k, v in sums.items()})
                losses_now = {k: f"{v / count:.3g}" for k, v in list(sums.items())[:3]}
                bar.set_postfix({**losses_now, **live}, refresh=False)
                sums, count, t_log = {}, 0, now
            if main and (done % loop.sample_every == 0 or done == loop.iterations):
                extra = samples(done)
                live = {k: f"{v:.4g}" for k, v in extra.items() if isinstance(v, (int, float))}
                bar.set_postfix({**losses_now, **live}, refresh=True)
                row = {**(row or {"iteration": done, "seconds": round(seconds, 2)}), **extra}
            if row is not None and main:
                if not all(np.isfinite(v) for v in row.values() if isinstance(v, float)):
                    raise FloatingPointError(f"training diverged at iteration {done}: {row}")
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
            out_of_time = loop.max_minutes and seconds >= loop.max_minutes * 60.0
            if loop.max_minutes and dist.active:  # rank 0's clock decides for all
                out_of_time = dist.broadcast_object(bool(out_of_time))
            if main and (done % loop.checkpoint_every == 0 or done == loop.iterations or out_of_time):
                if out_of_time and done % loop.sample_every and done != loop.iterations:
                    samples(done)
                last = checkpoint(done)
            if out_of_time:
                log(f"stopping at iteration {done}: max_minutes={loop.max_minutes} reached")
                break
    dist.barrier()  # rank 0's checkpoint is complete for everyone
    if last is None:  # nothing left to do (resumed a finished run), or not rank 0
        last = ckpt_io.latest_checkpoint(run_dir)
    if main:
        plot_metrics(run_dir / "metrics.jsonl", run_dir / "losses.png")
    done = int(last.stem.split("-")[1])
    log(f"done: {done} iterations, {seconds / 60:.1f} min of training on {dev} -> {last}")
    return TrainResult(run_dir, done, seconds, G_ema, last, dev)
