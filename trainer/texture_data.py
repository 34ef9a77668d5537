"""Random crops of texture exemplars, and DiffAugment-style augmentation.

Exemplars are loaded by `ganfx.trainer.exemplars.load_exemplar` ([H,W,3] float32 0..1):

    img = load_exemplar("skimage:brick")
    crops = CropSampler([img], crop=128, batch=8, seed=0)
    real = crops.sample()                                # [8,3,128,128] float32 in -1..1
    real = diff_augment(real, "color,translation,cutout", generator)

Crops are taken at several scales (a random zoom in [1 - scale_jitter, 1 + scale_jitter]),
so the discriminator never learns one exact pixel grid, and optionally flipped and rotated
by multiples of 90 degrees (only for textures that look the same that way).

Crops and augmentation parameters are drawn on the CPU from seeded generators (saved for an
exact resume) and follow the batch onto its device, so a step sees the same numbers on any device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ganfx.runtime.errors import UserInputError

from .config import ConfigError


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
                raise ConfigError(f"exemplar is {w}x{h}, smaller than the {int(np.ceil(largest))} px crop "
                                  f"(crop {self.crop} with scale jitter {self.scale_jitter}); use a smaller crop",
                                  "crop", path=name)
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
def _rand(x, g):
    """One uniform number per batch item, drawn on the CPU. # -> [N,1,1,1] on x's device"""
    return torch.rand(x.shape[0], 1, 1, 1, generator=g).to(x.device)


def _color(x, g):
    x = x + (_rand(x, g) - 0.5) * 0.5  # brightness (on -1..1 values)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, g) * 0.6 + 0.7) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(x, g) * 0.6 + 0.7) + mean  # contrast


def _grid(x):
    _, _, h, w = x.shape
    return torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")


def _translation(x, g, ratio=0.125):
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), generator=g).to(x.device)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=g).to(x.device)
    gy, gx = _grid(x)
    gy = torch.clamp(gy[None] + ty + 1, 0, h + 1)
    gx = torch.clamp(gx[None] + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    idx = (gy * (w + 2) + gx).view(n, 1, -1).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def _cutout(x, g, ratio=0.25):
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=g).to(x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=g).to(x.device)
    gy, gx = _grid(x)
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


def spectral_peaks(exemplar: np.ndarray, count: int, stride: int, min_period_cells: float = 2.5) -> np.ndarray:
    """The `count` strongest periodicities of an exemplar, as wave vectors. # [H,W,3] -> [count,2] radians/cell

    Peaks of the Fourier modulus of the luminance's periodic component (so the image border
    adds no cross of false frequencies), one of each +/- pair, each refined to a fraction of a
    bin by a parabola through its neighbours. Frequencies within 2 bins of zero (shading) and
    periods shorter than `min_period_cells` cells (finer than the cells can carry) are left out.
    """
    from .baselines import periodic_component

    grey = periodic_component(np.asarray(exemplar, np.float64).mean(axis=2, keepdims=True))[..., 0]
    h, w = grey.shape
    mag = np.abs(np.fft.fft2(grey - grey.mean()))
    fy = np.fft.fftfreq(h)[:, None] * h  # bins
    fx = np.fft.fftfreq(w)[None, :] * w
    ky, kx = 2.0 * np.pi * fy / h * stride, 2.0 * np.pi * fx / w * stride  # radians per cell
    allowed = (np.hypot(fy, fx) > 2.0) & (np.hypot(ky, kx) <= 2.0 * np.pi / min_period_cells)
    allowed &= (fy > 0) | ((fy == 0) & (fx > 0))  # one of each conjugate pair
    score = np.where(allowed, mag, 0.0)
    out = []
    for _ in range(count):
        iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[iy, ix] <= 0:
            break

        def refine(a, b, c):
            d = a - 2.0 * b + c
            return 0.0 if d >= 0 else 0.5 * (a - c) / d

        dy = refine(mag[(iy - 1) % h, ix], mag[iy, ix], mag[(iy + 1) % h, ix])
        dx = refine(mag[iy, (ix - 1) % w], mag[iy, ix], mag[iy, (ix + 1) % w])
        out.append((2.0 * np.pi * (fy[iy, 0] + dy) / h * stride, 2.0 * np.pi * (fx[0, ix] + dx) / w * stride))
        # suppress the peak's neighbourhood (and its conjugate) before the next pick
        for sy, sx in ((fy[iy, 0], fx[0, ix]), (-fy[iy, 0], -fx[0, ix])):
            near = (np.abs((fy - sy + h / 2) % h - h / 2) <= 2) & (np.abs((fx - sx + w / 2) % w - w / 2) <= 2)
            score[near] = 0.0
    while len(out) < count:  # fewer peaks than asked: repeat the last (still a valid wave)
        out.append(out[-1] if out else (0.0, 2.0 * np.pi / 8.0))
    return np.asarray(out, np.float32)


