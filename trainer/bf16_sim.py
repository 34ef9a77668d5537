"""A torch simulation of an engine that computes in bfloat16, to train models the runtime may run in bf16.

    with simulated_bf16(G):      # every Conv2d's input and output, every LeakyReLU's output rounded
        y_bf16 = G(x)            # (and modules with a `simulate_bf16` flag, e.g. PixelNorm, round their steps)
    gap = bf16_gap(y, y_bf16, lo, hi)   # RMS change of the clamped output
    gap = bf16_term(G, render, out, dev, lo, hi)   # the loss term of --bf16-weight, in any training precision

Straight-through: the forward pass is rounded, the backward is the identity, so the gap's gradient
teaches the float32 network to be insensitive to the rounding. Weights, resampling and the noise
waves stay float32. How close it comes to OpenVINO's bf16 is measured in docs/architecture.md.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def bf16_round(t: torch.Tensor) -> torch.Tensor:
    """t rounded to bfloat16 in the forward pass, the identity in the backward (straight-through)."""
    return t + (t.to(torch.bfloat16).to(t.dtype) - t).detach()


@contextlib.contextmanager
def simulated_bf16(G: nn.Module):
    """Run G as an engine computing in bf16 would: every convolution's input and output, every
    activation, and the steps of modules that carry a `simulate_bf16` flag (PixelNorm) rounded to
    bfloat16 (straight-through gradients).

    On the shipped redbrick this gives 3.1/255 of largest difference to float32 on the runtime's
    probe where OpenVINO bf16 gives 4.2/255, and a mean difference near OpenVINO's (0.23 against
    0.27/255); on painterly (trained without the term) 1.6/255 against OpenVINO's 1.5 (mean 0.20
    against 0.12): close enough to train against (TextureConfig.bf16_weight, EffectConfig.bf16_weight).
    """
    hooks, flagged = [], [m for m in G.modules() if hasattr(m, "simulate_bf16")]
    for m in G.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_pre_hook(lambda _m, args: (bf16_round(args[0]), *args[1:])))
            hooks.append(m.register_forward_hook(lambda _m, _args, out: bf16_round(out)))
        elif isinstance(m, nn.LeakyReLU):
            hooks.append(m.register_forward_hook(lambda _m, _args, out: bf16_round(out)))
    for m in flagged:
        m.simulate_bf16 = True
    try:
        yield G
    finally:
        for h in hooks:
            h.remove()
        for m in flagged:
            m.simulate_bf16 = False


def bf16_gap(y: torch.Tensor, rounded: torch.Tensor, lo: float, hi: float, power: int = 2) -> torch.Tensor:
    """The difference of the two outputs clamped to the contract's range lo..hi, in float32, as a
    power mean: 2 the RMS; 4 and 8 weight the largest differences more and more (the runtime's probe
    judges the largest). # -> scalar"""
    d = y.float().clamp(lo, hi) - rounded.float().clamp(lo, hi)
    # clamp_min: the root of an exact 0 (every pixel clamped alike) would give a NaN gradient
    if power == 2:  # square and sqrt, as the runs trained before the power existed computed it (bit for bit)
        return d.square().mean().clamp_min(1e-12).sqrt()
    # the floor of d**power's mean: 1e-24 for power 4, and no lower than float32 can hold (1e-48 would be 0)
    return d.pow(power).mean().clamp_min(max(1e-12 ** (power / 2), 1e-36)).pow(1.0 / power)


def bf16_term(G: nn.Module, render, out: torch.Tensor, dev, lo: float, hi: float, power: int = 2) -> torch.Tensor:
    """The gap between G's float32 output and its output computed in bf16, for a step whose output
    `out = render()` came from G under dev.autocast(). # -> scalar

    In float32 training the bf16 side is render() under simulated_bf16; under bf16 autocast `out`
    already is the bf16 side (autocast rounds weights, inputs and outputs of every convolution, as an
    engine in bf16 does) and the float32 side is one more render() with autocast off; under float16
    autocast both sides are rendered with autocast off.
    """
    plain = torch.autocast(dev.device.type, enabled=False)
    if dev.dtype == torch.bfloat16:
        with plain:
            return bf16_gap(render(), out, lo, hi, power)
    if dev.dtype is None:
        with simulated_bf16(G):
            return bf16_gap(out, render(), lo, hi, power)
    with plain:
        reference = render()
        with simulated_bf16(G):
            return bf16_gap(reference, render(), lo, hi, power)
