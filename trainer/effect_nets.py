"""Effect networks: a purely local generator with a known receptive field, and a PatchGAN.

    G = EffectGenerator(width=32)              # [N,3,H,W] 0..1 -> [N,3,H,W] 0..1, H, W multiples of 4
    G.halo                                     # pixels of context per side (the contract's ganfx.halo)
    D = PatchDiscriminator()                   # D(input, output) -> real/fake scores [N,1,P/8,P/8]

The generator is a small U-Net: full, 1/2 and 1/4 resolution, residual blocks at 1/4
(cheap context), nearest upsampling plus convolution (no transposed-convolution checkerboards),
skip connections, and the output added to the input (an effect is mostly a modification of
the source; `skip=False` makes the network paint every pixel itself, for looks that keep none
of the source's fine detail). No normalisation layer at all, so every output pixel depends
only on a fixed window of input pixels and tiled inference equals whole-frame inference.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm


def _act():
    return nn.LeakyReLU(0.2)


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), _act(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class EffectGenerator(nn.Module):
    """U-Net-like local generator. # [N,3,H,W] 0..1 -> [N,3,H,W] 0..1 (unclamped while training)"""

    multiple = 4  # two stride-2 levels

    def __init__(self, width: int = 32, blocks: int = 3, skip: bool = True):
        super().__init__()
        self.skip = bool(skip)
        w1, w2, w4 = width, width * 2, width * 2
        self.enc1 = nn.Sequential(nn.Conv2d(3, w1, 3, padding=1), _act(), nn.Conv2d(w1, w1, 3, padding=1), _act())
        self.enc2 = nn.Sequential(nn.Conv2d(w1, w2, 3, stride=2, padding=1), _act(), nn.Conv2d(w2, w2, 3, padding=1), _act())
        self.enc4 = nn.Sequential(nn.Conv2d(w2, w4, 3, stride=2, padding=1), _act())
        self.mid = nn.Sequential(*[ResBlock(w4) for _ in range(blocks)])
        self.dec2 = nn.Sequential(nn.Conv2d(w4, w2, 3, padding=1), _act())
        self.dec1 = nn.Sequential(nn.Conv2d(w2, w1, 3, padding=1), _act())
        self.out = nn.Sequential(nn.Conv2d(w1, w1, 3, padding=1), _act(), nn.Conv2d(w1, 3, 3, padding=1))
        self.clamp_output = False  # set for export: the contract's output range is 0..1
        self._halo = None

    def forward(self, x):
        e1 = self.enc1(x)  # full resolution
        e2 = self.enc2(e1)  # 1/2
        m = self.mid(self.enc4(e2))  # 1/4
        d2 = self.dec2(F.interpolate(m, scale_factor=2.0, mode="nearest")) + e2
        d1 = self.dec1(F.interpolate(d2, scale_factor=2.0, mode="nearest")) + e1
        y = x + self.out(d1) if self.skip else self.out(d1)
        return y.clamp(0.0, 1.0) if self.clamp_output else y

    @property
    def halo(self) -> int:
        if self._halo is None:
            self._halo = receptive_radius(self)
        return self._halo


class PatchDiscriminator(nn.Module):
    """PatchGAN (pix2pix) with spectral norm, conditioned on the input.

    # x [N,3,P,P], y [N,3,P,P] -> scores [N,1,P/8,P/8]

    Three stride-2 layers: each score judges a 54 px window, the scale of brush strokes and
    ink lines rather than of whole objects (which a few keyframes could not teach).
    """

    def __init__(self, width: int = 48, in_ch: int = 6):
        super().__init__()
        sn = spectral_norm
        self.net = nn.Sequential(
            sn(nn.Conv2d(in_ch, width, 4, stride=2, padding=1)), _act(),
            sn(nn.Conv2d(width, width * 2, 4, stride=2, padding=1)), _act(),
            sn(nn.Conv2d(width * 2, width * 4, 4, stride=2, padding=1)), _act(),
            sn(nn.Conv2d(width * 4, width * 4, 3, padding=1)), _act(),
            sn(nn.Conv2d(width * 4, 1, 3, padding=1)),
        )

    def forward(self, x, y):
        return self.net(torch.cat([x, y], dim=1))


@torch.no_grad()
def _positive_copy(net: nn.Module) -> nn.Module:
    """A copy whose weights are all positive and biases zero: every path in the receptive
    field then carries a non-zero gradient (no cancellation), so the measured field is exact."""
    import copy

    twin = copy.deepcopy(net).cpu().eval().requires_grad_(False)  # on the CPU, wherever net trains
    if hasattr(twin, "clamp_output"):
        twin.clamp_output = False  # a clamp would cut the (large, all-positive) probe's gradients
    for name, p in twin.named_parameters():
        p.copy_(torch.full_like(p, 0.1) if name.endswith("weight") else torch.zeros_like(p))
    return twin


def receptive_radius(net: nn.Module, multiple: int | None = None, size: int = 128) -> int:
    """Pixels of input context each side of an output pixel, measured by back-propagation.

    Checks every output position modulo the network's size multiple (stride-2 layers see
    different windows at even and odd positions), one batch item per position, and returns
    the largest radius.
    """
    multiple = multiple or getattr(net, "multiple", 1)
    twin = _positive_copy(net).float()
    c = size // 2
    offsets = [(dy, dx) for dy in range(multiple) for dx in range(multiple)]
    x = torch.zeros(len(offsets), 3, size, size, requires_grad=True)
    y = twin(x + 0.5)
    sum(y[i, :, c + dy, c + dx].sum() for i, (dy, dx) in enumerate(offsets)).backward()
    radius = 0
    for i, (dy, dx) in enumerate(offsets):
        ys, xs = torch.nonzero(x.grad[i].abs().sum(0) > 0, as_tuple=True)
        r = max((ys - (c + dy)).abs().max().item(), (xs - (c + dx)).abs().max().item())
        if r >= c - multiple:
            raise ValueError(f"receptive field reaches the {size}px probe's border; measure with a larger size")
        radius = max(radius, int(r))
    return radius
