"""The sound task: learn a sound texture from one recording, for the generic loop.

    from ganfx.trainer.sound_task import SoundConfig, SoundTask
    from ganfx.trainer.loop import train
    from ganfx.trainer.config import LoopConfig, new_run_dir

    cfg = SoundConfig(exemplar="fire.ogg", name="fire")
    result = train(SoundTask(cfg), LoopConfig(iterations=3000), new_run_dir("runs", "fire"))

The exemplar is read at 48 kHz mono (ganfx.runtime.io.audiofile). One step: random crops of
the exemplar (real) against generator output from fresh noise (fake). The generator learns
from a multi-resolution sliced-Wasserstein loss on log band energies of short-time spectra
(at 256, 1024 and 4096-sample windows): the distribution of single frames and of runs of
`patch_frames` consecutive frames must match the exemplar's (Heitz et al. 2021's idea, on
spectra instead of deep features), plus the mean log spectrum; random 1-D projections are
drawn fresh every step. A second term matches the statistics of compressed band envelopes
to the whole exemplar's (`stats_weight`; McDermott & Simoncelli 2011's texture statistics on
STFT bands: moments per band, cross-band correlations, modulation power), which is what
makes crackles and bursts rather than steady hiss. An optional spectrogram patch discriminator (`adv_weight`) adds an
adversarial term. The generator sees `margin_cells` extra noise cells at each end of a crop
whose samples are cut off, as tiled inference would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from ganfx.runtime.contract import ModelSpec, NoiseSpec, TensorSpec, sound_params
from ganfx.runtime.noise import NoiseField

from .config import ConfigError
from .device import CPU, TrainingDevice
from .sound_eval import load_exemplar_sound
from .sound_nets import SoundGenerator, SpectrogramDiscriminator, measure_halo_cells

RATE = 48000  # every sound model renders 48 kHz


@dataclass(frozen=True)
class SoundConfig:
    exemplar: str = ""  # an audio file (wav, flac, ogg, ...): the sound to learn
    name: str = ""  # model name (default: the exemplar's file name)
    seed: int = 0  # seeds crops, noise and projection streams
    crop: int = 65536  # training crop in samples (a multiple of stride; 1.37 s)
    batch: int = 4  # crops per step
    noise_channels: int = 16  # coarse noise values per cell
    fine_noise: int = 2  # fresh noise values per sample of every finer level
    stride: int = 256  # output samples per noise cell (a power of 4)
    widths: tuple = (128, 64, 32, 16, 16)  # generator channels at the cell rate, then after each x4 upsample
    dilations: tuple = (1, 2, 4, 8, 16, 32, 64, 128)  # dilated residual blocks at the cell rate (reach)
    margin_cells: int = 8  # extra noise cells at each end of a crop, cut off
    resolutions: tuple = (256, 1024, 4096)  # STFT windows of the spectral loss (hop = window/4)
    bands: int = 48  # log-spaced frequency bands the spectra are pooled into
    patch_frames: int = 8  # consecutive frames matched together (temporal structure)
    projections: int = 128  # random directions per distribution and step
    stats_weight: float = 3.0  # weight of the envelope-statistics loss (McDermott & Simoncelli's statistics, 0 = off)
    adv_weight: float = 0.0  # weight of the spectrogram discriminator's adversarial loss (0 = off)
    d_width: int = 32  # discriminator width
    lr_g: float = 2e-4  # generator Adam learning rate
    lr_d: float = 2e-4  # discriminator Adam learning rate
    betas: tuple = (0.5, 0.99)  # Adam betas
    polarity: bool = True  # real crops are negated at random (a sound and its negative sound alike)
    eval_seconds: float = 6.0  # length of the render the live statistics distance is measured on

    PATH_FIELDS: ClassVar[tuple] = ("exemplar",)

    def check(self) -> "SoundConfig":
        if not self.exemplar:
            raise ConfigError("give an exemplar sound file", "exemplar")
        levels = round(math.log(self.stride, 4)) if self.stride >= 4 else 0
        if self.stride < 4 or 4 ** levels != self.stride:
            raise ConfigError(f"stride must be a power of 4 >= 4, got {self.stride}", "stride")
        if len(self.widths) != levels + 1:
            raise ConfigError(f"widths needs log4(stride)+1 = {levels + 1} values, got {len(self.widths)}", "widths")
        if self.crop < max(self.resolutions) * 2 or self.crop % self.stride:
            raise ConfigError(f"crop must be a multiple of the stride {self.stride} and at least twice the largest "
                              f"resolution {max(self.resolutions)}, got {self.crop}", "crop", "resolutions")
        if self.batch < 1 or self.noise_channels < 1 or self.fine_noise < 0 or self.margin_cells < 0:
            raise ConfigError("batch and noise_channels must be >= 1, fine_noise and margin_cells >= 0",
                              "batch", "noise_channels", "fine_noise", "margin_cells")
        if not self.dilations or min(self.dilations) < 1:
            raise ConfigError(f"dilations must be values >= 1, got {tuple(self.dilations)}", "dilations")
        if self.patch_frames < 1 or self.bands < 4 or self.projections < 1:
            raise ConfigError("patch_frames and projections must be >= 1, bands >= 4",
                              "patch_frames", "bands", "projections")
        return self

    @property
    def model_name(self) -> str:
        return self.name or Path(str(self.exemplar)).stem


def noise_span(G: SoundGenerator, first_cell: int, cells: int, seed: int, period: int | None = None) -> torch.Tensor:
    """Runtime noise for G (the same NoiseField hosts use) as a CPU batch. # -> [1,C,cells]"""
    field = NoiseField(seed=seed, channels=G.input_channels, period=None if period is None else (1, period))
    return torch.from_numpy(field.window(0, first_cell, 1, cells)[:, 0])[None]


