"""Tiny real texture trainings for tests: a synthetic exemplar, a few-second run, its export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganfx.trainer.config import LoopConfig
from ganfx.trainer.texture_task import TextureConfig

# Small enough to train a few steps in about a second on one thread.
# Every input the real models have: coarse and fine noise, a learned wave, low-pass waves.
TINY = dict(crop=32, batch=2, stride=4, g_widths=(16, 8, 8), cell_blocks=1, noise_channels=4, d_width=8,
            d_downs=2, sample_px=32, eval_swd=False, waves=1, lowpass=4)


def stripes(path, size=(72, 80), seed=0) -> Path:
    """A striped, speckled grey-blue exemplar PNG (a texture with structure and noise)."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: size[0], : size[1]]
    base = 0.5 + 0.35 * np.sin(xx / 3.0 + yy / 7.0)
    img = np.stack([base * 0.6, base * 0.8, base], axis=2) + rng.normal(0, 0.05, size + (3,))
    img = np.clip(img * 255, 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), img[..., ::-1])
    return Path(path)


def tiny_config(exemplar, **kw) -> TextureConfig:
    return TextureConfig(exemplars=(str(exemplar),), name="tinytex", **{**TINY, **kw})


def tiny_loop(iterations=4, **kw) -> LoopConfig:
    base = dict(iterations=iterations, log_every=2, sample_every=iterations, checkpoint_every=2, threads=1,
                progress=False)
    return LoopConfig(**{**base, **kw})
