"""Networks of the sound task: a 1-D multi-rate noise synthesiser and its halo.

    G = SoundGenerator(noise_channels=16, stride=256, widths=(128, 64, 32, 16, 16))
    y = G(noise)          # [N, G.input_channels, cells] -> [N, 1, cells * 256], about -1..1

The runtime makes all the noise (runtime/noise.py, one value per channel and cell), so a
sound, like a texture, is a pure function of (seed, position): any span computes alone and
chunks join exactly. Each noise cell carries `noise_channels` coarse values that drive a stack
of dilated residual convolutions at the cell rate (stride samples per cell: long reach for
slow changes such as gusts), then `log4(stride)` stages that upsample x4 (linear) and
convolve. Every level after an upsampling also receives `fine_noise` fresh noise values per
sample of that level, packed into the cell's channels and unpacked here, each multiplied by a
gain the network computes from its features (as a log amplitude, exp of a convolution): the synthesiser shapes the envelope of new
randomness at every rate down to single samples (crackles, drops, hiss), which coarse noise
alone cannot give without a buzz at the cell rate.

Channel layout of one cell (what `unpack` reads): the coarse values first, then for each
finer level l = 1..L (4^l values per cell; the last level is one per sample) `fine_noise`
blocks of 4^l consecutive values, in time order within the cell.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F


def _act(x):
    return F.leaky_relu(x, 0.2)


class _Residual(nn.Module):
    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.a = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.b = nn.Conv1d(width, width, 3, padding=1)

    def forward(self, x):
        return x + self.b(_act(self.a(_act(x))))


class _Level(nn.Module):
    """x4 linear upsampling, gated fresh noise, two convolutions. # [N,Cin,L] + [N,F,4L] -> [N,Cout,4L]"""

    def __init__(self, cin: int, cout: int, fine: int, kernel: int):
        super().__init__()
        self.fine = fine
        self.gate = nn.Conv1d(cin, fine, 1) if fine else None
        self.a = nn.Conv1d(cin + fine, cout, kernel, padding=kernel // 2)
        self.b = nn.Conv1d(cout, cout, kernel, padding=kernel // 2)

    def forward(self, x, noise):
        x = F.interpolate(x, scale_factor=4, mode="linear", align_corners=False)
        if self.fine:
            # A log-amplitude gate: heavy-tailed envelopes (crackles, drops) are a small change of its input.
            x = torch.cat([x, noise * torch.exp(self.gate(x).clamp(max=4.0))], dim=1)
        return _act(self.b(_act(self.a(x))))


class SoundGenerator(nn.Module):
    """Noise cells -> waveform (see the module docstring). # [N, input_channels, cells] -> [N, channels, cells*stride]"""

    def __init__(self, noise_channels: int = 16, stride: int = 256, widths: tuple = (128, 64, 32, 16, 16),
                 dilations: tuple = (1, 2, 4, 8, 16, 32, 64, 128), fine_noise: int = 2, channels: int = 1):
        super().__init__()
        levels = round(math.log(stride, 4))
        if 4 ** levels != stride:
            raise ValueError(f"stride must be a power of 4, got {stride}")
        if len(widths) != levels + 1:
            raise ValueError(f"widths needs log4(stride)+1 = {levels + 1} values, got {len(widths)}")
        self.noise_channels, self.stride, self.fine_noise, self.channels = noise_channels, stride, fine_noise, channels
        self.levels = levels
        self.inp = nn.Conv1d(noise_channels, widths[0], 1)
        self.blocks = nn.Sequential(*[_Residual(widths[0], d) for d in dilations])
        self.ups = nn.ModuleList([_Level(widths[i], widths[i + 1], fine_noise, 3 if i < levels - 1 else 7)
                                  for i in range(levels)])
        self.out = nn.Conv1d(widths[-1], channels, 7, padding=3)
        with torch.no_grad():  # start quiet: recordings sit well below full scale
            self.out.weight.mul_(0.1)
            self.out.bias.zero_()

    @property
    def input_channels(self) -> int:
        return self.noise_channels + self.fine_noise * sum(4 ** l for l in range(1, self.levels + 1))

    def unpack(self, z: torch.Tensor) -> tuple:
        """Coarse noise and each finer level's noise. # [N,C,L] -> ([N,c,L], [[N,F,L*4^l] for l=1..])"""
        n, _, cells = z.shape
        coarse = z[:, : self.noise_channels]
        fine, at = [], self.noise_channels
        for l in range(1, self.levels + 1):
            k = 4 ** l
            block = z[:, at : at + self.fine_noise * k]  # [N, F*k, L], channel f*k + j: sample j of noise f
            at += self.fine_noise * k
            fine.append(block.reshape(n, self.fine_noise, k, cells).permute(0, 1, 3, 2).reshape(n, self.fine_noise,
                                                                                               cells * k))
        return coarse, fine

    def body(self, z: torch.Tensor) -> torch.Tensor:
        coarse, fine = self.unpack(z)
        h = self.blocks(self.inp(coarse))
        for level, noise in zip(self.ups, fine):
            h = level(h, noise)
        return self.out(h)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.body(z)
        if self.training:  # the clamp's value, the identity's gradient: a saturated start can still learn
            return y + (y.clamp(-1.0, 1.0) - y).detach()
        return y.clamp(-1.0, 1.0)


def measure_halo_cells(G: SoundGenerator) -> int:
    """Noise cells of context an output cell needs on each side, measured by perturbing one cell
    of a structural copy (positive weights, no bias), as the texture task does."""
    probe = copy.deepcopy(G).cpu().float().eval()
    with torch.no_grad():
        for m in probe.modules():
            if isinstance(m, nn.Conv1d):
                m.weight.copy_(m.weight.abs() + 1e-3)
                m.bias.zero_()
        s, cells = G.stride, 33
        while True:
            z = torch.zeros(1, G.input_channels, cells)
            c = cells // 2
            z[:, :, c] = 1.0
            out = probe.body(z)
            (xs,) = torch.nonzero(out.abs().amax(dim=(0, 1)) > 0, as_tuple=True)
            reach = max(c - int(xs.min()) // s, (int(xs.max())) // s - c)
            if reach < c - 1:
                return int(reach)
            cells = 2 * cells + 1


class SpectrogramDiscriminator(nn.Module):
    """Spectral-norm patch discriminator on log-magnitude spectrograms. # [N,1,F,T] -> [N,1,F',T']"""

    def __init__(self, width: int = 32, downs: int = 3):
        super().__init__()
        sn = nn.utils.spectral_norm
        layers, c = [sn(nn.Conv2d(1, width, 3, padding=1)), nn.LeakyReLU(0.2)], width
        for _ in range(downs):
            nxt = min(c * 2, 128)
            layers += [sn(nn.Conv2d(c, nxt, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            c = nxt
        layers.append(sn(nn.Conv2d(c, 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