def lowpass_waves(exemplar: np.ndarray, count: int, stride: int, min_period: float, seed: int = 0) -> tuple:
    """Low frequencies of an exemplar as `count` waves and their weights per colour channel.

    Frequencies with periods longer than `min_period` pixels (and shorter than the exemplar):
    when the band has at most `count` of them, every one, split over several waves with their
    own phases (the band's spectrum exactly); otherwise `count` drawn without replacement in
    proportion to their power, scaled to carry the band's whole variance per channel. Each
    wave's weight per channel is that channel's Fourier modulus there, signed by its
    correlation with the luminance (colours stay correlated).
    With a random phase per wave this is random-phase noise (Galerne et al. 2011) restricted
    to a sparse set of low frequencies. Weights are in the generator's -1..1 output units.
    # [H,W,3] -> ([count,2] radians per cell, [3,count])
    """
    from .baselines import periodic_component

    u = periodic_component(np.asarray(exemplar, np.float64))
    h, w = u.shape[:2]
    spec = np.fft.fft2(u - u.mean(axis=(0, 1)), axes=(0, 1))  # [h,w,3]
    lum = spec.mean(axis=2)
    fy = np.fft.fftfreq(h)[:, None] * h
    fx = np.fft.fftfreq(w)[None, :] * w
    period = 1.0 / np.maximum(np.hypot(fy / h, fx / w), 1e-12)
    band = (period > min_period) & ((fy > 0) | ((fy == 0) & (fx > 0)))  # half plane, DC left out
    iy, ix = np.nonzero(band)
    out_k = np.zeros((count, 2), np.float32)
    out_a = np.zeros((3, count), np.float32)
    if iy.size == 0:
        return out_k, out_a
    power = np.abs(lum[iy, ix]) ** 2 + 1e-12
    if iy.size <= count:
        # every bin of the band, each split over about count/size waves of equal power and their
        # own phases: the band's spectrum exactly (as random-phase noise has it), no wave wasted
        pick = np.arange(count) % iy.size
        share = 1.0 / np.bincount(pick, minlength=iy.size)[pick]
    else:
        rng = np.random.default_rng(seed)
        pick = rng.choice(iy.size, size=count, replace=False, p=power / power.sum())
        share = None
    coef = spec[iy[pick], ix[pick]]  # [n,3]
    sign = np.sign(np.real(coef * np.conj(lum[iy[pick], ix[pick]])[:, None])) + (coef.real == 0)
    amp = 2.0 * np.abs(coef) / (h * w)  # a sine of amplitude a has variance a^2/2: a bin and its conjugate
    if share is not None:
        amp = amp * np.sqrt(share)[:, None]
    else:  # the picked bins carry the whole band's variance per channel
        band_var = 2.0 * (np.abs(spec[iy, ix]) ** 2).sum(axis=0) / (h * w) ** 2
        pick_var = 2.0 * (np.abs(coef) ** 2).sum(axis=0) / (h * w) ** 2
        amp = amp * np.sqrt(band_var / np.maximum(pick_var, 1e-20))
    n = len(pick)
    # Each wave a random fraction of a bin off its bin's centre: the same spectrum in the mean, but
    # incommensurate frequencies, so the large-scale shading never repeats (on bin centres it would
    # repeat with the exemplar's size) and no pair of waves beats into visible bands.
    jitter = np.random.default_rng(seed + 1).uniform(-0.5, 0.5, size=(n, 2))
    out_k[:n, 0] = 2.0 * np.pi * (fy[iy[pick], 0] + jitter[:, 0]) / h * stride
    out_k[:n, 1] = 2.0 * np.pi * (fx[0, ix[pick]] + jitter[:, 1]) / w * stride
    out_a[:, :n] = (2.0 * amp * sign).T  # 0..1 image units -> -1..1 output units
    return out_k, out_a


