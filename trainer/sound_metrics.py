"""Measures of a sound texture against its exemplar: texture statistics, spectra, copying, loop seams.

    from ganfx.trainer.sound_metrics import (texture_statistics, statistics_distance, spectrum_distance,
                                             copy_share, seam_click, spectrogram_png)
    stats = texture_statistics(exemplar, 48000)         # {"mean": [30], ..., "correlation": [435]}
    statistics_distance(render, exemplar, 48000)        # 0 for identical signals; lower is better
    spectrum_distance(render, exemplar, 48000)          # dB; lower is better
    copy_share(render, exemplar, 48000)                 # 0..1: share of 100 ms windows copied
    seam_click(loop, 48000)                             # {"jump_ratio": ~1, "hf_ratio": ~1} for a seamless loop
    spectrogram_png("fire.png", [("exemplar", ex), ("ganfx", render)], 48000)

Signals are [n] or [C,n] floats (-1..1); a [C,n] signal is measured as the mean of its
channels (mono), except by `seam_click`, which measures every channel. numpy and scipy only
(never torch).

Texture statistics (McDermott & Simoncelli 2011, "Sound texture perception via statistics
of the auditory periphery"), computed by `texture_statistics`:

1. Cochlear filterbank: N_BANDS = 30 bandpass filters from LOW_HZ = 50 Hz to
   min(rate / 2, 10 kHz), equally spaced on the ERB-number scale (Glasberg & Moore,
   E(f) = 21.4 log10(1 + 0.00437 f)); filter k is a half cycle of a cosine in E over
   [E_k, E_k+2] of N_BANDS + 2 equally spaced edges, so neighbours overlap by half and the
   squared responses sum to one. Applied in the frequency domain of the whole signal.
2. Envelopes: the magnitude of each subband's analytic signal (computed at a reduced rate
   from the subband's own frequency bins shifted to baseband, which leaves the magnitude
   unchanged), compressed by the power COMPRESSION = 0.3, then resampled to ENV_RATE =
   400 Hz (FFT resampling, i.e. an ideal 200 Hz low-pass). The signal is treated as
   periodic; EDGE envelope samples at each end are dropped from the statistics.
3. Statistics of each band's compressed envelope e(t) [bands, T]:
   - "mean": the mean mu;
   - "cv": the variance over mu^2 (McDermott's normalised variance);
   - "skew": E[(e - mu)^3] / sigma^3;  "kurtosis": E[(e - mu)^4] / sigma^4 (not excess);
   - "modulation" [bands, 8]: the power of e - mu in 8 octave-spaced modulation bands
     centred at MOD_HZ = 0.5, 1, ..., 64 Hz (half-cosine filters on a log2 frequency axis,
     one octave either side of the centre: constant Q of about 1), divided by the envelope's
     total variance (power at all non-zero modulation frequencies), so each is a share;
   - "correlation" [bands (bands - 1) / 2]: the Pearson correlation of every pair of band
     envelopes (upper triangle, row by row).
   A band whose envelope mean is below MEAN_FLOOR times the loudest band's (digital
   silence) has its normalised statistics computed against that floor, not zero.

`statistics_distance(a, b)`: per group g of the six above, the RMS of the difference of
the values over a scale, sqrt(mean((s_a - s_b)^2)) / max(sqrt((mean(s_a^2) + mean(s_b^2)) / 2),
SCALE_FLOOR[g]): a relative error (symmetric in a and b, 0 for identical signals, at most
sqrt(2) for values of one sign), except that the groups whose values are near zero for
noise-like sounds (skew, cross-band correlations) are measured against a floor in their
own units (0.5 for skews, 0.3 for correlations), so that the estimation noise of a
near-zero statistic is not blown up into a large relative error. The distance is the
mean of the six, so each group weighs alike. `statistics_distance_parts` returns them per
group. For scale: two independent 3 s white noises at 16 kHz are about 0.1 apart, white
noise and the same noise amplitude-modulated at 4 Hz about 0.8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_BANDS = 30
LOW_HZ = 50.0
HIGH_HZ = 10000.0
COMPRESSION = 0.3
ENV_RATE = 400  # Hz of the envelopes the statistics are taken on
EDGE = 10  # envelope samples dropped at each end (25 ms: the periodic resampling's ringing)
MOD_HZ = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
MEAN_FLOOR = 1e-4
GROUPS = ("mean", "cv", "skew", "kurtosis", "modulation", "correlation")
SCALE_FLOOR = {"mean": 0.0, "cv": 0.0, "skew": 0.5, "kurtosis": 0.0, "modulation": 0.0, "correlation": 0.3}


def _fft():
    import scipy.fft

    return scipy.fft


def mono(x) -> np.ndarray:
    """[n] or [C,n] -> [n] float64 (the mean of the channels)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if x.ndim != 1:
        raise ValueError(f"a signal is [n] or [channels, n], got shape {list(x.shape)}")
    return x


