"""Training a texture the runtime may run in bf16: the simulated bf16 forward and its loss term."""

import pytest
import torch
from texture_fixtures import stripes, tiny_config

from ganfx.trainer.config import ConfigError
from ganfx.trainer.bf16_sim import bf16_round, simulated_bf16
from ganfx.trainer.texture_nets import PixelNorm, TextureGenerator
from ganfx.trainer.texture_task import TextureTask


def _generator():
    torch.manual_seed(0)
    return TextureGenerator(noise_channels=4, stride=4, widths=(16, 8, 8), cell_blocks=2, fine_noise=1,
                            waves=((0.3, 0.7),), lowpass=2).eval()


def test_rounding_is_bfloat16_forward_and_the_identity_backward():
    x = torch.tensor([1.0 + 2**-9, 1.0 + 3 * 2**-9, 3.14159, -0.001234], requires_grad=True)
    y = bf16_round(x)
    assert torch.equal(y, x.detach().to(torch.bfloat16).float())
    assert not torch.equal(y, x.detach())
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(4))


def test_simulated_forward_rounds_every_layer_and_leaves_no_trace():
    G = _generator()
    z = torch.randn(1, G.input_channels, 10, 10, generator=torch.Generator().manual_seed(1))
    plain = G(z)
    seen = []
    conv = G.mapping[0]
    hook = conv.register_forward_hook(lambda _m, _a, out: seen.append(out))  # runs before the rounding hook
    with simulated_bf16(G):
        rounded = G(z)
        assert all(m.simulate_bf16 for m in G.modules() if isinstance(m, PixelNorm))
        h = conv(torch.randn(1, conv.in_channels, 5, 5))
        assert torch.equal(h, h.to(torch.bfloat16).float())  # the output as bf16 stores it
    hook.remove()
    gap = (plain - rounded).abs()
    assert gap.max() > 0 and gap.mean() < 0.01  # bf16's 8-bit mantissa through a few layers (mean 0.005)
    assert len(seen) == 2 and not torch.equal(seen[0], seen[0].to(torch.bfloat16).float())
    assert torch.equal(G(z), plain)  # hooks removed, pixel norms back in float32
    assert not any(m.simulate_bf16 for m in G.modules() if isinstance(m, PixelNorm))


def test_the_term_trains_keeps_the_noise_stream_and_is_refused_for_tiles(tmp_path):
    ex = stripes(tmp_path / "ex.png", size=(64, 64))
    plain, robust = TextureTask(tiny_config(ex)), TextureTask(tiny_config(ex, bf16_weight=300.0))
    a, b = plain.step(1), robust.step(1)
    assert "bf16_gap" not in a and 0 < b["bf16_gap"] < 0.1
    assert a["loss_d"] == b["loss_d"]  # same crops, same noise: the term only adds to the generator's loss
    assert a["swd_loss"] == b["swd_loss"]
    moved = [not torch.equal(p, q) for p, q in zip(plain.G.parameters(), robust.G.parameters())]
    assert any(moved)
    with pytest.raises(ConfigError, match="bf16_weight"):
        tiny_config(ex, bf16_weight=-1.0).check()
    with pytest.raises(ConfigError, match="tile generator"):
        tiny_config(ex, bf16_weight=1.0, tile=16, stride=16).check()


def test_term_compares_float32_with_bf16_in_every_training_precision():
    """bf16_term: in float32 training the simulated pass is the bf16 side; under bf16 autocast the
    step's own output is, and the float32 side is rendered with autocast off (not a second bf16 pass,
    which would make the gap vanish)."""
    from ganfx.trainer.bf16_sim import bf16_gap, bf16_term
    from ganfx.trainer.device import TrainingDevice

    G = _generator()
    z = torch.randn(1, G.input_channels, 10, 10, generator=torch.Generator().manual_seed(1))
    plain = G(z)
    with simulated_bf16(G):
        rounded = G(z)
    fp32 = TrainingDevice(torch.device("cpu"))
    assert torch.equal(bf16_term(G, lambda: G(z), plain, fp32, -1.0, 1.0), bf16_gap(plain, rounded, -1.0, 1.0))
    mixed = TrainingDevice(torch.device("cpu"), torch.bfloat16)
    with mixed.autocast():
        out = G(z)
        term = bf16_term(G, lambda: G(z), out, mixed, -1.0, 1.0)
    assert out.dtype == torch.bfloat16 and term > 1e-4  # a second autocast pass would give exactly 0
    assert torch.allclose(term, bf16_gap(plain, out, -1.0, 1.0))
    term.backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)


def test_power_means_weight_the_largest_differences():
    """bf16_power 4 and 8: the power mean of the differences, at least the RMS, and nearer the largest
    one when a few pixels differ most (as on a texture's sharpest edges), the more so for 8; no NaN
    gradient where the outputs agree; other powers are refused."""
    from ganfx.trainer.bf16_sim import bf16_gap
    from ganfx.trainer.texture_task import TextureConfig

    y = torch.zeros(1, 1, 10, 10)
    spread, tail = y + 0.01, y.clone()
    tail[..., 0, :2] = 0.005 ** 0.5  # the same RMS (0.01) in two pixels
    assert torch.allclose(bf16_gap(y, spread, -1, 1), bf16_gap(y, tail, -1, 1))
    assert torch.allclose(bf16_gap(y, spread, -1, 1, 4), torch.tensor(0.01))
    assert bf16_gap(y, tail, -1, 1, 4) > 2 * bf16_gap(y, spread, -1, 1, 4)
    assert torch.equal(bf16_gap(y, y, -1, 1, 4), torch.tensor(1e-12 ** 0.5))  # no 0 under the root
    assert torch.allclose(bf16_gap(y, spread, -1, 1, 8), torch.tensor(0.01))
    assert bf16_gap(y, tail, -1, 1, 8) > 1.5 * bf16_gap(y, tail, -1, 1, 4)
    same = y.clone().requires_grad_()
    bf16_gap(same, y, -1, 1, 8).backward()  # d**8's mean is 0: the floor must be one float32 can hold
    assert torch.isfinite(same.grad).all()
    with pytest.raises(ConfigError, match="bf16_power"):
        TextureConfig(exemplars=("ex.png",), bf16_power=3).check()
