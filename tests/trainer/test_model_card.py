"""Model cards hold no path of the machine that trained: data paths are relative to the run, as typed, or names."""

import json

from test_texture_train import model_path  # noqa: F401 (fixture: a tiny trained, exported texture)

from ganfx.trainer.model_card import card_text, main, portable_config, portable_path


def test_card_config_shows_no_machine_paths(model_path, tmp_path):  # noqa: F811
    run = model_path.parent / "runs" / "00000-wall"
    config = json.loads((run / "config.json").read_text())
    assert config["texture"]["exemplars"][0].startswith("/")  # trained from an absolute path
    report = {"swd": {"ganfx": 1.0, "random_phase": 2.0, "quilting": 3.0}, "beats": {"random_phase": True,
              "quilting": True}, "size": [80, 72], "seeds": 1, "exemplar": "wall.png"}
    text = card_text(model_path, config, report, "synthetic stripes", run_dir=run)
    assert str(model_path.parent) not in text and '"wall.png"' in text
    assert "DESIGN.md" not in text
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert main([str(model_path), "--run", str(run), "--eval", str(tmp_path / "report.json"), "--data", "d"]) == 0
    assert str(model_path.parent) not in model_path.with_suffix(".md").read_text()


def test_portable_paths(tmp_path):
    run = tmp_path / "runs" / "00003-fx"
    assert portable_path(str(run / "data" / "kf"), run) == "data/kf"  # inside the run: relative to it
    assert portable_path("/work/data/watercolor/holdout", run) == "holdout"  # elsewhere: the name
    assert portable_path("data/watercolor/keyframes", run) == "data/watercolor/keyframes"  # relative: as typed
    assert portable_path("../../secret/kf", run) == "kf"
    assert portable_path("skimage:brick", run) == "skimage:brick" and portable_path(None, run) is None
    config = {"task": "effect", "loop": {}, "effect": {"video": "/home/me/clip.mp4", "keyframes": "/home/me/kf",
                                                       "holdout": None, "name": "fx"}}
    out = portable_config(config, run)["effect"]
    assert out == {"video": "clip.mp4", "keyframes": "kf", "holdout": None, "name": "fx"}
