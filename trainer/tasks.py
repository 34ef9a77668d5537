"""The one table of training tasks: name -> task class, config class and `ganfx train` command.

Everything that needs to know which tasks exist reads `TASKS`: `ganfx train` (its
sub-commands and their help), the generic loop's resume check and checkpoint loading (the
task named in config.json), `ganfx export` (the generator of a run) and the model cards.
Nothing is imported until used; a task module imports torch, so asking for its classes
without torch installed gives the install hint instead of an ImportError:

    entry = task_entry("texture")
    cfg = entry.config_class()(exemplars=("brick.png",))
    task = entry.task_class()(cfg)              # has networks(), optimizers(), step(), ...
    G = entry.task_class().generator(cfg)        # the generator alone (no data), as export builds it

A new task is one row here plus its module (hooks: `ganfx.trainer.loop`) and its command
module (`add_arguments(parser)`, `run(args)`, see `ganfx.plugin.cli.train_cmd`). The
command module is only a name here: the trainer never imports the CLI.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ganfx.runtime.errors import UserInputError, require


@dataclass(frozen=True)
class TaskEntry:
    name: str  # as saved in config.json ("task") and typed after `ganfx train`
    help: str  # one line for `ganfx train --help`
    module: str  # module holding the task class and its config class (imports torch)
    task: str  # class name of the task: the loop's hooks, generator(cfg) and export_plan(...) for export
    config: str  # class name of its frozen config dataclass (saved in config.json under `name`)
    command: str  # module of `ganfx train NAME` (add_arguments, run); imported by the CLI only

    def _module(self):
        require("torch", "torch", extra="train")
        return importlib.import_module(self.module)

    def task_class(self):
        return getattr(self._module(), self.task)

    def config_class(self):
        return getattr(self._module(), self.config)


TASKS = {  # `ganfx train --help` lists them in this order
    "texture": TaskEntry(
        "texture", "learn a texture generator from one exemplar image (or a few)",
        "ganfx.trainer.texture_task", "TextureTask", "TextureConfig", "ganfx.plugin.cli.train_texture_cmd"),
    "effect": TaskEntry(
        "effect", "learn an effect from a few before/after pairs or keyframes of a clip",
        "ganfx.trainer.effect_task", "EffectTask", "EffectConfig", "ganfx.plugin.cli.train_effect_cmd"),
    "sound": TaskEntry(
        "sound", "learn a sound texture from one recording (rain, fire, wind, room tone ...)",
        "ganfx.trainer.sound_task", "SoundTask", "SoundConfig", "ganfx.plugin.cli.train_sound_cmd"),
}


def task_entry(name: str, source=None) -> TaskEntry:
    if name not in TASKS:
        raise UserInputError(f"unknown training task {name!r} (known: {', '.join(TASKS)})", path=source)
    return TASKS[name]