@torch.no_grad()
def render(G: SoundGenerator, samples: int, seed: int = 0, halo: int | None = None) -> np.ndarray:
    """Samples [0, samples) of the sound from the torch generator, as the runtime renders them. # -> [n] float32"""
    s = G.stride
    halo = measure_halo_cells(G) if halo is None else halo
    cells = -(-samples // s)
    was = G.training
    G.eval()
    device = next(G.parameters()).device
    y = G(noise_span(G, -halo, cells + 2 * halo, seed).to(device))[0, 0]
    G.train(was)
    return y[halo * s: halo * s + samples].float().cpu().numpy()


def band_matrix(n_fft: int, rate: int, bands: int, fmin: float = 30.0) -> torch.Tensor:
    """Mean pooling of STFT bins into log-spaced bands (empty bands dropped). # -> [bins, <=bands]"""
    freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    edges = np.geomspace(fmin, rate / 2, bands + 1)
    idx = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, bands - 1)
    m = np.zeros((len(freqs), bands), np.float32)
    m[np.arange(len(freqs)), idx] = 1.0
    m[freqs < fmin] = 0.0
    m = m[:, m.sum(0) > 0]
    return torch.from_numpy(m / m.sum(0, keepdims=True))


def log_bands(x: torch.Tensor, n_fft: int, pool: torch.Tensor) -> torch.Tensor:
    """Log band energies of short-time spectra. # [B,1,L] -> [B, frames, bands] float32"""
    window = torch.hann_window(n_fft, device=x.device)
    spec = torch.stft(x[:, 0].float(), n_fft, hop_length=n_fft // 4, window=window, center=False,
                      return_complex=True)
    power = (spec.real.square() + spec.imag.square()) * (2.0 / window.sum()) ** 2  # [B, bins, frames], sine = 1
    return torch.log(power.transpose(1, 2) @ pool.to(x.device) + 1e-9)  # floor -90 dB


