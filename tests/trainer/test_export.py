"""ONNX export: the contract, parity with torch, fp16, the measured halo, refusals, no data needed."""

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from texture_fixtures import stripes, tiny_config, tiny_loop

from ganfx.runtime.contract import read_spec
from ganfx.runtime.model import load_model
from ganfx.trainer.export import ExportError, export_plan, export_run, load_run_generator
from ganfx.trainer.loop import train
from ganfx.trainer.texture_nets import TextureGenerator, measure_halo_cells
from ganfx.trainer.texture_task import TextureTask, render


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    ex = stripes(root / "stripes.png")
    return train(TextureTask(tiny_config(ex)), tiny_loop(4), root / "run", log=lambda *_: None).run_dir


@pytest.fixture(scope="module")
def exported(run_dir):
    path, parity = export_run(run_dir, run_dir.parent / "tinytex.onnx", fp16=True, description="tiny test texture",
                              license="MIT")
    return path, parity


def test_contract_is_complete_and_matches_the_network(run_dir, exported):
    path, parity = exported
    spec = read_spec(path)
    G = load_run_generator(run_dir).G
    assert spec.kind == "texture" and spec.name == "tinytex" and spec.license == "MIT"
    # 4 coarse noise values + 1 fine value per pixel of the x2 and x4 levels (4 + 16), then waves
    assert spec.noise.channels == G.random_channels == 4 + 20 and spec.noise.stride == 4
    assert len(spec.noise.waves) == 1 + 4 and spec.noise.waves == G.wave_vectors()
    assert spec.noise.input_channels == spec.input.channels == 24 + 2 * 5
    assert spec.noise.halo == measure_halo_cells(G) and spec.halo == spec.noise.halo * 4
    assert spec.input.name == "noise" and spec.output.name == "image" and spec.output.range == (-1.0, 1.0)
    names = {p.name for p in spec.params}
    assert names >= {"seed", "speed", "loop", "tileable"} and "scale" not in names  # scale was removed
    assert spec.training["iterations"] == 4 and spec.training["task"] == "texture"
    # the exemplar trained from an absolute path is recorded by its name: no folder of this machine
    assert spec.training["exemplars"] == [Path(p).name for p in load_run_generator(run_dir).cfg.exemplars]
    assert spec.parity == pytest.approx(parity) and 0.0 <= parity <= 1e-3
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 34, "height", "width"]  # dynamic H/W


def test_runtime_render_equals_torch_render(run_dir, exported):
    path, _ = exported
    G = load_run_generator(run_dir).G
    want = render(G, 40, 56, seed=5)  # torch, noise from the same NoiseField
    got = load_model(path).generate(56, 40, seed=5)
    assert got.shape == want.shape == (40, 56, 3)
    assert np.abs(got - want).max() < 1e-4


def test_fp16_variant_keeps_fp32_io_and_is_close(exported):
    path, _ = exported
    fp16 = path.with_name("tinytex.fp16.onnx")
    assert fp16.is_file()
    m16, m32 = load_model(path, precision="fp16"), load_model(path)
    assert m16.path == fp16 and m16.spec.input.dtype == "float32"
    assert np.abs(m16.generate(64, 48, seed=1) - m32.generate(64, 48, seed=1)).max() < 0.02


def test_measured_halo_is_exact_for_tiling():
    import torch

    torch.manual_seed(0)
    G = TextureGenerator(noise_channels=3, stride=4, widths=(8, 8, 8), cell_blocks=2).eval()
    halo = measure_halo_cells(G)
    assert halo >= 2  # two 3x3 convolutions at cell resolution reach two cells
    whole = render(G, 64, 64, seed=3, halo=halo + 4)
    exact = render(G, 64, 64, seed=3, halo=halo)
    short = render(G, 64, 64, seed=3, halo=halo - 1)
    assert np.abs(whole - exact).max() < 1e-5  # enough context: the same (up to float summation order)
    assert np.abs(whole - short).max() > 1e-3  # one cell less: the border changes


def test_export_fails_above_the_parity_limit_and_writes_nothing(run_dir, tmp_path):
    plan = load_run_generator(run_dir).export_plan()
    out = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="differs from torch"):
        export_plan(plan, out, limit=-1.0)
    assert not out.exists() and not list(tmp_path.iterdir())
    plan.spec = dataclasses.replace(plan.spec)
    with pytest.raises(Exception, match=".onnx"):
        export_plan(plan, tmp_path / "bad.txt")


