"""Texture networks: a purely local generator from a noise-cell grid, and a patch discriminator.

    G = TextureGenerator(noise_channels=16, stride=8, widths=(128, 96, 64, 32), cell_blocks=4)
    img = G(noise)                       # [N,16,h,w] noise cells -> [N,3,8h,8w] in -1..1
    halo = measure_halo_cells(G)         # noise cells of context each side (ganfx.noise halo)
    D = PatchDiscriminator(width=64, downs=4)
    logits = D(img)                      # [N,3,H,W] -> [N,1,H/16,W/16] real/fake per patch

The generator follows the spatial GAN idea (Jetchev et al. 2016): noise is a grid, one
vector per cell of `stride` pixels; 1x1 convolutions map each cell's noise, 3x3
convolutions at cell resolution give long-range context cheaply, then nearest x2
upsampling + convolutions reach pixels. No normalisation layer at all: every output pixel
depends only on a fixed window of noise cells, so tiles rendered alone equal the whole.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _act():
    return nn.LeakyReLU(0.2)


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS (Karras et al. 2018).

    Per pixel, across channels only: no statistics over the image, so tiling stays exact,
    and it keeps the generator's activations from drifting in scale while training.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class TextureGenerator(nn.Module):
    """Noise cells -> texture. # [N,noise_channels,h,w] -> [N,3,h*stride,w*stride] in -1..1"""

    def __init__(self, noise_channels: int = 16, stride: int = 8, widths: tuple = (128, 96, 64, 32),
                 cell_blocks: int = 4, out_channels: int = 3):
        super().__init__()
        levels = int(round(math.log2(stride)))
        if 2**levels != stride or levels < 1:
            raise ValueError(f"stride must be a power of two >= 2, got {stride}")
        if len(widths) != levels + 1:
            raise ValueError(f"widths needs {levels + 1} entries for stride {stride} (one per level), got {len(widths)}")
        self.noise_channels, self.stride = int(noise_channels), int(stride)
        # Set when every exemplar is grey: eval output is then R = G = B (their mean). Saved with
        # the weights (get_extra_state), so export rebuilds it from the checkpoint, not the data.
        self.grey = False
        w0 = widths[0]
        self.mapping = nn.Sequential(nn.Conv2d(noise_channels, w0, 1), _act(), nn.Conv2d(w0, w0, 1), _act(), PixelNorm())
        self.cells = nn.Sequential(*[m for _ in range(cell_blocks)
                                     for m in (nn.Conv2d(w0, w0, 3, padding=1), _act(), PixelNorm())])
        ups = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            ups.append(nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(cin, cout, 3, padding=1), _act(), PixelNorm(),
                nn.Conv2d(cout, cout, 3, padding=1), _act(), PixelNorm(),
            ))
        self.ups = nn.Sequential(*ups)
        self.to_rgb = nn.Conv2d(widths[-1], out_channels, 1)
        for m in self.modules():  # He init for LeakyReLU: varied output from the first step
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.to_rgb.weight, std=0.5 / math.sqrt(widths[-1]))

    def get_extra_state(self) -> torch.Tensor:
        return torch.tensor(bool(self.grey))

    def set_extra_state(self, state) -> None:
        self.grey = bool(state)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints from before `grey` was saved have no extra state: keep the default (colour).
        if prefix + "_extra_state" not in state_dict:
            state_dict = {**state_dict, prefix + "_extra_state": torch.tensor(self.grey)}
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        y = self.to_rgb(self.ups(self.cells(self.mapping(noise))))
        # Linear output while training (a saturated tanh stops all learning); clamped to the
        # contract's -1..1 in eval mode, which is what export traces.
        if self.training:
            return y
        if self.grey:  # a grey texture has no colour fringes to keep
            m = y.mean(dim=1, keepdim=True)
            y = torch.cat([m] * y.shape[1], dim=1)
        return y.clamp(-1.0, 1.0)


@torch.no_grad()
def measure_halo_cells(G: TextureGenerator) -> int:
    """Noise cells of context an output cell needs on each side, measured by perturbing one cell.

    Measured on a structural copy (positive weights, no bias, no clamp), so no cancellation or
    saturation of the trained weights can hide a dependency. The reach of one noise cell equals
    the reach of an output cell into the noise (convolutions are symmetric in extent), so this
    is the halo Model.generate must add around every window. Measured on the CPU in float32,
    wherever G trains (the reach is a property of the architecture, not of the device).
    """
    probe = copy.deepcopy(G).cpu().float().eval()
    for m in probe.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.copy_(m.weight.abs() + 1e-3)
            m.bias.zero_()
    s, cells = G.stride, 9
    while True:
        noise = torch.zeros(1, G.noise_channels, cells, cells)
        c = cells // 2
        noise[:, :, c, c] = 1.0
        out = probe.to_rgb(probe.ups(probe.cells(probe.mapping(noise))))  # before the clamp
        ys, xs = torch.nonzero(out.abs().amax(dim=(0, 1)) > 0, as_tuple=True)
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        reach = max(c - y0 // s, (y1 - 1) // s - c, c - x0 // s, (x1 - 1) // s - c)
        if reach < c - 1:  # the influence fits with margin; the window border did not clip it
            return int(reach)
        cells = 2 * cells + 1


class PatchDiscriminator(nn.Module):
    """Spectral-norm PatchGAN: one real/fake logit per patch. # [N,3,H,W] -> [N,1,H/2^downs,W/2^downs]"""

    def __init__(self, width: int = 64, downs: int = 4, in_channels: int = 3, max_width: int = 256):
        super().__init__()
        layers, cin = [], in_channels
        for i in range(downs):
            cout = min(width * 2**i, max_width)
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), _act()]
            cin = cout
        layers += [spectral_norm(nn.Conv2d(cin, cin, 3, padding=1)), _act(), spectral_norm(nn.Conv2d(cin, 1, 3, padding=1))]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
