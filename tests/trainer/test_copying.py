"""The copy measure: share of textured 32x32 patches with NCC > 0.95 to an exemplar patch."""

import numpy as np
import pytest

from ganfx.trainer.baselines import image_quilting, random_phase_noise
from ganfx.trainer.copying import CopyMeter, copy_goal, copy_share, grid_patches, luminance, mean_share


def blotches(size=256, seed=0) -> np.ndarray:
    """A coloured, non-periodic texture (blurred noise): no patch of it resembles another."""
    import cv2

    rng = np.random.default_rng(seed)
    n = cv2.GaussianBlur(rng.standard_normal((size, size, 3)).astype(np.float32), (0, 0), 2.0)
    n[..., 1] = 0.6 * n[..., 0] + 0.4 * n[..., 1]
    n = (n - n.mean()) / n.std()
    return np.clip(0.5 + 0.15 * n, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def exemplar():
    return blotches(256)


@pytest.fixture(scope="module")
def meter(exemplar):
    return CopyMeter(exemplar)


def pasted(exemplar, size=(160, 192), crop=48, seed=0, flip=None) -> np.ndarray:
    """A render made of exemplar crops from random places, pasted on a 40 px grid (off the 32 px one)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(size + (3,), np.float32)
    h, w = exemplar.shape[:2]
    for y in range(0, size[0], 40):
        for x in range(0, size[1], 40):
            sy, sx = int(rng.integers(h - crop)), int(rng.integers(w - crop))
            piece = exemplar[sy:sy + crop, sx:sx + crop]
            piece = piece[:, ::-1] if flip == "h" else piece[::-1] if flip == "v" else piece
            ph, pw = min(crop, size[0] - y), min(crop, size[1] - x)
            out[y:y + ph, x:x + pw] = piece[:ph, :pw]
    return out


def test_exemplar_crops_pasted_in_are_copies(exemplar, meter):
    r = meter.measure(pasted(exemplar))
    assert r["patches"] == 5 * 6 and r["textured"] == r["patches"]
    # Each 40 px cell holds a 48 px crop; most 32 px grid patches straddle two crops, the
    # few that lie inside one are copies (NCC 1).
    inside = r["best"] > 0.999
    assert r["copied"] == int(inside.sum()) > 0
    assert meter.measure(exemplar[17:145, 33:161])["share"] == 1.0  # one crop: every patch is a copy
    big = np.zeros((128, 128, 3), np.float32)
    for y in (0, 64):
        for x in (0, 64):  # 64 px crops on the 32 px grid: 4 whole patches in each
            sy, sx = 20 + y, 150 - x
            big[y:y + 64, x:x + 64] = exemplar[sy:sy + 64, sx:sx + 64]
    assert copy_share(big, exemplar) == 1.0


def test_copies_are_found_mirrored_but_not_upside_down(exemplar, meter):
    whole = exemplar[40:200, 30:222]
    assert meter.measure(whole[:, ::-1])["share"] == 1.0  # a --flips model may copy mirrored crops
    assert meter.measure(whole[::-1])["share"] == 0.0  # vertical flips are not matched (documented)
    assert CopyMeter(exemplar[:, ::-1]).measure(whole)["share"] == 1.0


def test_a_noisy_or_unrelated_image_is_not_a_copy(exemplar, meter):
    rng = np.random.default_rng(1)
    whole = exemplar[40:200, 30:222]
    grey_noise = (whole.shape[0], whole.shape[1], 1)  # luminance noise of the std given
    noisy = whole + rng.normal(0, 0.05, grey_noise).astype(np.float32)  # NCC about 0.9: below the bar
    r = meter.measure(noisy)
    assert r["share"] == 0.0 and 0.8 < np.nanmin(r["best"]) and np.nanmax(r["best"]) < 0.95
    slight = whole + rng.normal(0, 0.01, grey_noise).astype(np.float32)  # NCC above 0.99: still a copy
    assert meter.measure(slight)["share"] == 1.0
    assert meter.measure(blotches(256, seed=7))["share"] == 0.0  # the same kind of texture, not a copy


def test_random_phase_noise_copies_nothing_and_quilting_copies_much(exemplar, meter):
    rpn = [meter.measure(random_phase_noise(exemplar, seed=s)) for s in range(2)]
    assert all(r["textured"] == r["patches"] == 64 for r in rpn)
    assert all(r["share"] <= 0.02 for r in rpn)
    assert all(np.nanmax(r["best"]) < 0.9 for r in rpn)
    quilt = [meter.measure(image_quilting(exemplar, (256, 256), block=64, seed=s))["share"] for s in range(2)]
    assert all(q >= 0.4 for q in quilt)  # 64 px blocks (the default for 512 px exemplars) pasted whole


def test_flat_patches_are_not_counted(exemplar, meter):
    flat = np.full((128, 128, 3), 0.5, np.float32)
    r = meter.measure(flat)
    assert r == {**r, "share": None, "copied": 0, "textured": 0, "patches": 16} and np.isnan(r["best"]).all()
    faint = 0.5 + 0.1 * (exemplar[:128, :128] - 0.5)  # a copy at a tenth of the contrast: flat here
    assert meter.measure(faint)["textured"] == 0
    assert copy_share(flat, exemplar) is None
    half = flat.copy()
    half[:, :64] = exemplar[:128, 100:164]  # left half copied, right half flat
    r = meter.measure(half)
    assert (r["textured"], r["copied"], r["share"]) == (8, 8, 1.0)
    assert meter.min_std == pytest.approx(0.25 * meter.typical_std) and meter.min_std > 2 / 255
    assert CopyMeter(flat).min_std == 2 / 255  # a flat exemplar: the absolute floor


def test_luminance_grid_and_the_goal():
    grey = np.random.default_rng(0).random((70, 100, 1)).astype(np.float32)
    assert np.allclose(luminance(np.repeat(grey, 3, axis=2)), grey[..., 0], atol=1e-6)  # R=G=B: the grey itself
    assert np.allclose(luminance((grey * 255).astype(np.uint8)), luminance(grey), atol=1 / 255)
    cells = grid_patches(luminance(grey))
    assert cells.shape == (2, 3, 32, 32) and np.array_equal(cells[1, 2], grey[32:64, 64:96, 0])
    assert mean_share([0.2, None, 0.4]) == pytest.approx(0.3) and mean_share([None, None]) is None
    assert copy_goal({"ganfx": 0.3, "quilting": 0.6}) is True
    assert copy_goal({"ganfx": 0.31, "quilting": 0.6}) is False
    assert copy_goal({"ganfx": None, "quilting": 0.6}) is None
    with pytest.raises(ValueError, match="32x32"):
        CopyMeter(np.zeros((20, 100, 3), np.float32))
