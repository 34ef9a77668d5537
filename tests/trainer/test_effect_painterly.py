"""The painterly target process (Hertzmann 1998 curved brush strokes)."""

import numpy as np
import pytest
from effect_fixtures import photo

from ganfx.trainer.effect_targets import PROCESSES, SEEDED, apply_process
from ganfx.trainer.painterly import paint


def stripes(vertical: bool = True, size=(96, 192), period: int = 48) -> np.ndarray:
    """Dark and light bands half a period wide, colour-tinted. # -> [H,W,3] uint8"""
    yy, xx = np.mgrid[: size[0], : size[1]]
    band = ((xx if vertical else yy) // (period // 2)) % 2
    img = np.where(band[..., None] == 1, [220, 200, 90], [40, 60, 150])
    return img.astype(np.uint8)


def test_same_seed_same_painting_new_seed_new_strokes():
    img = photo(0, (120, 160))
    a, b, c = paint(img, seed=3), paint(img, seed=3), paint(img, seed=4)
    assert np.array_equal(a, b)
    diff = np.abs(a.astype(int) - c).mean()
    assert diff > 3  # the strokes land elsewhere: frame-to-frame flicker when the seed is the frame number
    assert np.abs(a.astype(int) - img).mean() < 40  # still a painting of the picture


def test_strokes_follow_the_stripes():
    """On vertical stripes the strokes run down the stripes (perpendicular to the gradient):
    every column stays one colour, the columns keep the stripes. Strokes across them would
    smear each 16 px wide brush over up to 128 px of alternating bands."""
    for radii in ((8,), (8, 4, 2)):
        for vertical in (True, False):
            src = stripes(vertical).astype(float).mean(-1)
            out = paint(stripes(vertical), seed=1, radii=radii).astype(float).mean(-1)
            if not vertical:
                src, out = src.T, out.T  # the same checks, turned a quarter
            columns, rows = out.mean(axis=0), out.mean(axis=1)
            # measured: column-variance share 0.55-0.88, row variance 1-8, spread along a stripe
            # 0.09-0.27 of the spread across, correlation 0.84-0.97; strokes run along the gradient
            # instead: row variance 35-680, spread along 0.33-3.8
            assert columns.var() > 0.4 * src.mean(axis=0).var() and rows.var() < 20, (radii, vertical)
            assert out.std(axis=0).mean() < 0.3 * columns.std(), (radii, vertical)
            assert np.corrcoef(columns, src.mean(axis=0))[0, 1] > 0.8, (radii, vertical)


@pytest.mark.parametrize("shape", [(540 // 6, 960 // 6, 3), (40, 50), (40, 50, 1), (5, 7, 3), (1, 1), (2, 50, 3)])
def test_shapes_dtypes_and_range(shape):
    rng = np.random.default_rng(0)
    img = (rng.random(shape) * 255).astype(np.uint8)
    out = paint(img, seed=2)
    assert out.shape == img.shape and out.dtype == np.uint8
    unit = paint(img.astype(np.float32) / 255, seed=2)
    assert unit.dtype == np.float32 and unit.shape == img.shape and 0 <= unit.min() and unit.max() <= 1
    assert np.abs(unit * 255 - out).max() <= 1  # the same painting on the 0..1 scale


def test_grey_stays_grey():
    grey = photo(1, (60, 80)).mean(-1).astype(np.uint8)
    out = paint(grey, seed=0)
    assert out.shape == grey.shape and np.abs(out.astype(int) - grey).mean() < 40
    rgb = paint(np.repeat(grey[..., None], 3, axis=2), seed=0)
    assert np.abs(rgb[..., 0].astype(int) - rgb[..., 2]).max() <= 1 and np.abs(rgb[..., 0].astype(int) - out).max() <= 1


def test_registered_as_a_seeded_target_process():
    frame = photo(2, (64, 96))
    assert "painterly" in PROCESSES and "painterly" in SEEDED and "stylization" not in SEEDED
    assert np.array_equal(apply_process("painterly", frame, frame=7), paint(frame, seed=7))
    assert np.array_equal(apply_process("painterly", frame), paint(frame, seed=0))
    assert not np.array_equal(apply_process("painterly", frame, frame=8), apply_process("painterly", frame, frame=7))
    # unseeded processes ignore the frame number
    assert np.array_equal(apply_process("posterize", frame, frame=5), apply_process("posterize", frame))
    with pytest.raises(ValueError, match="expects"):
        paint(np.zeros((4, 4, 2), np.uint8))
