"""Effect model cards from real parts: a tiny real training, a real export, a real `ganfx eval
--propagate-from --json`, then `python -m ganfx.trainer.model_card`."""

import dataclasses
import json
import shlex

import numpy as np
import pytest
from effect_fixtures import make_clip, make_keyframes

from ganfx.plugin.cli import build_parser
from ganfx.plugin.cli import main as ganfx
from ganfx.plugin.cli.train_cmd import overrides
from ganfx.plugin.cli.train_effect_cmd import _TABLE
from ganfx.trainer.effect_task import EffectConfig
from ganfx.trainer.model_card import main as model_card

TEACHER = "posterize"  # a named target process, fast enough to run on every frame of the clip


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    """A tiny effect trained 6 steps (held-out PSNR at 2, 4, 6), exported, evaluated, its card written."""
    from ganfx.trainer.config import LoopConfig
    from ganfx.trainer.effect_task import EffectTask
    from ganfx.trainer.export import export_run
    from ganfx.trainer.loop import train

    root = tmp_path_factory.mktemp("card")
    clip = make_clip(root / "pan.mp4", frames=10)
    kf = make_keyframes(root / "kf", clip, [1, 8], process=TEACHER)
    held = make_keyframes(root / "held", clip, [4, 6], process=TEACHER)
    cfg = EffectConfig(video=str(clip), keyframes=str(kf), holdout=str(held), name="tinyfx", target_process=TEACHER,
                       patch=32, batch=2, g_width=8, g_blocks=1, d_width=8, consistency=0.5)
    loop = LoopConfig(iterations=6, log_every=2, sample_every=2, checkpoint_every=6, threads=1, progress=False)
    run = train(EffectTask(cfg), loop, root / "runs" / "00000-tinyfx", log=lambda *a: None).run_dir
    model, _ = export_run(run, root / "tinyfx.onnx")
    return {"root": root, "run": run, "model": model, "cfg": cfg}


