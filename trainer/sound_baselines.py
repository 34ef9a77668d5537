"""Classical sound-texture baselines, measured beside every ganfx sound.

    from ganfx.trainer.sound_baselines import phase_randomised, crop_shuffle
    noise = phase_randomised(exemplar, length=30 * 48000, seed=0)                # exemplar's shape: [n] or [C,n]
    quilt = crop_shuffle(exemplar, length=30 * 48000, seed=0, rate=48000)       # 1 s crops, 50 ms crossfades

- Phase randomisation: noise with the exemplar's magnitude spectrum and random phases. The
  spectrum is the exemplar's whole-signal FFT (its mean removed, then added back). For an
  output longer than the exemplar it is carried to the longer FFT's bins by nearest bin
  (each exemplar bin fills length / n output bins, the periodogram's values kept, scaled so
  the power per sample is the same), so the output's spectrum is the exemplar's at the
  exemplar's resolution; an output no longer than the exemplar is the first `length`
  samples of one exemplar-length realisation. One random phase per frequency for every
  channel, added to each channel's own phase, keeps the channels' cross-spectra (the stereo
  image). Each channel's RMS is then set to the exemplar's exactly. The output is periodic
  with the FFT length: a 30 s render of a 10 s exemplar is a 30 s loop, never a repeat.
- Crop shuffle ("the quilting of sound"):
  crops of `crop_s` at random places of the exemplar, each joined to the next with an
  equal-power crossfade of `fade_s` (cos / sin ramps: uncorrelated crops keep their power
  through the fade). It copies by design; the copy measure's reference.

numpy only (no torch); outputs are float32 in the exemplar's shape convention.
"""

from __future__ import annotations

import numpy as np

from ganfx.runtime.errors import UserInputError


def _as_channels(x) -> tuple:
    """([C,n] float64, was it [n])."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[None], True
    if x.ndim != 2 or x.shape[1] == 0:
        raise UserInputError(f"an exemplar is [n] or [channels, n] samples, got shape {list(x.shape)}")
    return x, False


def phase_randomised(exemplar, length: int, seed: int) -> np.ndarray:
    """Random-phase noise with the exemplar's spectrum. # [n] or [C,n] -> [length] or [C,length] float32"""
    x, flat = _as_channels(exemplar)
    length = int(length)
    if length <= 0:
        raise UserInputError(f"length must be positive, got {length}")
    n = x.shape[1]
    mean = x.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(x - mean, axis=1)  # [C, n//2+1]
    size = max(n, length)
    bins = size // 2 + 1
    if size != n:  # nearest exemplar bin for each output bin (frequency k / size -> k * n / size)
        src = np.minimum(np.round(np.arange(bins) * n / size).astype(np.int64), spectrum.shape[1] - 1)
        spectrum = spectrum[:, src] * np.sqrt(size / n)
    rng = np.random.default_rng(seed)
    phase = np.exp(2j * np.pi * rng.random(bins))
    phase[0] = 1.0  # the mean is removed: DC carries nothing
    if size % 2 == 0:
        phase[-1] = np.sign(np.cos(2 * np.pi * rng.random()))  # the Nyquist bin stays real
    out = np.fft.irfft(spectrum * phase, size, axis=1)[:, :length]
    target = (x - mean).std(axis=1, keepdims=True)
    got = out.std(axis=1, keepdims=True)
    out = out * np.where(got > 0, target / np.maximum(got, 1e-300), 0.0) + mean
    out = out.astype(np.float32)
    return out[0] if flat else out


def crop_shuffle(exemplar, length: int, seed: int, crop_s: float = 1.0, fade_s: float = 0.05,
                 rate: int | None = None) -> np.ndarray:
    """Random exemplar crops joined with equal-power crossfades. # [n] or [C,n] -> [length] or [C,length] float32

    `rate` (Hz, required) turns crop_s and fade_s into samples. Each crop holds crop_s of new
    sound plus the fade it shares with the next crop; a crop longer than the exemplar is the
    whole exemplar.
    """
    if rate is None:
        raise UserInputError("crop_shuffle needs the exemplar's sample rate (rate=)")
    x, flat = _as_channels(exemplar)
    length = int(length)
    if length <= 0:
        raise UserInputError(f"length must be positive, got {length}")
    c, n = x.shape
    fade = max(1, int(round(fade_s * rate)))
    crop = max(fade + 1, int(round(crop_s * rate)) + fade)
    crop = min(crop, n)
    fade = min(fade, crop // 2)
    step = crop - fade  # new samples per crop
    if step <= 0:
        raise UserInputError(f"an exemplar of {n} samples is too short for {fade}-sample crossfades")
    t = (np.arange(fade) + 0.5) / fade * (np.pi / 2)
    fade_in, fade_out = np.sin(t), np.cos(t)  # sin^2 + cos^2 = 1
    rng = np.random.default_rng(seed)
    out = np.zeros((c, length + crop), np.float64)
    pos = 0
    while pos < length:
        start = int(rng.integers(0, n - crop + 1))
        piece = x[:, start:start + crop].copy()
        if pos > 0:
            piece[:, :fade] *= fade_in
            out[:, pos:pos + fade] *= fade_out
        out[:, pos:pos + crop] = np.concatenate([out[:, pos:pos + fade] + piece[:, :fade], piece[:, fade:]], axis=1) \
            if pos > 0 else piece
        pos += step
    out = out[:, :length].astype(np.float32)
    return out[0] if flat else out
