"""The render session: one path from the CLI's pipeline to the network, batches kept whole,
output made straight in the writer's format (clip preferences)."""

from fractions import Fraction

import numpy as np
import pytest

from ganfx.plugin.ofx import FILTER, ImageEffect, PluginDescriptor
from ganfx.plugin.session import RenderSession, SessionOptions, open_session
from ganfx.runtime import frames as F
from ganfx.runtime.io import open_reader
from ganfx.runtime.io.images import read_image
from ganfx.runtime.pipeline import RenderOptions, generate_file, render_file
from media import make_clip


def _frames(path):
    with open_reader(path) as reader:
        return np.stack([f.image for f in reader.frames()])


@pytest.fixture
def count_conversions(monkeypatch):
    """How often a frame changes format anywhere (frames.convert is the one place it does)."""
    calls = []
    real = F.convert

    def counting(image, dtype, channels):
        calls.append((image.dtype, np.dtype(dtype), channels))
        return real(image, dtype, channels)

    monkeypatch.setattr(F, "convert", counting)
    return calls


def test_batches_reach_the_network_whole_and_match_single_frames(tmp_path, effect_path, count_conversions):
    clip = make_clip(tmp_path / "in.mkv", frames=8, codec="ffv1", pix_fmt="bgr0", audio=None)  # lossless
    outs = {}
    for batch in (1, 3):
        with open_session(effect_path, {"strength": "0.7"}, SessionOptions(threads=1)) as session:
            out = tmp_path / f"b{batch}.mkv"
            render_file(clip, out, session, options=RenderOptions(batch=batch, progress="quiet", codec="ffv1"))
            assert session.model.runs == -(-8 // batch)  # one network call per batch: 8 or 3
        outs[batch] = _frames(out)
    assert np.array_equal(outs[1], outs[3])
    assert count_conversions == []  # uint8 in, uint8 out: the model wrote the writer's format directly


def test_a_matte_goes_with_its_frames_through_the_session(tmp_path, effect_path, count_conversions):
    from ganfx.runtime.io.images import write_png

    clip = make_clip(tmp_path / "in.mkv", frames=5, codec="ffv1", pix_fmt="bgr0", audio=None)  # lossless
    matte = np.zeros((48, 64, 1), np.uint8)
    matte[:, 40:] = 255
    matte[:, 20:40] = 128
    write_png(tmp_path / "matte.png", matte)
    with open_session(effect_path, {"strength": "0.7"}, SessionOptions(threads=1, tile=32)) as session:
        render_file(clip, tmp_path / "o.mkv", session, matte=tmp_path / "matte.png",
                    options=RenderOptions(batch=3, progress="quiet", codec="ffv1"))
        assert session.model.runs == 2 * 4  # one network call per batch and host tile (64x48 in 32-pixel tiles)
        src = _frames(clip)
        direct = session.process(src[:2], [0, 1], np.stack([matte, matte]))  # the Matte clip, called directly
    out = _frames(tmp_path / "o.mkv")
    expect = session.model.apply(src, strength=0.7, matte=matte)
    assert np.array_equal(out, expect) and np.array_equal(direct, expect[:2])
    assert np.array_equal(out[..., :20, :], src[..., :20, :]) and not np.array_equal(out[..., 40:, :], src[..., 40:, :])
    assert count_conversions == []


def test_a_texture_renders_straight_into_an_8bit_writer(tmp_path, texture_path, count_conversions):
    options = SessionOptions(size=(40, 24), fps=Fraction(24), threads=1)
    with open_session(texture_path, {"seed": "3"}, options) as session:
        generate_file(tmp_path / "t.####.png", session, 4, (40, 24), RenderOptions(batch=2, progress="quiet"))
        runs = session.model.runs
    assert runs == 2 and count_conversions == []  # never sRGB -> linear -> sRGB
    from ganfx.runtime.model import load_model

    model = load_model(texture_path, threads=1)
    for n in range(4):
        ref = model.generate(40, 24, t=n / 24, seed=3, dtype=np.uint8)
        assert np.array_equal(read_image(tmp_path / f"t.{n:04d}.png"), ref)


def test_a_float_writer_gets_linear_floats(tmp_path, effect_path):
    clip = make_clip(tmp_path / "in.mkv", frames=2, codec="ffv1", pix_fmt="bgr0", audio=None)
    with open_session(effect_path, {}, SessionOptions(threads=1)) as session:
        render_file(clip, tmp_path / "o.####.exr", session, options=RenderOptions(progress="quiet", codec="float"))
        model = session.model
    exr = read_image(tmp_path / "o.0000.exr")
    src = _frames(clip)[0]
    expect = model.apply(src, dtype=np.float32, out_colorspace="linear")
    assert exr.dtype == np.float32 and np.abs(exr - expect).max() < 1e-6


class Halve(ImageEffect):
    """A user plugin that ignores clip preferences and always returns float pixels."""

    def describe(self):
        return PluginDescriptor("org.test.halve", "halve", contexts=(FILTER,))

    def render(self, instance, args):
        return F.to_unit(args.source.crop(args.render_window)) * 0.5


def test_a_plugin_that_ignores_preferences_is_converted_once(tmp_path, count_conversions):
    clip = make_clip(tmp_path / "in.mkv", frames=3, codec="ffv1", pix_fmt="bgr0", audio=None)
    session = RenderSession(Halve(), {}, SessionOptions())
    render_file(clip, tmp_path / "o.mkv", session, options=RenderOptions(batch=3, progress="quiet", codec="ffv1"))
    assert len(count_conversions) == 1  # the host converts the batch once, the writer takes it as it is
    out, src = _frames(tmp_path / "o.mkv"), _frames(clip)
    expect = F.from_unit(F.linear_to_srgb(src.astype(np.float32) / 255 * 0.5), np.uint8)
    assert np.abs(out.astype(int) - expect.astype(int)).max() <= 1


def test_session_refuses_the_wrong_use(effect_path, texture_path):
    from ganfx.runtime.errors import UserInputError

    with open_session(effect_path, {}, SessionOptions(threads=1)) as fx:
        with pytest.raises(UserInputError, match="needs source frames"):
            fx.process(None, [0])
    with open_session(texture_path, {}, SessionOptions(threads=1)) as tex:  # no size given
        with pytest.raises(UserInputError, match="needs an output size"):
            tex.process(None, [0])