def _sliced_w1(a: torch.Tensor, b: torch.Tensor, projections: int, g: torch.Generator) -> torch.Tensor:
    """Sliced W1 between two sets of vectors, each dimension scaled by b's spread (at least 0.5 nepers:
    near-silent bands must not dominate). # [n,d] x2 -> []"""
    scale = b.std(dim=0, keepdim=True).clamp_min(0.5)
    a, b = a / scale, b / scale
    n = min(a.shape[0], b.shape[0])
    if a.shape[0] > n:
        a = a[torch.randperm(a.shape[0], generator=g)[:n].to(a.device)]
    if b.shape[0] > n:
        b = b[torch.randperm(b.shape[0], generator=g)[:n].to(b.device)]
    dirs = torch.randn(a.shape[1], projections, generator=g).to(a.device)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    return (torch.sort(a @ dirs, dim=0).values - torch.sort(b @ dirs, dim=0).values).abs().mean()


def spectral_texture_loss(fake, real, pools: dict, patch: int, projections: int, g: torch.Generator):
    """Mean over resolutions of: |mean log spectrum difference| + SWD of frames + SWD of frame runs. # -> []"""
    total = fake.new_zeros((), dtype=torch.float32)
    for n_fft, pool in pools.items():
        lf, lr = log_bands(fake, n_fft, pool), log_bands(real.detach(), n_fft, pool)
        total = total + (lf.mean(dim=(0, 1)) - lr.mean(dim=(0, 1))).abs().mean()
        total = total + _sliced_w1(lf.reshape(-1, lf.shape[2]), lr.reshape(-1, lr.shape[2]), projections, g)
        p = min(patch, lf.shape[1])
        runs_f = lf.unfold(1, p, 1).reshape(-1, lf.shape[2] * p)  # [B*(T-p+1), bands*p]
        runs_r = lr.unfold(1, p, 1).reshape(-1, lr.shape[2] * p)
        total = total + _sliced_w1(runs_f, runs_r, projections, g)
    return total / len(pools)


def envelope_statistics(x: torch.Tensor, pool: torch.Tensor, n_fft: int = 256) -> dict:
    """Statistics of compressed band envelopes, pooled over batch and time (after McDermott &
    Simoncelli 2011, on STFT bands): per band mean, coefficient of variation, skew and kurtosis,
    cross-band correlations, and modulation power in octave bands of the envelope spectrum
    relative to the envelope variance. # [B,1,L] -> {name: tensor}"""
    env = torch.exp(0.15 * log_bands(x, n_fft, pool))  # (power)^0.15 = amplitude^0.3
    b, t, k = env.shape
    flat = env.reshape(-1, k)
    mean = flat.mean(0)
    d = flat - mean
    var = d.square().mean(0) + 1e-10
    out = {"cv": var / mean.square(), "skew": d.pow(3).mean(0) / var.pow(1.5), "kurtosis": d.pow(4).mean(0) / var.square()}
    z = d / var.sqrt()
    out["correlation"] = (z.T @ z / flat.shape[0])[torch.triu_indices(k, k, 1).unbind()]
    spec = torch.fft.rfft(env - env.mean(1, keepdim=True), dim=1).abs().square()  # [B, freqs, K]
    edges = [1, 2, 4, 8, 16, 32, 64, 128, spec.shape[1]]
    power = torch.stack([spec[:, a:e].sum(1) for a, e in zip(edges[:-1], edges[1:]) if a < spec.shape[1]], 1)
    out["modulation"] = torch.log(power.mean(0) / (spec[:, 1:].sum(1).mean(0) + 1e-10) + 1e-6)
    return out


def statistics_loss(fake_stats: dict, real_stats: dict) -> torch.Tensor:
    """Mean over the statistics of |fake - real| / (|real| RMS, floored). # -> []"""
    total = 0.0
    for name, r in real_stats.items():
        scale = r.square().mean().sqrt().clamp_min(0.3 if name in ("skew", "correlation") else 0.05)
        total = total + (fake_stats[name] - r).abs().mean() / scale
    return total / len(real_stats)


