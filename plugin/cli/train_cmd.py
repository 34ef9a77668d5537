"""`ganfx train TASK ...`: train a model; one sub-command per training task.

    ganfx train texture skimage:brick -o runs --iterations 4000 --threads 1
    ganfx train texture brick.png -o runs --dry-run          # print the config, write nothing
    ganfx train texture -o runs --resume runs/00003-brick --iterations 8000   # continue exactly
    ganfx train texture skimage:brick -o runs --device cuda                   # on a GPU, mixed precision

The tasks are the trainer's one table, ganfx.trainer.tasks.TASKS (name -> task, config and
command module, help). Each command module has `add_arguments(parser)` (its own options;
call `add_loop_arguments(parser)` for the shared ones) and `run(args) -> int`, which builds
the task config and calls `run_training()`. Nothing here imports torch: task modules
import it inside run(). Library errors name config fields (ganfx.trainer.config.ConfigError);
`flag_error` turns them into this command's options.
"""

from __future__ import annotations

import contextlib
import importlib


def add_arguments(parser):
    try:
        from ganfx.trainer.tasks import TASKS
    except ImportError:  # a build without the trainer (the Blender extension's wheel): no tasks
        TASKS = {}
    sub = parser.add_subparsers(dest="task", metavar="TASK")
    sub.required = True
    for name, entry in TASKS.items():
        p = sub.add_parser(name, help=entry.help, description=entry.help)
        p.set_defaults(_train_module=entry.command)
        importlib.import_module(entry.command).add_arguments(p)


def run(args) -> int:
    return int(importlib.import_module(args._train_module).run(args) or 0)


# -- shared by every task ------------------------------------------------------------------
_LOOP_OPTIONS = (  # (flag, LoopConfig field, type, help)
    ("--iterations", "iterations", int, "optimisation steps in total"),
    ("--seed", "seed", int, "random seed of the run"),
    ("--ema-decay", "ema_decay", float, "EMA decay of the exported generator"),
    ("--log-every", "log_every", int, "metrics JSON line every N steps"),
    ("--sample-every", "sample_every", int, "sample grid PNG every N steps"),
    ("--checkpoint-every", "checkpoint_every", int, "checkpoint every N steps"),
    ("--keep-checkpoints", "keep_checkpoints", int, "how many checkpoints to keep"),
    ("--threads", "threads", int, "torch CPU threads (0 = torch's default)"),
    ("--max-minutes", "max_minutes", float, "stop with a checkpoint after this much training time"),
    ("--device", "device", str, "auto (CUDA when torch sees a GPU, else CPU), cpu, cuda or cuda:N"),
    ("--precision", "precision", str, "auto (CUDA: bf16, else fp16 mixed precision; CPU: bf16 where the processor "
                                      "has it natively and the task allows it), float32 or bfloat16"),
)


def add_loop_arguments(parser):
    """Options every training task shares: output folder, resume, dry run, loop settings."""
    parser.add_argument("-o", "--output", default="runs", metavar="RUNS_DIR",
                        help="folder that receives the numbered run folder (default: runs)")
    parser.add_argument("--resume", metavar="RUN", help="continue a run folder (or checkpoint) exactly where it stopped")
    parser.add_argument("--dry-run", action="store_true", help="check the data, print the config, write nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over the processes torchrun starts (torchrun --nproc-per-node N -m "
                             "ganfx.trainer TASK ...): gradients averaged, rank 0 writes the run")
    group = parser.add_argument_group("training loop (defaults: ganfx.trainer.config.LoopConfig)")
    for flag, _, typ, help_text in _LOOP_OPTIONS:
        group.add_argument(flag, type=typ, default=None, help=help_text)


def overrides(args, table) -> dict:
    """Options the user gave (non-None), keyed by config field."""
    return {field: getattr(args, flag.lstrip("-").replace("-", "_")) for flag, field, *_ in table
            if getattr(args, flag.lstrip("-").replace("-", "_"), None) is not None}


def loop_config(args, base=None):
    import dataclasses

    from ganfx.trainer.config import LoopConfig

    values = overrides(args, _LOOP_OPTIONS)
    if args.no_progress:
        values["progress"] = False
    cfg = dataclasses.replace(base or LoopConfig(), **values)
    with flag_errors():
        return cfg.check()


