"""Finding plugins: ganfx models (wrapped in GanEffect) and user plugins written in Python.

A user plugin is one Python file that defines `PLUGIN`, an ImageEffect instance:

    # ~/ganfx-plugins/invert.py
    from ganfx.plugin.ofx import FILTER, DoubleParam, ImageEffect, PluginDescriptor

    class Invert(ImageEffect):
        def describe(self):
            return PluginDescriptor("org.example.invert", "invert", contexts=(FILTER,),
                                    params=(DoubleParam("mix", 1.0, 0.0, 1.0),))
        def render(self, instance, args):
            src = args.source.crop(args.render_window)
            return 255 - src if src.dtype.kind == "u" else 1.0 - src

    PLUGIN = Invert()

    $ GANFX_PLUGINS=~/ganfx-plugins ganfx render invert clip.mp4 -o inverted.mp4

Names resolve like model names: a path to a .py file; else a model (see ganfx.runtime.model);
else `<name>.py` in each folder of GANFX_PLUGINS (os.pathsep separated), then
~/.local/share/ganfx/plugins. Only files in those folders are ever imported.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ganfx.runtime.errors import ModelLoadError, UserInputError

from .ofx import ImageEffect

PLUGINS_ENV = "GANFX_PLUGINS"


def plugin_folders() -> list:
    from ganfx.runtime.files import folders_from_env

    return folders_from_env(PLUGINS_ENV) + [Path("~/.local/share/ganfx/plugins").expanduser()]


def list_plugins() -> list:
    """[(name, path)] of every user plugin file the lookup can see (first folder wins).

    Only regular files count: importing a named pipe called `x.py` would block forever.
    """
    seen, out = set(), []
    for folder in plugin_folders():
        if folder.is_dir():
            for path in sorted(folder.glob("*.py")):
                if path.stem not in seen and not path.stem.startswith("_") and path.is_file():
                    seen.add(path.stem)
                    out.append((path.stem, path))
    return out


def find_plugin(name) -> Path | None:
    """The file of user plugin `name` (or `name` itself when it is a .py path), or None."""
    text = os.fspath(name)
    if text.endswith(".py"):
        from ganfx.runtime.files import check_regular_file

        return check_regular_file(Path(text).expanduser(), UserInputError, missing="plugin file not found")
    return next((path for stem, path in list_plugins() if stem == text), None)


def load_plugin(path) -> ImageEffect:
    """Import a plugin file and return its PLUGIN; errors name the file."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"ganfx_user_plugin_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a user's file: any error is reported as one line naming it
        raise ModelLoadError(f"plugin failed to import: {type(exc).__name__}: {exc}", path=path) from None
    plugin = getattr(module, "PLUGIN", None)
    if not isinstance(plugin, ImageEffect):
        raise ModelLoadError("a plugin file must define PLUGIN = an ImageEffect instance", path=path)
    return plugin


def open_plugin(name_or_path, **load_options) -> ImageEffect:
    """A model name/path -> GanEffect; a user plugin name/.py path -> its PLUGIN.

    `load_options` go to ganfx.runtime.load_model for models (providers, precision, threads).
    """
    from .gan_effect import GanEffect

    path = find_plugin(name_or_path) if os.fspath(name_or_path).endswith(".py") else None
    if path is not None:
        return load_plugin(path)
    try:
        return GanEffect.load(name_or_path, **load_options)
    except ModelLoadError as exc:
        path = find_plugin(name_or_path) if exc.path is None else None  # only a name that matched no model
        if path is None:
            raise
        return load_plugin(path)
