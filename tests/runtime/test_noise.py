"""NoiseField: counter-based, the same cells whatever window asks, smooth, loops, tiles."""

import numpy as np
import pytest

from ganfx.runtime.model import load_model
from ganfx.runtime.noise import NoiseField


def test_same_cells_whatever_window():
    f = NoiseField(seed=11, channels=6)
    big = f.window(-10, -20, 80, 90, t=3.25)
    part = f.window(5, 7, 13, 17, t=3.25)
    assert np.array_equal(big[:, 15:28, 27:44], part)


def test_deterministic_and_seeded():
    a = NoiseField(1, 4).window(0, 0, 32, 32, 0.5)
    assert np.array_equal(a, NoiseField(1, 4).window(0, 0, 32, 32, 0.5))
    assert not np.array_equal(a, NoiseField(2, 4).window(0, 0, 32, 32, 0.5))


def test_gaussian_statistics_at_any_time():
    f = NoiseField(3, 8)
    for t in (0.0, 0.37, 12.5):
        z = f.window(0, 0, 128, 128, t)
        assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1.0) < 0.02
    # channels and neighbours are uncorrelated
    z = f.window(0, 0, 128, 128, 0.0)
    assert abs(np.corrcoef(z[0].ravel(), z[1].ravel())[0, 1]) < 0.03
    assert abs(np.corrcoef(z[0, :, :-1].ravel(), z[0, :, 1:].ravel())[0, 1]) < 0.03


def test_smooth_in_time():
    f = NoiseField(5, 4)
    a, b, far = (f.window(0, 0, 64, 64, t) for t in (1.0, 1.01, 3.0))
    assert np.abs(a - b).mean() < 0.02 < np.abs(a - far).mean()


@pytest.mark.parametrize("loop", [None, 3.0])
def test_still_channels_keep_their_first_values_and_the_others_move(loop):
    f = NoiseField(6, 5, loop=loop, still=2)
    moving = NoiseField(6, 5, loop=loop)
    a, b = f.window(-3, 4, 20, 24, 0.0), f.window(-3, 4, 20, 24, 1.7)
    assert np.array_equal(a, moving.window(-3, 4, 20, 24, 0.0))  # the same field at t=0
    assert np.array_equal(a[:2], b[:2]) and np.array_equal(b[2:], moving.window(-3, 4, 20, 24, 1.7)[2:])
    assert np.abs(a[2:] - b[2:]).mean() > 0.1
    assert np.array_equal(f.window(2, 9, 5, 6, 1.7), b[:, 5:10, 5:11])  # any window: the same cells
    with pytest.raises(ValueError, match="still"):
        NoiseField(0, 2, still=3)


@pytest.mark.parametrize("loop", [24, 2.5])
def test_exact_loop(loop):
    f = NoiseField(9, 4, loop=loop)
    assert np.array_equal(f.window(0, 0, 16, 16, 0.0), f.window(0, 0, 16, 16, loop))
    assert np.array_equal(f.window(0, 0, 16, 16, 0.3), f.window(0, 0, 16, 16, 0.3 + 2 * loop))
    assert not np.array_equal(f.window(0, 0, 16, 16, 0.0), f.window(0, 0, 16, 16, loop / 2))


def test_periodic_in_space():
    f = NoiseField(4, 3, period=(10, 12))
    z = f.window(0, 0, 30, 36, 0.8)
    assert np.array_equal(z[:, :10, :12], z[:, 10:20, 12:24])
    assert np.array_equal(f.window(-10, -12, 5, 5, 0.8), z[:, :5, :5])


def test_texture_loop_frame_n_equals_frame_0(texture_path):
    model = load_model(texture_path)
    first = model.generate(96, 64, t=0.0, seed=3, loop=2.0)
    last = model.generate(96, 64, t=2.0, seed=3, loop=2.0)
    middle = model.generate(96, 64, t=1.0, seed=3, loop=2.0)
    assert np.array_equal(first, last)
    assert np.abs(first - middle).max() > 0.01


def test_tileable_texture_wraps(texture_path):
    model = load_model(texture_path)
    img = model.generate(64, 48, seed=1, tileable=True)
    # Rendering a larger canvas of the same periodic noise repeats the tile exactly.
    s = model.spec.noise.stride
    field = model.noise_field(seed=1, period=(48 // s, 64 // s))
    noise = field.window(-2, -2, 48 // s * 2 + 4, 64 // s * 2 + 4)
    out = model.run(noise[None])[0].transpose(1, 2, 0)[2 * s : -2 * s, 2 * s : -2 * s]
    assert np.abs(out[:48, :64] - img).max() < 1e-5
    assert np.abs(out[48:, 64:] - img).max() < 1e-5
    with pytest.raises(Exception, match="multiples of 4"):
        model.generate(65, 48, tileable=True)


WAVES = ((0.7, 0.2), (0.05, -0.3))


def test_waves_follow_the_noise_and_are_pure_functions_of_place_and_seed():
    f = NoiseField(seed=2, channels=3, waves=WAVES)
    big = f.window(-7, 4, 40, 50, t=1.5)
    assert big.shape == (3 + 2 * len(WAVES), 40, 50) and f.out_channels == 7
    assert np.array_equal(big[:3], NoiseField(seed=2, channels=3).window(-7, 4, 40, 50, t=1.5))  # noise unchanged
    assert np.array_equal(f.window(3, 10, 9, 11, t=1.5), big[:, 10:19, 6:17])  # any window, same cells
    assert np.array_equal(big[3:], f.window(-7, 4, 40, 50, t=9.0)[3:])  # still in time
    # sin and cos of one angle: a unit vector per cell, rotating by (ky, kx) per cell step
    s, c = big[3], big[4]
    assert np.allclose(s**2 + c**2, 1.0, atol=1e-6)
    angle = np.arctan2(s, c)
    step = np.angle(np.exp(1j * (angle[1:, :] - angle[:-1, :])))
    assert np.allclose(step, 0.7, atol=1e-5)
    # the phase depends on the seed, far from the origin values stay exact
    assert not np.allclose(big[3], NoiseField(seed=3, channels=3, waves=WAVES).window(-7, 4, 40, 50)[3])
    far = f.window(10**6, -(10**6), 4, 4)
    ky, kx = WAVES[0]
    want = np.sin((ky * (10**6 + np.arange(4)))[:, None] + (kx * (-(10**6) + np.arange(4)))[None, :]
                  + f.wave_phases()[0])
    assert np.abs(far[3] - want).max() < 1e-5


def test_waves_snap_to_the_period_so_tiles_repeat():
    f = NoiseField(seed=5, channels=2, period=(10, 12), waves=WAVES)
    z = f.window(0, 0, 20, 24)
    assert np.array_equal(z[:, :10, :12], z[:, 10:20, 12:24])
    assert all(abs(ky * 10 / (2 * np.pi) - round(ky * 10 / (2 * np.pi))) < 1e-9 for ky, _ in f.waves)
    assert f.waves[0] != WAVES[0] and abs(f.waves[0][0] - WAVES[0][0]) <= np.pi / 10
