"""Sound models in the runtime, on the tiny ONNX sound model (tests/onnx_models.py make_sound_model):
spans computed alone equal the same samples of a longer render bit for bit, loops are exact,
gain, seeds, a malformed graph refused by name, and the image methods refusing a sound model."""

import numpy as np
import pytest

from ganfx.runtime import load_model
from ganfx.runtime.errors import ContractError, UserInputError
from ganfx.runtime.sound import BLOCK_CELLS, gain_factor, loop_samples, write_sound_file
from onnx_models import make_effect_model, make_sound_model, make_texture_model, sound_spec

RATE = 48000
STRIDE = 16
BLOCK = BLOCK_CELLS * STRIDE  # samples per block of the runtime's absolute grid


@pytest.fixture(scope="module")
def sound(tmp_path_factory):
    path = make_sound_model(tmp_path_factory.mktemp("snd") / "testsnd.onnx")
    return load_model(path, threads=1)


def test_the_tiny_sound_model_loads_and_renders_48k_mono(sound):
    spec = sound.spec
    assert (spec.kind, spec.rate, spec.noise.stride, spec.noise.halo) == ("sound", RATE, STRIDE, 2)
    assert [p.name for p in spec.params] == ["seed", "gain"]
    y = sound.sound(RATE)
    assert y.shape == (1, RATE) and y.dtype == np.float32
    assert np.abs(y).max() <= 1.0 and y.std() > 0.05


def test_any_span_equals_the_same_samples_of_a_longer_render(sound):
    whole = sound.sound(2 * BLOCK + 5000, seed=3)
    for first, count in [(0, 1), (BLOCK - 7, 20), (BLOCK, BLOCK), (12345, 2 * BLOCK + 5000 - 12345), (777, 1)]:
        part = sound.sound(count, first=first, seed=3)
        assert np.array_equal(part, whole[:, first:first + count]), (first, count)  # bit for bit
    assert sound.sound(0).shape == (1, 0)


def test_a_loop_is_exact_and_refuses_a_length_off_the_cell_grid(sound):
    n = loop_samples(0.25, RATE, STRIDE)
    assert n == 12000 and n % STRIDE == 0
    y = sound.sound(n + 300, seed=1, loop=n)
    assert np.array_equal(y[:, n], y[:, 0]) and np.array_equal(y[:, n:], y[:, :300])
    assert not np.array_equal(y[:, :n], sound.sound(n, seed=1)[:, :n])  # the loop's noise wraps: another sound
    long = loop_samples(1.0, RATE, STRIDE)  # longer than a block: the seam sits inside the second block
    assert long > BLOCK
    z = sound.sound(15, first=long - 5, seed=1, loop=long)
    assert np.array_equal(z[:, 5:], sound.sound(10, seed=1, loop=long))
    assert np.array_equal(z[:, :5], sound.sound(long, seed=1, loop=long)[:, -5:])
    with pytest.raises(UserInputError, match="whole number of noise cells"):
        sound.sound(100, loop=n + 1)


def test_gain_and_seed(sound):
    base = sound.sound(4000, seed=2)
    quieter = sound.sound(4000, seed=2, gain_db=-6.0)
    assert np.array_equal(quieter, np.clip(base * gain_factor(-6.0), -1, 1))
    assert abs(float(np.abs(quieter).max() / np.abs(base).max()) - 10 ** (-6 / 20)) < 1e-6
    louder = sound.sound(4000, seed=2, gain_db=24.0)
    assert np.abs(louder).max() == 1.0  # clipped, never beyond
    other = sound.sound(4000, seed=3)
    assert np.abs(other - base).mean() > 0.05


def test_write_sound_file_writes_the_rendered_samples(sound, tmp_path):
    from ganfx.runtime.io.audiofile import read_audio

    renderer = sound.sound_renderer(seed=4)
    seen = []
    n = BLOCK + 20000
    assert write_sound_file(tmp_path / "a.wav", renderer, 0, n, RATE, progress=seen.append) == n
    assert sum(seen) == n and len(seen) == 2  # block by block
    x, rate = read_audio(tmp_path / "a.wav")
    want = np.rint(sound.sound(n, seed=4).astype(np.float64) * 32767) / 32768  # 16-bit as FFmpeg reads it
    assert rate == RATE and x.shape == (1, n) and np.abs(x - want).max() < 1e-6
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]  # no partial left


def test_a_graph_that_disagrees_with_its_stride_is_refused_by_name(tmp_path):
    path = make_sound_model(tmp_path / "short.onnx", upsample=8)  # 8 samples per cell, the contract says 16
    model = load_model(path, threads=1)
    with pytest.raises(ContractError) as err:
        model.sound(100)
    text = str(err.value)
    assert text.startswith(f"{path}: sound output is [1, ") and "stride 16" in text and "\n" not in text


def test_image_methods_refuse_a_sound_model_and_sound_refuses_images(sound, tmp_path):
    with pytest.raises(UserInputError) as err:
        sound.apply(np.zeros((8, 8, 3), np.uint8))
    assert str(err.value) == "testsnd is a sound model; use sound()"
    with pytest.raises(UserInputError) as err:
        sound.generate(16, 16)
    assert str(err.value) == "testsnd is a sound model; use sound()"
    fx = load_model(make_effect_model(tmp_path / "fx.onnx"), threads=1)
    tex = load_model(make_texture_model(tmp_path / "tex.onnx"), threads=1)
    with pytest.raises(UserInputError, match=r"^testfx is an effect model; use apply\(\)$"):
        fx.sound(100)
    with pytest.raises(UserInputError, match=r"^testtex is a texture model; use generate\(\)$"):
        tex.sound(100)


def test_sound_spec_round_trips_through_the_contract(tmp_path):
    from ganfx.runtime.contract import read_spec

    spec = read_spec(make_sound_model(tmp_path / "s.onnx", spec=sound_spec(name="two", channels=3, stride=32)))
    assert (spec.name, spec.input.channels, spec.noise.stride, spec.output.layout) == ("two", 3, 32, "NCW")
    assert spec.digest is not None
