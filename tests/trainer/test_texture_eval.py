"""SWD, the classical baselines, and `ganfx eval` for texture models."""

import json

import numpy as np
import pytest
from test_texture_train import model_path  # noqa: F401 (fixture: a tiny trained, exported texture)
from texture_fixtures import stripes

from ganfx.plugin.cli import main
from ganfx.trainer.baselines import image_quilting, periodic_component, random_phase_noise
from ganfx.trainer.exemplars import load_exemplar
from ganfx.trainer.swd import laplacian_pyramid, swd, swd_levels


@pytest.fixture(scope="module")
def exemplar(tmp_path_factory):
    return load_exemplar(stripes(tmp_path_factory.mktemp("ev") / "s.png", size=(96, 96)))


def test_swd_is_zero_for_the_same_image_and_grows_with_difference(exemplar):
    assert swd(exemplar, exemplar) == 0.0
    rng = np.random.default_rng(0)
    slightly = np.clip(exemplar + rng.normal(0, 0.02, exemplar.shape), 0, 1).astype(np.float32)
    noise = rng.random(exemplar.shape).astype(np.float32)
    assert 0 < swd(slightly, exemplar) < swd(noise, exemplar)
    assert swd(exemplar * 0.5, exemplar) > swd(slightly, exemplar)  # a darker copy is measured, not normalised away
    assert len(swd_levels(exemplar, exemplar)) == len(laplacian_pyramid(exemplar)) == 3  # 96 -> 48 -> 24 (>= 16)
    assert swd(slightly, exemplar) == swd(slightly, exemplar)  # seeded


def test_random_phase_noise_keeps_the_spectrum_and_mean(exemplar):
    out = random_phase_noise(exemplar, seed=1)
    assert out.shape == exemplar.shape and out.dtype == np.float32
    assert abs(out.mean() - exemplar.mean()) < 0.02
    per = periodic_component(exemplar)
    want = np.abs(np.fft.fft2(per - per.mean(axis=(0, 1)), axes=(0, 1)))
    got = np.abs(np.fft.fft2(out - out.mean(axis=(0, 1)), axes=(0, 1)))
    assert np.corrcoef(want.ravel(), got.ravel())[0, 1] > 0.95
    assert np.abs(out - exemplar).mean() > 0.05  # not a copy
    assert not np.array_equal(out, random_phase_noise(exemplar, seed=2))


def test_quilting_is_made_of_exemplar_blocks(exemplar):
    out = image_quilting(exemplar, (120, 150), block=24, seed=0)
    assert out.shape == (120, 150, 3)
    # the first block is an exact copy of some exemplar block
    first = out[:12, :12]
    hits = [(y, x) for y in range(96 - 11) for x in range(96 - 11) if np.array_equal(exemplar[y:y + 12, x:x + 12], first)]
    assert hits
    assert swd(image_quilting(exemplar, (96, 96), block=24), exemplar) < swd(random_phase_noise(exemplar), exemplar) * 3