class SoundTask:
    """Data, networks and one step of the sound task (hooks: see ganfx.trainer.loop)."""

    name = "sound"
    cpu_bf16 = False  # the spectral loss wants float32; the generator is small

    def __init__(self, cfg: SoundConfig):
        self.cfg = cfg.check()
        self.exemplar = load_exemplar_sound(cfg.exemplar, RATE)
        from ganfx.runtime.errors import UserInputError

        if len(self.exemplar) < cfg.crop:
            raise UserInputError(f"the exemplar is {len(self.exemplar) / RATE:.2f} s long; training needs at least "
                                 f"one crop of {cfg.crop / RATE:.2f} s", path=cfg.exemplar)
        torch.manual_seed(cfg.seed)
        self.G = self.generator(cfg)
        self.D = SpectrogramDiscriminator(cfg.d_width) if cfg.adv_weight > 0 else None
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=tuple(cfg.betas))
        self.opt_d = (torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=tuple(cfg.betas))
                      if self.D is not None else None)
        self.crop_gen = torch.Generator().manual_seed(cfg.seed)
        self.noise_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.proj_gen = torch.Generator().manual_seed(cfg.seed + 2)
        self.pools = {n: band_matrix(n, RATE, cfg.bands) for n in cfg.resolutions}
        self.stats_pool = band_matrix(256, RATE, cfg.bands)
        self.real_stats = None
        if cfg.stats_weight > 0:  # the exemplar's own statistics, over all of it, once
            with torch.no_grad():
                n = len(self.exemplar) // cfg.crop
                crops = torch.from_numpy(self.exemplar[: n * cfg.crop].reshape(n, 1, cfg.crop))
                self.real_stats = envelope_statistics(crops, self.stats_pool)
        self._halo = None
        self._exemplar_stats = None

    @staticmethod
    def generator(cfg: SoundConfig) -> SoundGenerator:
        return SoundGenerator(cfg.noise_channels, cfg.stride, tuple(cfg.widths), tuple(cfg.dilations),
                              cfg.fine_noise, channels=1)

    # -- what the loop saves and restores ----------------------------------------------
    def networks(self) -> dict:
        return {"G": self.G, **({"D": self.D} if self.D is not None else {})}

    def optimizers(self) -> dict:
        return {"G": self.opt_g, **({"D": self.opt_d} if self.opt_d is not None else {})}

    def state(self) -> dict:
        return {k: getattr(self, k).get_state().tolist() for k in ("crop_gen", "noise_gen", "proj_gen")}

    def set_state(self, state: dict) -> None:
        for k, v in state.items():
            getattr(self, k).set_state(torch.tensor(v, dtype=torch.uint8))

    # -- one step ---------------------------------------------------------------------
    def real(self) -> torch.Tensor:
        """Random crops of the exemplar, randomly negated. # -> [B,1,crop]"""
        cfg = self.cfg
        starts = torch.randint(0, len(self.exemplar) - cfg.crop + 1, (cfg.batch,), generator=self.crop_gen)
        x = torch.stack([torch.from_numpy(self.exemplar[int(s): int(s) + cfg.crop]) for s in starts])[:, None]
        if cfg.polarity:
            signs = torch.randint(0, 2, (cfg.batch, 1, 1), generator=self.crop_gen).float() * 2 - 1
            x = x * signs
        return x

    def fake(self, dev: TrainingDevice = CPU) -> torch.Tensor:
        cfg = self.cfg
        cells = cfg.crop // cfg.stride + 2 * cfg.margin_cells
        z = dev.to(torch.randn(cfg.batch, self.G.input_channels, cells, generator=self.noise_gen))
        m = cfg.margin_cells * cfg.stride
        return self.G(z)[:, :, m:m + cfg.crop]

    def _spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """Log spectrogram for the discriminator. # [B,1,L] -> [B,1,bins,frames]"""
        window = torch.hann_window(1024, device=x.device)
        spec = torch.stft(x[:, 0].float(), 1024, hop_length=256, window=window, center=False, return_complex=True)
        return (torch.log(spec.abs().square() + 1e-8)[:, None] + 8.0) / 4.0

    def step(self, iteration: int, dev: TrainingDevice = CPU) -> dict:
        cfg = self.cfg
        real = dev.to(self.real())
        fake = self.fake(dev)
        out = {}
        loss_g = fake.new_zeros(())
        if self.D is not None:
            self.D.requires_grad_(True)
            self.opt_d.zero_grad(set_to_none=True)
            sr, sf = self._spectrogram(real), self._spectrogram(fake.detach())
            loss_d = F.relu(1.0 - self.D(sr)).mean() + F.relu(1.0 + self.D(sf)).mean()
            dev.backward(loss_d)
            dev.step(self.opt_d)
            self.D.requires_grad_(False)
            adv = -self.D(self._spectrogram(fake)).mean()
            loss_g = loss_g + cfg.adv_weight * adv
            out.update(loss_d=loss_d.item(), loss_adv=adv.item())
        self.opt_g.zero_grad(set_to_none=True)
        spectral = spectral_texture_loss(fake.float(), real, self.pools, cfg.patch_frames, cfg.projections,
                                         self.proj_gen)
        loss_g = loss_g + spectral
        out["spectral"] = spectral.item()
        if self.real_stats is not None:
            stats = statistics_loss(envelope_statistics(fake.float(), self.stats_pool),
                                    {k: v.to(fake.device) for k, v in self.real_stats.items()})
            loss_g = loss_g + cfg.stats_weight * stats
            out["stats_loss"] = stats.item()
        dev.backward(loss_g)
        dev.step(self.opt_g)
        dev.update()
        return out

    # -- samples, evaluation, export ------------------------------------------------------
    def halo_cells(self, G=None) -> int:
        if self._halo is None:
            self._halo = measure_halo_cells(G if G is not None else self.G)
        return self._halo

    def sample_grid(self, G) -> np.ndarray:
        """Spectrograms, 4 s each: the exemplar's start, then seeds 0 and 1 of the generator. # -> [H,W,3] uint8"""
        from .sound_metrics import spectrogram_picture

        n = min(len(self.exemplar), 4 * RATE)
        items = [("exemplar", self.exemplar[:n])]
        items += [(f"ganfx seed {seed}", render(G, n, seed, self.halo_cells(G))) for seed in (0, 1)]
        return spectrogram_picture(items, RATE)

    def evaluate(self, G) -> dict:
        """The sound-texture statistics distance (trainer/sound_metrics.py) of a render against the exemplar."""
        from .sound_metrics import statistics_distance, texture_statistics

        if self._exemplar_stats is None:  # the exemplar's side, once per run
            self._exemplar_stats = texture_statistics(self.exemplar, RATE)
        n = int(self.cfg.eval_seconds * RATE)
        y = render(G, n, 0, self.halo_cells(G))
        return {"stats": round(float(statistics_distance(y, self.exemplar, RATE, stats_b=self._exemplar_stats)), 4)}

    def training_summary(self) -> dict:
        import hashlib

        cfg = self.cfg
        digest = hashlib.sha256(np.round(self.exemplar * 32767).astype(np.int16).tobytes()).hexdigest()[:16]
        return {"task": "sound", "exemplar": str(cfg.exemplar), "data_fingerprint": digest,
                "exemplar_seconds": round(len(self.exemplar) / RATE, 3), "crop": cfg.crop, "stride": cfg.stride}

    @staticmethod
    def export_plan(G, cfg: SoundConfig, recorded: dict, description: str = "", license: str = "",
                    version: str = "1.0"):
        """What `ganfx export` needs, from the generator and config alone."""
        from .export import ExportPlan

        G = G.eval()
        halo = measure_halo_cells(G)
        spec = ModelSpec(
            kind="sound", name=cfg.model_name, version=version,
            description=description or f"{cfg.model_name} sound texture learned from {Path(str(cfg.exemplar)).name}",
            license=license or "see the model card",
            inputs=(TensorSpec("noise", G.input_channels, (-4.0, 4.0), "none", layout="NCW"),),
            outputs=(TensorSpec("audio", 1, (-1.0, 1.0), "none", layout="NCW", rate=RATE),),
            halo=halo * cfg.stride, multiple=1, params=sound_params(),
            noise=NoiseSpec(G.input_channels, cfg.stride, halo),
        )
        side = 2 * halo + 3
        example = noise_span(G, 0, side, 0)
        parity = [noise_span(G, 5, side + 7, seed) for seed in (11, 12)]
        return ExportPlan(module=G, spec=spec, example=example, parity_inputs=parity, input_name="noise",
                          output_name="audio")
