"""The consistency term and the quality measures of effect models."""

import numpy as np
import pytest
import torch
from effect_fixtures import make_clip

from ganfx.trainer.effect_data import read_clip_frames
from ganfx.trainer.effect_metrics import clip_flows, psnr, ssim, temporal_ratio, warping_error
from ganfx.trainer.effect_nets import EffectGenerator, PatchDiscriminator, receptive_radius
from ganfx.trainer.temporal import consistency_loss, random_warps, warp


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    clip = make_clip(tmp_path_factory.mktemp("clip") / "pan.mp4", frames=8)
    decoded = read_clip_frames(clip, range(8))
    return [decoded[i] for i in range(8)]


def test_consistency_zero_for_warp_commuting_generators():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64)
    theta = random_warps(4, generator=torch.Generator().manual_seed(1))
    assert consistency_loss(lambda t: t, x, theta).item() == 0.0
    # a pointwise affine colour change commutes with bilinear resampling
    assert consistency_loss(lambda t: 0.5 * t + 0.2, x, theta).item() < 1e-6


def test_consistency_positive_for_generators_that_do_not_commute():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64)
    theta = random_warps(4, generator=torch.Generator().manual_seed(1))
    assert consistency_loss(lambda t: t.flip(-1), x, theta).item() > 0.05  # mirrors: moves the wrong way
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64)
    assert consistency_loss(lambda t: t * ramp, x, theta).item() > 1e-3  # depends on position, not content


def test_warp_valid_mask_and_identity():
    x = torch.rand(2, 3, 32, 32)
    theta = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]] * 2)
    y, valid = warp(x, theta)
    assert torch.allclose(x, y, atol=1e-6) and valid.min() == 1
    theta[:, 0, 2] = 4.0  # 4 px shift: 4 columns come from outside
    _, valid = warp(x, theta)
    assert valid[0, 0].sum().item() == 32 * 28


def test_warping_error_ranks_flicker_above_steady(frames):
    flows = clip_flows(frames)
    assert all(f is not None for f in flows)
    steady = [np.clip(f.astype(np.float32) / 255 * 0.8 + 0.1, 0, 1) for f in frames]
    rng = np.random.default_rng(0)
    flicker = [np.clip(s + rng.uniform(-0.08, 0.08), 0, 1) for s in steady]  # per-frame brightness jumps
    e_steady, e_flicker = warping_error(steady, flows), warping_error(flicker, flows)
    assert e_flicker > 2 * e_steady
    r = temporal_ratio(flicker, steady, flows)
    assert r["ratio"] > 2 and r["frame_pairs"] == 7 and r["cuts"] == 0
    assert temporal_ratio(steady, steady, flows)["ratio"] == 1.0


def test_cut_is_skipped(frames):
    rng = np.random.default_rng(1)
    other = (rng.random(frames[0].shape) * 255).astype(np.uint8)  # a different "shot"
    flows = clip_flows(frames[:3] + [other])
    assert flows[0] is not None and flows[1] is not None and flows[2] is None


def test_psnr_ssim_match_reference():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(0)
    a = rng.random((40, 50, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1), abs=1e-4)
    ref = structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, data_range=1)
    assert ssim(a, b) == pytest.approx(ref, abs=1e-4)
    assert psnr(a, a) == float("inf") and ssim(a, a) == pytest.approx(1.0)


def test_generator_is_local_with_measured_halo():
    torch.manual_seed(0)
    g = EffectGenerator(width=8, blocks=1).eval()
    halo = receptive_radius(g)
    assert halo == g.halo and halo > 8
    x = torch.rand(1, 3, 112, 112)
    c = 56
    changed_at_halo = False
    with torch.no_grad():
        y = g(x)
        for dy in range(g.multiple):  # every phase of the stride-2 levels
            for dx in range(g.multiple):
                oy, ox = c + dy, c + dx
                for d, vy, vx in ((halo + 1, 1, 0), (halo + 1, -1, 0), (halo + 1, 0, 1), (halo + 1, 0, -1),
                                  (halo, 1, 0), (halo, -1, 0), (halo, 0, 1), (halo, 0, -1)):
                    z = x.clone()
                    z[0, :, oy + vy * d, ox + vx * d] += 1.0
                    same = torch.equal(g(z)[0, :, oy, ox], y[0, :, oy, ox])
                    if d > halo:
                        assert same, f"pixel {d} px away changes the output: halo {halo} is too small"
                    changed_at_halo |= not same
    assert changed_at_halo  # the halo is tight: some pixel exactly halo px away matters
    assert not any(isinstance(m, (torch.nn.InstanceNorm2d, torch.nn.GroupNorm, torch.nn.BatchNorm2d)) for m in g.modules())
    assert PatchDiscriminator(width=8)(x, x).shape[:2] == (1, 1)
