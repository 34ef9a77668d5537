"""Typed training configs: frozen dataclasses, printed, saved with the run, read back exactly.

Every training run has two configs: the generic `LoopConfig` (how long, how often to save,
EMA, seed) and the task's own (e.g. `TextureConfig`). Both are written into a numbered run
folder so a run is self-describing:

    cfg = LoopConfig(iterations=4000, sample_every=500)
    run = new_run_dir("runs", "brick")                  # runs/00012-brick/
    save_run_config(run, "texture", cfg, task_cfg)     # runs/00012-brick/config.json
    task, loop_cfg, task_cfg = load_run_config(run)    # ("texture", LoopConfig, TextureConfig)

Configs are plain data: no `exec`, no dict-with-attributes; unknown keys are refused. A value
that does not fit raises `ConfigError`, which names the config field(s) to change; the CLI
turns field names into its options (docs/architecture.md: library errors name the problem,
only the CLI names flags).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ganfx.runtime.errors import UserInputError
from ganfx.runtime.files import write_atomic


class ConfigError(UserInputError):
    """A config value is invalid or does not fit the data; `fields` are the config fields to change."""

    def __init__(self, message: str, *fields: str, path=None):
        super().__init__(message, path=path)
        self.fields = fields


DEVICES = ("auto", "cpu", "cuda")  # LoopConfig.device: one of these, or cuda:N for one GPU of several
_CUDA_N = re.compile(r"^cuda:\d+$")


PRECISIONS = ("auto", "float32", "bfloat16")  # LoopConfig.precision (see ganfx.trainer.device)


def check_precision_name(name) -> str:
    if name not in PRECISIONS:
        raise ConfigError(f"precision must be {', '.join(PRECISIONS)}, got {name!r}", "precision")
    return name


def check_device_name(name) -> str:
    if name not in DEVICES and not (isinstance(name, str) and _CUDA_N.match(name)):
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}", "device")
    return name


@dataclass(frozen=True)
class LoopConfig:
    iterations: int = 4000  # optimisation steps in total (a resumed run continues up to this)
    seed: int = 0  # seeds torch's global RNG; tasks seed their own streams from their config
    ema_decay: float = 0.999  # weight of the old value in the generator's exponential moving average
    log_every: int = 50  # write a metrics JSON line every N steps (averages of the task's numbers)
    sample_every: int = 500  # write a sample grid PNG every N steps (and at the end)
    checkpoint_every: int = 1000  # write a checkpoint every N steps (and at the end)
    keep_checkpoints: int = 2  # older checkpoints beyond this many are deleted
    threads: int = 0  # torch CPU threads (0 = torch's default)
    max_minutes: float = 0.0  # stop (with a checkpoint) after this much training time (0 = no limit)
    progress: bool = True  # show a progress bar with it/s and ETA
    device: str = "auto"  # auto (CUDA when torch sees a GPU, else CPU), cpu, cuda or cuda:N
    precision: str = "auto"  # auto, float32 or bfloat16 (ganfx.trainer.device: auto = mixed precision on CUDA,
    #                          bf16 on CPUs with native bf16 for tasks whose step allows it, else float32)

    def check(self) -> "LoopConfig":
        for name in ("iterations", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}", name)
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}", "ema_decay")
        if self.max_minutes < 0:
            raise ConfigError(f"max_minutes must be >= 0, got {self.max_minutes}", "max_minutes")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0, got {self.threads}", "threads")
        check_device_name(self.device)
        check_precision_name(self.precision)
        return self


def config_to_dict(cfg) -> dict:
    """A config dataclass as JSON-able data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_from_dict(cls, data: dict, source="config"):
    """Build `cls` from saved data; unknown keys and wrong types give one clear line."""
    if not isinstance(data, dict):
        raise UserInputError(f"{source}: expected a JSON object for {cls.__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserInputError(f"{source}: unknown {cls.__name__} keys {unknown}")
    values = {}
    for name, value in data.items():
        default = fields[name].default
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[name] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise UserInputError(f"{source}: {exc}") from None


def describe(cfg) -> str:
    """Multi-line `name = value` listing of a config, for the console."""
    width = max(len(f.name) for f in dataclasses.fields(cfg))
    lines = [f"{type(cfg).__name__}:"]
    for f in dataclasses.fields(cfg):
        lines.append(f"  {f.name:<{width}} = {getattr(cfg, f.name)!r}")
    return "\n".join(lines)


_RUN_RE = re.compile(r"^(\d{5})-")


def new_run_dir(root, name: str, create: bool = True) -> Path:
    """The next numbered run folder under `root`: `00000-name`, `00001-name`, ..."""
    root = Path(root)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "run"
    numbers = [int(m.group(1)) for p in root.glob("*") if p.is_dir() and (m := _RUN_RE.match(p.name))]
    path = root / f"{max(numbers, default=-1) + 1:05d}-{safe}"
    if create:
        path.mkdir(parents=True, exist_ok=False)
    return path


def run_config_dict(task: str, loop: LoopConfig, task_cfg) -> dict:
    return {"task": task, "loop": config_to_dict(loop), task: config_to_dict(task_cfg)}


def save_run_config(run_dir, task: str, loop: LoopConfig, task_cfg) -> Path:
    path = Path(run_dir) / "config.json"
    write_atomic(path, json.dumps(run_config_dict(task, loop, task_cfg), indent=2, sort_keys=True) + "\n")
    return path


def parse_run_config(data: dict, source="config.json"):
    """Saved config data -> (task name, LoopConfig, the task's config)."""
    from .tasks import task_entry

    if not isinstance(data, dict) or "task" not in data or "loop" not in data:
        raise UserInputError(f"{source}: not a ganfx run config (needs 'task' and 'loop')")
    name = data["task"]
    entry = task_entry(name, source)
    loop = config_from_dict(LoopConfig, data["loop"], source)
    task_cfg = config_from_dict(entry.config_class(), data.get(name, {}), source)
    return name, loop, task_cfg


def load_run_config(run_dir):
    path = Path(run_dir) / "config.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserInputError("not a run folder (no config.json)", path=run_dir) from None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"unreadable config ({exc})", path=path) from None
    return parse_run_config(data, path)
