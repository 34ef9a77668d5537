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
so t = N gives exactly t = 0. With `period=(py, px)` cell coordinates wrap, so the
generated image tiles.
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
                 terms: int = 2):
        self.seed = int(seed)
        self.channels = int(channels)
        self.period = None if period is None else (int(period[0]), int(period[1]))  # cells (y, x)
        if self.period is not None and min(self.period) < 1:
            raise ValueError("period must be >= 1 cell in each direction")
        self.loop = None if not loop else float(loop)  # time units per loop
        self.terms = int(terms)
        if not 1 <= self.terms <= 3:
            raise ValueError("terms must be 1, 2 or 3")

    def key_field(self, key: int, y0: int, x0: int, height: int, width: int) -> np.ndarray:
        """One independent N(0,1) field (`key` selects it), for a window of cells. # [C,h,w] float32"""
        with np.errstate(over="ignore"):
            return self._key_field(key, y0, x0, height, width)

    def _key_field(self, key, y0, x0, height, width):
        ys = np.arange(y0, y0 + height, dtype=np.int64)
        xs = np.arange(x0, x0 + width, dtype=np.int64)
        if self.period is not None:
            ys %= self.period[0]
            xs %= self.period[1]
        c = np.arange(self.channels, dtype=np.int64)
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
        """Noise cells [y0, y0+height) x [x0, x0+width) at time t. # [C,h,w] float32"""
        acc = np.zeros((self.channels, height, width), dtype=np.float32)
        for key, w in self._weights(t):
            if w != 0.0:
                acc += np.float32(w) * self.key_field(key, y0, x0, height, width)
        return acc
