"""Writing files safely: a temporary name in the same folder, renamed into place when complete.

The one implementation of write-to-temp-then-rename (docs/architecture.md, "Files"); every
writer of ganfx — media writers, PNGs, checkpoints, configs, zips — goes through it, so a
crash, a kill or an error never leaves a half-written file at the final name and never
touches an existing one.

    with atomic_path("out/brick-eval.png", overwrite=False) as tmp:   # tmp: .brick-eval.partial-PID.png
        write_something(tmp)                                         # renamed on success, removed on error
    write_atomic("runs/00003-brick/config.json", text)                # bytes or str in one call

Partial files are named `.NAME.partial-PID.EXT`; `remove_stale_partials` deletes those of
processes that no longer run (a render killed with SIGKILL leaves one behind).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from pathlib import Path

from .errors import MediaIOError, OutputExistsError

_PARTIAL = re.compile(r"^\.(?P<stem>.*)\.partial-(?P<pid>\d+)(?P<suffix>\.[^.]*)?$")


def folders_from_env(var: str) -> list:
    """The folders an environment variable names: os.pathsep separated, ~ expanded, empty entries skipped."""
    return [Path(f).expanduser() for f in os.environ.get(var, "").split(os.pathsep) if f]


def partial_path(final) -> Path:
    """The temporary name `final` is written under, in its folder (a rename is atomic there)."""
    final = Path(final)
    return final.with_name(f".{final.stem}.partial-{os.getpid()}{final.suffix}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_partials(*finals) -> list:
    """Remove partial files (or folders) of `finals` left by processes that no longer run.

    One scan per folder however many finals there are (a sequence writer passes every frame).
    """
    by_folder = {}
    for final in map(Path, finals):
        by_folder.setdefault(final.parent, set()).add(final.name)
    removed = []
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder)) if folder.is_dir() else []
        except OSError:
            continue
        for entry in entries:
            m = _PARTIAL.match(entry.name)
            if not m or m.group("stem") + (m.group("suffix") or "") not in names or _alive(int(m.group("pid"))):
                continue
            path = Path(entry.path)
            try:
                shutil.rmtree(path) if entry.is_dir(follow_symlinks=False) else path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def check_target(final, overwrite: bool = False, what: str = "output") -> Path:
    """Refuse a target that cannot be (over)written: MediaIOError naming the file and the problem."""
    final = Path(final)
    if final.is_dir():
        raise MediaIOError(f"is a folder; the {what} must be a file name", path=final)
    if final.exists() or final.is_symlink():
        if not final.is_file():
            raise MediaIOError(f"exists and is not a regular file; the {what} must be a file name", path=final)
        if not overwrite:
            raise OutputExistsError("exists already; choose another name or allow overwriting", path=final)
    parent = final.parent
    if not parent.is_dir():
        raise MediaIOError("folder does not exist" if not parent.exists() else "is not a folder", path=parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MediaIOError("folder cannot be written (permission denied)", path=parent)
    return final


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def check_regular_file(path, error=MediaIOError, missing: str = "no such file") -> Path:
    """Refuse anything but a regular file (or a link to one) before it is opened.

    Opening a named pipe blocks until something writes to it and a device may never end, so
    readers of ganfx look first: `error` (a GanfxError class) names the file and what it is.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(missing, path=path) from None
    except OSError as exc:
        raise error(f"cannot read ({exc.strerror or exc})", path=path) from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise error(f"is {kind}, not a file", path=path)
    return path


def remove_quietly(path) -> None:
    """Remove a temporary file or folder; a missing one is fine (it may never have been created)."""
    path = Path(path)
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


class PartialFile:
    """A file written over time (a video, a frame): `tmp` now, renamed to `final` by `commit()`.

        part = PartialFile("out.mp4", overwrite=False)      # refuses an existing out.mp4 up front
        encode_into(part.tmp); part.commit()                 # or part.abort() on any error

    Writers that live across many calls use this; one-shot writes use `atomic_path`, which is
    built on it. `folder=True` is for a folder renamed as a whole (it must not exist yet);
    `clean_stale=False` skips the folder scan for partials of killed processes (a writer of
    many frames scans once, up front).
    """

    def __init__(self, final, overwrite: bool = True, folder: bool = False, clean_stale: bool = True):
        if folder:
            self.final = Path(final)
            if self.final.exists():
                raise MediaIOError("output folder exists already; choose another name", path=self.final)
        else:
            self.final = check_target(final, overwrite)
        self.overwrite = overwrite
        if clean_stale:
            remove_stale_partials(self.final)
        self.tmp = partial_path(self.final)

    def commit(self) -> Path:
        """Rename the finished temporary to the final name; on any failure remove it and raise one line."""
        if not self.overwrite and self.final.exists():  # appeared while we were writing
            self.abort()
            raise OutputExistsError("appeared while writing; it was left as it is", path=self.final)
        try:
            os.replace(self.tmp, self.final)
        except OSError as exc:
            self.abort()
            raise MediaIOError(f"cannot finish the output ({exc.strerror or exc})", path=self.final) from None
        return self.final

    def abort(self) -> None:
        remove_quietly(self.tmp)


@contextlib.contextmanager
def atomic_path(final, overwrite: bool = True, folder: bool = False, clean_stale: bool = True):
    """Yield a temporary path beside `final`; rename it to `final` if the block succeeds.

    `overwrite=False` refuses an existing `final` up front; `folder=True` yields an empty
    folder (renamed as a whole: a folder of frames appears complete or not at all); see
    PartialFile. On any error (or KeyboardInterrupt) the temporary is removed and `final`
    is untouched.
    """
    part = PartialFile(final, overwrite, folder, clean_stale)
    try:
        if folder:
            part.tmp.mkdir(parents=True)
        yield part.tmp
    except OSError as exc:
        part.abort()
        raise MediaIOError(f"cannot write ({exc.strerror or exc})", path=part.final) from None
    except BaseException:
        part.abort()
        raise
    part.commit()


def write_atomic(final, data: bytes | str, overwrite: bool = True) -> Path:
    """Write `data` (bytes, or str as UTF-8) to `final` through a temporary name."""
    with atomic_path(final, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
    return Path(final)
