"""Frames <-> tensors: dtypes, value ranges, colour spaces, alpha, batches."""

import numpy as np
import pytest

from ganfx.runtime import frames as F
from ganfx.runtime.contract import TensorSpec
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.model import load_model

SRGB = TensorSpec("x", 3, (-1.0, 1.0), "srgb")
LIN = TensorSpec("x", 3, (0.0, 1.0), "linear")


def test_srgb_linear_round_trip():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    assert np.abs(F.linear_to_srgb(F.srgb_to_linear(x)) - x).max() < 1e-5
    assert abs(F.srgb_to_linear(np.float32(0.5)) - 0.21404) < 1e-4


@pytest.mark.parametrize("dtype,scale", [(np.uint8, 255), (np.uint16, 65535)])
def test_integer_round_trip_through_range(dtype, scale):
    frame = np.random.default_rng(0).integers(0, scale + 1, (2, 5, 7, 3)).astype(dtype)
    t, alpha = F.to_tensor(frame, SRGB)
    assert t.shape == (2, 3, 5, 7) and t.dtype == np.float32 and alpha is None
    assert t.min() >= -1 and t.max() <= 1
    back = F.from_tensor(t, SRGB, dtype=dtype)
    assert np.array_equal(back, frame)


def test_linear_model_gets_linear_values():
    frame = np.full((2, 2, 3), 128, np.uint8)
    t, _ = F.to_tensor(frame, LIN)
    assert abs(float(t[0, 0, 0, 0]) - 0.2158605) < 1e-4
    # a linear float frame (EXR) goes in unchanged
    lin = np.full((2, 2, 3), 0.2, np.float32)
    t, _ = F.to_tensor(lin, LIN, colorspace="linear")
    assert np.allclose(t, 0.2)


def test_alpha_split_and_restored():
    frame = np.random.default_rng(1).integers(0, 256, (4, 4, 4)).astype(np.uint8)
    t, alpha = F.to_tensor(frame, SRGB)
    assert t.shape == (1, 3, 4, 4) and alpha.shape == (1, 4, 4, 1)
    back = F.from_tensor(t, SRGB, dtype=np.uint8, alpha=alpha)[0]
    assert np.array_equal(back, frame)
    # alpha converted when the output dtype differs
    back16 = F.from_tensor(t, SRGB, dtype=np.uint16, alpha=alpha)[0]
    assert back16[..., 3].max() == frame[..., 3].astype(int).max() * 257


def test_grey_frames_expand_to_rgb():
    t, _ = F.to_tensor(np.zeros((3, 3), np.uint8), SRGB)
    assert t.shape == (1, 3, 3, 3) and np.allclose(t, -1)


def test_bad_frames():
    with pytest.raises(UserInputError, match="channels"):
        F.to_tensor(np.zeros((3, 3, 2), np.uint8), SRGB)
    with pytest.raises(UserInputError, match="uint8, uint16 or float"):
        F.to_tensor(np.zeros((3, 3, 3), np.int32), SRGB)


def test_apply_keeps_dtype_and_batches(effect_path):
    model = load_model(effect_path)
    batch = np.random.default_rng(2).integers(0, 65536, (3, 20, 30, 3)).astype(np.uint16)
    out = model.apply(batch)
    assert out.shape == batch.shape and out.dtype == np.uint16
    assert np.array_equal(out[1], model.apply(batch[1]))


def test_strength_mixes_with_source(effect_path):
    model = load_model(effect_path)
    frame = np.random.default_rng(3).random((16, 16, 3), dtype=np.float32)
    full = model.apply(frame, strength=1.0)
    none = model.apply(frame, strength=0.0)
    half = model.apply(frame, strength=0.5)
    assert np.allclose(none, frame, atol=1e-6)
    assert np.allclose(half, (full + frame) / 2, atol=1e-5)
