"""Training an effect from painted keyframes, from Blender: the trainer runs as a separate process.

Blender's Python has no torch, so the extension runs the ganfx command line with the trainer's
Python (a preference): `ganfx train effect` on the strip's clip and the keyframes folder, then
`ganfx export`. Progress comes from the run's metrics.jsonl (the loop writes a JSON line with
"iteration" every few steps and "holdout_psnr" at each sample), not from scraping a progress
bar. Needs no bpy; the operator (operators.py) builds the spec and runs it as a Job:

    spec = TrainingSpec(python="/opt/ganfx/bin/python", video="/shots/plate.mp4", keyframes="/shots/kf",
                        name="grade", iterations=2000, work=Path("/shots/ganfx/grade_training"),
                        models=Path("~/ganfx_models").expanduser())
    job = Job(train_effect, spec.check())
    job.start()     # job.status: "training 120/2000, held-out PSNR 27.31 dB"; job.cancel() stops it
    job.result      # Path("~/ganfx_models/grade.onnx")

The run and the logs go into `work`, under a hidden temporary name renamed when the model is
exported; the model is copied into the models folder under a temporary name and renamed
(ganfx.runtime.files). A cancel or a failure stops the process and leaves neither behind.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ganfx.runtime.errors import GanfxError, UserInputError

from .jobs import Cancelled

CLI = ("-m", "ganfx.plugin.cli")  # the trainer Python runs the ganfx command line as a module
POLL_SECONDS = 0.2
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_CLI_ERROR = re.compile(r"^ganfx \w+: error: ")
_LIVE = set()  # trainer processes running now: stopped if Blender quits first


@atexit.register
def _stop_live() -> None:
    for process in list(_LIVE):
        process.terminate()


@dataclass(frozen=True)
class TrainingSpec:
    python: str  # the trainer's Python interpreter (has ganfx[train]): a path, or a name on PATH
    video: str  # the clip the keyframes treat
    keyframes: str  # folder of treated frames named by frame number of the clip (0012.png = frame 12, first 0)
    name: str  # model name: the contract's name and the file name in the models folder
    work: Path  # folder to create for the run and its logs (must not exist)
    models: Path  # models folder the exported model goes into
    masks: str = ""  # optional folder of keyframe masks, same names (white = the loss applies)
    holdout: str = ""  # optional folder of held-out treated frames, same names: the live PSNR
    iterations: int = 4000
    max_minutes: float = 0.0  # stop earlier after this much training time (0 = no limit)
    options: tuple = ()  # more `ganfx train effect` options, e.g. ("--device", "cuda")

    @property
    def model_path(self) -> Path:
        return self.models / f"{self.name}.onnx"

    def check(self) -> "TrainingSpec":
        """Refuse what would fail before any process starts: one line naming the file. -> self"""
        find_python(self.python)
        video = Path(self.video)
        if not video.is_file():
            raise UserInputError("clip of the strip not found", path=video)
        for what, folder in (("keyframes", self.keyframes), ("masks", self.masks), ("held-out", self.holdout)):
            if folder and not Path(folder).is_dir():
                raise UserInputError(f"{what} folder not found", path=folder)
        if not self.keyframes:
            raise UserInputError("no keyframes folder chosen")
        if not any(not p.name.startswith(".") and p.is_file() for p in Path(self.keyframes).iterdir()):
            raise UserInputError("keyframes folder is empty (put treated frames named like 0012.png in it)",
                                 path=self.keyframes)
        if not _NAME.fullmatch(self.name) or self.name.endswith(".onnx"):
            raise UserInputError(f"model name {self.name!r}: use letters, digits, '_', '-' and '.'")
        if not self.models.is_dir():
            raise UserInputError("models folder not found", path=self.models)
        if self.model_path.exists():
            raise UserInputError("exists already in the models folder; choose another model name",
                                 path=self.model_path)
        if self.iterations < 1 or self.max_minutes < 0:
            raise UserInputError("iterations must be at least 1 and minutes at least 0")
        return self


def find_python(python: str) -> str:
    """The trainer Python as a runnable file. -> its path"""
    python = (python or "").strip()
    if not python:
        raise UserInputError("no trainer Python set: in the ganfx preferences, set the Python that has "
                             "ganfx[train] installed (Blender's own has no torch)")
    found = shutil.which(python)
    if found is None:
        problem = "is not an executable file" if Path(python).exists() else "not found"
        raise UserInputError(f"trainer Python {problem}", path=python)
    return found


def log_every(iterations: int) -> int:
    """Metrics lines often enough for a live progress display: ~100 per run, at most every 50 steps."""
    return max(1, min(50, iterations // 100))


def train_command(spec: TrainingSpec, runs: Path) -> list:
    """The `ganfx train effect` command line (no shell) that trains into a new run folder under `runs`."""
    cmd = [find_python(spec.python), *CLI, "train", "effect", "--video", spec.video, "--keyframes", spec.keyframes]
    if spec.masks:
        cmd += ["--masks", spec.masks]
    if spec.holdout:
        cmd += ["--holdout", spec.holdout]
    cmd += ["--name", spec.name, "-o", str(runs), "--iterations", str(spec.iterations),
            "--log-every", str(log_every(spec.iterations)), "--no-progress"]
    if spec.max_minutes:
        cmd += ["--max-minutes", str(spec.max_minutes)]
    return cmd + list(spec.options)  # last, so that they win over the above


def export_command(spec: TrainingSpec, run: Path, output: Path) -> list:
    return [find_python(spec.python), *CLI, "export", str(run), "-o", str(output)]


@dataclass(frozen=True)
class Progress:
    iteration: int = 0  # the latest iteration logged
    holdout_psnr: float | None = None  # the latest held-out PSNR in dB (None before the first sample)

    def describe(self, total: int) -> str:
        psnr = "" if self.holdout_psnr is None else f", held-out PSNR {self.holdout_psnr:.2f} dB"
        return f"training {self.iteration}/{total}{psnr}"


def read_progress(metrics: Path) -> Progress:
    """The latest iteration and held-out PSNR in a run's metrics.jsonl; lines that do not parse
    (the one being written, anything that is not a JSON object) are skipped."""
    try:
        text = Path(metrics).read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return Progress()
    iteration, psnr = 0, None
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        if isinstance(row.get("iteration"), int):
            iteration = max(iteration, row["iteration"])
        if isinstance(row.get("holdout_psnr"), (int, float)):
            psnr = float(row["holdout_psnr"])
    return Progress(iteration, psnr)


def last_error_line(log: Path) -> str:
    """The last line a failed process wrote (its error), without the CLI's "ganfx CMD: error:" prefix."""
    try:
        text = Path(log).read_text(errors="replace")
    except FileNotFoundError:
        return ""
    lines = [ln.strip() for ln in re.split(r"[\r\n]+", text) if ln.strip()]
    return _CLI_ERROR.sub("", lines[-1]) if lines else ""


