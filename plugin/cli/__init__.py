"""The `ganfx` command line.

    ganfx --version
    ganfx models
    ganfx info redbrick

Commands live in a table (name -> module), imported only when run, so `ganfx --help`
stays fast and commands that need torch only ask for it when used. Each command module
has `add_arguments(parser)` and `run(args) -> int`. Library errors (ganfx.runtime.errors)
become one line on stderr and exit code 1; usage errors exit 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name -> (module, one-line help). Order is the order `ganfx --help` shows.
COMMANDS = {
    "demo": ("ganfx.plugin.cli.demo_cmd", "render the demo: shipped textures and effect, no input needed"),
    "models": ("ganfx.plugin.cli.models_cmd", "list shipped and user models"),
    "info": ("ganfx.plugin.cli.info_cmd", "show a model's contract, parameters and available providers"),
    "render": ("ganfx.plugin.cli.render_cmd", "apply an effect model to a video, an image sequence or an image"),
    "generate": ("ganfx.plugin.cli.generate_cmd", "render a texture model to an image, a sequence or a video"),
    "concat": ("ganfx.plugin.cli.concat_cmd", "join farm chunks: video segments without re-encoding, wav segments sample for sample"),
    "probe": ("ganfx.plugin.cli.probe_cmd", "print the media properties of a video, sequence or image"),
    "train": ("ganfx.plugin.cli.train_cmd", "train a model (texture from an exemplar; needs ganfx[train])"),
    "export": ("ganfx.plugin.cli.export_cmd", "export a training run to ONNX with the ganfx contract"),
    "plugin": ("ganfx.plugin.cli.plugin_cmd", "list user plugins; pack the Blender extension (build-blender); build the native OpenFX bundle (build-ofx)"),
    "eval": ("ganfx.plugin.cli.eval_cmd", "measure a model against its exemplar and classical baselines"),
    "bench": ("ganfx.plugin.cli.bench_cmd", "time every engine and precision on this machine; what auto picks"),
}


# Settings library errors can be about (GanfxError.about) -> the flag that changes them here.
FLAGS = {
    "frames": "--frames", "range": "--range", "resume": "--resume", "overwrite": "--overwrite",
    "overwrite_or_resume": "--overwrite or --resume", "tile": "--tile",
    "batch": "--batch", "codec": "--codec", "quality": "--crf", "gop": "--gop", "writer": "--writer", "fps": "--fps",
    "size": "--size", "precision": "--precision", "provider": "--provider", "engine": "--engine", "param": "--param",
    "seconds": "--seconds", "platform": "--platform or --no-download",
}


def error_line(command: str, exc) -> str:
    """The one line a library error becomes: the problem, then the flag to change where there is one."""
    flag = FLAGS.get(getattr(exc, "about", None) or "")
    return f"ganfx {command}: error: {exc}" + (f" (see {flag})" if flag else "")


def warn_missing_folders(command: str, var: str) -> None:
    """One warning line per folder that environment variable `var` names but that is not a
    folder (a typo, an unmounted share): said, not skipped in silence."""
    from ganfx.runtime.files import folders_from_env

    for folder in folders_from_env(var):
        if not folder.is_dir():
            print(f"ganfx {command}: warning: {folder}: named in {var} but "
                  f"{'not a folder' if folder.exists() else 'does not exist'}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    from ganfx.runtime import __version__

    parser = argparse.ArgumentParser(
        prog="ganfx", description="GAN-generated effects and textures for film and video."
    )
    parser.add_argument("--version", action="version", version=f"ganfx {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (providers, timings)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv=None) -> int:
    from ganfx.runtime.errors import GanfxError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="ganfx: %(message)s")
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except GanfxError as exc:
        print(error_line(args.command, exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"ganfx {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
