"""Wave inputs of texture generators: spectral peaks of regular exemplars, low-pass waves."""

import numpy as np
import torch

from ganfx.runtime.noise import NoiseField
from ganfx.trainer.texture_data import lowpass_waves, spectral_peaks
from ganfx.trainer.texture_nets import TextureGenerator


def _bricks(h=256, w=256, course=32, brick=80):
    """Running bond: mortar every `course` rows, joints every `brick` px, offset by half each course."""
    yy, xx = np.mgrid[:h, :w]
    row = yy // course
    mortar = (yy % course < 4) | ((xx + (row % 2) * brick // 2) % brick < 4)
    img = np.where(mortar, 0.8, 0.35)[..., None] * np.array([1.0, 0.6, 0.5])
    return img.astype(np.float32)


def test_spectral_peaks_find_the_course_height():
    k = spectral_peaks(_bricks(), 3, stride=8)
    periods = 2 * np.pi / np.hypot(k[:, 0], k[:, 1]) * 8  # px
    ky0 = abs(k[0, 0])
    assert abs(2 * np.pi / ky0 * 8 - 32) < 1.0 and abs(k[0, 1]) < 0.02  # the strongest: courses, 32 px apart
    assert np.all(periods >= 2.5 * 8 - 1e-3)  # nothing finer than the cells can carry
    # the peaks are distinct (no conjugate pair counted twice)
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(k[i] + k[j]).max() > 0.05 and np.abs(k[i] - k[j]).max() > 0.05


def test_lowpass_waves_carry_the_band_variance():
    rng = np.random.default_rng(0)
    import cv2

    shade = cv2.GaussianBlur(rng.normal(0, 1, (256, 256)).astype(np.float32), (0, 0), 24)
    ex = np.clip(0.5 + 0.15 * shade[..., None] / shade.std() + rng.normal(0, 0.05, (256, 256, 3)), 0, 1)
    k, amp = lowpass_waves(ex.astype(np.float32), 24, stride=8, min_period=64, seed=0)
    assert k.shape == (24, 2) and amp.shape == (3, 24)
    assert np.all(2 * np.pi / np.maximum(np.hypot(k[:, 0], k[:, 1]), 1e-9) * 8 > 64)  # only long periods
    field = NoiseField(seed=1, channels=1, waves=tuple(map(tuple, k)))
    sines = field.window(0, 0, 32, 32)[1::2]  # [24,32,32]: one 256 px exemplar's worth of cells
    low = np.einsum("ck,khw->chw", amp / 2.0, sines)  # back to 0..1 image units
    want = cv2.GaussianBlur(ex, (0, 0), 10).std(axis=(0, 1))  # the exemplar's large-scale variation
    got = low.std(axis=(1, 2))
    assert np.all(got > 0.3 * want) and np.all(got < 3.0 * want)
    assert np.corrcoef(amp[0], amp[1])[0, 1] > 0.9  # one grey-ish shading: channels move together


def test_torch_waves_match_the_runtime_field():
    torch.manual_seed(0)
    G = TextureGenerator(noise_channels=2, stride=4, widths=(8, 8, 8), cell_blocks=1, waves=((0.3, 0.7),),
                         lowpass=2).eval()
    with torch.no_grad():
        G.lowpass_k.copy_(torch.tensor([[0.1, 0.05], [0.0, 0.2]]))
        G.lowpass_amp.fill_(0.3)
    field = NoiseField(seed=5, channels=G.random_channels, waves=G.wave_vectors())
    grid = field.window(0, 0, 6, 7)[G.random_channels:]
    phases = torch.from_numpy(field.wave_phases()).float()[None]
    ours = G.wave_channels(1, 6, 7, phases)[0].detach().numpy()
    assert np.abs(ours - grid).max() < 1e-5


def test_waves_are_exact_at_every_pixel_of_the_upsampled_levels():
    """No staircase at cell borders: the level's waves equal the waves evaluated at each pixel's place."""
    G = TextureGenerator(noise_channels=2, stride=4, widths=(8, 8, 8), cell_blocks=1, waves=((0.9, -0.4), (0.2, 1.7)))
    field = NoiseField(seed=3, channels=1, waves=G.wave_vectors())
    cells = torch.from_numpy(field.window(0, 0, 5, 6)[1:])[None]  # [1,4,5,6]
    for level in (1, 2):
        r = 2**level
        got = G.waves_at_level(cells, level)[0].detach().numpy()  # [4,5r,6r]
        yy = (np.arange(5 * r) + 0.5) / r - 0.5  # pixel centres in cell units (cell values at cell centres)
        xx = (np.arange(6 * r) + 0.5) / r - 0.5
        for j, (ky, kx) in enumerate(G.wave_vectors()):
            a = ky * yy[:, None] + kx * xx[None, :] + field.wave_phases()[j]
            assert np.abs(got[2 * j] - np.sin(a)).max() < 1e-5
            assert np.abs(got[2 * j + 1] - np.cos(a)).max() < 1e-5


def test_a_lattice_gives_fixed_fundamentals_and_harmonics(tmp_path):
    import math

    import pytest

    import torch
    from texture_fixtures import stripes

    from ganfx.trainer.config import ConfigError
    from ganfx.trainer.texture_task import TextureConfig, TextureTask, lattice_waves

    k = lattice_waves((64, 32), 4, stride=8)
    periods = [(round(2 * math.pi * 8 / ky) if ky else 0, round(2 * math.pi * 8 / kx) if kx else 0) for ky, kx in k]
    assert periods == [(0, 64), (32, 0), (0, 32), (0, 21)]  # (y, x) periods in px; 16 px is under 2.5 cells
    assert lattice_waves((64, 16), 4, stride=8).tolist()[-1] == lattice_waves((64, 16), 4, stride=8).tolist()[-2]
    # running bond: bricks 40 px long in 16 px courses, each course shifted by half a brick
    bond = lattice_waves((40, 16, 0.5), 4, stride=4)
    for ky, kx in bond:  # every wave is periodic on the lattice: exp(i k.a) = 1 for a = (40, 0) and (20, 16)
        for ax, ay in ((40, 0), (20, 16)):
            assert abs(math.remainder((kx * ax + ky * ay) / 4, 2 * math.pi)) < 1e-4
    periods = sorted(round(2 * math.pi * 4 / math.hypot(ky, kx), 1) for ky, kx in bond)
    assert periods == [16.0, 20.0, 25.0, 25.0]  # the two diagonals first, then half a brick and the courses
    assert bond[0][1] > 0 and bond[1][1] > 0 and bond[0][0] == -bond[1][0]  # the diagonals mirror each other
    ex = stripes(tmp_path / "ex.png", size=(64, 64))
    cfg = TextureConfig(exemplars=(str(ex),), crop=32, batch=2, stride=4, g_widths=(16, 8, 8), cell_blocks=1,
                        noise_channels=4, lowpass=4, d_width=8, d_downs=2, waves=2, lattice=(16, 16))
    task = TextureTask(cfg)
    before = task.G.wave_k.detach().clone()
    task.step(1)
    assert torch.equal(before, task.G.wave_k) and not task.G.wave_k.requires_grad  # fixed
    with pytest.raises(ConfigError, match="at least 2 waves"):
        TextureConfig(exemplars=(str(ex),), waves=1, lattice=(64, 64)).check()
    with pytest.raises(ConfigError, match="at least 2.5 cells"):
        TextureConfig(exemplars=(str(ex),), stride=8, waves=2, lattice=(16, 64)).check()
    with pytest.raises(ConfigError, match="row shift in 0..1"):
        TextureConfig(exemplars=(str(ex),), stride=8, waves=2, lattice=(64, 64, 1.5)).check()
    TextureConfig(exemplars=(str(ex),), stride=8, waves=2, lattice=(64.5, 32, 0.5)).check()
