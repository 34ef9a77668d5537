"""`python -m ganfx.trainer TASK ...`: `ganfx train TASK ...`, data-parallel under torchrun.

    torchrun --nproc-per-node 2 -m ganfx.trainer texture skimage:brick -o runs --iterations 4000
    torchrun --nproc-per-node 1 -m ganfx.trainer texture -o runs --resume runs/00000-brick   # any world size

The options are those of `ganfx train TASK` (the command line lives in ganfx.plugin.cli,
imported by name here, as the CLI imports the trainer); under torchrun `--distributed` is
implied (trainer/distributed.py).
"""

from __future__ import annotations

import importlib
import sys


def main(argv=None) -> int:
    from ganfx.trainer.distributed import launched_by_torchrun

    argv = list(sys.argv[1:] if argv is None else argv)
    if launched_by_torchrun() and "--distributed" not in argv and argv and not argv[0].startswith("-"):
        argv.append("--distributed")
    cli = importlib.import_module("ganfx.plugin.cli")
    return cli.main(["train", *argv])


if __name__ == "__main__":
    sys.exit(main())