def erb_number(f):
    """Glasberg & Moore's ERB-number scale. # Hz -> ERB number"""
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(f, np.float64))


def erb_to_hz(e):
    return (10.0 ** (np.asarray(e, np.float64) / 21.4) - 1.0) / 0.00437


def band_edges(rate: int, bands: int = N_BANDS, low: float = LOW_HZ, high: float | None = None) -> np.ndarray:
    """The bands + 2 ERB-spaced edges in Hz; band k spans edges k..k+2 and peaks at edge k+1."""
    high = min(rate / 2.0, HIGH_HZ) if high is None else high
    return erb_to_hz(np.linspace(erb_number(low), erb_number(high), bands + 2))


def band_centres(rate: int, bands: int = N_BANDS) -> np.ndarray:
    """Centre frequency (Hz) of each cochlear band. # -> [bands]"""
    return band_edges(rate, bands)[1:-1]


def _cochlear_bins(n: int, rate: int, bands: int):
    """Per band: (first rfft bin, weights) of the half-cosine filter on the ERB axis."""
    edges = erb_number(band_edges(rate, bands))
    e = erb_number(np.arange(n // 2 + 1) * rate / n)
    out = []
    for k in range(bands):
        lo, centre, hi = edges[k], edges[k + 1], edges[k + 2]
        idx = np.nonzero((e > lo) & (e < hi))[0]
        w = np.cos((e[idx] - centre) / (hi - lo) * np.pi) if idx.size else np.zeros(0)
        out.append((int(idx[0]) if idx.size else 0, w))
    return out


def envelopes(x, rate: int, bands: int = N_BANDS) -> np.ndarray:
    """Compressed subband envelopes at about ENV_RATE Hz. # [n] -> [bands, T] float64"""
    fft = _fft()
    x = mono(x)
    n = x.size
    t = max(2, int(round(n * ENV_RATE / rate)))
    spectrum = fft.rfft(x)
    env = np.zeros((bands, t))
    for k, (first, w) in enumerate(_cochlear_bins(n, rate, bands)):
        m = w.size
        if not m:
            continue
        size = fft.next_fast_len(max(t, 4 * m))
        buf = np.zeros(size, np.complex128)
        buf[:m] = 2.0 * spectrum[first:first + m] * w  # analytic subband, shifted to baseband
        magnitude = np.abs(fft.ifft(buf)) * (size / n)  # the envelope at rate * size / n
        comp = fft.rfft(magnitude ** COMPRESSION)
        keep = min(comp.size, t // 2 + 1)
        env[k] = fft.irfft(comp[:keep], t) * (t / size)
    return np.maximum(env, 0.0)


def _modulation_weights(t: int, env_rate: float) -> np.ndarray:
    """[len(MOD_HZ), t//2+1] squared half-cosine responses on log2 frequency, one octave each side."""
    f = np.arange(t // 2 + 1) * env_rate / t
    out = np.zeros((len(MOD_HZ), f.size))
    with np.errstate(divide="ignore"):
        lf = np.log2(f)
    for j, c in enumerate(MOD_HZ):
        d = lf - np.log2(c)
        inside = np.abs(d) < 1.0
        out[j, inside] = np.cos(d[inside] * np.pi / 2.0) ** 2
    return out


def texture_statistics(x, rate: int, bands: int = N_BANDS) -> dict:
    """McDermott & Simoncelli's texture statistics (see the module docstring). # [n] or [C,n] -> {group: array}"""
    x = mono(x)
    n = x.size
    env = envelopes(x, rate, bands)
    env_rate = env.shape[1] * rate / n
    if env.shape[1] > 8 * EDGE:
        env = env[:, EDGE:-EDGE]
    mu = env.mean(axis=1)
    floor = max(MEAN_FLOOR * float(mu.max(initial=0.0)), 1e-12)
    c = env - mu[:, None]
    var = (c ** 2).mean(axis=1)
    sigma = np.maximum(np.sqrt(var), floor)
    cv = var / np.maximum(mu, floor) ** 2
    skew = (c ** 3).mean(axis=1) / sigma ** 3
    kurt = (c ** 4).mean(axis=1) / sigma ** 4
    power = np.abs(_fft().rfft(c, axis=1)) ** 2
    power[:, 0] = 0.0
    total = np.maximum(power.sum(axis=1), 1e-300)
    modulation = power @ _modulation_weights(c.shape[1], env_rate).T / total[:, None]
    cn = c / np.maximum(np.sqrt((c ** 2).sum(axis=1)), floor * np.sqrt(c.shape[1]))[:, None]
    corr = cn @ cn.T
    return {"mean": mu, "cv": cv, "skew": skew, "kurtosis": kurt, "modulation": modulation,
            "correlation": corr[np.triu_indices(bands, 1)]}


def statistics_distance_parts(a, b, rate: int, stats_b: dict | None = None) -> dict:
    """Per statistics group: RMS difference over the RMS of both or a floor (module docstring). -> {group: float}

    `stats_b`: texture_statistics(b, rate) computed once for many renders (b is then unused).
    """
    sa = texture_statistics(a, rate)
    sb = stats_b if stats_b is not None else texture_statistics(b, rate)
    out = {}
    for g in GROUPS:
        va, vb = np.ravel(sa[g]), np.ravel(sb[g])
        scale = max(float(np.sqrt((np.mean(va ** 2) + np.mean(vb ** 2)) / 2.0)), SCALE_FLOOR[g])
        diff = np.sqrt(np.mean((va - vb) ** 2))
        out[g] = float(diff / scale) if scale > 0 else 0.0
    return out


def statistics_distance(a, b, rate: int, stats_b: dict | None = None) -> float:
    """The mean of the six group distances: 0 for identical signals, lower is closer."""
    parts = statistics_distance_parts(a, b, rate, stats_b)
    return float(np.mean([parts[g] for g in GROUPS]))


# -- spectra ----------------------------------------------------------------------------

SPECTRUM_FFTS = (256, 1024, 4096)
SPECTRUM_FLOOR_DB = -120.0  # log power floor, below the exemplar's loudest mean bin


def log_power_stats(x, nfft: int, floor: float | None = None) -> tuple:
    """(mean, std) over time of the log power spectrum in dB (Hann, hop nfft/4). # [n] -> ([nfft/2+1], [nfft/2+1])

    `floor`: a power added before the log (None: 1e-12 of the loudest mean bin of x itself).
    """
    fft = _fft()
    x = mono(x)
    if x.size < nfft:
        x = np.pad(x, (0, nfft - x.size))
    hop = nfft // 4
    frames = np.lib.stride_tricks.sliding_window_view(x, nfft)[::hop]
    window = np.hanning(nfft + 1)[:-1]  # periodic Hann
    power = np.empty((frames.shape[0], nfft // 2 + 1))
    for i in range(0, frames.shape[0], 2048):
        power[i:i + 2048] = np.abs(fft.rfft(frames[i:i + 2048] * window, axis=1)) ** 2
    if floor is None:
        floor = 10 ** (SPECTRUM_FLOOR_DB / 10) * max(float(power.mean(axis=0).max()), 1e-30)
    db = 10.0 * np.log10(power + floor)
    return db.mean(axis=0), db.std(axis=0), floor


def spectrum_distance_parts(a, b, rate: int) -> dict:
    """{nfft: mean |mean dB a - mean dB b| + mean |std dB a - std dB b|} over frequency bins."""
    out = {}
    for nfft in SPECTRUM_FFTS:
        mb, sb, floor = log_power_stats(b, nfft)
        ma, sa, _ = log_power_stats(a, nfft, floor)
        out[nfft] = float(np.mean(np.abs(ma - mb)) + np.mean(np.abs(sa - sb)))
    return out


def spectrum_distance(a, b, rate: int) -> float:
    """Multi-resolution log-spectrum distance in dB (0 for identical signals).

    At each FFT size of SPECTRUM_FFTS (256, 1024, 4096 samples; Hann window, 75% overlap)
    the log power spectrum 10 log10(|X|^2 + floor) of every frame is taken; the floor is
    120 dB below the exemplar b's loudest mean bin (so digital silence counts as quiet, not
    as minus infinity). Per resolution: the mean over frequency bins of the absolute
    difference of the time-mean log spectra, plus the same for the time standard deviations
    (a steady tone and noise of equal average spectrum differ in the second: about 5.6 dB
    for noise, near 0 for a tone). The distance is the mean over the resolutions. The FFT
    sizes are in samples, so their time spans scale with the rate (21 ms at 48 kHz for 1024).
    """
    return float(np.mean(list(spectrum_distance_parts(a, b, rate).values())))


# -- copying ----------------------------------------------------------------------------

COPY_RATE = 16000  # Hz of the search for the best lag
COPY_CANDIDATES = 4  # best lags per window re-measured at the signal's own rate


def _resample(x: np.ndarray, rate: int, to: int) -> np.ndarray:
    if to >= rate:
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(to))
    return resample_poly(x, to // g, rate // g)


def best_lags(windows: np.ndarray, e: np.ndarray, count: int = COPY_CANDIDATES) -> tuple:
    """The `count` lags of e with the highest Pearson correlation for each window, and those correlations.

    # windows [k,L], e [N] -> (lags [k,count] int64, scores [k,count] float32)

    Numerators by overlap-save FFT cross-correlation (blocks of 16384 or more samples, float32,
    the exemplar's block spectra computed once), spreads of every exemplar window by running
    sums; one window's correlations at all N - L + 1 lags are held at a time.
    """
    fft = _fft()
    k, length = windows.shape
    n = e.size
    lags = n - length + 1
    block = max(1 << 14, 1 << int(np.ceil(np.log2(4 * length))))
    step = block - length + 1
    nb = -(-lags // step)
    padded = np.zeros(nb * step + length - 1, np.float32)
    padded[:n] = e
    spectra = fft.rfft(np.lib.stride_tricks.sliding_window_view(padded, block)[::step][:nb], axis=1)  # [nb, F]
    s1 = np.concatenate([[0.0], np.cumsum(e)])
    s2 = np.concatenate([[0.0], np.cumsum(e * e)])
    win_sum, win_sq = s1[length:] - s1[:-length], s2[length:] - s2[:-length]
    spread = np.sqrt(np.maximum(win_sq - win_sum ** 2 / length, 0.0))
    spread = np.maximum(spread, 1e-3 * np.sqrt(length) * (e.std() + 1e-12)).astype(np.float32)  # near-silent windows
    c = windows - windows.mean(axis=1, keepdims=True)
    norms = np.maximum(np.sqrt((c ** 2).sum(axis=1)), 1e-12)
    w_spectra = fft.rfft(c.astype(np.float32), block, axis=1)
    count = min(count, lags)
    out_lags = np.zeros((k, count), np.int64)
    out_scores = np.zeros((k, count), np.float32)
    for i in range(k):
        num = fft.irfft(np.conj(w_spectra[i]) * spectra, block, axis=1)[:, :step].reshape(-1)[:lags]
        ncc = num / spread / np.float32(norms[i])
        top = np.argpartition(-ncc, count - 1)[:count]
        out_lags[i], out_scores[i] = top, ncc[top]
    return out_lags, out_scores


def copy_share(render, exemplar, rate: int, window_s: float = 0.1, threshold: float = 0.95,
               search_rate: int = COPY_RATE) -> float:
    """Share of the render's non-silent windows that copy the exemplar. # -> 0..1

    The render is cut into non-overlapping windows of `window_s` (100 ms) from its start;
    windows whose RMS is below 1% of the exemplar's RMS are silent and not counted. A window
    is a copy when its best Pearson correlation with the exemplar, at any lag (every sample
    position of the exemplar), exceeds `threshold` (0.95). The search runs at `search_rate`
    (16 kHz; both signals resampled with scipy's polyphase filter when the rate is higher):
    the correlation at every lag by FFT, the exemplar windows' spreads by running sums. The
    COPY_CANDIDATES best lags of each window are then measured again at the signal's own
    rate within a few samples of the lag found, and that exact correlation decides (a copy
    from an offset that falls between the coarse samples is still found exactly). About 1 s
    for 10 s against 60 s at 24 kHz on one CPU core (`best_lags`: overlap-save FFTs, memory
    of one window's lags at a time). No non-silent window: 0.0.
    """
    r, e = mono(render), mono(exemplar)
    length = int(round(window_s * rate))
    count = r.size // length
    if count == 0 or e.size < length:
        return 0.0
    windows = r[: count * length].reshape(count, length)
    loud = np.sqrt((windows ** 2).mean(axis=1)) >= max(0.01 * np.sqrt(np.mean(e ** 2)), 1e-12)
    if not loud.any():
        return 0.0
    windows = windows[loud]
    starts = np.nonzero(loud)[0] * length
    srate = min(search_rate, rate)
    rs, es = _resample(r, rate, srate), _resample(e, rate, srate)
    slen = int(round(window_s * srate))
    if es.size < slen:
        return 0.0
    first = np.minimum(np.round(starts * srate / rate).astype(np.int64), rs.size - slen)
    coarse = np.stack([rs[f:f + slen] for f in first])
    lags, _ = best_lags(coarse, es)
    reach = int(np.ceil(rate / srate)) + 2
    views = np.lib.stride_tricks.sliding_window_view(e, length)  # [N-L+1, L], no copy
    floor = 1e-3 * np.sqrt(length) * (e.std() + 1e-12)  # near-silent exemplar windows correlate with nothing
    best = np.full(windows.shape[0], -1.0)
    for i, w in enumerate(windows):
        wc = w - w.mean()
        wn = np.sqrt((wc ** 2).sum())
        if wn == 0:
            continue
        centres = np.round(lags[i] * rate / srate).astype(np.int64)
        cand = np.unique(np.clip((centres[:, None] + np.arange(-reach, reach + 1)).ravel(), 0, views.shape[0] - 1))
        seg = views[cand]
        sc = seg - seg.mean(axis=1, keepdims=True)
        den = np.maximum(np.sqrt((sc ** 2).sum(axis=1)), floor) * wn
        best[i] = float(((sc @ wc) / den).max())
    return float(np.mean(best > threshold))


# -- loops ------------------------------------------------------------------------------

SEAM_POSITIONS = 200
SEAM_HF_HZ = 2000.0
SEAM_WINDOW_S = 0.005


def seam_click(loop, rate: int, positions: int = SEAM_POSITIONS, seed: int = 0) -> dict:
    """How much the seam of a loop stands out. # loop: [n] or [C,n], n = the loop length -> {"jump_ratio", "hf_ratio"}

    The loop plays as loop[..., 0], ..., loop[..., n-1], loop[..., 0], ...: its seam lies
    between the last sample and the first. Two measures at the seam, each divided by the
    median of the same measure at `positions` (200) random positions inside the loop (seeded,
    at least one window away from the seam): `jump_ratio`, the absolute first difference
    |x[0] - x[n-1]| (summed over channels); `hf_ratio`, the energy above SEAM_HF_HZ (2 kHz;
    the loop high-passed as a periodic signal, by FFT) in a SEAM_WINDOW_S (5 ms) window
    centred on the seam (summed over channels). A seamless loop gives about 1 (the seam is
    like any other place; a single jump varies by chance, the 5 ms energy much less); a hard
    cut of a smooth or coloured sound gives much more (white noise has no continuity to break).
    """
    fft = _fft()
    x = np.asarray(loop, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    n = x.shape[1]
    half = max(1, int(round(SEAM_WINDOW_S * rate / 2)))
    if n < 8 * half + 2 * positions:
        raise ValueError(f"a loop of {n} samples is too short to measure its seam")
    rng = np.random.default_rng(seed)
    places = rng.integers(2 * half, n - 2 * half, size=positions)  # a sample p: the seam between p-1 and p
    jumps = np.abs(x[:, places] - x[:, places - 1]).sum(axis=0)
    seam_jump = float(np.abs(x[:, 0] - x[:, -1]).sum())
    spectrum = fft.rfft(x, axis=1)
    spectrum[:, np.arange(spectrum.shape[1]) * rate / n < SEAM_HF_HZ] = 0.0
    hp = (fft.irfft(spectrum, n, axis=1) ** 2).sum(axis=0)
    ring = np.concatenate([hp[-half:], hp, hp[:half]])  # circular: the seam window wraps
    cum = np.concatenate([[0.0], np.cumsum(ring)])
    energy = cum[places + 2 * half] - cum[places]  # window [p - half, p + half) of hp
    seam_energy = float(cum[2 * half] - cum[0])

    def ratio(value, reference):
        med = float(np.median(reference))
        return value / med if med > 0 else (1.0 if value == 0 else float("inf"))

    return {"jump_ratio": ratio(seam_jump, jumps), "hf_ratio": ratio(seam_energy, energy)}


# -- pictures ---------------------------------------------------------------------------

def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(ticks, 1)
    mag = 10 ** np.floor(np.log10(raw))
    return float(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


def spectrogram_png(path, items: list, rate: int, **options) -> Path:
    """spectrogram_picture(items, rate, **options) written as a PNG by runtime.io.images.write_png."""
    from ganfx.runtime.io.images import write_png

    return write_png(path, spectrogram_picture(items, rate, **options))


def spectrogram_picture(items: list, rate: int, seconds: float | None = None, width: int = 1000,
                        panel_height: int = 170, top_db: float = 80.0, max_hz: float | None = None) -> np.ndarray:
    """A log-magnitude spectrogram per (label, signal), stacked, on one colour scale. # -> [H,width,3] uint8 RGB

    Frequency linear from 0 to `max_hz` (rate / 2; kHz ticks on the left), time in seconds on a common
    axis (`seconds`, or the longest item: shorter items end early), magma colours from the
    loudest value of all items down `top_db` (80 dB); FFT of about 20 ms (Hann, 75% overlap),
    power averaged into each pixel column.
    """
    import cv2

    fft = _fft()
    signals = [(str(label), mono(x)) for label, x in items]
    if seconds is not None:
        signals = [(label, x[: int(round(seconds * rate))]) for label, x in signals]
    duration = seconds or max(x.size for _, x in signals) / rate
    nfft = 1 << int(np.ceil(np.log2(max(64, 0.02 * rate))))
    left, right, title, gap, axis = 58, 14, 24, 10, 40
    plot_w = width - left - right
    window = np.hanning(nfft + 1)[:-1]
    panels = []
    for label, x in signals:
        cols = max(1, int(round(plot_w * x.size / rate / duration)))
        xx = np.pad(x, (nfft // 2, nfft // 2))
        frames = np.lib.stride_tricks.sliding_window_view(xx, nfft)[:: nfft // 4]
        power = np.concatenate([np.abs(fft.rfft(frames[i:i + 4096] * window, axis=1)) ** 2
                                for i in range(0, frames.shape[0], 4096)]).astype(np.float32)
        if power.shape[0] >= cols:  # mean power per pixel column
            edges = np.linspace(0, power.shape[0], cols + 1).astype(np.int64)
            power = np.add.reduceat(power, edges[:-1], axis=0) / np.diff(edges)[:, None]
        if max_hz is not None:
            power = power[:, : max(2, int(np.ceil(min(max_hz, rate / 2) * nfft / rate)) + 1)]
        db = 10 * np.log10(power + 1e-20)  # [cols or fewer, bins]
        panels.append((label, x.size / rate, db, cols))
    top = max(float(db.max()) for _, _, db, _ in panels)
    height = len(panels) * (title + panel_height + gap) + axis + 20
    canvas = np.full((height, width, 3), 255, np.uint8)
    font, grey = cv2.FONT_HERSHEY_SIMPLEX, (90, 90, 90)
    nyquist_khz = (rate / 2.0 if max_hz is None else min(max_hz, rate / 2.0)) / 1000.0
    fstep = _nice_step(nyquist_khz, 4)
    y = 0
    for label, secs, db, cols in panels:
        level = np.clip((db - (top - top_db)) / top_db, 0.0, 1.0)
        img = (level.T[::-1] * 255).astype(np.uint8)  # [bins, cols], low frequencies at the bottom
        img = cv2.resize(img, (cols, panel_height), interpolation=cv2.INTER_AREA if img.shape[0] > panel_height
                         else cv2.INTER_LINEAR)
        rgb = cv2.applyColorMap(img, cv2.COLORMAP_MAGMA)[..., ::-1]
        cv2.putText(canvas, f"{label}  ({secs:.1f} s)", (left, y + 17), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        y0 = y + title
        canvas[y0:y0 + panel_height, left:left + plot_w] = 235
        canvas[y0:y0 + panel_height, left:left + min(cols, plot_w)] = rgb[:, :plot_w]
        cv2.rectangle(canvas, (left - 1, y0 - 1), (left + plot_w, y0 + panel_height), (160, 160, 160), 1)
        for k in np.arange(0, nyquist_khz + 1e-9, fstep):
            py = int(round(y0 + panel_height - 1 - k / nyquist_khz * (panel_height - 1)))
            cv2.line(canvas, (left - 5, py), (left - 1, py), grey, 1)
            cv2.putText(canvas, f"{k:g}k", (4, min(py + 4, y0 + panel_height)), font, 0.38, grey, 1, cv2.LINE_AA)
        y = y0 + panel_height + gap
    tstep = _nice_step(duration, 8)
    for t in np.arange(0, duration + 1e-9, tstep):
        px = int(round(left + t / duration * (plot_w - 1)))
        cv2.line(canvas, (px, y - gap), (px, y - gap + 5), grey, 1)
        cv2.putText(canvas, f"{t:g}", (px - 8, y - gap + 19), font, 0.38, grey, 1, cv2.LINE_AA)
    cv2.putText(canvas, "seconds   (frequency in kHz)", (left, y - gap + 36), font, 0.4, grey, 1, cv2.LINE_AA)
    bar_w, bx, by = 160, width - right - 160, y - gap + 26
    bar = cv2.applyColorMap(np.linspace(0, 255, bar_w).astype(np.uint8)[None].repeat(8, axis=0),
                            cv2.COLORMAP_MAGMA)[..., ::-1]
    canvas[by:by + 8, bx:bx + bar_w] = bar
    cv2.putText(canvas, f"-{top_db:g} dB", (bx - 52, by + 8), font, 0.38, grey, 1, cv2.LINE_AA)
    cv2.putText(canvas, "0 dB", (bx + bar_w - 28, by + 22), font, 0.38, grey, 1, cv2.LINE_AA)
    return canvas
