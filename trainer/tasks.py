"""The table of training tasks: name -> where its config and task class live.

A task is imported only when used (its module imports torch). The generic loop
(`ganfx.trainer.loop.train`), `ganfx export` and checkpoint loading find a run's task here
by the name saved in its config.json:

    entry = task_entry("texture")
    cfg = entry.config_class()(exemplars=("brick.png",))
    task = entry.task_class()(cfg)          # has networks(), optimizers(), step(), ...

The hooks a task class provides are documented in `ganfx.trainer.loop`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ganfx.runtime.errors import UserInputError


@dataclass(frozen=True)
class TaskEntry:
    name: str
    module: str  # module holding both classes
    task: str  # class name of the task (hooks for the loop and for export)
    config: str  # class name of its frozen config dataclass

    def _module(self):
        return importlib.import_module(self.module)

    def task_class(self):
        return getattr(self._module(), self.task)

    def config_class(self):
        return getattr(self._module(), self.config)


TASKS = {
    "texture": TaskEntry("texture", "ganfx.trainer.texture_task", "TextureTask", "TextureConfig"),
    "effect": TaskEntry("effect", "ganfx.trainer.effect_task", "EffectTask", "EffectConfig"),
}


def task_entry(name: str, source=None) -> TaskEntry:
    if name not in TASKS:
        raise UserInputError(f"unknown training task {name!r} (known: {', '.join(TASKS)})", path=source)
    return TASKS[name]
