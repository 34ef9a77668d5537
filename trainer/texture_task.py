"""The texture task: learn a texture from one exemplar (or a few) for the generic loop.

    from ganfx.trainer.texture_task import TextureConfig, TextureTask
    from ganfx.trainer.loop import train
    from ganfx.trainer.config import LoopConfig, new_run_dir

    cfg = TextureConfig(exemplars=("skimage:brick",), name="brick", stride=16)
    result = train(TextureTask(cfg), LoopConfig(iterations=4000), new_run_dir("runs", "brick"))

One step: random multi-scale crops of the exemplar (real) against generator output from a
fresh noise grid (fake), both through the same DiffAugment; the patch discriminator learns
with the non-saturating (or hinge) loss and a lazy R1 penalty, then the generator learns to
fool it, helped by a sliced-Wasserstein loss on 7x7 pixel neighbourhoods of a Laplacian
pyramid (Heitz et al. 2021, here on pixels) that keeps it from collapsing to flat colour.
The generator sees `margin_cells` extra noise cells around each crop and the border is cut
off, so the discriminator judges only pixels that look like tiled inference. Waves get a
random phase per crop (a crop from anywhere in an infinite texture); learned wave vectors
start at the exemplar's spectral peaks (`waves`), low-pass ones are drawn from its low
frequencies (`lowpass`, periods above half a crop) and stay fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ganfx.runtime.contract import ModelSpec, NoiseSpec, TensorSpec, texture_params
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.noise import NoiseField

from .baselines import random_phase_noise
from .bf16_sim import bf16_term
from .config import ConfigError
from .device import CPU, TrainingDevice
from .exemplars import fingerprint, load_exemplar
from .texture_data import CropSampler, check_policy, diff_augment, lowpass_waves, spectral_peaks, texton
from .texture_losses import sliced_patch_loss
from .texture_nets import PatchDiscriminator, TextureGenerator, TileGenerator, measure_halo_cells


@dataclass(frozen=True)
class TextureConfig:
    exemplars: tuple = ()  # image paths or skimage:NAME[:x,y,w,h]; the texture to learn
    name: str = ""  # model name (default: the first exemplar's name)
    seed: int = 0  # seeds crops, noise and augmentation streams
    crop: int = 128  # training crop size in pixels (a multiple of stride)
    batch: int = 8  # crops per step
    scale_jitter: float = 0.1  # crops are zoomed by a random factor in [1 - j, 1 + j]
    flips: bool = False  # random horizontal flips of real crops (only for mirror-symmetric textures)
    rot90: bool = False  # random 90-degree rotations of real crops (only for isotropic textures)
    augment: str = "translation,cutout"  # DiffAugment policy applied to real and fake alike (also: color)
    noise_channels: int = 16  # coarse noise values per cell
    fine_noise: int = 1  # noise values per pixel added at each finer level (0 = none)
    waves: int = 0  # periodic channels, wave vectors from the exemplar's spectral peaks (regular textures)
    lattice: tuple = ()  # (width, height[, shift]) px of a repeat (tiles, grids; bricks with shift 0.5: each
    #                      row moved by shift*width): the waves are its lowest frequencies, fixed, not spectral peaks
    lowpass: int = 32  # fixed low-frequency waves from the exemplar's spectrum, periods above crop/2 (0 = off)
    spot: int = 0  # odd kernel size in px of a field initialised to the exemplar's random-phase texture, which the
    #                network refines (stochastic textures: sand, dirt, rock); the low-pass waves then take periods above it
    tile: int = 0  # px of a learned periodic tile that the model shows from a random offset in every cell, cells
    #                blended (texture_nets.TileGenerator; stochastic textures); 0 = the network generator
    tile_blend: float = 2.0  # sharpness of the tile's blend between cells (1: tent weights; higher: narrower seams)
    tile_motion: float = 2.0  # px a tile's pieces move around their places as the noise moves (std)
    stride: int = 8  # output pixels per noise cell (a power of two)
    g_widths: tuple = (128, 96, 64, 32)  # generator channels at cell resolution, then after each x2 upsample
    cell_blocks: int = 4  # 3x3 convolutions at cell resolution (each adds `dilation` cells of reach)
    dilations: tuple = ()  # dilation of each cell block (default all 1), e.g. 1,2,4,8 for long-range variation
    margin_cells: int = 1  # extra noise cells around a crop whose pixels are cut off
    d_width: int = 64  # discriminator channels of its first layer (doubling, capped at 256)
    d_downs: int = 4  # stride-2 layers of the discriminator (its patch size grows with it)
    loss: str = "nonsaturating"  # "nonsaturating" (softplus, with R1) or "hinge"
    r1_gamma: float = 1.0  # R1 penalty weight on real data (0 = off)
    r1_every: int = 4  # lazy R1: apply every N steps, scaled by N
    swd_weight: float = 1.0  # weight of the sliced-Wasserstein patch loss on the generator (0 = GAN only)
    vgg_weight: float = 0.0  # weight of the sliced-Wasserstein loss on VGG19 features (texture_features.py; 0 = off)
    adv_weight: float = 1.0  # weight of the adversarial loss on the generator (0: no discriminator is trained)
    bf16_weight: float = 0.0  # weight of the difference (bf16_power's mean) between the output and the output
    #                           of the same network with bf16 rounding simulated (bf16_sim.simulated_bf16; 0 = off)
    bf16_power: int = 2  # that difference as a power mean over the pixels: 2 the RMS, 4 and 8 weight the largest ones
    lr_g: float = 2e-4  # generator Adam learning rate
    lr_d: float = 2e-4  # discriminator Adam learning rate
    betas: tuple = (0.0, 0.99)  # Adam betas for both networks (beta1 0.5 let the generator collapse to flat colour)
    sample_px: int = 256  # size of each image in the sample grid
    eval_swd: bool = True  # log SWD against the exemplar with every sample grid

    # Fields holding data paths (model cards show them without the training machine's folders).
    PATH_FIELDS: ClassVar[tuple] = ("exemplars",)

    def check(self) -> "TextureConfig":
        if not self.exemplars:
            raise ConfigError("give at least one exemplar image", "exemplars")
        if self.stride < 2 or self.stride & (self.stride - 1):
            raise ConfigError(f"stride must be a power of two >= 2, got {self.stride}", "stride")
        if not self.tile and len(self.g_widths) != int(round(math.log2(self.stride))) + 1:
            raise ConfigError(f"g_widths needs log2(stride)+1 = {int(math.log2(self.stride)) + 1} entries, "
                              f"got {len(self.g_widths)}", "g_widths")
        if self.crop < self.stride or self.crop % self.stride:
            raise ConfigError(f"crop must be a multiple of the stride {self.stride}, got {self.crop}", "crop")
        if self.crop < 2 ** (self.d_downs + 1):
            raise ConfigError(f"crop {self.crop} is too small for a discriminator with {self.d_downs} downsamplings",
                              "crop", "d_downs")
        if self.loss not in ("hinge", "nonsaturating"):
            raise ConfigError(f"loss must be hinge or nonsaturating, got {self.loss!r}", "loss")
        if self.batch < 1 or self.r1_every < 1 or self.margin_cells < 0 or self.noise_channels < 1:
            raise ConfigError("batch, r1_every, noise_channels must be >= 1 and margin_cells >= 0",
                              "batch", "r1_every", "noise_channels", "margin_cells")
        if self.dilations and (len(self.dilations) != self.cell_blocks or min(self.dilations) < 1):
            raise ConfigError(f"dilations needs {self.cell_blocks} values >= 1 (one per cell block), "
                              f"got {tuple(self.dilations)}", "dilations", "cell_blocks")
        if min(self.vgg_weight, self.swd_weight, self.adv_weight, self.bf16_weight) < 0:
            raise ConfigError("swd_weight, vgg_weight, adv_weight and bf16_weight must be >= 0", "swd_weight",
                              "vgg_weight", "adv_weight", "bf16_weight")
        if self.bf16_power not in (2, 4, 8):
            raise ConfigError(f"bf16_power must be 2 (RMS), 4 or 8, got {self.bf16_power}", "bf16_power")
        if self.bf16_weight > 0 and self.tile:
            raise ConfigError("bf16_weight is for the network generator (a tile generator is exact in bf16)",
                              "bf16_weight", "tile")
        if self.adv_weight + self.swd_weight + self.vgg_weight == 0:
            raise ConfigError("the generator needs a loss: give adv_weight, swd_weight or vgg_weight above 0",
                              "adv_weight", "swd_weight", "vgg_weight")
        if not 0 <= self.lowpass <= 128:
            raise ConfigError(f"lowpass must be 0..128 waves, got {self.lowpass}", "lowpass")
        if self.spot and (self.spot < 3 or self.spot % 2 == 0 or self.fine_noise < 1):
            raise ConfigError(f"spot is an odd kernel size >= 3 px (0 = off) and needs fine_noise >= 1, got spot "
                              f"{self.spot} with fine_noise {self.fine_noise}", "spot", "fine_noise")
        if self.fine_noise < 0 or not 0 <= self.waves <= 8:
            raise ConfigError("fine_noise must be >= 0 and waves 0..8", "fine_noise", "waves")
        if self.lattice:
            if len(self.lattice) not in (2, 3) or min(self.lattice[:2]) < 2.5 * self.stride or (
                    len(self.lattice) == 3 and not 0.0 <= self.lattice[2] < 1.0):
                raise ConfigError(f"lattice is a tile's width,height in pixels, each at least 2.5 cells "
                                  f"({2.5 * self.stride:g} px), and an optional row shift in 0..1 of the width, "
                                  f"got {tuple(self.lattice)}", "lattice")
            if self.waves < 2:
                raise ConfigError("a lattice needs at least 2 waves (its fundamentals along x and y)", "waves",
                                  "lattice")
        if self.tile:
            if self.tile < 2 * self.stride or self.stride < 8 or self.tile_blend <= 0 or self.tile_motion < 0:
                raise ConfigError(f"a tile needs cells (stride) of at least 8 px, a tile of at least two cells, "
                                  f"tile_blend > 0 and tile_motion >= 0, got tile {self.tile}, stride {self.stride}, "
                                  f"tile_blend {self.tile_blend}, tile_motion {self.tile_motion}", "tile", "stride",
                                  "tile_blend", "tile_motion")
            if self.waves or self.lattice or self.spot:
                raise ConfigError("a tile model has no waves, lattice or spot field (they belong to the network "
                                  "generator)", "tile", "waves", "lattice", "spot")
        try:
            check_policy(self.augment)
        except UserInputError as exc:
            raise ConfigError(exc.message, "augment") from None
        return self

    @property
    def model_name(self) -> str:
        if self.name:
            return self.name
        first = str(self.exemplars[0])
        return first.split(":")[1] if first.startswith("skimage:") else Path(first).stem


def lattice_waves(lattice, count: int, stride: int) -> np.ndarray:
    """Wave vectors (radians per cell, (ky, kx)) of a repeat `lattice` = (width, height[, shift]) pixels.

    Axis-aligned (no shift, or 0): the fundamentals along x and y, then their 2nd, 3rd...
    harmonics, alternating. Shifted (each row moved by shift*width, e.g. 0.5 for bricks in
    running bond): the lowest frequencies of the lattice spanned by (width, 0) and
    (shift*width, height), i.e. of its reciprocal vectors b1 = 2pi(1/W, -shift/H), b2 = 2pi(0, 1/H)
    and their integer sums, by increasing frequency; for running bond the first are the two
    diagonals that place the vertical joints of alternate courses, then the courses. Periods
    under 2.5 cells are left out and the last wave is repeated up to `count`. # -> [count,2]"""
    width, height = float(lattice[0]), float(lattice[1])
    shift = float(lattice[2]) if len(lattice) > 2 else 0.0
    limit = 2.0 * math.pi / 2.5
    out = []
    if shift == 0.0:
        kx, ky = 2.0 * math.pi * stride / width, 2.0 * math.pi * stride / height
        candidates = [k for n in range(1, 2 * count + 1) for k in ((0.0, n * kx), (n * ky, 0.0))]
    else:
        b1 = (-2.0 * math.pi * stride * shift / height, 2.0 * math.pi * stride / width)  # (ky, kx)
        b2 = (2.0 * math.pi * stride / height, 0.0)
        sums = [(m * b1[0] + n * b2[0], m * b1[1] + n * b2[1]) for m in range(0, 2 * count + 1)
                for n in range(-2 * count, 2 * count + 1) if m > 0 or n > 0]
        candidates = sorted(sums, key=lambda k: (round(math.hypot(*k), 9), -k[0]))
    for k in candidates:
        if max(abs(k[0]), abs(k[1])) <= limit and len(out) < count:
            out.append(k)
    while len(out) < count:
        out.append(out[-1])
    return np.asarray(out, np.float32)


