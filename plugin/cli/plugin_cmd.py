"""`ganfx plugin ...`: list user plugins, pack the Blender extension, build the OpenFX bundle.

    ganfx plugin list
    ganfx plugin build-blender -o ganfx_blender.zip --platform linux-x64 --platform windows-x64
    ganfx plugin build-blender -o ganfx_blender.zip --no-download     # ganfx wheel only, offline
    ganfx plugin build-ofx -o ganfx.ofx.bundle                         # native OFX plugin, Linux x86-64
    ganfx plugin build-ofx -o ganfx.ofx.bundle --model watercolor --model my_look.onnx --overwrite
"""

from __future__ import annotations

import os


def add_arguments(parser):
    sub = parser.add_subparsers(dest="plugin_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="list user plugins (GANFX_PLUGINS folders)")
    b = sub.add_parser("build-blender", help="pack the Blender extension zip with the wheels it needs")
    b.add_argument("-o", "--output", required=True, help="zip to write, e.g. ganfx_blender.zip")
    b.add_argument("--platform", action="append", default=[], metavar="NAME",
                   help="Blender platform to pack wheels for: linux-x64, windows-x64, macos-arm64, macos-x64 "
                        "(repeatable)")
    b.add_argument("--no-download", action="store_true",
                   help="pack only the ganfx wheel (and --wheels); the Python running Blender provides the rest")
    b.add_argument("--wheels", metavar="DIR", help="also pack the .whl files already in DIR")
    b.add_argument("--overwrite", action="store_true", help="replace an existing zip")
    o = sub.add_parser("build-ofx", help="build the native OpenFX plugin bundle (Linux x86-64; needs cmake and g++)")
    o.add_argument("-o", "--output", required=True, help="bundle folder to write, e.g. ganfx.ofx.bundle")
    o.add_argument("--model", action="append", default=None, metavar="NAME",
                   help="model name or .onnx path to ship in the bundle (repeatable; default: the shipped models)")
    o.add_argument("--jobs", type=int, default=min(3, os.cpu_count() or 1), metavar="N",
                   help="parallel compile jobs (default: %(default)s)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing bundle")


def run(args) -> int:
    from pathlib import Path

    from ganfx.runtime.errors import UserInputError
    if args.plugin_command == "list":
        return _list()
    if args.plugin_command == "build-ofx":
        return _build_ofx(args)
    from ganfx.plugin.packaging import build_blender_extension

    out = Path(args.output)
    if out.suffix.lower() != ".zip":
        raise UserInputError("a Blender extension is a .zip file: give a name ending in .zip", path=out)
    if args.wheels and not Path(args.wheels).is_dir():
        raise UserInputError("no such folder" if not Path(args.wheels).exists() else "is not a folder",
                             path=args.wheels)
    # The library refuses a folder, a missing folder or an existing zip (without overwrite) before packing.
    summary = build_blender_extension(out, platforms=tuple(args.platform), download=not args.no_download,
                                      wheel_dir=args.wheels, overwrite=args.overwrite)
    print(f"wrote {out}: {summary['bytes'] / 1e6:.1f} MB, wheels: {', '.join(summary['wheels'])}")
    return 0


def _list() -> int:
    """Plugins by name; a GANFX_PLUGINS entry that is not a folder is said, not skipped in silence."""
    from ganfx.plugin.cli import warn_missing_folders
    from ganfx.plugin.discovery import PLUGINS_ENV, list_plugins, plugin_folders

    warn_missing_folders("plugin", PLUGINS_ENV)
    plugins = list_plugins()
    for name, path in plugins:
        print(f"{name}\t{path}")
    if not plugins:
        print(f"no plugins found (looked in: {', '.join(str(f) for f in plugin_folders())})")
    return 0


def _build_ofx(args) -> int:
    from pathlib import Path

    from ganfx.plugin.native_ofx import MODELS_ENV, build_ofx_bundle
    from ganfx.runtime.errors import UserInputError

    if args.jobs < 1:
        raise UserInputError(f"--jobs must be at least 1, got {args.jobs}")
    summary = build_ofx_bundle(Path(args.output), overwrite=args.overwrite, jobs=args.jobs, models=args.model)
    models = ", ".join(summary["models"]) or "none"
    print(f"wrote {summary['bundle']}: {summary['bytes'] / 1e6:.1f} MB, onnxruntime {summary['onnxruntime']}, "
          f"models: {models} (more from the folders in {MODELS_ENV})")
    return 0
