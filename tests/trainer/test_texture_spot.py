"""The spot field of stochastic texture generators: the exemplar's texton, local and tile-exact."""

import numpy as np
import pytest
import torch
from texture_fixtures import tiny_config, tiny_loop

from ganfx.runtime.model import load_model
from ganfx.trainer.export import export_run
from ganfx.trainer.loop import train
from ganfx.trainer.texture_data import texton
from ganfx.trainer.texture_nets import TextureGenerator, measure_halo_cells
from ganfx.trainer.texture_task import TextureConfig, TextureTask, render


def _micro_texture(size=128, seed=0):
    """A colour micro-texture: white noise blurred by 1.5 px, blue at half the red's contrast."""
    import cv2

    rng = np.random.default_rng(seed)
    g = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.5)
    g = g / g.std()
    return np.clip(np.stack([0.5 + 0.1 * g, 0.45 + 0.08 * g, 0.4 + 0.05 * g], axis=2), 0, 1).astype(np.float32)


def test_texton_on_white_noise_gives_the_exemplars_colours_and_contrast():
    import cv2

    ex = _micro_texture()
    t = texton(ex, 17, max_period=1e9)
    assert t.shape == (3, 1, 17, 17)
    noise = np.random.default_rng(1).normal(0, 1, (256, 256)).astype(np.float32)
    field = np.stack([cv2.filter2D(noise, -1, t[c, 0], borderType=cv2.BORDER_WRAP) for c in range(3)], axis=2) / 2.0
    want, got = ex.std(axis=(0, 1)), field.std(axis=(0, 1))
    assert np.allclose(got, want, rtol=0.12)  # the blur's whole spectrum fits in 17 px
    assert np.corrcoef(field[..., 0].ravel(), field[..., 2].ravel())[0, 1] > 0.98  # one noise: colours move together
    # the same blur: neighbouring pixels correlate as in the exemplar
    def lag1(a):
        return np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]
    assert abs(lag1(field[..., 0]) - lag1(ex[..., 0])) < 0.05
    # periods above max_period are left to the low-pass waves: a 4 px limit keeps only the fine grain
    fine = texton(ex, 17, max_period=4.0)
    assert np.abs(fine).sum() < np.abs(t).sum()
    with pytest.raises(ValueError, match="odd"):
        texton(ex, 16, 8.0)


def test_spot_generator_tiles_exactly_and_starts_as_the_random_phase_texture(tmp_path):
    import cv2

    ex = _micro_texture()
    path = tmp_path / "grain.png"
    cv2.imwrite(str(path), (ex[..., ::-1] * 255).round().astype(np.uint8))
    cfg = tiny_config(path, spot=9, fine_noise=1, waves=0, lowpass=0)
    task = TextureTask(cfg)
    G = task.G.eval()
    halo = measure_halo_cells(G)
    whole = render(G, 48, 48, seed=2, halo=halo + 3)
    assert np.abs(whole - render(G, 48, 48, seed=2, halo=halo)).max() < 1e-5
    assert np.abs(whole - render(G, 48, 48, seed=2, halo=halo - 1)).max() > 1e-4  # the halo is not padded
    # before training: about the exemplar's mean colour and at least its fine contrast
    img = render(G, 96, 96, seed=0, halo=halo)
    assert np.abs(img.mean(axis=(0, 1)) - ex.mean(axis=(0, 1))).max() < 0.05
    assert np.all(img.std(axis=(0, 1)) > 0.5 * ex.std(axis=(0, 1)))


def test_spot_model_trains_exports_and_renders_as_torch_does(tmp_path):
    import cv2

    ex = _micro_texture(96)
    path = tmp_path / "grain.png"
    cv2.imwrite(str(path), (ex[..., ::-1] * 255).round().astype(np.uint8))
    run = train(TextureTask(tiny_config(path, spot=7, fine_noise=1, adv_weight=0.0)), tiny_loop(3), tmp_path / "run",
                log=lambda *_: None).run_dir
    onnx_path, parity = export_run(run, tmp_path / "grain.onnx")
    from ganfx.trainer.export import load_run_generator

    G = load_run_generator(run).G
    want = render(G, 40, 56, seed=4)
    got = load_model(onnx_path).generate(56, 40, seed=4)
    assert np.abs(got - want).max() < 1e-4


def test_spot_needs_an_odd_size_and_fine_noise():
    from ganfx.trainer.config import ConfigError

    for bad in (dict(spot=8), dict(spot=1), dict(spot=9, fine_noise=0)):
        with pytest.raises(ConfigError, match="spot"):
            TextureConfig(exemplars=("x.png",), **bad).check()
    with pytest.raises(ValueError, match="spot"):
        TextureGenerator(noise_channels=2, stride=4, widths=(8, 8, 8), cell_blocks=1, spot=5)  # no fine noise
