"""Tile textures: a learned periodic tile shown from a random offset in every cell, cells blended."""

import numpy as np
import pytest
import torch
from texture_fixtures import tiny_loop

from ganfx.runtime.model import load_model
from ganfx.trainer.config import ConfigError
from ganfx.trainer.export import export_run, load_run_generator
from ganfx.trainer.loop import train
from ganfx.trainer.texture_nets import TileGenerator, measure_halo_cells
from ganfx.trainer.texture_task import TextureConfig, TextureTask, render

TILE = dict(tile=32, stride=8, crop=32, batch=1, scale_jitter=0.0, adv_weight=0.0, lr_g=0.02, sample_px=32,
            eval_swd=False, lowpass=0)


def _grain(path, size=48, seed=0):
    """A colour grain exemplar PNG: blurred noise, warm, with the blue at half the red's contrast."""
    import cv2

    rng = np.random.default_rng(seed)
    g = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.2)
    g = g / g.std()
    img = np.clip(np.stack([0.55 + 0.12 * g, 0.45 + 0.09 * g, 0.35 + 0.06 * g], axis=2), 0, 1)
    cv2.imwrite(str(path), (img[..., ::-1] * 255).round().astype(np.uint8))
    return path


def _noise_tile(G, seed=0, blur=0.0):
    """A noise tile (periodic; blurred by `blur` px, so sub-pixel reads keep its contrast)."""
    noise = np.random.default_rng(seed).normal(0, 1, tuple(G.tile.shape)).astype(np.float32)
    if blur:  # periodic Gaussian blur, in the Fourier domain
        f = np.fft.fftfreq(noise.shape[-1])
        gain = np.exp(-2 * (np.pi * blur) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
        noise = np.fft.ifft2(np.fft.fft2(noise) * gain).real.astype(np.float32)
    with torch.no_grad():
        G.tile.copy_(torch.from_numpy(0.3 * noise / noise.std()))
    return G.eval()


def test_tile_generator_is_local_with_a_halo_of_one_cell_and_tiles_exactly():
    G = _noise_tile(TileGenerator(tile=32, stride=8))
    assert measure_halo_cells(G) == 1
    whole = render(G, 40, 56, seed=3, halo=4)
    assert np.abs(whole - render(G, 40, 56, seed=3, halo=1)).max() < 1e-6
    assert np.abs(whole - render(G, 40, 56, seed=3, halo=0)).max() > 1e-3  # the border cells need their neighbours
    # the same cells seen from a window one cell further on give the same pixels
    x = torch.randn(1, 4, 7, 9, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = G(x), G(x[:, :, 1:, 1:])
    assert torch.equal(a[:, :, 16:-8, 16:-8], b[:, :, 8:-8, 8:-8])


def test_blends_keep_the_tiles_contrast_and_offsets_move_smoothly():
    G = _noise_tile(TileGenerator(tile=64, stride=16, sharpness=1.0), blur=2.0)
    tile_std = float(G.tile.detach().std())
    x = torch.randn(1, 4, 18, 18, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = G(x)[0, :, 16:-16, 16:-16]
    # per position within a cell (cell centres show one piece, corners blend four): contrast is kept
    per_phase = y.reshape(3, 16, 16, 16, 16).permute(0, 1, 3, 2, 4).reshape(3, -1, 16, 16).std(dim=1)
    assert float(per_phase.min()) > 0.8 * tile_std and float(per_phase.max()) < 1.2 * tile_std
    # an offset a fraction of a pixel further moves the picture a little, not to another piece
    with torch.no_grad():
        near = G(x + 1e-3)[0, :, 16:-16, 16:-16]
        far = G(x + 1.0)[0, :, 16:-16, 16:-16]
    assert float((near - y).abs().mean()) < 0.05 * float((far - y).abs().mean())
    # in time only the moving channels change: with no motion the pieces stay exactly where they are
    moved = x.clone()
    moved[:, 2:] += 1.0
    still = TileGenerator(tile=64, stride=16, motion=0.0)
    still.load_state_dict(G.state_dict())
    with torch.no_grad():
        assert torch.equal(still.eval()(x), still(moved)) and not torch.equal(G(x), G(moved))


def test_tile_starts_as_the_random_phase_texture_and_trains_exports_renders(tmp_path):
    path = _grain(tmp_path / "grain.png")
    task = TextureTask(TextureConfig(exemplars=(str(path),), name="grain", **TILE))
    tile = (task.G.tile.detach().numpy().transpose(1, 2, 0) + 1.0) / 2.0
    ex = task.exemplars[0]
    assert np.abs(tile.mean(axis=(0, 1)) - ex.mean(axis=(0, 1))).max() < 0.01
    assert np.allclose(tile.std(axis=(0, 1)), ex.std(axis=(0, 1)), rtol=0.25)
    run = train(task, tiny_loop(3), tmp_path / "run", log=lambda *_: None).run_dir
    onnx_path, parity = export_run(run, tmp_path / "grain.onnx")
    # the file holds the tile, not the padded table derived from it (export folds no constants here)
    assert onnx_path.stat().st_size < 3 * 32 * 32 * 4 + 60_000
    G = load_run_generator(run).G
    assert isinstance(G, TileGenerator)
    model = load_model(onnx_path)
    n = model.spec.noise
    assert (n.halo, n.stride, n.channels, n.still) == (1, 8, 4, 2)
    want = render(G, 40, 56, seed=4)
    assert np.abs(model.generate(56, 40, seed=4) - want).max() < 1e-4
    assert np.abs(model.generate(56, 40, seed=4, tile=24) - want).max() < 1e-4  # window by window
    # tileable: a 2x2 canvas on the same periodic noise repeats the image exactly
    img = model.generate(64, 48, seed=5, tileable=True)
    s = 8
    noise = model.noise_field(seed=5, period=(48 // s, 64 // s)).window(-1, -1, 2 * 48 // s + 2, 2 * 64 // s + 2)
    canvas = np.clip((model.run(noise[None])[0].transpose(1, 2, 0)[s:-s, s:-s] + 1.0) * 0.5, 0.0, 1.0)
    for y0, x0 in ((0, 0), (0, 64), (48, 0), (48, 64)):
        assert np.abs(canvas[y0:y0 + 48, x0:x0 + 64] - img).max() < 1e-5
    # a loop returns exactly to its first frame, and moves in between
    first, middle, last = model.generate(32, 32, t=[0.0, 1.0, 2.0], seed=6, loop=2.0)
    assert np.abs(last - first).max() < 1e-5 and np.abs(middle - first).max() > 1e-3


def test_tile_settings_are_refused_in_one_line(tmp_path):
    for bad in (dict(tile=8, stride=8), dict(tile=64, stride=4), dict(tile=64, stride=16, waves=2),
                dict(tile=64, stride=16, spot=9), dict(tile=64, stride=16, tile_blend=0.0)):
        with pytest.raises(ConfigError, match="tile") as info:
            TextureConfig(exemplars=("x.png",), **bad).check()
        assert "\n" not in str(info.value)
    path = _grain(tmp_path / "small.png", size=40)
    with pytest.raises(ConfigError, match="small.png.*must fit"):
        TextureTask(TextureConfig(exemplars=(str(path),), **{**TILE, "tile": 64, "crop": 32}))
