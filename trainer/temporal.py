"""The temporal-consistency term: a frame-by-frame effect should commute with camera motion.

Between two frames of a shot the picture mostly moves (pan, zoom, a little rotation). If the
generator commutes with such motions, G(warp(x)) = warp(G(x)), its output moves with the
picture instead of flickering. We draw small random similarity warps (sub-pixel shifts, a
few percent of zoom, a degree or two of rotation) and penalise

    consistency_loss(G, x) = mean over valid pixels of |G(warp(x)) - warp(G(x))|

where "valid" excludes pixels the warp brought in from outside the patch and a margin at the
patch border (there the zero padding, not the picture, decides the output).

    w = random_warps(x.shape[0], generator=torch.Generator().manual_seed(0))
    loss = consistency_loss(G, x, w)        # x: [N,3,P,P]
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def random_warps(n: int, shift: float = 2.0, zoom: float = 0.03, rotate_deg: float = 2.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Random similarity transforms: rotation/zoom about the patch centre, then a shift of up to
    `shift` pixels (warp() converts it to the patch's normalised coordinates). # -> [N,2,3]
    """
    u = torch.rand(n, 4, generator=generator) * 2 - 1
    angle = u[:, 0] * math.radians(rotate_deg)
    scale = 1 + u[:, 1] * zoom
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    theta[:, 0, 2], theta[:, 1, 2] = u[:, 2] * shift, u[:, 3] * shift  # pixels for now
    return theta


def warp(x: torch.Tensor, theta: torch.Tensor) -> tuple:
    """Resample x by the warps; also the mask of pixels that came from inside x.

    # x [N,C,H,W], theta [N,2,3] (translation in pixels) -> (warped [N,C,H,W], valid [N,1,H,W]) float32
    """
    n, _, h, w = x.shape
    # Float32 even under autocast: in bfloat16 the sampling grid is off by a fraction of a pixel.
    with torch.autocast(x.device.type, enabled=False):
        x = x.float()
        t = theta.to(x.device, torch.float32).clone()  # warps are drawn on the CPU
        t[:, 0, 2] = t[:, 0, 2] * 2.0 / w  # pixels -> normalised coordinates
        t[:, 1, 2] = t[:, 1, 2] * 2.0 / h
        grid = F.affine_grid(t, [n, 1, h, w], align_corners=False)
        warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        inside = F.grid_sample(torch.ones(n, 1, h, w, device=x.device), grid, mode="bilinear",
                               padding_mode="zeros", align_corners=False)
    return warped, (inside > 0.999).to(x.dtype)


def consistency_loss(generator, x: torch.Tensor, theta: torch.Tensor, margin: int = 12,
                     y: torch.Tensor | None = None) -> torch.Tensor:
    """mean |G(warp(x)) - warp(G(x))| over valid pixels. # x [N,3,P,P], theta [N,2,3] -> scalar

    `y` = G(x) when the caller already has it.
    """
    y = generator(x) if y is None else y
    xw, valid = warp(x, theta)
    a = generator(xw)
    b, valid_b = warp(y, theta)
    mask = valid * valid_b
    if margin:
        border = torch.zeros_like(mask)
        border[..., margin:-margin, margin:-margin] = 1
        mask = mask * border
    return ((a - b).abs() * mask).sum() / (mask.sum() * a.shape[1]).clamp_min(1.0)
