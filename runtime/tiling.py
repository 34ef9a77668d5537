"""Tiled inference with one fixed tile shape and exact halo cropping.

A purely local generator's output at a pixel depends only on input pixels within its
halo, so a frame can be cut into windows (tile = largest window size the network sees),
each window's halo cropped, and the pieces pasted back: the result equals whole-frame
inference. Every window of a frame size has the same shape (the last one in a row or
column is shifted back inside the frame; the shape is shrunk from `tile` just enough to
cover the frame with as many windows as `tile` needs, so little is computed twice), so an
accelerator never sees a new shape within a clip, and window origins sit on the network's
size multiple, so strided layers see the same phase as in a whole frame.

    grid = TileGrid(height=1081, width=1919, tile=512, halo=16, multiple=8)
    for t in grid:
        out[t.dst] = run(frame[t.src])[t.crop]

`feather > 0` blends neighbouring tiles over 2*feather pixels instead of cutting (for
models that are not strictly local); each tile then has a weight map (`grid.weights(t)`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def round_up(value: int, multiple: int) -> int:
    return -(-int(value) // int(multiple)) * int(multiple)


def context_span(start: int, stop: int, halo: int, multiple: int = 1) -> tuple:
    """The input span a local network needs for outputs [start, stop): `halo` more on each side,
    starting on the size multiple (strided layers then see the same phase as in a whole frame)."""
    return (int(start) - int(halo)) // int(multiple) * int(multiple), int(stop) + int(halo)


@dataclass(frozen=True)
class Span:
    start: int  # window start
    stop: int  # window stop (exclusive)
    keep_start: int  # first output position this window contributes (frame coords)
    keep_stop: int


def balanced_window(length: int, window: int, halo: int, multiple: int = 1) -> int:
    """The smallest window (on the multiple, <= `window`) that needs no more windows than `window` does.

    A 1080-row frame with 512-row windows and a halo of 5 needs three windows either way;
    367-row windows cover it with ~2% recomputation instead of ~42%.
    """
    core = window - 2 * halo
    if length <= window or core <= 0:
        return window
    count = -(-(length - 2 * halo) // core)
    return min(window, round_up(-(-(length - 2 * halo) // count) + 2 * halo, multiple))


def spans(length: int, window: int, halo: int, feather: int = 0) -> list:
    """Cut [0, length) into windows of size `window` (or one window if length <= window)."""
    if length <= window:
        return [Span(0, length, 0, length)]
    core = window - 2 * halo
    if core <= 0:
        raise ValueError(f"tile {window} leaves no room inside a halo of {halo} on each side")
    out, start, kept = [], 0, 0
    while True:
        if start + window >= length:
            start = length - window  # shift the last window back inside
            out.append(Span(start, length, kept, length))
            break
        stop = start + window - halo
        out.append(Span(start, start + window, kept, stop))
        kept = stop
        start += core
    if feather:
        widened = []
        for i, s in enumerate(out):
            k0 = s.keep_start - feather if i > 0 else s.keep_start
            k1 = s.keep_stop + feather if i < len(out) - 1 else s.keep_stop
            widened.append(Span(s.start, s.stop, max(k0, s.start), min(k1, s.stop)))
        out = widened
    return out


@dataclass(frozen=True)
class Tile:
    src: tuple  # (slice_y, slice_x) of the window in the (padded) frame
    crop: tuple  # (slice_y, slice_x) of the kept part inside the window's output
    dst: tuple  # (slice_y, slice_x) where the kept part goes in the output frame
    span_y: Span
    span_x: Span


class TileGrid:
    """Windows of one shape covering a height x width frame; see the module docstring."""

    def __init__(self, height: int, width: int, tile: int, halo: int = 0, multiple: int = 1, feather: int = 0):
        if tile < 1:
            raise ValueError("tile must be >= 1")
        self.height, self.width = int(height), int(width)
        self.multiple = max(1, int(multiple))
        self.feather = max(0, int(feather))
        # Context covers the model halo plus the feather band, and sits on the size multiple.
        self.halo = round_up(int(halo) + self.feather, self.multiple)
        self.window = round_up(tile, self.multiple)
        if self.window - 2 * self.halo <= 0 and (self.height > self.window or self.width > self.window):
            raise ValueError(
                f"tile {tile} is too small for a halo of {self.halo}px on each side; use a tile above {2 * self.halo}"
            )
        # Same window count as `tile` asks for, but as little overlap as the shape allows.
        self.window_h = balanced_window(self.height, self.window, self.halo, self.multiple)
        self.window_w = balanced_window(self.width, self.window, self.halo, self.multiple)
        self.rows = spans(self.height, self.window_h, self.halo, self.feather)
        self.cols = spans(self.width, self.window_w, self.halo, self.feather)

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def __iter__(self):
        for sy in self.rows:
            for sx in self.cols:
                yield Tile(
                    src=(slice(sy.start, sy.stop), slice(sx.start, sx.stop)),
                    crop=(slice(sy.keep_start - sy.start, sy.keep_stop - sy.start),
                          slice(sx.keep_start - sx.start, sx.keep_stop - sx.start)),
                    dst=(slice(sy.keep_start, sy.keep_stop), slice(sx.keep_start, sx.keep_stop)),
                    span_y=sy,
                    span_x=sx,
                )

    @property
    def tile_shape(self) -> tuple:
        """(h, w) every window has."""
        return (min(self.window_h, self.height), min(self.window_w, self.width))

    def _ramp(self, spans_: list, s: Span) -> np.ndarray:
        n = s.keep_stop - s.keep_start
        w = np.ones(n, dtype=np.float32)
        if not self.feather:
            return w
        pos = np.arange(n, dtype=np.float32) + 0.5
        i = spans_.index(s)
        if i > 0:
            w = np.minimum(w, np.clip(pos / (2 * self.feather), 0.0, 1.0))
        if i < len(spans_) - 1:
            w = np.minimum(w, np.clip((n - pos) / (2 * self.feather), 0.0, 1.0))
        return w

    def weights(self, tile: Tile) -> np.ndarray:
        """Blend weights of a tile's kept region. # [h,w,1] float32 (all ones without feather)"""
        wy = self._ramp(self.rows, tile.span_y)
        wx = self._ramp(self.cols, tile.span_x)
        return (wy[:, None] * wx[None, :])[..., None]