def flag_error(exc, table=()):
    """A library ConfigError (naming config fields) as a UserInputError naming this command's options."""
    from ganfx.runtime.errors import UserInputError

    flags = {field: flag for flag, field, *_ in tuple(table) + _LOOP_OPTIONS}
    names = [flags[f] for f in exc.fields if f in flags]
    message = f"{exc.message} ({', '.join(names)})" if names else exc.message
    return UserInputError(message, path=exc.path)


@contextlib.contextmanager
def flag_errors(table=()):
    """Inside: a ConfigError is re-raised naming the options of `table` (and the loop's)."""
    from ganfx.trainer.config import ConfigError

    try:
        yield
    except ConfigError as exc:
        raise flag_error(exc, table) from None


def resumed_configs(args):
    """With --resume: (run folder, LoopConfig with command-line overrides, saved task config)."""
    from pathlib import Path

    from ganfx.trainer.checkpoint import read_checkpoint
    from ganfx.trainer.config import parse_run_config

    ckpt = read_checkpoint(args.resume)
    name, loop, task_cfg = parse_run_config(ckpt.meta.get("config", {}), ckpt.path)
    if name != args.task:
        from ganfx.runtime.errors import UserInputError

        raise UserInputError(f"this is a {name} run; resume it with `ganfx train {name} --resume`", path=args.resume)
    return Path(ckpt.path).parent, loop_config(args, base=loop), task_cfg


def run_training(args, task_name: str, loop, task_cfg, run_dir=None, table=()) -> int:
    """Print the configs, build the task (checks the data), then train or stop for --dry-run.

    `table`: the task command's (flag, field, ...) options, to name them in errors."""
    from ganfx.runtime.errors import require

    require("torch", "torch", extra="train")
    from ganfx.trainer.config import describe, new_run_dir
    from ganfx.trainer.device import TrainingDevice
    from ganfx.trainer.loop import train
    from ganfx.trainer.tasks import task_entry

    dist = _distributed(args, loop)
    say = print if dist.is_main else (lambda *a, **k: None)
    say(describe(loop))
    say(describe(task_cfg))
    with flag_errors(table):
        cls = task_entry(task_name).task_class()
        # `--device cuda` without CUDA: one line, nothing written
        device = TrainingDevice.resolve(dist.device_name(loop.device), loop.precision, getattr(cls, "cpu_bf16", False))
        task = cls(_rank_config(task_cfg, dist.rank))
    if args.dry_run:
        nets = task.networks()
        sizes = ", ".join(f"{k} {sum(p.numel() for p in v.parameters()) / 1e6:.2f}M params" for k, v in nets.items())
        target = run_dir or new_run_dir(args.output, getattr(task_cfg, "model_name", task_name), create=False)
        print(f"dry run: data and networks OK ({sizes}); would train on {device}; would write {target}")
        return 0
    resume = run_dir
    if run_dir is None:
        run_dir = new_run_dir(args.output, getattr(task_cfg, "model_name", task_name)) if dist.is_main else None
        run_dir = dist.broadcast_object(run_dir)
    say(f"run folder: {run_dir}")
    try:
        with flag_errors(table):
            result = train(task, loop, run_dir, resume=resume, dist=dist, log=say)
    finally:
        dist.close()
    if not dist.is_main:
        return 0
    print(f"export it with: ganfx export {result.run_dir} -o {getattr(task_cfg, 'model_name', task_name)}.onnx")
    return 0


def _distributed(args, loop):
    """The process group torchrun set up (trainer/distributed.py), or one process."""
    from ganfx.runtime.errors import UserInputError
    from ganfx.trainer.distributed import SINGLE, from_environment, launched_by_torchrun

    if not launched_by_torchrun():
        if getattr(args, "distributed", False):
            raise UserInputError("--distributed runs under torchrun: torchrun --nproc-per-node N -m ganfx.trainer "
                                 f"{args.task} ... (one process per GPU or CPU slot)")
        return SINGLE
    if args.dry_run:
        return SINGLE
    return from_environment(loop.device)


def _rank_config(task_cfg, rank: int):
    """Rank r draws its own data: the task's seed + r (rank 0 keeps the run's config as saved)."""
    import dataclasses

    if rank == 0 or not hasattr(task_cfg, "seed"):
        return task_cfg
    return dataclasses.replace(task_cfg, seed=task_cfg.seed + rank)
