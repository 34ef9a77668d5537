"""The Blender extension's "Train ganfx Effect" job, without bpy: the trainer runs in its own process.

plugin/blender/training.py builds the `ganfx train effect` and `ganfx export` command lines,
runs them with a trainer Python (here this test's own), reads progress from the run's
metrics.jsonl and copies the exported model into the models folder. These tests run real tiny
trainings through the real CLI; tests/plugin/test_blender.py runs the operator in real bpy.
"""

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from ganfx.plugin.blender import jobs, training
from ganfx.plugin.cli import build_parser
from ganfx.runtime.io.images import write_png

sys.path.insert(0, str(Path(__file__).parent.parent))
from media import frame_image, make_clip  # noqa: E402

# A network and a schedule small enough to train in a second or two on one CPU thread.
TINY = ("--patch", "32", "--batch", "2", "--g-width", "8", "--g-blocks", "1", "--d-width", "8",
        "--sample-every", "2", "--checkpoint-every", "2", "--threads", "1", "--device", "cpu")


def treated(n: int) -> np.ndarray:
    """Frame n of media.make_clip with a simple 'effect' painted on: darker."""
    return (frame_image(n) * 0.7).astype(np.uint8)


def write_keyframes(folder: Path, numbers) -> str:
    folder.mkdir(parents=True)
    for n in numbers:
        write_png(folder / f"{n:04d}.png", treated(n))
    return str(folder)


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    root = tmp_path_factory.mktemp("footage")
    clip = make_clip(root / "plate.mp4", frames=12, audio=None)  # 64x48
    return str(clip), write_keyframes(root / "kf", [1, 8]), write_keyframes(root / "held", [4])


@pytest.fixture
def spec(footage, tmp_path):
    clip, kf, held = footage
    (tmp_path / "models").mkdir()
    return training.TrainingSpec(python=sys.executable, video=clip, keyframes=kf, holdout=held, name="fx",
                                 work=tmp_path / "out" / "fx_training", models=tmp_path / "models",
                                 iterations=4, options=TINY)