@pytest.fixture(scope="module")
def written(card):
    import contextlib
    import io

    root = card["root"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert ganfx(["eval", str(card["model"]), "--video", str(root / "pan.mp4"), "--propagate-from",
                      str(root / "kf"), "--far", "3", "--png", str(root / "tinyfx-eval.png"), "--json"]) == 0
    (root / "tinyfx-eval.json").write_text(out.getvalue())
    (root / "notes.md").write_text("Blurry after 6 steps.")
    with contextlib.redirect_stdout(io.StringIO()):
        assert model_card([str(card["model"]), "--run", str(card["run"]), "--eval", str(root / "tinyfx-eval.json"),
                           "--data", "A synthetic pan (effect_fixtures).", "--notes", str(root / "notes.md")]) == 0
    return json.loads(out.getvalue()), (root / "tinyfx.md").read_text()


def _row(text: str, first_cell: str) -> list:
    line = next(ln for ln in text.splitlines() if ln.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def test_eval_times_teacher_and_model(written):
    from ganfx.trainer.effect_eval import format_report

    report, _ = written
    speed = report["speed"]
    assert speed["teacher"] == TEACHER and speed["frames"] == 10 and speed["size"] == [320, 240]
    assert speed["teacher_s_per_frame"] > 0 and speed["model_s_per_frame"] > 0
    assert speed["speed_ratio"] == pytest.approx(speed["teacher_s_per_frame"] / speed["model_s_per_frame"])
    assert report["temporal"]["reference_effect"] == TEACHER  # the contract's target process, by default
    assert report["heldout"] == {"picked": "far", "frames": [0, 4, 6], "targets": f"target process {TEACHER}"}
    assert f"speed ratio {speed['speed_ratio']:.2f}" in format_report(report)


def test_card_tables_hold_the_eval_numbers(written, card):
    report, text = written
    c, t, s = report["comparison"], report["temporal"], report["speed"]
    assert text.startswith("# tinyfx — ganfx effect model")
    assert _row(text, "ganfx (this model)") == [f"{c['model']['psnr']:.2f} dB", f"{c['model']['ssim']:.4f}",
                                                f"{c['model']['look']:.4f}", f"{c['model']['ratio']:.3f}"]
    p = c["propagation"]
    assert _row(text, f"keyframe propagation ({p['method']})") == [f"{p['psnr']:.2f} dB", f"{p['ssim']:.4f}",
                                                                  f"{p['look']:.4f}", f"{p['ratio']:.3f}"]
    assert "the teacher repainted" not in text  # a teacher without random strokes has no floor
    for r in report["per_pair"]:
        assert _row(text, r["name"]) == [str(r["gap"]), f"{r['psnr']:.2f}", f"{r['ssim']:.4f}", f"{r['look']:.4f}",
                                         f"{r['propagation_psnr']:.2f}", f"{r['propagation_ssim']:.4f}",
                                         f"{r['propagation_look']:.4f}"]
    assert _row(text, "time per frame") == [f"{s['teacher_s_per_frame'] * 1e3:.3g} ms",
                                            f"{s['model_s_per_frame'] * 1e3:.3g} ms", f"speed {s['speed_ratio']:.2f}"]
    assert _row(text, "warping error") == [f"{t['reference_warping_error']:.5f}", f"{t['warping_error']:.5f}",
                                           f"flicker {t['ratio']:.3f}"]
    assert "frames 1, 8 of `pan.mp4`" in text and "frames 0, 4, 6, picked by `ganfx eval --far 3`" in text
    assert f"Target process `{TEACHER}`" in text and "Bilateral filter 9/40/5" in text  # the process's own words
    assert "![held-out frames: input | propagation | model | teacher](tinyfx-eval.png)" in text
    assert "Blurry after 6 steps." in text
    assert str(card["root"]) not in text  # no path of the machine that trained


def test_card_time_to_quality_curve(written, card):
    import cv2

    from ganfx.trainer.effect_data import read_image
    from ganfx.trainer.plots import MARKER

    _, text = written
    rows = [json.loads(ln) for ln in (card["run"] / "metrics.jsonl").read_text().splitlines()]
    points = [(r["seconds"] / 60, r["holdout_psnr"]) for r in rows if "holdout_psnr" in r]
    assert len(points) == 3  # samples at 2, 4, 6
    for minutes, value in points:
        assert _row(text, f"{minutes:.3g}") == [f"{value:.2f} dB"]
    png = card["root"] / "tinyfx-time-to-quality.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![held-out PSNR vs training minutes](tinyfx-time-to-quality.png)" in text
    image = read_image(png)  # [H,W,3]
    image = np.round(image * 255).astype(np.uint8) if image.dtype != np.uint8 else image
    dots = np.all(image == np.array(MARKER, np.uint8), axis=2).astype(np.uint8)
    count, _ = cv2.connectedComponents(dots)
    assert count - 1 == len(points)  # one dot per logged point (label 0 is the background)


def test_card_commands_rebuild_the_run(written, card, monkeypatch, capsys):
    _, text = written
    lines = text.split("## Reproduce")[1].split("```sh\n")[1].split("```")[0].splitlines()
    train_line = next(ln for ln in lines if ln.startswith("ganfx train effect"))
    args = build_parser().parse_args(shlex.split(train_line)[1:])
    values = overrides(args, _TABLE)
    values.update({f: getattr(args, f) for f in ("hflip", "rot90") if getattr(args, f) is not None})
    portable = dict(video="pan.mp4", keyframes="kf", holdout="held")  # the data's names, no machine folders
    assert dataclasses.replace(EffectConfig(), **values) == dataclasses.replace(card["cfg"], **portable)
    assert args.iterations == 6 and args.threads == 1
    monkeypatch.chdir(card["root"])  # where the card's data names are: the command really runs
    assert ganfx(shlex.split(train_line)[1:] + ["--dry-run"]) == 0
    assert "dry run: data and networks OK" in capsys.readouterr().out

    eval_line = next(ln for ln in lines if ln.startswith("ganfx eval"))
    command, _, target = eval_line.partition(" > ")
    ev = build_parser().parse_args(shlex.split(command)[1:])
    assert (ev.model, ev.video, ev.propagate_from, ev.far, ev.reference, ev.json) == (
        "tinyfx.onnx", "pan.mp4", "kf", 3, TEACHER, True) and target == "tinyfx-eval.json"


def test_card_refuses_a_report_without_propagation(card, tmp_path, capsys):
    report = tmp_path / "plain.json"
    report.write_text(json.dumps({"model": "tinyfx", "psnr": 20.0, "per_pair": []}))
    assert model_card([str(card["model"]), "--run", str(card["run"]), "--eval", str(report), "--data", "d"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(report) in err and "--propagate-from" in err, err
    assert model_card([str(card["model"]), "--run", str(tmp_path), "--eval", str(report), "--data", "d"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(tmp_path / "config.json") in err, err


def test_card_credits_the_vgg_weights_only_when_trained_with_them(written, card, tmp_path):
    import contextlib
    import io
    import shutil

    _, text = written
    assert "CC BY 4.0" not in text
    run = tmp_path / "run"
    shutil.copytree(card["run"], run)
    config = json.loads((run / "config.json").read_text())
    config["effect"]["vgg"] = 1.0  # as a run trained with --vgg 1 records it
    (run / "config.json").write_text(json.dumps(config))
    shutil.copy(card["model"], tmp_path / "tinyfx.onnx")
    with contextlib.redirect_stdout(io.StringIO()):
        assert model_card([str(tmp_path / "tinyfx.onnx"), "--run", str(run), "--eval",
                           str(card["root"] / "tinyfx-eval.json"), "--data", "d"]) == 0
    with_vgg = (tmp_path / "tinyfx.md").read_text()
    assert "VGG19 features (`--vgg`)" in with_vgg and "CC BY 4.0" in with_vgg
    assert "--vgg 1.0" in with_vgg.split("## Reproduce")[1]