def noise_grid(G: TextureGenerator, cells_h: int, cells_w: int, seed: int, t: float = 0.0, y0: int = 0, x0: int = 0):
    """Runtime noise for G (the same NoiseField hosts use, waves included) as a CPU torch batch. # -> [1,C,h,w]"""
    field = NoiseField(seed=seed, channels=G.random_channels, waves=G.wave_vectors(), still=G.still)
    return torch.from_numpy(field.window(y0, x0, cells_h, cells_w, t))[None]


@torch.no_grad()
def render(G: TextureGenerator, height: int, width: int, seed: int = 0, halo: int | None = None) -> np.ndarray:
    """A texture from the torch generator, as the runtime would render it. # -> [H,W,3] float32 0..1"""
    s = G.stride
    halo = measure_halo_cells(G) if halo is None else halo
    ch, cw = -(-height // s), -(-width // s)
    was = G.training
    G.eval()
    device = next(G.parameters()).device
    y = G(noise_grid(G, ch + 2 * halo, cw + 2 * halo, seed, y0=-halo, x0=-halo).to(device))[0]
    G.train(was)
    y = y[:, halo * s: halo * s + height, halo * s: halo * s + width]
    return ((y.permute(1, 2, 0).cpu().numpy() + 1.0) * 0.5).clip(0.0, 1.0)


class TextureTask:
    """Data, networks and one step of the texture task (hooks: see ganfx.trainer.loop)."""

    name = "texture"

    def __init__(self, cfg: TextureConfig):
        self.cfg = cfg.check()
        names = [str(e) for e in cfg.exemplars]
        self.exemplars = [load_exemplar(e) for e in names]  # [H,W,3] float32 0..1 each
        torch.manual_seed(cfg.seed)  # network initialisation
        self.sampler = CropSampler(self.exemplars, cfg.crop, cfg.batch, cfg.seed, cfg.scale_jitter, cfg.flips,
                                   cfg.rot90, names)
        self.G = self.generator(cfg)
        with torch.no_grad():
            if cfg.tile:  # the tile starts as the exemplar's random-phase texture (periodic by construction)
                ex = self.exemplars[0]
                h, w = ex.shape[:2]
                if min(h, w) < cfg.tile:
                    raise ConfigError(f"{names[0]}: the tile ({cfg.tile} px) must fit in the exemplar ({w}x{h})",
                                      "tile")
                centre = ex[(h - cfg.tile) // 2:(h - cfg.tile) // 2 + cfg.tile,
                            (w - cfg.tile) // 2:(w - cfg.tile) // 2 + cfg.tile]
                start = random_phase_noise(np.ascontiguousarray(centre), seed=cfg.seed)
                self.G.tile.copy_(torch.from_numpy(start.transpose(2, 0, 1).copy()) * 2.0 - 1.0)
            elif cfg.lattice:
                self.G.wave_k.copy_(torch.from_numpy(lattice_waves(cfg.lattice, cfg.waves, cfg.stride)))
                self.G.wave_k.requires_grad_(False)  # the repeat is exact: it stays where it is
            elif cfg.waves:
                self.G.wave_k.copy_(torch.tensor(spectral_peaks(self.exemplars[0], cfg.waves, cfg.stride)))
            # with a spot field the low-pass waves take the periods longer than its kernel, the field the rest
            min_period = cfg.spot if cfg.spot else cfg.crop / 2
            if cfg.lowpass and not cfg.tile:
                k, amp = lowpass_waves(self.exemplars[0], cfg.lowpass, cfg.stride, min_period, cfg.seed)
                self.G.lowpass_k.copy_(torch.from_numpy(k))
                self.G.lowpass_amp.copy_(torch.from_numpy(amp))
            if cfg.spot:
                ex = self.exemplars[0]
                self.G.spot.weight.copy_(torch.from_numpy(texton(ex, cfg.spot, min_period)))
                self.G.spot.bias.zero_()
                # start as the random-phase texture: the network's own output small, around the exemplar's mean
                nn.init.normal_(self.G.to_rgb.weight, std=0.1 / math.sqrt(self.G.to_rgb.in_channels))
                self.G.to_rgb.bias.zero_()
                probe = torch.randn(2, self.G.input_channels, 24, 24, generator=torch.Generator().manual_seed(cfg.seed))
                offset = self.G.body(probe).mean(dim=(0, 2, 3))  # what the untrained network adds on average
                self.G.to_rgb.bias.copy_(torch.from_numpy(ex.reshape(-1, 3).mean(axis=0) * 2.0 - 1.0) - offset)
        self.G.grey = all((e == e[..., :1]).all() for e in self.exemplars)
        self.D = PatchDiscriminator(cfg.d_width, cfg.d_downs)
        betas = tuple(cfg.betas)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=betas)
        self.noise_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.aug_gen = torch.Generator().manual_seed(cfg.seed + 2)
        self.vgg = self.vgg_target = None
        if cfg.vgg_weight > 0:
            from .texture_features import VggFeatures

            self.vgg = VggFeatures.load()
            views = [e for ex in self.exemplars for e in ([ex, ex[:, ::-1]] if cfg.flips else [ex])]
            per_view = [self.vgg.exemplar_features(v) for v in views]
            self.vgg_target = [torch.cat(layer) for layer in zip(*per_view)]  # [N,C] per layer, all views

    @staticmethod
    def generator(cfg: TextureConfig) -> TextureGenerator | TileGenerator:
        """The generator network alone, from the config (what export rebuilds; no exemplar read)."""
        if cfg.tile:
            return TileGenerator(cfg.tile, cfg.stride, cfg.tile_blend, cfg.tile_motion)
        return TextureGenerator(cfg.noise_channels, cfg.stride, tuple(cfg.g_widths), cfg.cell_blocks,
                                fine_noise=cfg.fine_noise, waves=((0.0, 0.0),) * cfg.waves,
                                dilations=tuple(cfg.dilations), lowpass=cfg.lowpass, spot=cfg.spot)

    # -- what the loop saves and restores ----------------------------------------------
    def networks(self) -> dict:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"G": self.opt_g, "D": self.opt_d}

    def state(self) -> dict:
        return {"crops": self.sampler.state(), "noise": self.noise_gen.get_state().tolist(),
                "augment": self.aug_gen.get_state().tolist()}

    def set_state(self, state: dict) -> None:
        self.sampler.set_state(state["crops"])
        self.noise_gen.set_state(torch.tensor(state["noise"], dtype=torch.uint8))
        self.aug_gen.set_state(torch.tensor(state["augment"], dtype=torch.uint8))

    # -- one step ---------------------------------------------------------------------
    def _noise(self, dev: TrainingDevice = CPU) -> torch.Tensor:
        """A batch of fresh noise cells, waves included. # -> [B,G.input_channels,cells,cells]"""
        cfg = self.cfg
        cells = cfg.crop // cfg.stride + 2 * cfg.margin_cells
        G = self.G
        z = dev.to(torch.randn(cfg.batch, G.random_channels, cells, cells, generator=self.noise_gen))  # CPU stream
        if G.waves + G.lowpass:  # a random phase per crop and wave: crops from anywhere in an infinite texture
            phases = torch.rand(cfg.batch, G.waves + G.lowpass, generator=self.noise_gen) * (2.0 * math.pi)
            z = torch.cat([z, G.wave_channels(cfg.batch, cells, cells, phases).to(z.dtype)], dim=1)
        return z

    def _render(self, z: torch.Tensor) -> torch.Tensor:
        """Generator output for noise cells, margin cut off. # -> [B,3,crop,crop]"""
        m = self.cfg.margin_cells * self.cfg.stride
        return self.G(z)[:, :, m:m + self.cfg.crop, m:m + self.cfg.crop]

    def _aug(self, x):
        return diff_augment(x, self.cfg.augment, self.aug_gen)

    def _d_loss(self, real_logits, fake_logits):
        if self.cfg.loss == "hinge":
            return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def _g_loss(self, fake_logits):
        return -fake_logits.mean() if self.cfg.loss == "hinge" else F.softplus(-fake_logits).mean()

    def step(self, iteration: int, dev: TrainingDevice = CPU) -> dict:
        """One step of D then G on `dev` (mixed precision on CUDA). # -> losses as floats"""
        cfg = self.cfg
        real = dev.to(self.sampler.sample())  # [B,3,crop,crop] -1..1
        with dev.autocast():
            z = self._noise(dev)
            fake = self._render(z)

        out = {}
        if cfg.adv_weight > 0:
            r1 = self._d_step(real, fake, iteration, dev, out)
        # Generator.
        self.opt_g.zero_grad(set_to_none=True)
        loss_g = fake.new_zeros((), dtype=torch.float32)
        if cfg.adv_weight > 0:
            self.D.requires_grad_(False)
            with dev.autocast():
                adv = self._g_loss(self.D(self._aug(fake)))
            loss_g = loss_g + cfg.adv_weight * adv
            out["loss_g"] = adv.item()
            if iteration % cfg.r1_every == 0 and cfg.r1_gamma > 0:
                out["r1"] = r1.item()
        if cfg.swd_weight > 0:
            swd = sliced_patch_loss(fake.float(), real, self.aug_gen)  # float32: sorted projections
            loss_g = loss_g + cfg.swd_weight * swd
            out["swd_loss"] = swd.item()
        if self.vgg is not None:
            self.vgg.to(fake.device)
            deep = self.vgg.sliced_loss(fake.float(), self.vgg_target, self.aug_gen)
            loss_g = loss_g + cfg.vgg_weight * deep
            out["vgg_loss"] = deep.item()
        if cfg.bf16_weight > 0:
            # What the clamped output loses when an engine rounds every activation to bf16: the largest
            # of it decides whether the runtime may run the model in bf16 (runtime/engines.py, the probe).
            gap = bf16_term(self.G, lambda: self._render(z), fake, dev, -1.0, 1.0, cfg.bf16_power)
            loss_g = loss_g + cfg.bf16_weight * gap
            out["bf16_gap"] = gap.item()
        dev.backward(loss_g)
        dev.step(self.opt_g)
        dev.update()
        return out

    def _d_step(self, real, fake, iteration: int, dev: TrainingDevice, out: dict) -> torch.Tensor:
        """One discriminator step (with the lazy R1 penalty); records loss_d in `out`. # -> r1"""
        cfg = self.cfg
        self.D.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        with dev.autocast():
            loss_d = self._d_loss(self.D(self._aug(real)), self.D(self._aug(fake.detach())))
        r1 = real.new_zeros(())
        if cfg.r1_gamma > 0 and iteration % cfg.r1_every == 0:
            # Float32: a gradient of a gradient, too small for float16 and needing no speed.
            real_r1 = real.detach().requires_grad_(True)
            logits = self.D(self._aug(real_r1))
            (grad,) = torch.autograd.grad(logits.sum(), real_r1, create_graph=True)
            # Per patch logit: the summed map's gradient grows with the number of patches.
            r1 = grad.square().sum(dim=[1, 2, 3]).mean() / (logits.shape[2] * logits.shape[3])
            loss_d = loss_d + r1 * (cfg.r1_gamma * 0.5 * cfg.r1_every)
        dev.backward(loss_d)
        dev.step(self.opt_d)
        out["loss_d"] = loss_d.item()
        return r1

    # -- samples, evaluation, export ------------------------------------------------------
    def halo_cells(self, G=None) -> int:
        return measure_halo_cells(G if G is not None else self.G)

    def sample_grid(self, G) -> np.ndarray:
        """Exemplar crop | three samples (seeds 0, 1, 2) made as the runtime makes them. # -> [H,W,3] uint8"""
        from .plots import image_row

        px = self.cfg.sample_px
        ex = self.exemplars[0]
        h, w = ex.shape[:2]
        side = min(px, h, w)
        crop = ex[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        halo = self.halo_cells(G)
        return image_row([crop] + [render(G, px, px, seed, halo) for seed in range(3)], height=px)

    def evaluate(self, G) -> dict:
        """SWD (x1e3, docs/architecture.md "Quality measures") of a render the size of the exemplar against it."""
        if not self.cfg.eval_swd:
            return {}
        from .swd import swd

        ex = self.exemplars[0]
        img = render(G, ex.shape[0], ex.shape[1], seed=0, halo=self.halo_cells(G))
        return {"swd": round(swd(img, ex), 3)}

    def training_summary(self) -> dict:
        cfg = self.cfg
        return {"task": "texture", "exemplars": [str(e) for e in cfg.exemplars],
                "data_fingerprint": fingerprint(self.exemplars), "crop": cfg.crop, "stride": cfg.stride}

    @staticmethod
    def export_plan(G, cfg: TextureConfig, recorded: dict, description: str = "", license: str = "",
                    version: str = "1.0"):
        """What `ganfx export` needs: the module, its contract, and example inputs.

        From the generator and config alone (`recorded`, the checkpoint's JSON, is not needed
        by textures), so a run exports with its exemplars gone.
        """
        from .export import ExportPlan

        G = G.eval()
        halo = measure_halo_cells(G)
        spec = ModelSpec(
            kind="texture", name=cfg.model_name, version=version,
            description=description or f"{cfg.model_name} texture learned from {', '.join(map(str, cfg.exemplars))}",
            license=license or "see the model card",
            inputs=(TensorSpec("noise", G.input_channels, (-4.0, 4.0), "none"),),
            outputs=(TensorSpec("image", 3, (-1.0, 1.0), "srgb"),),
            halo=halo * cfg.stride, multiple=1, params=texture_params(),
            noise=NoiseSpec(G.random_channels, cfg.stride, halo, G.wave_vectors(), G.still),
        )
        side = 2 * halo + 3
        example = noise_grid(G, side, side, 0)
        parity = [noise_grid(G, side + 5, side + 2, seed) for seed in (11, 12)]
        return ExportPlan(module=G, spec=spec, example=example, parity_inputs=parity, input_name="noise",
                          output_name="image", fold_constants=not isinstance(G, TileGenerator))
