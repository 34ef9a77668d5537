"""The texture parameter `scale` is gone (it was a bicubic enlargement of a smaller render).

Models exported before carry it in their contract (ganfx.params): they load and render at
native size, accept scale at its default 1 (saved settings, old scripts), and refuse any other
value in one line naming the model. A model exported now has no `scale`: passing it is an
unknown parameter like any other.
"""

import dataclasses

import cv2
import numpy as np
import pytest

from ganfx.plugin.cli import main
from ganfx.plugin.gan_effect import GanEffect, live_params, retired_params
from ganfx.plugin.host import Host
from ganfx.plugin.ofx import HostInfo
from ganfx.runtime.contract import ParamSpec, read_spec, texture_params
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.frames import PixelFormat
from ganfx.runtime.model import list_models, load_model
from onnx_models import make_texture_model, texture_spec

OLD_SCALE = ParamSpec("scale", "double", 1.0, 0.25, 4.0, "Scale", help="size of the texture's features")
UINT8 = PixelFormat("uint8", "srgb", 3)


@pytest.fixture(scope="module")
def old_texture(tmp_path_factory):
    """A texture exported before `scale` was removed: seed, speed, scale, loop, tileable."""
    new = texture_params()
    spec = dataclasses.replace(texture_spec(name="oldtex"), params=new[:2] + (OLD_SCALE,) + new[2:])
    return make_texture_model(tmp_path_factory.mktemp("old") / "oldtex.onnx", spec=spec)


def render(model, values, render_scale=(1.0, 1.0), size=(64, 48)):
    host = Host(GanEffect(model), HostInfo(project_size=size, frame_rate=24.0))
    inst = host.create_instance(values)
    host.begin_sequence(inst, (0, 0), render_scale, output=UINT8)
    return host.render_frame(inst, 0, render_scale=render_scale)


def test_texture_params_no_longer_offer_scale():
    assert "scale" not in {p.name for p in texture_params()}


def test_old_model_with_scale_loads_and_renders_at_native_size(old_texture):
    assert "scale" in {p.name for p in read_spec(old_texture).params}  # the file still lists it
    model = load_model(old_texture, threads=1)
    native = model.generate(64, 48, seed=3, dtype=np.uint8)
    assert native.shape == (48, 64, 3)
    # no scale, or scale at its default: exactly the native render
    assert np.array_equal(render(model, {"seed": 3}), native)
    assert np.array_equal(render(model, {"seed": 3, "scale": "1"}), native)
    with pytest.raises(TypeError):
        model.generate(64, 48, seed=3, scale=2.0)  # the runtime has no scale any more


@pytest.mark.parametrize("value", ["2", "0.5", "9"])
def test_old_model_refuses_other_scales_in_one_line_naming_the_model(old_texture, value):
    model = load_model(old_texture, threads=1)
    runs = model.runs
    with pytest.raises(UserInputError, match=r"oldtex: parameter 'scale' was removed .* only scale=1.0 is accepted") as e:
        render(model, {"seed": 3, "scale": value})
    assert "\n" not in str(e.value) and model.runs == runs  # refused before any rendering


def test_old_model_shows_scale_as_removed_and_hosts_hide_it(old_texture):
    effect = GanEffect(load_model(old_texture, threads=1))
    p = effect.describe().param("scale")
    assert p is not None and "removed" in p.label and p.min is None and p.max is None
    spec = read_spec(old_texture)
    assert [q.name for q in retired_params(spec)] == ["scale"]
    assert [q.name for q in live_params(spec)] == ["seed", "speed", "loop", "tileable"]


def test_cli_generate_with_scale(old_texture, texture_path, tmp_path, capsys):
    assert main(["generate", str(old_texture), "-o", str(tmp_path / "a.png"), "--size", "32x32",
                 "--param", "scale=1", "--quiet"]) == 0
    assert main(["generate", str(old_texture), "-o", str(tmp_path / "b.png"), "--size", "32x32",
                 "--param", "scale=2", "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "parameter 'scale' was removed" in err and not (tmp_path / "b.png").exists()
    # a model exported now: scale is an unknown parameter like any other
    assert main(["generate", str(texture_path), "-o", str(tmp_path / "c.png"), "--size", "32x32",
                 "--param", "scale=2", "--quiet"]) != 0
    assert "has no parameter 'scale'" in capsys.readouterr().err
    with pytest.raises(UserInputError, match="testtex has no parameter 'scale'"):
        render(load_model(texture_path, threads=1), {"scale": 1})


def test_proxy_render_is_the_full_render_reduced(texture_path):
    model = load_model(texture_path, threads=1)
    full = model.generate(64, 48, seed=2)  # float 0..1
    half = render(model, {"seed": 2}, render_scale=(0.5, 0.5))
    want = np.clip(np.rint(cv2.resize(full, (32, 24), interpolation=cv2.INTER_AREA) * 255), 0, 255)
    assert half.shape == (24, 32, 3) and np.abs(half.astype(int) - want).max() <= 1
    assert not np.array_equal(half, model.generate(32, 24, seed=2, dtype=np.uint8))  # not a native small render


def test_shipped_textures_have_no_scale_parameter():
    shipped = [e for e in list_models() if e.source == "shipped" and e.spec and e.spec.kind == "texture"]
    if not shipped:
        pytest.skip("no shipped texture models in this checkout")
    for entry in shipped:
        assert "scale" not in {p.name for p in entry.spec.params}, entry.name
    model = load_model(shipped[0].path, threads=1)
    with pytest.raises(UserInputError, match="scale"):
        render(model, {"scale": 2.0}, size=(32, 32))