def test_a_grey_exemplar_gives_a_grey_model_and_a_colour_one_keeps_its_colour(exported, tmp_path):
    import cv2

    colour = load_model(exported[0]).generate(48, 40, seed=2)
    assert np.abs(colour[..., 0] - colour[..., 2]).max() > 0.05  # the grey-blue stripes keep their tint
    grey_png = tmp_path / "grey.png"
    cv2.imwrite(str(grey_png), cv2.cvtColor(cv2.imread(str(stripes(tmp_path / "c.png"))), cv2.COLOR_BGR2GRAY))
    task = TextureTask(tiny_config(grey_png))
    assert task.G.grey
    run = train(task, tiny_loop(2), tmp_path / "run", log=lambda *_: None).run_dir
    path, _ = export_run(run, tmp_path / "grey.onnx")
    img = load_model(path).generate(48, 40, seed=2)
    assert img.std() > 0.01 and np.abs(img - img[..., :1]).max() < 1e-6  # R = G = B, and not flat


def _moved_away(paths, tmp_path):
    """Move data files/folders into a hidden place; returns a function putting them back."""
    import shutil

    away = tmp_path / "away"
    away.mkdir()
    moves = [(Path(p), away / f"{i}-{Path(p).name}") for i, p in enumerate(paths)]
    for src, dst in moves:
        shutil.move(str(src), str(dst))
    return lambda: [shutil.move(str(dst), str(src)) for src, dst in moves]


def test_export_needs_only_the_checkpoint_texture(tmp_path):
    """Exemplar gone: export builds the generator from config.json + EMA weights, same file."""
    ex = stripes(tmp_path / "ex.png")
    run = train(TextureTask(tiny_config(ex)), tiny_loop(2), tmp_path / "run", log=lambda *_: None).run_dir
    with_data, _ = export_run(run, tmp_path / "a.onnx")
    put_back = _moved_away([ex], tmp_path)
    assert not ex.exists()
    without, parity = export_run(run, tmp_path / "b.onnx")
    put_back()
    assert parity <= 1e-3 and with_data.read_bytes() == without.read_bytes()
    assert read_spec(without).training["data_fingerprint"] == read_spec(with_data).training["data_fingerprint"]


def test_export_needs_only_the_checkpoint_effect(tmp_path):
    """Clip, keyframes and held-out frames gone: the same contract (held-out PSNR/SSIM included)."""
    from effect_fixtures import make_clip, make_keyframes

    from ganfx.trainer.effect_task import EffectConfig, EffectTask

    clip = make_clip(tmp_path / "pan.mp4", frames=6)
    kf, held = make_keyframes(tmp_path / "kf", clip, [1, 4]), make_keyframes(tmp_path / "held", clip, [3])
    cfg = EffectConfig(video=str(clip), keyframes=str(kf), holdout=str(held), patch=32, batch=2, g_width=8,
                       g_blocks=1, d_width=8)
    # Checkpoint 2 is not a sample step: the loop evaluates the EMA generator for it anyway.
    run = train(EffectTask(cfg), tiny_loop(3, sample_every=3, checkpoint_every=2), tmp_path / "run",
                log=lambda *_: None).run_dir
    ckpt = run / "checkpoint-000002.json"
    with_data, _ = export_run(ckpt, tmp_path / "a.onnx")
    put_back = _moved_away([clip, kf, held], tmp_path)
    without, parity = export_run(ckpt, tmp_path / "b.onnx")
    put_back()
    a, b = read_spec(with_data), read_spec(without)
    assert parity <= 1e-3 and with_data.read_bytes() == without.read_bytes()
    assert a.training == b.training and b.training["iterations"] == 2 and b.training["pairs"] == 2
    assert 0 < b.training["holdout_psnr"] < 100 and 0 < b.training["holdout_ssim"] <= 1
    assert b.description == "kf effect learned from 2 keyframes of pan.mp4"


def test_fine_noise_reaches_single_pixels_and_stays_local():
    """The last level's fine noise is one value per output pixel: changing it moves that pixel's
    neighbourhood (two 3x3 convolutions: 2 px) and nothing else."""
    import torch

    torch.manual_seed(0)
    G = TextureGenerator(noise_channels=3, stride=4, widths=(8, 8, 8), cell_blocks=1, fine_noise=1).eval()
    assert G.random_channels == 3 + 4 + 16 and G.input_channels == 23
    x = torch.randn(1, G.input_channels, 6, 6)
    base = G.body(x)
    # the x4 level's values follow the x2 level's: channel 3 + 4 + k is pixel (k // 4, k % 4) of its cell
    cy, cx, k = 2, 3, 5
    y2 = x.clone()
    y2[0, 3 + 4 + k, cy, cx] += 3.0
    diff = (G.body(y2) - base).abs().amax(dim=1)[0]
    py, px = cy * 4 + k // 4, cx * 4 + k % 4
    ys, xs = torch.nonzero(diff > 1e-6, as_tuple=True)
    assert diff[py, px] > 1e-4
    assert int((ys - py).abs().max()) <= 2 and int((xs - px).abs().max()) <= 2
