"""Noise as a pure function of (seed, channel, cell y, cell x, time): no global RNG.

Texture generators read a grid of Gaussian noise cells. The runtime makes that grid, so
any window of any frame can be computed alone, on any machine, and match bit for bit:

    field = NoiseField(seed=7, channels=8)
    a = field.window(y0=0, x0=0, height=64, width=64, t=2.5)     # [8,64,64] float32
    b = field.window(y0=32, x0=32, height=8, width=8, t=2.5)
    assert (a[:, 32:40, 32:40] == b).all()                        # same cells, same values

Animation: each cell follows a stationary Gaussian process in `t`,
    n(t) = sum_j (A_j cos(w_j t) + B_j sin(w_j t)) / sqrt(J),
with A_j, B_j independent hashed N(0,1) fields, so every frame is exactly N(0,1) per cell
and the path is smooth. With `loop=N` the frequencies are whole cycles per N time units,
so t = N gives exactly t = 0. The first `still` channels keep their t = 0 values at every time
(a tile texture's offsets: its pieces stay in place while the other channels move them a little).
With `period=(py, px)` cell coordinates wrap, so the generated image tiles.

Waves (periodic channels, as in PSGAN, Bergmann et al. 2017) give regular textures a phase
reference that a local generator cannot make from noise: for each wave vector (ky, kx) in
radians per cell, two more channels sin and cos of (ky*y + kx*x + phase) follow the noise
channels, with y, x absolute cell coordinates and the phase hashed from the seed. They do not
change with time. With `period`, each wave vector is rounded to the nearest one that repeats
with that period, so a tileable image stays exact:

    field = NoiseField(seed=7, channels=8, waves=((0.8, 0.0), (0.4, 0.9)))
    field.window(0, 0, 64, 64).shape                              # (12, 64, 64)
"""

from __future__ import annotations

import numpy as np

# Incommensurate angular frequencies (radians per time unit) for free-running animation.
_FREE_OMEGAS = (1.0, 0.6180339887, 0.4142135624)
_LOOP_CYCLES = (1, 2, 3)


