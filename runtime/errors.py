"""Typed errors of ganfx. Library code raises these; only the CLI and hosts turn
them into a message and an exit code.

Every message is one line and names the file it is about, when there is one:

    ContractError("missing key 'ganfx.kind'", path="brick.onnx")
    -> "brick.onnx: missing key 'ganfx.kind'"
"""

from __future__ import annotations

import os

_MAX_MESSAGE = 1000  # characters of one error line


def first_line(exc: BaseException) -> str:
    """The first line of a library's exception (its strerror where it has one: FFmpeg, OS), to go inside
    one of our messages; the exception's type name when it says nothing."""
    text = str(getattr(exc, "strerror", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class GanfxError(Exception):
    """Base of every ganfx error: a one-line message, optionally about a file."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, about: str | None = None):
        self.message = " ".join(str(message).split())  # keep it on one line
        if len(self.message) > _MAX_MESSAGE:  # a 10 MB argument must not become a 10 MB error line
            self.message = self.message[: _MAX_MESSAGE - 3] + "..."
        self.path = None if path is None else os.fspath(path)
        # Which setting the problem is about ("frames", "tile", "overwrite", ...): a host adds how
        # to change it (the CLI names its flag); the library never names a CLI option.
        self.about = about
        super().__init__(self.message)

    def __str__(self) -> str:
        if not self.path:
            return self.message
        # A file name may hold a newline or other control characters: show them escaped, on one line.
        path = self.path if self.path.isprintable() else self.path.encode("unicode_escape", "replace").decode()
        return f"{path}: {self.message}"


class ModelLoadError(GanfxError):
    """A model file is missing, unreadable, not ONNX, or unsafe to load."""


class ContractError(GanfxError):
    """A model's ganfx metadata is missing, invalid, or disagrees with its graph."""


class ProviderError(GanfxError):
    """An execution provider was asked for that onnxruntime cannot give."""


class MediaIOError(GanfxError):
    """A video, image or frame sequence cannot be read or written."""


class OutputExistsError(MediaIOError):
    """The output is there already and replacing it was not allowed.

    Hosts say how to allow it (the CLI: --overwrite, and --resume where `resumable`).
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, resumable: bool = False):
        super().__init__(message, path, about="overwrite_or_resume" if resumable else "overwrite")
        self.resumable = resumable  # an image sequence: the frames already there could be kept


class UserInputError(GanfxError):
    """A value given by the user (argument, parameter, range) is invalid."""


class MissingDependencyError(GanfxError):
    """An optional package is needed for this feature; the message says how to install it."""


def require(module: str, pip_name: str, extra: str | None = None):
    """Import an optional dependency or raise MissingDependencyError with an install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = f'pip install "ganfx[{extra}]"' if extra else f"pip install {pip_name}"
        raise MissingDependencyError(f"{module} is not installed ({exc}); install it with: {hint}") from None