def texton(exemplar: np.ndarray, size: int, max_period: float) -> np.ndarray:
    """The exemplar's zero-phase texton: a kernel whose convolution with white noise is its random-phase texture.

    Random-phase noise keeps the exemplar's Fourier modulus and draws the phase (Galerne et al.
    2011); convolving unit white noise with t = F^-1(sqrt(S)) / sqrt(HW) does the same with a
    kernel centred at 0 (Desolneux et al. 2012), so the field is local and tiles exactly. S is
    the power spectrum smoothed over frequency (the autocorrelation weighted by a Gaussian of
    size/4 px): one exemplar's raw modulus is noisy, and its noise would spread a fifth of the
    variance over the whole kernel, where the cut to `size` x `size` would lose it. Colours: one
    kernel per channel on one shared noise, each channel's phase relative to the luminance's
    kept, so channels stay correlated as in the exemplar. Only periods up to `max_period` px
    (longer ones are the low-pass waves' band); a Hann window at the edge. In the generator's
    -1..1 output units. # [H,W,3] 0..1 -> [3,1,size,size] float32
    """
    from .baselines import periodic_component

    if size < 3 or size % 2 == 0:
        raise ValueError(f"texton size must be odd and >= 3, got {size}")
    u = periodic_component(np.asarray(exemplar, np.float64))
    u = u - u.mean(axis=(0, 1))
    h, w = u.shape[:2]
    spec = np.fft.fft2(u, axes=(0, 1))
    lum = spec.mean(axis=2, keepdims=True)
    ly, lx = np.fft.fftfreq(h)[:, None] * h, np.fft.fftfreq(w)[None, :] * w  # circular lags in px
    lag_window = np.exp(-0.5 * (ly**2 + lx**2) / (size / 4.0) ** 2)[..., None]

    def smooth(x):  # over frequency: weight the (cross-)correlation by the lag window
        return np.fft.fft2(np.fft.ifft2(x, axes=(0, 1)) * lag_window, axes=(0, 1))

    power = np.maximum(np.real(smooth(np.abs(spec) ** 2)), 0.0)
    cross = smooth(spec * np.conj(lum))  # each channel's phase relative to the luminance
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    keep = (1.0 / np.maximum(np.hypot(fy, fx), 1e-12) <= max_period)[..., None]
    t_hat = np.sqrt(power) * cross / (np.abs(cross) + 1e-20) * keep
    t = np.fft.fftshift(np.real(np.fft.ifft2(t_hat, axes=(0, 1))) / np.sqrt(h * w), axes=(0, 1))
    r = size // 2
    cy, cx = h // 2, w // 2
    t = np.pad(t, ((r, r), (r, r), (0, 0)))[cy:cy + size, cx:cx + size]  # exemplars smaller than the kernel
    window = np.hanning(size + 2)[1:-1]
    t = t * np.outer(window, window)[..., None]
    return (2.0 * t).transpose(2, 0, 1)[:, None].astype(np.float32)