def _mix32(x: np.ndarray) -> np.ndarray:
    """lowbias32 (Chris Wellons): a fast, well-tested 32-bit integer hash."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    x = x ^ (x >> np.uint32(16))
    return x


def _u32(v) -> np.ndarray:
    return (np.asarray(v, dtype=np.int64) & 0xFFFFFFFF).astype(np.uint32)


class NoiseField:
    """Deterministic Gaussian noise over an infinite grid of cells, animated in time."""

    def __init__(self, seed: int = 0, channels: int = 1, period: tuple | None = None, loop: float | None = None,
                 terms: int = 2, waves: tuple = (), still: int = 0):
        self.seed = int(seed)
        self.channels = int(channels)
        self.still = int(still)
        if not 0 <= self.still <= self.channels:
            raise ValueError(f"still must be 0..channels ({self.channels}), got {still}")
        self.period = None if period is None else (int(period[0]), int(period[1]))  # cells (y, x)
        if self.period is not None and min(self.period) < 1:
            raise ValueError("period must be >= 1 cell in each direction")
        self.loop = None if not loop else float(loop)  # time units per loop
        self.terms = int(terms)
        if not 1 <= self.terms <= 3:
            raise ValueError("terms must be 1, 2 or 3")
        self.waves = tuple((float(ky), float(kx)) for ky, kx in waves)
        if self.period is not None:
            self.waves = tuple(snap_wave(k, self.period) for k in self.waves)

    @property
    def out_channels(self) -> int:
        """Channels of a window: the noise channels, then sin and cos of each wave."""
        return self.channels + 2 * len(self.waves)

    def wave_phases(self) -> np.ndarray:
        """The seed's phase of each wave, uniform in [0, 2 pi). # -> [len(waves)] float64"""
        with np.errstate(over="ignore"):
            j = np.arange(len(self.waves), dtype=np.int64)
            h = _mix32(_mix32(_u32(self.seed) ^ np.uint32(0x5BD1E995)) ^ _mix32(_u32(j) + np.uint32(0x1B873593)))
        return (h >> np.uint32(8)).astype(np.float64) * (2.0 * np.pi / 16777216.0)

    def cell_coords(self, y0: int, x0: int, height: int, width: int) -> tuple:
        """The window's cell coordinates, wrapped by `period`. # -> (ys [h], xs [w]) int64"""
        ys = np.arange(y0, y0 + height, dtype=np.int64)
        xs = np.arange(x0, x0 + width, dtype=np.int64)
        if self.period is not None:
            ys %= self.period[0]
            xs %= self.period[1]
        return ys, xs

    def wave_window(self, y0: int, x0: int, height: int, width: int) -> np.ndarray:
        """sin, cos of each wave over a window of cells. # -> [2*len(waves),h,w] float32"""
        ys, xs = self.cell_coords(y0, x0, height, width)
        out = np.empty((2 * len(self.waves), height, width), np.float32)
        for i, ((ky, kx), phase) in enumerate(zip(self.waves, self.wave_phases())):
            # float64 and wrapped angles: the same values far from the origin as near it
            a = np.mod(ky * ys.astype(np.float64), 2.0 * np.pi)[:, None] + np.mod(kx * xs.astype(np.float64),
                                                                                     2.0 * np.pi)[None, :] + phase
            out[2 * i] = np.sin(a)
            out[2 * i + 1] = np.cos(a)
        return out

    def key_field(self, key: int, y0: int, x0: int, height: int, width: int, channels: tuple | None = None) -> np.ndarray:
        """One independent N(0,1) field (`key` selects it), for a window of cells and the channels
        `channels` = (first, end) (default all). # [C,h,w] float32"""
        with np.errstate(over="ignore"):
            return self._key_field(key, y0, x0, height, width, channels or (0, self.channels))

    def _key_field(self, key, y0, x0, height, width, channels):
        ys, xs = self.cell_coords(y0, x0, height, width)
        c = np.arange(channels[0], channels[1], dtype=np.int64)
        base = _mix32(_u32(self.seed) ^ _mix32(_u32(key) + np.uint32(0x9E3779B9)))
        hc = _mix32(base ^ _mix32(_u32(c) * np.uint32(0x85EBCA6B) + np.uint32(1)))[:, None, None]
        hy = _mix32(_u32(ys) * np.uint32(0xC2B2AE35) + np.uint32(0x27D4EB2F))[None, :, None]
        hx = _u32(xs)[None, None, :]
        h = _mix32(hc ^ hy)
        h1 = _mix32(h + hx * np.uint32(0x165667B1))
        h2 = _mix32(h1 ^ np.uint32(0x68E31DA4))
        # Box-Muller on two 24-bit uniforms in (0, 1].
        u1 = ((h1 >> np.uint32(8)).astype(np.float32) + np.float32(1.0)) * np.float32(1.0 / 16777216.0)
        u2 = (h2 >> np.uint32(8)).astype(np.float32) * np.float32(2.0 * np.pi / 16777216.0)
        return np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(u2)

    def _weights(self, t: float) -> list:
        if self.loop:
            phase = 2.0 * np.pi * (float(t) % self.loop) / self.loop
            angles = [k * phase for k in _LOOP_CYCLES[: self.terms]]
        else:
            angles = [w * float(t) for w in _FREE_OMEGAS[: self.terms]]
        norm = 1.0 / np.sqrt(self.terms)
        out = []
        for j, a in enumerate(angles):
            out.append((2 * j, np.cos(a) * norm))
            out.append((2 * j + 1, np.sin(a) * norm))
        return out

    def window(self, y0: int, x0: int, height: int, width: int, t: float = 0.0) -> np.ndarray:
        """Noise cells [y0, y0+height) x [x0, x0+width) at time t, then the waves. # [C+2W,h,w] float32"""
        acc = np.zeros((self.out_channels, height, width), dtype=np.float32)
        for (c0, c1), when in (((0, self.still), 0.0), ((self.still, self.channels), t)):
            if c1 > c0:
                noise = acc[c0:c1]
                for key, w in self._weights(when):
                    if w != 0.0:
                        noise += np.float32(w) * self.key_field(key, y0, x0, height, width, (c0, c1))
        if self.waves:
            acc[self.channels:] = self.wave_window(y0, x0, height, width)
        return acc


def snap_wave(k: tuple, period: tuple) -> tuple:
    """The wave vector nearest `k` (radians per cell) that repeats every `period` (py, px) cells."""
    step_y, step_x = 2.0 * np.pi / period[0], 2.0 * np.pi / period[1]
    return (round(k[0] / step_y) * step_y, round(k[1] / step_x) * step_x)
