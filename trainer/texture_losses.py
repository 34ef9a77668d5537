"""Sliced-Wasserstein loss on pixel neighbourhoods, a stabiliser for texture GAN generators.

    loss = sliced_patch_loss(fake, real, generator)   # [B,3,H,W] each, -1..1 -> scalar

Heitz et al. 2021 ("A Sliced Wasserstein Loss for Neural Texture Synthesis") match the
distributions of deep features by sorting random 1-D projections; here the features are the
7x7 neighbourhoods of each Laplacian-pyramid level of the images themselves, with fresh
random directions every step (so the generator cannot fit a fixed set of projections). It
gives the generator a steady pull towards the exemplar's local statistics from the first
step, where the adversarial signal alone can collapse to a flat colour on one exemplar.

Each level is scaled by the real crops' per-channel standard deviation at that level (as the
evaluation's SWD is), so the faint fine bands weigh as much as the strong coarse ones and the
generator is not rewarded for blur. `levels=0` goes down to about 16 px, so the coarsest
7x7 neighbourhoods span most of a crop (brick courses, not only mortar edges). The random
directions and subsets come from the CPU generator `generator` on any device; call it
outside autocast (sorting projections wants float32).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

PATCH = 7


def _pyramid(x: torch.Tensor, levels: int) -> list:
    out = []
    for _ in range(levels - 1):
        down = F.avg_pool2d(x, 2)
        out.append(x - F.interpolate(down, scale_factor=2, mode="bilinear", align_corners=False))
        x = down
    out.append(x)
    return out


def _sorted_projections(x: torch.Tensor, dirs: torch.Tensor, count: int, g: torch.Generator) -> torch.Tensor:
    patches = F.unfold(x, PATCH)  # [B, C*49, L]
    patches = patches.permute(0, 2, 1).reshape(-1, patches.shape[1])  # [B*L, C*49]
    if patches.shape[0] > count:
        idx = torch.randperm(patches.shape[0], generator=g)[:count]  # drawn on the CPU
        patches = patches[idx.to(patches.device)]
    return torch.sort(patches @ dirs, dim=0).values


def auto_levels(size: int, min_size: int = 16) -> int:
    """Pyramid levels of a `size` px crop down to about `min_size` px (at least 1)."""
    levels = 1
    while size // 2 >= min_size:
        size //= 2
        levels += 1
    return levels


def sliced_patch_loss(fake: torch.Tensor, real: torch.Tensor, generator: torch.Generator, levels: int = 0,
                      projections: int = 64, count: int = 4096) -> torch.Tensor:
    """Mean over pyramid levels of the sliced W1 distance of 7x7 neighbourhoods. # [B,C,H,W] x2 -> []"""
    levels = levels or auto_levels(min(fake.shape[2:]))
    total = fake.new_zeros(())
    for lf, lr in zip(_pyramid(fake, levels), _pyramid(real.detach(), levels)):
        scale = lr.std(dim=(0, 2, 3), keepdim=True) + 1e-3  # per channel, of the real level
        lf, lr = lf / scale, lr / scale
        dim = lf.shape[1] * PATCH * PATCH
        dirs = torch.randn(dim, projections, generator=generator).to(lf.device, lf.dtype)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        n = min(count, lf.shape[0] * (lf.shape[2] - PATCH + 1) * (lf.shape[3] - PATCH + 1),
                lr.shape[0] * (lr.shape[2] - PATCH + 1) * (lr.shape[3] - PATCH + 1))
        pf = _sorted_projections(lf, dirs, n, generator)
        pr = _sorted_projections(lr, dirs, n, generator)
        total = total + (pf - pr).abs().mean()
    return total / levels


def local_gradient_loss(fake: torch.Tensor, real: torch.Tensor, window: int = 16,
                        mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-window W1 distance between the distributions of the images' pixel differences.

    Within each `window` x `window` cell, the horizontal and vertical differences of each channel
    are sorted for both images and compared (the exact 1-D Wasserstein-1 distance): how flat a
    cell is and how sharp its edges are must match, but not where in the cell the edges fall.
    A look painted anew on every frame (strokes at random places) has a fixed such distribution
    in each cell while its per-pixel values are noise. `mask` ([B,1,H,W], 1 = counts) weighs each
    cell by its mean. # [B,C,H,W] x2 -> []
    """
    def cells(x):
        across = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1))  # zero in the last column
        down = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))  # zero in the last row
        d = torch.cat([across, down], 1)
        b, c, h, w = d.shape
        h, w = h - h % window, w - w % window
        d = d[..., :h, :w].reshape(b, c, h // window, window, w // window, window)
        return torch.sort(d.permute(0, 1, 2, 4, 3, 5).reshape(b, c, h // window, w // window, -1), -1).values

    per_cell = (cells(fake) - cells(real.detach())).abs().mean(dim=(1, 4))  # [B, cells down, cells across]
    if mask is None:
        return per_cell.mean()
    weight = F.avg_pool2d(mask[..., :per_cell.shape[1] * window, :per_cell.shape[2] * window], window)[:, 0]
    return (per_cell * weight).sum() / weight.sum().clamp_min(1e-6)