def trainer_processes(marker: Path) -> list:
    """Pids of running processes whose command line mentions `marker` (Linux /proc; [] elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if str(marker).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_commands_are_what_the_real_cli_parses(spec, tmp_path):
    spec = dataclasses.replace(spec, masks=spec.keyframes, max_minutes=0.5)
    runs = tmp_path / "runs"
    cmd = training.train_command(spec, runs)
    assert cmd[:3] == [sys.executable, "-m", "ganfx.plugin.cli"]  # the package's own module entry
    args = build_parser().parse_args(cmd[3:])
    assert (args.command, args.task) == ("train", "effect")
    assert (args.video, args.keyframes, args.masks, args.holdout) == (spec.video, spec.keyframes, spec.keyframes,
                                                                      spec.holdout)
    assert (args.name, args.output, args.iterations, args.max_minutes) == ("fx", str(runs), 4, 0.5)
    assert args.no_progress and (args.patch, args.threads, args.device) == (32, 1, "cpu")  # options come last
    assert args.log_every == 1 and [training.log_every(n) for n in (4, 4000, 10**6)] == [1, 40, 50]
    cmd = training.export_command(spec, runs / "00000-fx", tmp_path / "fx.onnx")
    args = build_parser().parse_args(cmd[3:])
    assert (args.command, args.run, args.output) == ("export", str(runs / "00000-fx"), str(tmp_path / "fx.onnx"))
    no_extras = training.train_command(dataclasses.replace(spec, masks="", holdout="", options=()), runs)
    assert "--masks" not in no_extras and "--holdout" not in no_extras and "--max-minutes" in no_extras


@pytest.mark.parametrize("case", ["python unset", "python missing", "python not executable", "clip missing",
                                  "keyframes missing", "keyframes empty", "holdout missing", "bad name",
                                  "models missing", "model exists"])
def test_checks_refuse_before_any_process_with_one_line(spec, tmp_path, case):
    changes, want = {}, ""
    if case == "python unset":
        changes, want = {"python": " "}, "no trainer Python set: in the ganfx preferences"
    elif case == "python missing":
        changes, want = {"python": str(tmp_path / "nopython")}, f"{tmp_path / 'nopython'}: trainer Python not found"
    elif case == "python not executable":
        (tmp_path / "python").write_text("")
        changes, want = {"python": str(tmp_path / "python")}, "python: trainer Python is not an executable file"
    elif case == "clip missing":
        changes, want = {"video": str(tmp_path / "gone.mp4")}, "gone.mp4: clip of the strip not found"
    elif case == "keyframes missing":
        changes, want = {"keyframes": str(tmp_path / "kf")}, f"{tmp_path / 'kf'}: keyframes folder not found"
    elif case == "keyframes empty":
        (tmp_path / "kf").mkdir()
        (tmp_path / "kf" / ".DS_Store").write_text("")  # hidden files are not keyframes
        changes, want = {"keyframes": str(tmp_path / "kf")}, "kf: keyframes folder is empty"
    elif case == "holdout missing":
        changes, want = {"holdout": str(tmp_path / "held")}, "held: held-out folder not found"
    elif case == "bad name":
        changes, want = {"name": "a/b"}, "model name 'a/b': use letters"
    elif case == "models missing":
        changes, want = {"models": tmp_path / "nomodels"}, "nomodels: models folder not found"
    else:
        (spec.models / "fx.onnx").write_bytes(b"")
        want = "fx.onnx: exists already in the models folder; choose another model name"
    bad = dataclasses.replace(spec, **changes)
    with pytest.raises(jobs.UserInputError) as err:
        bad.check()
    assert want in str(err.value) and "\n" not in str(err.value)
    job = jobs.Job(training.train_effect, bad)  # the job refuses the same way, starting nothing
    job.run()
    assert job.error == str(err.value) and not spec.work.parent.exists()


def test_progress_from_metrics_lines_and_the_last_error_line(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    assert training.read_progress(metrics) == training.Progress(0, None)  # not written yet
    metrics.write_text('{"iteration": 50, "seconds": 1.0, "l1": 0.1}\n'
                       '{"iteration": 100, "holdout_psnr": 21.5, "holdout_ssim": 0.9}\n'
                       '[1, 2]\n'
                       '{"iteration": 150, "l1": 0.05}\n'
                       '{"iteration": 200, "hold')  # the line being written
    progress = training.read_progress(metrics)
    assert progress == training.Progress(150, 21.5)
    assert progress.describe(4000) == "training 150/4000, held-out PSNR 21.50 dB"
    assert training.Progress(3).describe(4) == "training 3/4"
    log = tmp_path / "train.log"
    log.write_text("LoopConfig:\n  iterations = 4\n 10%|#  | 1/4\r 50%|### | 2/4\r\n"
                   "ganfx train: error: /kf/0099.png: frame 99 is outside the clip\n\n")
    assert training.last_error_line(log) == "/kf/0099.png: frame 99 is outside the clip"


def test_trains_exports_and_puts_the_model_into_the_models_folder(spec):
    from ganfx.runtime.contract import read_spec
    from ganfx.runtime.model import load_model

    job = jobs.Job(training.train_effect, spec)
    job.start()
    seen = []
    while not job.done:
        if job.status and job.status not in seen:
            seen.append(job.status)
        job.join(0.05)
    assert not job.error, job.error
    assert job.result == spec.models / "fx.onnx" and sorted(os.listdir(spec.models)) == ["fx.onnx"]
    assert (job.done_frames, job.total_frames, job.progress) == (4, 4, 1.0)
    # The live figure is the run's latest held-out PSNR, as the loop logged it.
    run = spec.work / "runs" / "00000-fx"
    last = training.read_progress(run / "metrics.jsonl")
    assert last.iteration == 4 and last.holdout_psnr is not None
    assert last.describe(4) in seen and seen[-1] == "exporting the model"
    assert (spec.work / "train.log").is_file() and (run / "config.json").is_file()
    assert not [p for p in spec.work.parent.iterdir() if p.name.startswith(".")]  # no partial folder left
    # The model is a ganfx effect the runtime renders, and the extension's model menu offers it.
    assert read_spec(job.result).kind == "effect" and read_spec(job.result).name == "fx"
    out = load_model(job.result, threads=1).apply(frame_image(4))
    assert out.shape == (48, 64, 3)
    assert ("fx", "effect") in jobs.model_names(str(spec.models))
    again = jobs.Job(training.train_effect, spec)  # the same name again: refused, the model kept
    again.run()
    assert "exists already" in again.error and sorted(os.listdir(spec.models)) == ["fx.onnx"]


def test_cancel_terminates_the_trainer_and_leaves_nothing(spec):
    long = dataclasses.replace(spec, iterations=100000, options=TINY + ("--log-every", "1"))
    job = jobs.Job(training.train_effect, long)
    job.start()
    while not job.done and job.done_frames < 2:  # it trains: iterations come in from metrics.jsonl
        job.join(0.05)
    assert not job.done, job.error
    assert job.status.startswith("training ") and job.total_frames == 100000
    job.cancel()
    job.join(30)
    assert job.done and job.error == "cancelled"
    assert trainer_processes(spec.work.parent) == []  # the trainer process is gone
    assert os.listdir(spec.work.parent) == [] and os.listdir(spec.models) == []


def test_failed_training_reports_the_trainers_last_error_line(spec, tmp_path):
    kf = tmp_path / "badkf"
    write_keyframes(kf, [2])
    (kf / "0002.png").rename(kf / "0099.png")  # no frame 99 in a 12-frame clip
    job = jobs.Job(training.train_effect, dataclasses.replace(spec, keyframes=str(kf)))
    job.run()
    assert job.error.startswith("training failed: ") and "\n" not in job.error
    assert f"{kf / '0099.png'}: frame 99 is outside the clip plate.mp4 (frames 0-11)" in job.error
    assert os.listdir(spec.work.parent) == [] and os.listdir(spec.models) == []
