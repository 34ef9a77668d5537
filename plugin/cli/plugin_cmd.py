"""`ganfx plugin ...`: list user plugins, pack the Blender extension.

    ganfx plugin list
    ganfx plugin build-blender -o ganfx_blender.zip --platform linux-x64 --platform windows-x64
    ganfx plugin build-blender -o ganfx_blender.zip --no-download     # ganfx wheel only, offline
"""

from __future__ import annotations


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


def run(args) -> int:
    from pathlib import Path

    from ganfx.runtime.errors import UserInputError
    if args.plugin_command == "list":
        return _list()
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
