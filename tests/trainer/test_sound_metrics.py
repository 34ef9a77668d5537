"""Sound-texture measures and baselines on short synthetic signals (noise, AM noise, sines, clicks)."""

import numpy as np
import pytest

from ganfx.trainer import sound_metrics as sm
from ganfx.trainer.sound_baselines import crop_shuffle, phase_randomised

RATE = 16000


def coloured(n, seed, power=1.0, scale=0.1):
    """Periodic Gaussian noise of length n with a 1/f^power spectrum (made by FFT), RMS `scale`."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.normal(size=n))
    f = np.arange(spectrum.size, dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spectrum / f ** (power / 2), n)
    return x / x.std() * scale


def white(n, seed, scale=0.1):
    return np.random.default_rng(seed).normal(0.0, scale, n)


def am_noise(n, seed, hz=4.0):
    t = np.arange(n) / RATE
    return white(n, seed) * (1.0 + 0.9 * np.sin(2 * np.pi * hz * t))


def test_statistics_shapes_and_meaning():
    n = 2 * RATE
    s = sm.texture_statistics(white(n, 0), RATE)
    assert set(s) == set(sm.GROUPS)
    assert s["mean"].shape == s["cv"].shape == s["skew"].shape == s["kurtosis"].shape == (sm.N_BANDS,)
    assert s["modulation"].shape == (sm.N_BANDS, len(sm.MOD_HZ))
    assert s["correlation"].shape == (sm.N_BANDS * (sm.N_BANDS - 1) // 2,)
    assert np.all(s["modulation"] >= 0) and np.all(s["modulation"].sum(axis=1) <= 1.5)
    assert np.all(np.abs(s["correlation"]) <= 1 + 1e-9)
    centres = sm.band_centres(RATE)
    assert centres[0] > sm.LOW_HZ and centres[-1] < RATE / 2 and np.all(np.diff(centres) > 0)
    # 4 Hz amplitude modulation: more envelope variance, modulation power in the 4 Hz band, bands co-modulated
    a = sm.texture_statistics(am_noise(n, 1), RATE)
    assert np.median(a["cv"]) > 2 * np.median(s["cv"])  # less after the 0.3 compression
    assert np.argmax(a["modulation"].mean(axis=0)) == sm.MOD_HZ.index(4.0)
    assert a["correlation"].mean() > 0.5 > s["correlation"].mean()
    stereo = np.stack([white(n, 0), white(n, 0)])
    assert sm.statistics_distance(stereo, white(n, 0), RATE) == 0.0  # channels averaged


def test_distances_zero_for_identical_and_order_sounds():
    n = 2 * RATE
    x = white(n, 0)
    assert sm.statistics_distance(x, x, RATE) == 0.0 and sm.spectrum_distance(x, x, RATE) == 0.0
    same = sm.statistics_distance(white(n, 1), x, RATE)
    modulated = sm.statistics_distance(am_noise(n, 1), x, RATE)
    assert same < 0.2 and modulated > 3 * same
    parts = sm.statistics_distance_parts(am_noise(n, 1), x, RATE)
    assert set(parts) == set(sm.GROUPS) and parts["modulation"] > 0.5 and parts["cv"] > 0.5
    assert abs(sm.statistics_distance(x, am_noise(n, 1), RATE) - modulated) < 0.1 * modulated  # symmetric enough
    pink = coloured(n, 2)
    assert sm.spectrum_distance(white(n, 1), x, RATE) < 2.0
    assert sm.spectrum_distance(pink, x, RATE) > 5.0


def test_spectrum_distance_sees_steady_against_random():
    n = RATE
    t = np.arange(n) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 1000 * t)
    std = sm.log_power_stats(tone, 1024)[1]
    k = int(round(1000 * 1024 / RATE))
    assert std[k] < 1.0  # steady: the tone's bin hardly varies over time
    noise_std = sm.log_power_stats(white(n, 0), 1024)[1]
    assert 4.5 < np.median(noise_std) < 7.0  # 10 log10 of exponential power: 5.6 dB


def test_phase_randomised_keeps_spectrum_copies_nothing():
    n = 2 * RATE
    ex = coloured(n, 3, power=1.0) + 0.05 * np.sin(2 * np.pi * 440 * np.arange(n) / RATE)
    chance = sm.spectrum_distance(coloured(n, 13, power=1.0), coloured(n, 3, power=1.0), RATE)  # two realisations
    for length in (n, 3 * n):
        pr = phase_randomised(ex, length, seed=0)
        assert pr.shape == (length,) and pr.dtype == np.float32
        assert sm.spectrum_distance(pr, ex, RATE) < min(chance, 2.0)  # short signals: estimation noise only
        assert np.isclose(pr.std(), ex.std(), rtol=1e-3)
    assert phase_randomised(ex, n // 2, seed=0).shape == (n // 2,)
    assert sm.copy_share(phase_randomised(ex, n, seed=1), ex, RATE) < 0.05
    assert not np.array_equal(phase_randomised(ex, n, 0), phase_randomised(ex, n, 1))
    assert np.array_equal(phase_randomised(ex, n, 0), phase_randomised(ex, n, 0))
    st = phase_randomised(np.stack([ex, -ex]), n, seed=0)  # one phase for all channels: the image is kept
    assert st.shape == (2, n) and np.allclose(st[1], -st[0], atol=1e-6)


def test_crop_shuffle_copies():
    n = 3 * RATE
    ex = coloured(n, 4, power=1.0)
    quilt = crop_shuffle(ex, 2 * RATE, seed=0, rate=RATE)
    assert quilt.shape == (2 * RATE,) and quilt.dtype == np.float32
    assert sm.copy_share(quilt, ex, RATE) >= 0.5
    assert abs(quilt.std() / ex.std() - 1) < 0.15  # equal-power fades keep the level
    assert sm.spectrum_distance(quilt, ex, RATE) < 2.0
    st = crop_shuffle(np.stack([ex, ex]), RATE, seed=0, crop_s=0.25, fade_s=0.02, rate=RATE)
    assert st.shape == (2, RATE) and np.array_equal(st[0], st[1])


def test_copy_share_crop_fresh_silence_and_offsets():
    rate = 24000
    ex = coloured(3 * rate, 5, power=0.5)
    assert sm.copy_share(ex[12347:12347 + rate], ex, rate) > 0.95  # an offset between the 16 kHz samples
    assert sm.copy_share(coloured(rate, 6, power=0.5), ex, rate) == 0.0
    quiet = np.concatenate([ex[:rate // 2], np.zeros(rate // 2)])
    assert sm.copy_share(quiet, ex, rate) == 1.0  # silent windows are not counted
    assert sm.copy_share(np.zeros(rate), ex, rate) == 0.0
    assert 0.4 < sm.copy_share(np.concatenate([ex[:rate], coloured(rate, 7, 0.5)]), ex, rate) < 0.6


def test_seam_click_periodic_against_cut():
    loop = 2 * RATE
    seamless = coloured(loop, 8, power=2.0)  # periodic with its length: the seam is like any place
    s = sm.seam_click(seamless, RATE)
    assert s["jump_ratio"] < 3 and 0.5 < s["hf_ratio"] < 2
    cut = coloured(3 * loop + 777, 9, power=2.0)[1000:1000 + loop]  # a hard cut at a random place
    c = sm.seam_click(cut, RATE)
    assert c["jump_ratio"] > 20 and c["hf_ratio"] > 20
    clicks = seamless.copy()
    clicks[0] += 0.5  # a click right at the seam
    assert sm.seam_click(np.stack([seamless, clicks]), RATE)["hf_ratio"] > 5
    with pytest.raises(ValueError, match="too short"):
        sm.seam_click(seamless[:100], RATE)


def test_spectrogram_png(tmp_path):
    import cv2

    n = RATE
    t = np.arange(n) / RATE
    clicks = np.zeros(n)
    clicks[::1600] = 1.0
    items = [("white", white(n, 0)), ("sine 2 kHz", 0.5 * np.sin(2 * np.pi * 2000 * t)), ("clicks", clicks[: n // 2])]
    out = sm.spectrogram_png(tmp_path / "spec.png", items, RATE)
    img = cv2.imread(str(out))
    assert img is not None and img.shape[1] == 1000 and 400 < img.shape[0] < 900
    assert not list(tmp_path.glob(".*partial*"))
    sm.spectrogram_png(tmp_path / "short.png", items, RATE, seconds=0.25, max_hz=4000)
    assert cv2.imread(str(tmp_path / "short.png")).shape[1] == 1000


def test_best_lags_match_brute_force():
    rng = np.random.default_rng(10)
    e = rng.normal(size=3000)
    windows = np.stack([e[1234:1334] * 2 + 1, rng.normal(size=100), e[0:100] + 0.3 * rng.normal(size=100)])
    lags, scores = sm.best_lags(windows, e, count=3)
    views = np.lib.stride_tricks.sliding_window_view(e, 100)
    for i, w in enumerate(windows):
        brute = np.array([np.corrcoef(w, v)[0, 1] for v in views])
        order = np.argsort(-brute)[:3]
        assert set(lags[i]) == set(order)
        assert np.allclose(np.sort(scores[i]), np.sort(brute[order]), atol=1e-4)
    assert lags[0][np.argmax(scores[0])] == 1234 and np.isclose(scores[0].max(), 1.0, atol=1e-5)
