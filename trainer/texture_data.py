"""Random crops of texture exemplars, and DiffAugment-style augmentation.

Exemplars are loaded by `ganfx.trainer.exemplars.load_exemplar` ([H,W,3] float32 0..1):

    img = load_exemplar("skimage:brick")
    crops = CropSampler([img], crop=128, batch=8, seed=0)
    real = crops.sample()                                # [8,3,128,128] float32 in -1..1
    real = diff_augment(real, "color,translation,cutout", generator)

Crops are taken at several scales (a random zoom in [1 - scale_jitter, 1 + scale_jitter]),
so the discriminator never learns one exact pixel grid, and optionally flipped and rotated
by multiples of 90 degrees (only for textures that look the same that way).

Crops and augmentation parameters are drawn on the CPU from seeded generators (saved for an
exact resume) and follow the batch onto its device, so a step sees the same numbers on any device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ganfx.runtime.errors import UserInputError

from .config import ConfigError


class CropSampler:
    """Random multi-scale crops of the exemplars, with its own seeded RNG (saved for resume)."""

    def __init__(self, images: list, crop: int, batch: int, seed: int = 0, scale_jitter: float = 0.0,
                 flips: bool = False, rot90: bool = False, names: list | None = None):
        self.crop, self.batch = int(crop), int(batch)
        self.scale_jitter, self.flips, self.rot90 = float(scale_jitter), bool(flips), bool(rot90)
        largest = self.crop * (1.0 + self.scale_jitter)
        self.images = []
        for i, im in enumerate(images):
            h, w = im.shape[:2]
            if min(h, w) < largest:
                name = names[i] if names else f"exemplar {i}"
                raise ConfigError(f"exemplar is {w}x{h}, smaller than the {int(np.ceil(largest))} px crop "
                                  f"(crop {self.crop} with scale jitter {self.scale_jitter}); use a smaller crop",
                                  "crop", path=name)
            self.images.append(torch.from_numpy(np.ascontiguousarray(im.transpose(2, 0, 1))))  # [3,H,W] 0..1
        self.gen = torch.Generator().manual_seed(int(seed))

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.gen))

    def sample(self) -> torch.Tensor:
        """A batch of crops. # -> [batch,3,crop,crop] float32 in -1..1"""
        out = []
        for _ in range(self.batch):
            im = self.images[int(torch.randint(len(self.images), (), generator=self.gen))]
            zoom = 1.0 + self.scale_jitter * (2.0 * self._uniform() - 1.0)
            size = max(8, int(round(self.crop * zoom)))
            _, h, w = im.shape
            y = int(torch.randint(h - size + 1, (), generator=self.gen))
            x = int(torch.randint(w - size + 1, (), generator=self.gen))
            patch = im[:, y:y + size, x:x + size]
            if size != self.crop:
                patch = F.interpolate(patch[None], size=(self.crop, self.crop), mode="bilinear",
                                      align_corners=False, antialias=size > self.crop)[0]
            if self.flips and self._uniform() < 0.5:
                patch = patch.flip(2)
            if self.rot90:
                patch = torch.rot90(patch, int(torch.randint(4, (), generator=self.gen)), dims=(1, 2))
            out.append(patch)
        return torch.stack(out) * 2.0 - 1.0

    def state(self) -> list:
        return self.gen.get_state().tolist()

    def set_state(self, state: list) -> None:
        self.gen.set_state(torch.tensor(state, dtype=torch.uint8))


# -- DiffAugment (Zhao et al. 2020): the same differentiable augmentation on real and fake --
def _rand(x, g):
    """One uniform number per batch item, drawn on the CPU. # -> [N,1,1,1] on x's device"""
    return torch.rand(x.shape[0], 1, 1, 1, generator=g).to(x.device)


def _color(x, g):
    x = x + (_rand(x, g) - 0.5) * 0.5  # brightness (on -1..1 values)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, g) * 0.6 + 0.7) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(x, g) * 0.6 + 0.7) + mean  # contrast


def _grid(x):
    _, _, h, w = x.shape
    return torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")


def _translation(x, g, ratio=0.125):
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), generator=g).to(x.device)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=g).to(x.device)
    gy, gx = _grid(x)
    gy = torch.clamp(gy[None] + ty + 1, 0, h + 1)
    gx = torch.clamp(gx[None] + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    idx = (gy * (w + 2) + gx).view(n, 1, -1).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def _cutout(x, g, ratio=0.25):
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=g).to(x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=g).to(x.device)
    gy, gx = _grid(x)
    inside = ((gy[None] >= oy - ch // 2) & (gy[None] < oy - ch // 2 + ch) & (gx[None] >= ox - cw // 2)
              & (gx[None] < ox - cw // 2 + cw))
    return x * (~inside).unsqueeze(1).to(x.dtype)


AUGMENTS = {"color": _color, "translation": _translation, "cutout": _cutout}


def check_policy(policy: str) -> tuple:
    names = tuple(p for p in policy.split(",") if p)
    bad = [p for p in names if p not in AUGMENTS]
    if bad:
        raise UserInputError(f"unknown augmentation {bad[0]!r} (known: {', '.join(AUGMENTS)})")
    return names


def diff_augment(x: torch.Tensor, policy: str, generator: torch.Generator) -> torch.Tensor:
    """Apply each augmentation of a comma-separated policy. # [N,C,H,W] -> [N,C,H,W]"""
    for name in check_policy(policy):
        x = AUGMENTS[name](x, generator)
    return x