def test_eval_command_reports_all_methods_and_writes_the_side_by_side(model_path, tmp_path, capsys):  # noqa: F811
    ex = stripes(tmp_path / "wall.png")
    png = tmp_path / "side.png"
    assert main(["eval", str(model_path), "--exemplar", str(ex), "--seeds", "1", "--png", str(png), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["swd"]) == {"ganfx", "random_phase", "quilting"}
    assert all(v > 0 for v in report["swd"].values())
    assert report["size"] == [80, 72] and report["png"] == str(png)
    # The copy measure beside SWD: a share per method (4 grid patches of 32x32 here), and the goal.
    assert set(report["copy"]) == set(report["textured"]) == {"ganfx", "random_phase", "quilting"}
    assert all(v is None or 0.0 <= v <= 1.0 for v in report["copy"].values())
    assert report["textured"]["quilting"] > 0 and report["copy"]["quilting"] is not None
    assert report["copy_goal"] == (report["copy"]["ganfx"] <= 0.5 * report["copy"]["quilting"]
                                   if report["copy"]["ganfx"] is not None else None)
    assert set(report["copy_seconds"]) == set(report["swd"])
    import cv2

    img = cv2.imread(str(png))
    assert img.shape[1] > 4 * 72  # four panels side by side
    assert main(["eval", str(model_path)]) == 1
    assert "--exemplar" in capsys.readouterr().err
    assert main(["eval", str(model_path), "--exemplar", str(ex), "--seeds", "1", "--png", str(png), "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert "NCC > 0.95" in text and "copy goal" in text
    assert f"{100 * report['copy']['quilting']:.0f}%" in text.split("image quilting")[1]


def test_copy_share_in_the_report_the_card_and_the_captions(model_path, tmp_path):  # noqa: F811
    from ganfx.trainer.model_card import card_text
    from ganfx.trainer.texture_eval import format_report, write_side_by_side

    report = {"model": "wall", "exemplar": "wall.png", "size": [80, 72], "seeds": 3,
              "swd": {"ganfx": 90.0, "random_phase": 120.0, "quilting": 80.0},
              "copy": {"ganfx": 0.05, "random_phase": 0.0, "quilting": 0.62}, "copy_goal": True,
              "beats": {"random_phase": True, "quilting": False}}
    text = format_report(report)
    assert "copy goal (at most half of image quilting's 62%, i.e. 31%): met, ganfx copies 5%" in text
    assert [line.split()[-1] for line in text.splitlines()[3:6]] == ["5%", "0%", "62%"]
    missed = {**report, "copy": {**report["copy"], "ganfx": 0.4}, "copy_goal": False}
    assert "missed, ganfx copies 40%" in format_report(missed)
    flat = {**report, "copy": {**report["copy"], "ganfx": None}, "copy_goal": None}
    assert "not measurable" in format_report(flat) and format_report(flat).splitlines()[3].endswith(" -")
    old = {k: v for k, v in report.items() if k not in ("copy", "copy_goal")}  # a report from before the measure
    assert "copy" not in format_report(old)

    run = model_path.parent / "runs" / "00000-wall"
    config = json.loads((run / "config.json").read_text())
    card = card_text(model_path, config, report, "synthetic stripes", run_dir=run)
    assert "| method | SWD | copy share |" in card
    assert "| image quilting (Efros & Freeman 2001) | **80.0** | 62% |" in card
    assert "ganfx beats: random-phase noise; copy goal (at most half of image quilting's 62%" in card
    assert ": met, ganfx copies 5%." in card
    assert ": missed, ganfx copies 40%." in card_text(model_path, config, missed, "d", run_dir=run)
    card_old = card_text(model_path, config, old, "d", run_dir=run)
    assert "| method | SWD |\n|---|---|\n" in card_old and "copy" not in card_old.lower().split("## training")[0]

    import cv2

    img = np.full((72, 80, 3), 0.5, np.float32)
    with_copy, without = tmp_path / "c.png", tmp_path / "n.png"
    write_side_by_side(with_copy, img, dict.fromkeys(report["swd"], img), report["swd"], report["copy"])
    write_side_by_side(without, img, dict.fromkeys(report["swd"], img), report["swd"])
    a, b = cv2.imread(str(with_copy)), cv2.imread(str(without))
    assert a.shape == b.shape and (a[:28] != b[:28]).any()  # the captions differ: "copy 5%" is written
    assert (a[28:] == b[28:]).all()


def test_patch_loss_prefers_the_exemplar_to_a_blurred_copy_at_every_scale(exemplar):
    import torch

    from ganfx.trainer.texture_losses import auto_levels, sliced_patch_loss

    assert (auto_levels(96), auto_levels(128), auto_levels(16), auto_levels(8)) == (3, 4, 1, 1)
    real = torch.from_numpy(exemplar.transpose(2, 0, 1))[None] * 2 - 1  # [1,3,96,96]
    other = torch.from_numpy(exemplar[::-1, ::-1].copy().transpose(2, 0, 1))[None] * 2 - 1  # same statistics
    blurred = torch.nn.functional.avg_pool2d(other, 3, stride=1, padding=1, count_include_pad=False)
    g = torch.Generator().manual_seed(0)
    same = sliced_patch_loss(other, real, g).item()
    blur = sliced_patch_loss(blurred, real, g).item()
    flat = sliced_patch_loss(torch.zeros_like(real), real, g).item()
    assert same < blur < flat
    # Each level is measured in units of the real level's spread: a faint fine band weighs as
    # much as the strong coarse ones, so losing it costs a lot.
    assert blur > 2 * same


def test_gallery_shows_exemplar_ganfx_and_quilting_at_one_to_one(model_path, tmp_path):  # noqa: F811
    import cv2

    from ganfx.trainer.gallery import main as gallery_main

    exemplar = stripes(tmp_path / "ex.png", size=(96, 80))
    out = tmp_path / "gallery.png"
    assert gallery_main([f"{model_path}={exemplar}", f"{model_path}={exemplar}", "-o", str(out), "--side", "48"]) == 0
    img = cv2.imread(str(out))[..., ::-1]
    ex = load_exemplar(exemplar)
    side = 48
    # two rows of three 48 px pictures under 28 px captions, 6 px apart: the exemplar's centre at 1:1
    assert img.shape == (2 * (28 + side + 6), 3 * side + 2 * 6, 3)
    y, x = (ex.shape[0] - side) // 2, (ex.shape[1] - side) // 2
    want = np.rint(ex[y:y + side, x:x + side] * 255)
    assert np.abs(img[28:28 + side, :side].astype(float) - want).max() <= 1


def test_cell_grid_figure_sees_a_grid_and_not_a_texture():
    from ganfx.trainer.texture_eval import cell_grid

    rng = np.random.default_rng(0)
    import cv2

    tex = cv2.GaussianBlur(rng.random((256, 256, 3)).astype(np.float32), (0, 0), 1.5)
    gridded = tex.copy()
    gridded[::8] *= 0.97  # a faint line every 8 px
    assert cell_grid(tex, 8) < 15.0  # a smooth spectrum: about the peak-to-median spread of noise
    assert cell_grid(gridded, 8) > 10 * cell_grid(tex, 8)