def run_process(cmd: list, log: Path, job, tick=None) -> int:
    """Run `cmd` (output into `log`), calling tick() while it runs; job.cancel() terminates it. -> exit code"""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the log is complete up to the moment it stops
    with open(log, "wb") as out:
        try:
            process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=log.parent, env=env,
                                       creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        except OSError as exc:
            raise UserInputError(f"cannot run the trainer Python ({exc.strerror or exc})", path=cmd[0]) from None
        _LIVE.add(process)
        try:
            while process.poll() is None:
                if job.cancelled:
                    raise Cancelled
                if tick is not None:
                    tick()
                time.sleep(POLL_SECONDS)
        finally:  # cancelled, or anything else went wrong here: the process does not outlive the job
            _stop(process)
            _LIVE.discard(process)
    return process.returncode


def _stop(process, seconds: float = 10) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _run_folder(runs: Path) -> Path:
    folders = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    if not folders:
        raise GanfxError("the trainer finished without a run folder", path=runs)
    return folders[-1]


def _failed(what: str, log: Path, code: int) -> GanfxError:
    line = last_error_line(log)
    return GanfxError(f"{what} failed: {line}" if line else f"{what} failed with exit code {code} (no output)")


def train_effect(spec: TrainingSpec, job) -> Path:
    """Train, export, and put the model into the models folder. -> the model's path"""
    from ganfx.runtime.files import atomic_path

    spec.check()
    job.status = "starting the trainer"
    with atomic_path(spec.work, folder=True) as work:
        runs = work / "runs"

        def tick():
            metrics = next(runs.glob("*/metrics.jsonl"), None) if runs.is_dir() else None
            if metrics is None:  # still starting (importing torch, reading the clip)
                return
            progress = read_progress(metrics)
            job.report(progress.iteration, spec.iterations)
            job.status = progress.describe(spec.iterations)

        log = work / "train.log"
        code = run_process(train_command(spec, runs), log, job, tick)
        if code:
            raise _failed("training", log, code)
        tick()
        run = _run_folder(runs)
        job.status = "exporting the model"
        exported, log = work / f"{spec.name}.onnx", work / "export.log"
        code = run_process(export_command(spec, run, exported), log, job)
        if code or not exported.is_file():
            raise _failed("export", log, code)
        job.check()
        with atomic_path(spec.model_path, overwrite=False) as tmp:  # the models folder sees it whole or not at all
            shutil.copyfile(exported, tmp)
    return spec.model_path
