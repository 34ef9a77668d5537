"""`ganfx train effect`, `ganfx export` and `ganfx eval` on an effect model, end to end, and their one-line errors."""

import json

import pytest
from effect_fixtures import make_clip, make_keyframes, make_pairs

from ganfx.plugin.cli import main

TINY = ["--patch", "32", "--batch", "2", "--g-width", "8", "--g-blocks", "1", "--d-width", "8",
        "--iterations", "2", "--log-every", "1", "--sample-every", "2", "--checkpoint-every", "2", "--threads", "1",
        "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    root = tmp_path_factory.mktemp("footage")
    clip = make_clip(root / "pan.mp4", frames=8)
    return clip, make_keyframes(root / "kf", clip, [1, 6]), make_keyframes(root / "held", clip, [3])


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_train_export_eval(tmp_path, footage, capsys):
    clip, kf, held = footage
    runs = tmp_path / "runs"
    assert main(["train", "effect", "--video", str(clip), "--keyframes", str(kf), "--holdout", str(held),
                 "--name", "pan", "-o", str(runs)] + TINY) == 0
    run = runs / "00000-pan"
    assert (run / "config.json").is_file() and (run / "checkpoint-000002.json").is_file()
    assert json.loads((run / "config.json").read_text())["effect"]["keyframes"] == str(kf)
    assert json.loads((run / "config.json").read_text())["loop"]["device"] == "cpu"
    assert main(["export", str(run), "-o", str(tmp_path / "pan.onnx")]) == 0
    capsys.readouterr()
    png = tmp_path / "rows.png"
    assert main(["eval", str(tmp_path / "pan.onnx"), "--video", str(clip), "--keyframes", str(held),
                 "--png", str(png), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == 1 and report["temporal"]["frames"] == 8 and png.is_file()
    assert report["temporal"]["reference"] == "source clip"
    pairs = make_pairs(tmp_path / "pairs", size=(64, 64))
    assert main(["eval", str(tmp_path / "pan.onnx"), "--pairs", str(pairs), "--reference", "stylization",
                 "--video", str(clip), "--png", str(png), "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "held-out pairs: 2" in out and "reference (target process stylization)" in out


def test_dry_run_writes_nothing(tmp_path, capsys):
    pairs = make_pairs(tmp_path / "shot", size=(64, 64))
    assert main(["train", "effect", "--pairs", str(pairs), "-o", str(tmp_path / "runs"), "--dry-run"] + TINY) == 0
    assert "dry run: data and networks OK" in capsys.readouterr().out and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("case", ["unmatched", "size", "outside", "empty", "no-data", "both-forms"])
def test_bad_input_one_line(tmp_path, footage, capsys, case):
    from ganfx.runtime.io.images import write_png
    from effect_fixtures import photo

    clip, kf, _ = footage
    args = ["train", "effect", "-o", str(tmp_path / "runs")] + TINY
    if case == "unmatched":
        pairs = make_pairs(tmp_path / "shot", size=(64, 64))
        (pairs / "input" / "a.png").rename(pairs / "input" / "z.png")
        args += ["--pairs", str(pairs)]
        want = "no target/z.png for input/z.png"
    elif case == "size":
        pairs = make_pairs(tmp_path / "shot", size=(64, 64))
        write_png(pairs / "target" / "b.png", photo(1, (64, 70)))
        args += ["--pairs", str(pairs)]
        want = "b.png: 70x64 but input/b.png is 64x64"
    elif case == "outside":
        bad = make_keyframes(tmp_path / "kf", clip, [2])
        (bad / "0002.png").rename(bad / "0099.png")
        args += ["--video", str(clip), "--keyframes", str(bad)]
        want = "0099.png: frame 99 is outside the clip pan.mp4 (frames 0-7)"
    elif case == "empty":
        (tmp_path / "kf").mkdir()
        args += ["--video", str(clip), "--keyframes", str(tmp_path / "kf")]
        want = "no images"
    elif case == "no-data":
        want = "give either a pairs folder or a clip and its keyframes folder (--pairs, --video, --keyframes)"
    else:
        args += ["--pairs", str(tmp_path), "--video", str(clip), "--keyframes", str(kf)]
        want = "give either a pairs folder or a clip and its keyframes folder (--pairs, --video, --keyframes)"
    assert main(args) == 1
    line = error_line(capsys)
    assert line.startswith("ganfx train: error:") and want in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_demo_effect_part_side_by_side(tmp_path, footage, monkeypatch):
    """The demo's effect part on the shipped clip: source | effect, same frames, double width."""
    import types

    import numpy as np

    import ganfx.runtime.model as runtime_model
    from ganfx.plugin.cli.demo_effect import effect_side_by_side, shipped_clip
    from ganfx.runtime.contract import read_spec
    from ganfx.runtime.io import open_reader
    from ganfx.runtime.model import ModelEntry, load_model
    from ganfx.trainer.effect_task import EffectConfig, EffectTask
    from ganfx.trainer.export import export_run
    from ganfx.trainer.loop import train
    from ganfx.trainer.config import LoopConfig

    clip, kf, _ = footage
    task = EffectTask(EffectConfig(video=str(clip), keyframes=str(kf), name="tiny", patch=32, batch=2, g_width=8,
                                   g_blocks=1, d_width=8))
    result = train(task, LoopConfig(iterations=1, threads=1, progress=False), tmp_path / "run", log=lambda *a: None)
    model, _ = export_run(result.run_dir, tmp_path / "tiny.onnx")
    monkeypatch.setattr(runtime_model, "list_models", lambda: [ModelEntry("tiny", "shipped", model, read_spec(model))])
    (out,) = effect_side_by_side(types.SimpleNamespace(no_progress=True), tmp_path)
    with open_reader(shipped_clip()) as src, open_reader(out) as res:
        assert res.properties.frame_count == src.properties.frame_count
        assert (res.properties.width, res.properties.height) == (2 * src.properties.width, src.properties.height)
        a = next(iter(src.frames(5, 5))).image
        b = next(iter(res.frames(5, 5))).image
    w = a.shape[1]
    fx = load_model(model).apply(a)
    assert np.abs(b[:, :w].astype(int) - a).mean() < 4  # left: the source (through H.264 twice)
    assert np.abs(b[:, w:].astype(int) - fx).mean() < 4  # right: the effect
