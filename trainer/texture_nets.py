"""Texture networks: a purely local generator from a noise-cell grid, a tile generator (a learned
periodic tile shown from a random offset in every cell, `TileGenerator`), and a patch discriminator.

    G = TextureGenerator(noise_channels=16, stride=8, widths=(128, 96, 64, 32), cell_blocks=4,
                         fine_noise=1, waves=((0.0, 1.3),), lowpass=32)
    img = G(noise)                       # [N,G.input_channels,h,w] cells -> [N,3,8h,8w] in -1..1
    halo = measure_halo_cells(G)         # noise cells of context each side (ganfx.noise halo)
    D = PatchDiscriminator(width=64, downs=4)
    logits = D(img)                      # [N,3,H,W] -> [N,1,H/16,W/16] real/fake per patch

The generator follows the spatial GAN idea (Jetchev et al. 2016): noise is a grid, one
vector per cell of `stride` pixels; 1x1 convolutions map each cell's noise, 3x3
convolutions at cell resolution (optionally dilated) give long-range context cheaply, then
bilinear x2 upsampling + convolutions reach pixels, each level fed its own per-pixel noise
(fine detail); learned waves give regular textures a phase reference (PSGAN, Bergmann et al.
2017) and fixed low-pass waves add the exemplar's large-scale variation; for stochastic textures
a spot field (the exemplar's texton convolved with the last level's per-pixel noise: its
random-phase texture, Galerne et al. 2011) is what the network starts from. The input layout is
documented in docs/architecture.md ("Noise"). No normalisation over the image: every output
pixel depends only on a fixed window of cells, so tiles rendered alone equal the whole.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from .bf16_sim import bf16_round


def _act():
    return nn.LeakyReLU(0.2)


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS (Karras et al. 2018).

    Per pixel, across channels only: no statistics over the image, so tiling stays exact,
    and it keeps the generator's activations from drifting in scale while training.
    """

    simulate_bf16 = False  # set by bf16_sim.simulated_bf16(): every intermediate rounded as a bf16 engine stores it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.simulate_bf16:
            q = bf16_round
            return q(x * q(torch.rsqrt(q(q(x.square()).mean(dim=1, keepdim=True)) + 1e-8)))
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class _TextureOutput(nn.Module):
    """What both texture generators share: the `grey` flag (saved with the weights, so export
    rebuilds it from the checkpoint, not the data) and the output's last step."""

    grey = False  # every exemplar was grey: eval output is then R = G = B (their mean)

    def get_extra_state(self) -> torch.Tensor:
        return torch.tensor(bool(self.grey))

    def set_extra_state(self, state) -> None:
        self.grey = bool(state)

    def _finish(self, y: torch.Tensor) -> torch.Tensor:
        """Linear while training (a saturated tanh stops all learning); in eval mode, which is what
        export traces, grey where the exemplars are and clamped to the contract's -1..1."""
        if self.training:
            return y
        if self.grey:  # a grey texture has no colour fringes to keep
            y = y.mean(dim=1, keepdim=True).expand(-1, y.shape[1], -1, -1)
        return y.clamp(-1.0, 1.0)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The output before the clamp (for measuring reach)."""
        was = self.training
        self.train(True)
        try:
            return self.forward(x)
        finally:
            self.train(was)


class TextureGenerator(_TextureOutput):
    """Noise cells (+ fine noise, + waves) -> texture. # [N,input_channels,h,w] -> [N,3,h*stride,w*stride] in -1..1

    The input holds, per cell: `noise_channels` coarse noise values, then `fine_noise` values
    per pixel of each finer level packed cell by cell (4*f for x2, 16*f for x4, ...; unpacked
    with pixel_shuffle, so a pixel's noise still belongs to its cell and tiling stays exact),
    then sin and cos of each wave (runtime/noise.py). Fine noise is what lets the network draw
    detail down to single pixels (grass blades, grain) instead of smooth shapes upsampled from
    cells; waves give regular textures (brick courses) a phase reference.
    """

    still = 0  # noise channels that keep their t=0 values (TileGenerator's offsets; none here)

    def __init__(self, noise_channels: int = 16, stride: int = 8, widths: tuple = (128, 96, 64, 32),
                 cell_blocks: int = 4, out_channels: int = 3, fine_noise: int = 0, waves: tuple = (),
                 dilations: tuple = (), lowpass: int = 0, spot: int = 0):
        super().__init__()
        levels = int(round(math.log2(stride)))
        if 2**levels != stride or levels < 1:
            raise ValueError(f"stride must be a power of two >= 2, got {stride}")
        if len(widths) != levels + 1:
            raise ValueError(f"widths needs {levels + 1} entries for stride {stride} (one per level), got {len(widths)}")
        self.noise_channels, self.stride, self.fine_noise = int(noise_channels), int(stride), int(fine_noise)
        # Wave vectors (ky, kx) in radians per cell, learned (initialised from the exemplar's spectrum).
        self.wave_k = nn.Parameter(torch.tensor(waves, dtype=torch.float32).reshape(-1, 2))
        # Low-frequency field: `lowpass` fixed waves (after the learned ones) whose sines, weighted
        # per colour channel, are added to the output, upsampled bilinearly from cells. Frequencies and
        # weights come from the exemplar's spectrum (texture_data.lowpass_waves): random-phase noise on
        # a sparse set of low frequencies, the large-scale variation a crop-sized training cannot teach.
        self.register_buffer("lowpass_k", torch.zeros(int(lowpass), 2))
        self.register_buffer("lowpass_amp", torch.zeros(out_channels, int(lowpass)))
        w0 = widths[0]
        self.mapping = nn.Sequential(nn.Conv2d(noise_channels + 2 * self.waves, w0, 1), _act(), nn.Conv2d(w0, w0, 1),
                                     _act(), PixelNorm())
        # Dilated 3x3 convolutions at cell resolution reach far for little work (1, 2, 4, 8: 31 cells),
        # so the texture can vary on the scale of the whole exemplar, not only of a crop.
        dilations = tuple(dilations) or (1,) * cell_blocks
        if len(dilations) != cell_blocks:
            raise ValueError(f"dilations needs {cell_blocks} entries (one per cell block), got {len(dilations)}")
        self.cells = nn.Sequential(*[m for d in dilations
                                     for m in (nn.Conv2d(w0, w0, 3, padding=d, dilation=d), _act(), PixelNorm())])
        self.ups = nn.ModuleList()
        for cin, cout in zip(widths[:-1], widths[1:]):
            self.ups.append(nn.ModuleList([
                nn.Conv2d(cin + self.fine_noise + 2 * self.waves, cout, 3, padding=1),
                nn.Sequential(_act(), PixelNorm(), nn.Conv2d(cout, cout, 3, padding=1), _act(), PixelNorm()),
            ]))
        # Spot field: the finest level's first fine-noise channel convolved with a spot x spot kernel,
        # initialised to the exemplar's texton (texture_data.texton), so the output starts as the
        # exemplar's random-phase texture and the network learns what a Gaussian field lacks
        # (edges, grains, cracks). Fed to the last level's convolution and added to the output.
        self.spot = None
        if spot:
            if spot < 3 or spot % 2 == 0 or not self.fine_noise:
                raise ValueError(f"spot must be an odd kernel size >= 3 and needs fine_noise >= 1, got {spot}")
            self.spot = nn.Conv2d(1, out_channels, int(spot), padding=int(spot) // 2)
            last = self.ups[-1][0]
            self.ups[-1][0] = nn.Conv2d(last.in_channels + out_channels, last.out_channels, 3, padding=1)
        self.to_rgb = nn.Conv2d(widths[-1], out_channels, 1)
        for m in self.modules():  # He init for LeakyReLU: varied output from the first step
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.to_rgb.weight, std=0.5 / math.sqrt(widths[-1]))

    @property
    def waves(self) -> int:
        """Learned waves (the first of the input's wave channels)."""
        return int(self.wave_k.shape[0])

    @property
    def lowpass(self) -> int:
        return int(self.lowpass_k.shape[0])


    @property
    def fine_channels(self) -> int:
        """Fine-noise values per cell: f * (4 + 16 + ... + stride^2)."""
        levels = int(round(math.log2(self.stride)))
        return self.fine_noise * sum(4**lv for lv in range(1, levels + 1))

    @property
    def random_channels(self) -> int:
        """Gaussian noise channels per cell (the runtime's ganfx.noise channels)."""
        return self.noise_channels + self.fine_channels

    @property
    def input_channels(self) -> int:
        return self.random_channels + 2 * (self.waves + self.lowpass)

    def all_wave_k(self) -> torch.Tensor:
        return torch.cat([self.wave_k, self.lowpass_k.to(self.wave_k.dtype)], dim=0)

    def wave_vectors(self) -> tuple:
        """Every wave vector the runtime must compute, learned ones first (ganfx.noise waves)."""
        return tuple((float(ky), float(kx)) for ky, kx in self.all_wave_k().detach().cpu().tolist())

    def wave_channels(self, batch: int, h: int, w: int, phases: torch.Tensor, y0=0.0, x0=0.0) -> torch.Tensor:
        """sin, cos of each wave over an h x w cell grid, differentiable in the wave vectors.

        The channel order of NoiseField.wave_window. # phases [batch,W] -> [batch,2W,h,w]"""
        k = self.all_wave_k()
        dev, n = k.device, k.shape[0]
        ys = torch.arange(h, device=dev, dtype=torch.float32) + y0
        xs = torch.arange(w, device=dev, dtype=torch.float32) + x0
        a = (k[:, 0, None, None] * ys[:, None] + k[:, 1, None, None] * xs[None, :])[None]
        a = a + phases.to(dev)[:, :, None, None]  # [B,W,h,w]
        return torch.stack([torch.sin(a), torch.cos(a)], dim=2).reshape(batch, 2 * n, h, w)

    def waves_at_level(self, sincos: torch.Tensor, level: int) -> torch.Tensor:
        """The learned waves at every pixel of an upsampled level, exactly, from their cell values.

        Cell values are the waves at the cell's centre; a pixel `d` cells away (d in -0.5..0.5)
        has angle a + k.d, and sin/cos of it are a fixed rotation of the cell's sin/cos, so the
        waves stay smooth at every resolution (sampled per cell and held, they would step at
        every cell border: a cell grid). # [N,2W,h,w] -> [N,2W,h*2^level,w*2^level]
        """
        r = 2**level
        k = self.wave_k
        off = (torch.arange(r, device=k.device, dtype=k.dtype) + 0.5) / r - 0.5
        phi = k[:, 0, None, None] * off[None, :, None] + k[:, 1, None, None] * off[None, None, :]  # [W,r,r]
        c, s = torch.cos(phi)[None, :, :, :, None, None], torch.sin(phi)[None, :, :, :, None, None]
        n, _, h, w = sincos.shape
        sin_a, cos_a = sincos[:, 0::2, None, None], sincos[:, 1::2, None, None]  # [N,W,1,1,h,w]
        out = torch.stack([sin_a * c + cos_a * s, cos_a * c - sin_a * s], dim=2)  # [N,W,2,r,r,h,w]
        return F.pixel_shuffle(out.reshape(n, 2 * self.waves * r * r, h, w), r)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints from before `grey` was saved have no extra state: keep the default (colour).
        if prefix + "_extra_state" not in state_dict:
            state_dict = {**state_dict, prefix + "_extra_state": torch.tensor(self.grey)}
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def spot_field(self, x: torch.Tensor) -> torch.Tensor:
        """The spot field at every pixel, from the last level's first fine-noise value. # [N,C,h,w] -> [N,3,H,W]"""
        levels = len(self.ups)
        start = self.noise_channels + self.fine_noise * sum(4**lv for lv in range(1, levels))
        pixel_noise = F.pixel_shuffle(x[:, start:start + self.fine_noise * 4**levels], 2**levels)[:, :1]
        return self.spot(pixel_noise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, f = self.noise_channels, self.random_channels
        learned = x[:, f:f + 2 * self.waves]
        h = self.cells(self.mapping(torch.cat([x[:, :c], learned], dim=1) if self.waves else x[:, :c]))
        field = self.spot_field(x) if self.spot is not None else None
        start = c
        for level, (conv, rest) in enumerate(self.ups, start=1):
            # bilinear, not nearest: features held for whole cells and blocks step at their borders,
            # which shows as a grid at the cell size (worst along strong structure, e.g. brick courses)
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            extra = []
            if self.fine_noise:
                n = self.fine_noise * 4**level
                extra.append(F.pixel_shuffle(x[:, start:start + n], 2**level))  # [N,f,h*2^l,w*2^l]
                start += n
            if self.waves:
                extra.append(self.waves_at_level(learned, level))
            if field is not None and level == len(self.ups):
                extra.append(field)
            h = rest(conv(torch.cat([h, *extra], dim=1) if extra else h))
        y = self.to_rgb(h) if field is None else self.to_rgb(h) + field
        if self.lowpass:
            sines = x[:, f + 2 * self.waves::2]  # [N,K,h,w]: the sin channel of each low-pass wave
            low = torch.einsum("ck,nkhw->nchw", self.lowpass_amp, sines)
            y = y + F.interpolate(low, scale_factor=self.stride, mode="bilinear", align_corners=False)
        return self._finish(y)


class TileGenerator(_TextureOutput):
    """Noise cells -> texture from a learned periodic tile. # [N,4,h,w] -> [N,3,h*stride,w*stride] in -1..1

    The tile (`tile` x `tile` px, 3 channels) is the model's only weight. Every noise cell shows
    it from its own offset: two still noise values (runtime/noise.py `still`: they do not move in
    time) through the normal CDF times the tile's size, plus `motion` px times two moving ones,
    so an animation moves each piece a few pixels around its place, smoothly (read bilinearly;
    trained through this sampling, the tile sharpens itself for the blur of sub-pixel offsets).
    Every pixel blends the four cells around it with tent weights raised to `sharpness`,
    variance-preserving (Heitz & Neyret 2018: a blend of independent pieces is rescaled around
    the tile's mean colour, so it keeps the tile's contrast). Each cell shows the tile relative
    to its own corner, so the output depends only on the noise of the cell and its 8 neighbours
    (halo 1) and tiles exactly. Trained through this rendering (TextureTask, `--tile`), the
    tile learns what its blends need; it starts as the exemplar's random-phase texture.
    """

    noise_channels, still, fine_noise, waves, lowpass, spot = 4, 2, 0, 0, 0, None

    def __init__(self, tile: int = 64, stride: int = 32, sharpness: float = 2.0, motion: float = 2.0):
        super().__init__()
        if tile < 8 or stride < 2 or sharpness <= 0 or motion < 0:
            raise ValueError(f"tile must be >= 8 px, stride >= 2 px, sharpness > 0 and motion >= 0, got tile {tile}, "
                             f"stride {stride}, sharpness {sharpness}, motion {motion}")
        self.stride, self.sharpness = int(stride), float(sharpness)
        self.tile = nn.Parameter(torch.zeros(3, int(tile), int(tile)))
        self.motion = float(motion)
        # Per pixel of a cell (the same in every cell): the first of the two cell rows (or columns)
        # it blends, -1 (the cell before) in the cell's first half, else 0 (its own), and that
        # cell's tent weight; the second is the next cell, with 1 - weight.
        centre = (torch.arange(self.stride, dtype=torch.float32) + 0.5) / self.stride  # 0..1 across a cell
        first = torch.where(centre < 0.5, -1, 0)
        self.register_buffer("first", first)
        self.register_buffer("first_weight", 1.0 - (centre - (first + 0.5)).abs())
        # rows (and columns) of the padded corner table, -pad .. size + 3 cells + 2, wrapped into the tile
        width = int(tile) + 3 * self.stride + 2
        self.register_buffer("wrap", torch.remainder(torch.arange(width + 1) - (self.stride + 1), int(tile)),
                             persistent=False)

    random_channels = input_channels = 4

    def wave_vectors(self) -> tuple:
        return ()

    def halo_cells(self) -> int:
        """Cells of context each side, measured: the pixels that change when one cell's noise does."""
        with torch.no_grad():
            tile = self.tile if float(self.tile.std()) > 0 else torch.randn_like(self.tile)
            probe = copy.deepcopy(self).cpu().float().eval()
            probe.tile.copy_(tile.cpu())
            noise = torch.randn(1, 4, 7, 7, generator=torch.Generator().manual_seed(0))
            moved = noise.clone()
            moved[:, :, 3, 3] += 1.0
            changed = (probe.body(noise) - probe.body(moved)).abs().amax(dim=(0, 1)) > 0
        ys, xs = torch.nonzero(changed, as_tuple=True)
        s = self.stride
        return int(max(3 - int(ys.min()) // s, int(ys.max()) // s - 3, 3 - int(xs.min()) // s, int(xs.max()) // s - 3))

    def _corners(self) -> torch.Tensor:
        """The tile's 2x2 neighbourhoods, wrapped and padded so no read needs a modulo.

        Row (y + pad) * width + (x + pad) holds the 4 texels (y,x), (y,x+1), (y+1,x), (y+1,x+1),
        3 channels each, for y, x in -pad .. size + 2 cells. # -> [width^2, 12], width = size + 3 cells + 2
        """
        big = self.tile.permute(1, 2, 0)[self.wrap][:, self.wrap]  # [W+1,W+1,3] from -pad, wrapped
        four = torch.cat([big[:-1, :-1], big[:-1, 1:], big[1:, :-1], big[1:, 1:]], dim=2)  # [W,W,12]
        return four.reshape(-1, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        s, size = self.stride, self.tile.shape[-1]
        pad, width = s + 1, size + 3 * s + 2
        z = F.pad(x[:, :4], (1, 1, 1, 1), mode="replicate")  # [N,4,h+2,w+2]: border cells' neighbours
        place = size * 0.5 * (1.0 + torch.erf(z[:, :2] * (1.0 / math.sqrt(2.0))))  # still: px in 0..size
        offset = torch.remainder(place + self.motion * z[:, 2:], float(size))  # [N,2,h+2,w+2] in 0..size
        whole = torch.floor(offset)
        frac = offset - whole  # every pixel of a cell reads the tile at the same sub-pixel phase
        base = (whole[:, 0] + pad) * width + (whole[:, 1] + pad)  # [N,h+2,w+2] table row of the cell's corner
        cell_y = torch.arange(h * s, device=x.device) // s  # [H]
        cell_x = torch.arange(w * s, device=x.device) // s
        first_y, first_x = self.first.repeat(h), self.first.repeat(w)
        weight_y, weight_x = self.first_weight.repeat(h), self.first_weight.repeat(w)
        inside_y = torch.arange(s, device=x.device).repeat(h)  # pixel within its cell
        inside_x = torch.arange(s, device=x.device).repeat(w)
        corners = self._corners()
        mean = self.tile.mean(dim=(1, 2)).view(1, 3, 1, 1)
        total = squares = 0.0
        for by in (0, 1):
            row = first_y + by  # which neighbour row: -1, 0 or 1 cells from the pixel's own
            wy = weight_y if by == 0 else 1.0 - weight_y
            for bx in (0, 1):
                col = first_x + bx
                wx = weight_x if bx == 0 else 1.0 - weight_x
                ry, rx = cell_y + row + 1, cell_x + col + 1  # that cell, in the padded cell grid
                # the pixel relative to that cell's corner, read from the tile at the cell's offset
                rel = ((inside_y - row * s) * width)[:, None] + (inside_x - col * s)[None, :]  # [H,W]
                index = base[:, ry][:, :, rx] + rel  # [N,H,W]
                texels = corners[index.long()].permute(0, 3, 1, 2)  # [N,12,H,W]
                f = frac[:, :, ry][:, :, :, rx]  # [N,2,H,W]
                fy, fx = f[:, 0:1], f[:, 1:2]
                top = texels[:, 0:3] + (texels[:, 3:6] - texels[:, 0:3]) * fx
                bottom = texels[:, 6:9] + (texels[:, 9:12] - texels[:, 6:9]) * fx
                wt = (wy[:, None] * wx[None, :]) ** self.sharpness  # [H,W]
                total = total + wt * (top + (bottom - top) * fy - mean)
                squares = squares + wt * wt
        # sum(w p) / sum(w), times sum(w) / sqrt(sum(w^2)): the blend keeps the pieces' contrast
        return self._finish(mean + total / torch.sqrt(squares))  # [N,3,H,W]


@torch.no_grad()
def measure_halo_cells(G: TextureGenerator) -> int:
    """Noise cells of context an output cell needs on each side, measured by perturbing one cell.

    Measured on a structural copy (positive weights, no bias, no clamp), so no cancellation or
    saturation of the trained weights can hide a dependency. The reach of one noise cell equals
    the reach of an output cell into the noise (convolutions are symmetric in extent), so this
    is the halo Model.generate must add around every window. Measured on the CPU in float32,
    wherever G trains (the reach is a property of the architecture, not of the device).
    """
    if isinstance(G, TileGenerator):
        return G.halo_cells()
    probe = copy.deepcopy(G).cpu().float().eval()
    for m in probe.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.copy_(m.weight.abs() + 1e-3)
            m.bias.zero_()
    probe.lowpass_amp.copy_(probe.lowpass_amp.abs() + 1e-3)
    s, cells = G.stride, 9
    while True:
        noise = torch.zeros(1, G.input_channels, cells, cells)
        c = cells // 2
        noise[:, :, c, c] = 1.0
        out = probe.body(noise)  # before the clamp
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
