"""Model cards hold no path of the machine that trained: data paths are relative to the run, as typed, or names."""

import json

from test_texture_train import model_path  # noqa: F401 (fixture: a tiny trained, exported texture)

from ganfx.trainer.model_card import card_text, main, portable_config, portable_path, threads_phrase


def test_card_config_shows_no_machine_paths(model_path, tmp_path):  # noqa: F811
    run = model_path.parent / "runs" / "00000-wall"
    config = json.loads((run / "config.json").read_text())
    assert config["texture"]["exemplars"][0].startswith("/")  # trained from an absolute path
    report = {"swd": {"ganfx": 1.0, "random_phase": 2.0, "quilting": 3.0}, "beats": {"random_phase": True,
              "quilting": True}, "size": [80, 72], "seeds": 1, "exemplar": "wall.png"}
    text = card_text(model_path, config, report, "synthetic stripes", run_dir=run)
    assert str(model_path.parent) not in text and '"wall.png"' in text
    assert "DESIGN.md" not in text
    assert f"minutes of training on {threads_phrase(config['loop'])} of a 2-core CPU" in text
    # a model trained with the VGG19 feature loss credits the weights' licence, one without does not
    assert "CC BY 4.0" not in text and config["texture"]["vgg_weight"] == 0
    with_vgg = {**config, "texture": {**config["texture"], "vgg_weight": 1.0}}
    assert "VGG19 weights" in card_text(model_path, with_vgg, report, "d", run_dir=run) and "CC BY 4.0" in \
        card_text(model_path, with_vgg, report, "d", run_dir=run)
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert main([str(model_path), "--run", str(run), "--eval", str(tmp_path / "report.json"), "--data", "d"]) == 0
    assert str(model_path.parent) not in model_path.with_suffix(".md").read_text()


def test_card_says_the_runs_threads():
    """The training line names the run's threads; 0 is torch's default, not "0 threads"."""
    assert threads_phrase({"threads": 1}) == "1 thread" and threads_phrase({"threads": 2}) == "2 threads"
    assert threads_phrase({"threads": 0}) == threads_phrase({}) == "the default number of threads"


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


def test_card_command_rebuilds_every_texture_setting():
    """The card's `ganfx train texture` line, parsed by the real CLI, gives back the same config."""
    import dataclasses
    import shlex

    from ganfx.plugin.cli import build_parser
    from ganfx.plugin.cli.train_texture_cmd import _TEXTURE_OPTIONS
    from ganfx.trainer.config import LoopConfig
    from ganfx.trainer.model_card import _train_command
    from ganfx.trainer.texture_task import TextureConfig

    changed = dict(name="wall", crop=96, batch=3, scale_jitter=0.0, augment="translation", noise_channels=8,
                   fine_noise=2, waves=3, lattice=(64, 48), lowpass=16, spot=9, tile=64, tile_blend=3.0, tile_motion=1.5, stride=16, g_widths=(64, 48, 32, 24, 16), cell_blocks=2,
                   dilations=(1, 3), margin_cells=2, d_width=16, d_downs=3, loss="hinge", r1_gamma=2.0, r1_every=8,
                   swd_weight=0.5, vgg_weight=2.0, adv_weight=0.5, bf16_weight=30.0, bf16_power=4, lr_g=1e-4, lr_d=3e-4, sample_px=128, flips=True, rot90=True)
    assert {field for _, field, _, _ in _TEXTURE_OPTIONS} <= set(changed)  # a new flag must be tested here
    tex = dataclasses.replace(TextureConfig(exemplars=("wall.png",)), **changed)
    config = {"task": "texture", "loop": dataclasses.asdict(LoopConfig(iterations=77)),
              "texture": dataclasses.asdict(tex)}
    argv = shlex.split(_train_command(config))[1:]
    args = build_parser().parse_args(argv)
    from ganfx.plugin.cli.train_cmd import overrides

    values = overrides(args, _TEXTURE_OPTIONS)
    values.update({f: getattr(args, f) for f in ("flips", "rot90") if getattr(args, f) is not None})
    rebuilt = dataclasses.replace(TextureConfig(exemplars=tuple(args.exemplars)), **values)
    assert rebuilt == tex and args.iterations == 77


def test_card_command_rebuilds_every_effect_setting():
    """The effect card's `ganfx train effect` line, parsed by the real CLI, gives back the same config,
    and the card's table of command fields is the commands' own option tables."""
    import dataclasses
    import shlex

    from ganfx.plugin.cli import build_parser
    from ganfx.plugin.cli.train_cmd import overrides
    from ganfx.plugin.cli.train_effect_cmd import _TABLE
    from ganfx.plugin.cli.train_texture_cmd import _TEXTURE_OPTIONS
    from ganfx.trainer.config import LoopConfig
    from ganfx.trainer.effect_task import EffectConfig
    from ganfx.trainer.model_card import _COMMAND_FIELDS, _train_command

    assert _COMMAND_FIELDS["effect"][1] == tuple(field for _, field, _, _ in _TABLE)
    assert _COMMAND_FIELDS["texture"][1] == tuple(field for _, field, _, _ in _TEXTURE_OPTIONS)
    changed = dict(video="my clip.mp4", keyframes="data/kf", masks="data/masks", holdout="data/held", name="ink",
                   patch=64, batch=3, scale_jitter=0.0, g_width=16, g_blocks=2, d_width=16, l1=2.0, l1_blur=2.5, adv=0.1, swd=0.5,
                   vgg=1.5, grad_stats=4.0, bf16_weight=20.0, bf16_every=3, adv_loss="hinge", consistency=0.0, warp_shift=1.0, warp_zoom=0.05,
                   warp_rotate=3.0, lr_g=1e-4, lr_d=3e-4, target_process="stylization", hflip=False, rot90=True, skip=False, seed=7)
    assert {field for _, field, _, _ in _TABLE} - {"pairs"} <= set(changed)  # a new flag must be tested here
    fx = dataclasses.replace(EffectConfig(), **changed)
    config = {"task": "effect", "loop": dataclasses.asdict(LoopConfig(iterations=77, seed=7)),
              "effect": dataclasses.asdict(fx)}
    args = build_parser().parse_args(shlex.split(_train_command(config))[1:])
    values = overrides(args, _TABLE)
    values.update({f: getattr(args, f) for f in ("hflip", "rot90", "skip") if getattr(args, f) is not None})
    values["seed"] = args.seed
    assert dataclasses.replace(EffectConfig(), **values) == fx and args.iterations == 77
    pairs = dataclasses.replace(EffectConfig(), pairs="shot")  # the other data form
    args = build_parser().parse_args(shlex.split(_train_command({**config, "effect": dataclasses.asdict(pairs)}))[1:])
    assert args.pairs == "shot" and args.video is None and args.hflip is None
