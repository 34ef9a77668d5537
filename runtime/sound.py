"""Rendering sound models: any span of samples, computed alone, identical to a whole render.

    from ganfx.runtime import load_model
    fire = load_model("fire")
    a = fire.sound(48000 * 30, seed=3)                 # [channels, 1440000] float32, 30 s at 48 kHz
    b = fire.sound(48000, first=48000 * 10, seed=3)    # seconds 10..11 alone
    assert (a[:, 480000:528000] == b).all()            # the same samples, bit for bit
    loop = fire.sound(48000 * 20, seed=3, loop=48000 * 20)   # sample 960000 would be sample 0 again

A sound model is a 1-D fully convolutional generator driven by the runtime's noise, one
value per channel and noise cell (`ganfx.noise`: channels, stride = samples per cell, halo =
cells of context), the same counter-based hash as textures (runtime/noise.py) on a single
row of cells. The runtime computes the sound in fixed blocks of `BLOCK_CELLS` cells laid on
an absolute grid (block b holds cells [b*B, (b+1)*B)), each with its halo of noise on both
sides, and cuts every request from those blocks: a sample is always computed in the same
block with the same input, whatever span asked for it, so chunks of a farm render join
exactly and any machine gives the same values. With `loop=L` samples (a multiple of the
stride) the noise wraps every L/stride cells and positions are taken modulo L, so sample L
is sample 0 exactly and the loop has no seam.
"""

from __future__ import annotations

import numpy as np

from .errors import UserInputError
from .noise import NoiseField

BLOCK_CELLS = 2048  # noise cells per block of the absolute grid (11 s at 48 kHz, stride 256)


def loop_samples(seconds: float, rate: int, stride: int) -> int:
    """A loop length in samples: `seconds` rounded to the nearest multiple of the stride (at least one)."""
    n = max(1, round(float(seconds) * rate / stride))
    return int(n * stride)


class SoundRenderer:
    """Blocks of one sound (model, seed, loop), computed on demand; the last few are kept."""

    def __init__(self, model, seed: int = 0, loop: int | None = None):
        spec = model.spec
        self.model, self.stride, self.halo = model, spec.noise.stride, spec.noise.halo
        self.channels = spec.output.channels
        self.loop = None if not loop else int(loop)
        if self.loop is not None and (self.loop < self.stride or self.loop % self.stride):
            raise UserInputError(f"{spec.name}: a loop must be a whole number of noise cells "
                                 f"({self.stride} samples each), got {self.loop} samples", about="loop")
        period = None if self.loop is None else (1, self.loop // self.stride)
        self.field = NoiseField(seed=int(seed), channels=spec.noise.channels, period=period)
        self._cache: dict = {}

    def block(self, b: int) -> np.ndarray:
        """Samples of block b. # -> [channels, BLOCK_CELLS*stride] float32"""
        if b not in self._cache:
            h, s = self.halo, self.stride
            noise = self.field.window(0, b * BLOCK_CELLS - h, 1, BLOCK_CELLS + 2 * h)[:, 0][None]
            y = self.model.run(noise)[0]
            if y.shape != (self.channels, (BLOCK_CELLS + 2 * h) * s):
                from .errors import ContractError

                raise ContractError(f"sound output is {list(y.shape)} for {BLOCK_CELLS + 2 * h} noise cells, "
                                    f"ganfx.noise stride {s} says [{self.channels}, {(BLOCK_CELLS + 2 * h) * s}]",
                                    path=self.model.path)
            if len(self._cache) >= 4:
                self._cache.pop(next(iter(self._cache)))
            self._cache[b] = np.clip(y[:, h * s: (h + BLOCK_CELLS) * s], -1.0, 1.0)
        return self._cache[b]

    def render(self, first: int, count: int, progress=None) -> np.ndarray:
        """Samples [first, first+count) (modulo the loop). # -> [channels, count] float32 -1..1"""
        first, count = int(first), int(count)
        if count < 0:
            raise UserInputError(f"sample count must be >= 0, got {count}")
        out = np.empty((self.channels, count), np.float32)
        span = BLOCK_CELLS * self.stride
        done = 0
        while done < count:
            pos = first + done
            if self.loop is not None:
                pos %= self.loop
            b, off = divmod(pos, span)
            n = min(count - done, span - off)
            if self.loop is not None:
                n = min(n, self.loop - pos)  # a block stops at the loop's end; the next piece starts at 0
            out[:, done:done + n] = self.block(b)[:, off:off + n]
            done += n
            if progress is not None:
                progress(n)
        return out


def gain_factor(gain_db: float) -> np.float32:
    return np.float32(10.0 ** (float(gain_db) / 20.0))


def write_sound_file(path, renderer: SoundRenderer, first: int, count: int, rate: int, sample_format: str = "s16",
                     channels: int | None = None, gain_db: float = 0.0, overwrite: bool = False,
                     progress=None) -> int:
    """Render samples [first, first+count) into a wav/flac file, block by block (temporary name,
    renamed when complete). `channels` 2 writes a mono model on both channels. Returns samples written."""
    from .io.audiofile import AudioFileWriter

    channels = channels or renderer.channels
    if channels not in (1, 2) or (channels < renderer.channels):
        raise UserInputError(f"channels must be 1 or 2 (the model has {renderer.channels}), got {channels}",
                             about="channels")
    g = gain_factor(gain_db)
    chunk = BLOCK_CELLS * renderer.stride
    with AudioFileWriter(path, rate, channels, sample_format=sample_format, overwrite=overwrite) as out:
        done = 0
        while done < count:
            n = min(chunk, count - done)
            y = renderer.render(first + done, n)
            if gain_db:
                y = np.clip(y * g, -1.0, 1.0)
            if channels != y.shape[0]:
                y = np.repeat(y, channels, axis=0)
            out.write(y)
            done += n
            if progress is not None:
                progress(n)
    return count
