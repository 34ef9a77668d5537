"""Texture exemplars, random crops, and DiffAugment-style augmentation.

An exemplar is an image file or a scikit-image sample, optionally cut to a rectangle:

    img = load_exemplar("brick.png")                    # [H,W,3] float32 0..1 (grey -> 3 equal channels)
    img = load_exemplar("skimage:brick")                 # skimage.data.brick()
    img = load_exemplar("skimage:chelsea:40,20,200,180")  # x,y,width,height cut of skimage.data.chelsea()

    crops = CropSampler([img], crop=128, batch=8, seed=0)
    real = crops.sample()                                # [8,3,128,128] float32 in -1..1
    real = diff_augment(real, "color,translation,cutout", generator)

Crops are taken at several scales (a random zoom in [1 - scale_jitter, 1 + scale_jitter]),
so the discriminator never learns one exact pixel grid, and optionally flipped and rotated
by multiples of 90 degrees (only for textures that look the same that way).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ganfx.runtime.errors import UserInputError

from .exemplars import SKIMAGE_PREFIX, fingerprint, load_exemplar  # noqa: F401 (re-exported)


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
                raise UserInputError(f"exemplar is {w}x{h}, smaller than the {int(np.ceil(largest))} px crop "
                                     f"(crop {self.crop} with scale jitter {self.scale_jitter}); use a smaller --crop",
                                     path=name)
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
def _color(x, g):
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, generator=g) - 0.5) * 0.5  # brightness (on -1..1 values)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, generator=g) * 0.6 + 0.7) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, generator=g) * 0.6 + 0.7) + mean  # contrast


def _translation(x, g, ratio=0.125):
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), generator=g)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=g)
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    gy = torch.clamp(gy[None] + ty + 1, 0, h + 1)
    gx = torch.clamp(gx[None] + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    idx = (gy * (w + 2) + gx).view(n, 1, -1).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def _cutout(x, g, ratio=0.25):
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=g)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=g)
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
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
