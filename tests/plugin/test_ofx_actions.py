"""The OpenFX action model: descriptors from the contract, action order, regions, identity, hosts."""

import dataclasses
import textwrap

import numpy as np
import pytest

from ganfx.plugin import ofx
from ganfx.plugin.gan_effect import GanEffect
from ganfx.plugin.host import Host
from ganfx.plugin.ofx import FILTER, GENERATOR, MATTE, SOURCE, HostInfo, Rect
from ganfx.runtime.errors import UserInputError
from ganfx.runtime.frames import PixelFormat
from ganfx.runtime.model import load_model


class RecordingHost(Host):
    """The reference host, writing down every action it calls and the argument it passed."""

    def __init__(self, plugin, info=None):
        self.log = []
        super().__init__(plugin, info)

    def call(self, action, *args):
        self.log.append((action, args[-1] if args else None))
        return super().call(action, *args)


def frame(h=37, w=50, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        return rng.random((h, w, 3), np.float32)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def fx(effect_path):
    return GanEffect(load_model(effect_path, threads=1))


def test_descriptor_comes_from_the_contract(fx, texture_path):
    d = fx.describe()
    assert (d.identifier, d.label, d.grouping, d.contexts) == ("org.ganfx.testfx", "testfx", "ganfx", (FILTER,))
    strength, look = d.param("strength"), d.param("look")
    assert (strength.type, strength.default, strength.min, strength.max, strength.animatable) == ("double", 1.0, 0, 1, True)
    assert (look.type, look.choices, look.label) == ("choice", ("warm", "cool"), "Look")
    source, output, matte = fx.describe_in_context(FILTER).clips
    assert (source.name, output.name) == (SOURCE, ofx.OUTPUT) and not source.optional
    assert (matte.name, matte.components, matte.optional, matte.is_mask) == (MATTE, ("Alpha",), True, True)
    tex_fx = GanEffect(load_model(texture_path, threads=1))
    tex = tex_fx.describe()
    assert tex.contexts == (GENERATOR,) and not tex.supports_tiles
    assert {p.name: p.type for p in tex.params}["seed"] == "seed"
    assert [c.name for c in tex_fx.describe_in_context(GENERATOR).clips] == [ofx.OUTPUT]


def test_typed_parameter_helpers_check_values():
    params = (ofx.DoubleParam("gain", 1.0, 0, 2, "Gain"), ofx.IntParam("steps", 3, 1, 9), ofx.BoolParam("flip"),
              ofx.ChoiceParam("mode", ("a", "b")), ofx.RGBParam("tint"), ofx.StringParam("note"),
              ofx.FileParam("lut"), ofx.SeedParam())
    d = ofx.PluginDescriptor("org.test.p", "p", params=params)
    host_values = Host.check_values(type("H", (), {"descriptor": d})(), {"gain": "1.5", "tint": "1,0,0", "flip": "yes"})
    assert host_values == {"gain": 1.5, "steps": 3, "flip": True, "mode": "a", "tint": (1.0, 0.0, 0.0), "note": "",
                           "lut": "", "seed": 0}
    with pytest.raises(UserInputError, match="gain: 3.0 is above the maximum 2"):
        Host.check_values(type("H", (), {"descriptor": d})(), {"gain": 3})
    with pytest.raises(UserInputError, match="contexts"):
        ofx.PluginDescriptor("x", "x", contexts=("paint",))


def test_actions_run_in_openfx_order_with_frozen_arguments(fx):
    host = RecordingHost(fx)
    inst = host.create_instance({"strength": "0.5"})
    host.begin_sequence(inst, (10, 11))
    for t in (10, 11):
        host.render_frame(inst, t, frame(seed=t))
    host.end_sequence(inst)
    host.destroy_instance(inst)
    per_frame = ["get_region_of_definition", "get_frames_needed", "get_regions_of_interest", "is_identity",
                 "render_frames"]
    assert [a for a, _ in host.log] == (["describe", "describe_in_context", "create_instance",
                                         "begin_sequence_render", "get_clip_preferences"] + per_frame * 2
                                        + ["end_sequence_render", "destroy_instance"])
    args = dict((a, arg) for a, arg in host.log)
    assert args["begin_sequence_render"] == ofx.BeginSequenceRenderArgs((10, 11), (1.0, 1.0))
    assert args["get_clip_preferences"].output == PixelFormat("uint8", "srgb", 3)  # default: the source's format
    render = args["render_frames"][0]
    assert render.time == 11 and render.render_window == Rect(0, 0, 50, 37) and render.output.dtype == "uint8"
    for arg in (args["begin_sequence_render"], args["get_regions_of_interest"], args["is_identity"], render):
        with pytest.raises(dataclasses.FrozenInstanceError):
            arg.time = 3


def test_a_batch_of_frames_reaches_the_network_in_one_call(fx):
    host = RecordingHost(fx)
    inst = host.create_instance({"strength": "0.5"})
    frames = np.stack([frame(seed=t) for t in range(4)])
    host.begin_sequence(inst, (0, 3))
    runs = fx.model.runs
    out = host.render_frames(inst, [0, 1, 2, 3], frames)
    assert fx.model.runs == runs + 1  # one [4,C,H,W] network call
    assert [a for a, _ in host.log].count("render_frames") == 1 and len(dict(host.log)["render_frames"]) == 4
    for t in range(4):  # the same pixels as frame by frame
        assert np.array_equal(out[t], host.render_frame(inst, t, frames[t]))


def test_clip_preferences_render_straight_into_the_writers_format(fx):
    host = Host(fx)
    inst = host.create_instance()
    src = frame(seed=3)  # uint8 sRGB
    host.begin_sequence(inst, (0, 0), output=PixelFormat("uint16", "srgb", 4))
    deep = host.render_frame(inst, 0, src)
    assert deep.dtype == np.uint16 and deep.shape[-1] == 4 and (deep[..., 3] == 65535).all()
    host.begin_sequence(inst, (0, 0))
    plain = host.render_frame(inst, 0, src)
    assert plain.dtype == np.uint8  # no preference: the source's format
    assert np.abs(deep[..., :3].astype(np.int32) - plain.astype(np.int32) * 257).max() <= 257


def test_region_of_interest_grows_by_the_halo(fx, strided_path):
    inst = Host(fx).create_instance()
    roi = fx.get_regions_of_interest(inst, ofx.RegionsOfInterestArgs(0, Rect(10, 12, 20, 30)))
    assert roi == {SOURCE: Rect(8, 10, 22, 32), MATTE: Rect(8, 10, 22, 32)}  # halo 2
    strided = GanEffect(load_model(strided_path, threads=1))  # halo 6, multiple 2: origins land on even pixels
    roi = strided.get_regions_of_interest(inst, ofx.RegionsOfInterestArgs(0, Rect(9, 16, 20, 30)))[SOURCE]
    assert roi.x1 <= 9 - 6 and roi.y1 <= 16 - 6 and roi.x1 % 2 == 0 and roi.y1 % 2 == 0
    assert (roi.x2, roi.y2) == (26, 36)


@pytest.mark.parametrize("which", ["effect", "strided"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_host_tiles_equal_the_whole_frame(which, dtype, effect_path, strided_path):
    # Tiles are rendered from their regions of interest: a missing halo shows at every seam.
    model = load_model(effect_path if which == "effect" else strided_path, threads=1)
    src = frame(dtype=dtype)
    whole = model.apply(src, strength=0.8, colorspace="linear" if dtype == np.float32 else "srgb")
    host = RecordingHost(GanEffect(model), HostInfo(tile=16))
    inst = host.create_instance({"strength": 0.8})
    tiled = host.render_frame(inst, 0, src)
    assert [a for a, _ in host.log].count("render_frames") == 3 * 4  # 50x37 in 16-pixel tiles
    tol = 1 if dtype == np.uint8 else 1e-5
    assert tiled.dtype == whole.dtype and np.abs(tiled.astype(np.float64) - whole).max() <= tol


def matte_for(h=37, w=50):
    """0 on the left third, a ramp in the middle, 1 on the right third. # [h,w] uint8"""
    return np.clip(np.linspace(-255, 510, w), 0, 255).astype(np.uint8)[None, :].repeat(h, axis=0)


@pytest.mark.parametrize("tile", [None, 16])
def test_a_connected_matte_clip_weighs_the_effect(fx, tile):
    host = RecordingHost(fx, HostInfo(tile=tile))
    inst = host.create_instance({"strength": 0.8})
    frames = np.stack([frame(seed=t) for t in range(2)])
    matte = matte_for()
    host.begin_sequence(inst, (0, 1))
    plain = host.render_frames(inst, [0, 1], frames)  # not connected: no matte reaches the plugin
    assert all(a.matte is None for a in dict(host.log)["render_frames"])
    host.log.clear()
    rgba = np.concatenate([np.zeros(matte.shape + (3,), np.uint8), matte[..., None]], axis=-1)
    for mattes in (np.stack([matte, matte]), np.stack([rgba, rgba])):  # one channel, or an RGBA clip's alpha
        out = host.render_frames(inst, [0, 1], frames, mattes=mattes)
        args = dict(host.log)["render_frames"]
        assert all(a.matte.pixels.shape[-1] == 1 and a.matte.bounds == a.source.bounds for a in args)
        assert np.array_equal(out, fx.model.apply(frames, strength=0.8, matte=matte))  # tiles: the same pixels
        assert np.array_equal(out[:, :, :16], frames[:, :, :16])  # matte 0: the source
        assert np.array_equal(out[:, :, -16:], plain[:, :, -16:])  # matte 1: the effect at its strength


def test_mattes_are_refused_where_they_cannot_go(fx, texture_path):
    host = Host(fx)
    inst = host.create_instance()
    src = np.stack([frame()])
    with pytest.raises(UserInputError, match=r"mattes must be \[N,H,W\] like the source frames \[1, 37, 50\]"):
        host.render_frames(inst, [0], src, mattes=np.zeros((1, 36, 50), np.uint8))
    plain = Host(Halve())
    with pytest.raises(UserInputError, match="halve has no Matte clip: it takes no matte"):
        plain.render_frames(plain.create_instance(), [0], src, mattes=np.zeros((1, 37, 50), np.uint8))
    tex = Host(GanEffect(load_model(texture_path, threads=1)), HostInfo(project_size=(8, 8)))
    with pytest.raises(UserInputError, match="has no Matte clip"):
        tex.render_frames(tex.create_instance(), [0], mattes=np.zeros((1, 8, 8), np.uint8))


class Halve(ofx.ImageEffect):
    """A user plugin with the default clips: Source and Output, no Matte."""

    def describe(self):
        return ofx.PluginDescriptor("org.test.halve", "halve", contexts=(FILTER,))

    def render(self, instance, args):
        return args.source.crop(args.render_window) // 2


def test_identity_at_strength_zero_skips_inference(fx):
    host = RecordingHost(fx)
    inst = host.create_instance({"strength": 0})
    src = frame()
    runs = fx.model.runs
    out = host.render_frame(inst, 0, src)
    assert fx.model.runs == runs and np.array_equal(out, src)
    assert "render" not in [a for a, _ in host.log]
    inst = host.create_instance({"strength": 0.3})
    host.render_frame(inst, 0, src)
    assert fx.model.runs == runs + 1


def test_generator_renders_the_model_texture(texture_path):
    model = load_model(texture_path, threads=1)
    host = Host(GanEffect(model), HostInfo(project_size=(40, 24), frame_rate=25.0))
    inst = host.create_instance({"seed": 7, "speed": "0.5", "loop": 10})
    host.begin_sequence(inst, (0, 10), output=PixelFormat("uint8", "srgb", 3))  # the writer's clip preferences
    out = host.render_frame(inst, 5)
    ref = model.generate(40, 24, t=5 / 25, seed=7, speed=0.5, loop=10 / 25, dtype=np.uint8)
    assert out.shape == (24, 40, 3) and out.dtype == np.uint8 and np.array_equal(out, ref)
    assert np.array_equal(host.render_frame(inst, 10), host.render_frame(inst, 0))  # the loop closes
    half = host.render_frame(inst, 5, render_scale=(0.5, 0.5))
    assert half.shape == (12, 20, 3)
    with pytest.raises(UserInputError, match="no filter context"):
        host.create_instance(context=FILTER)


def test_filter_needs_a_source_and_unknown_parameters_are_refused(fx):
    host = Host(fx)
    with pytest.raises(UserInputError, match="needs source frames"):
        host.render_frame(host.create_instance(), 0, None)
    with pytest.raises(UserInputError, match="testfx has no parameter 'gain'"):
        host.create_instance({"gain": 1})


USER_PLUGIN = textwrap.dedent('''
    import numpy as np
    from ganfx.plugin.ofx import FILTER, DoubleParam, ImageEffect, PluginDescriptor

    class Invert(ImageEffect):
        def describe(self):
            return PluginDescriptor("org.example.invert", "invert", contexts=(FILTER,),
                                    params=(DoubleParam("mix", 1.0, 0.0, 1.0),))

        def render(self, instance, args):
            src = args.source.crop(args.render_window)
            return (255 - src) if instance.values["mix"] > 0.5 else src.copy()

    PLUGIN = Invert()
''')


def test_user_plugin_file_is_found_by_the_cli(tmp_path, monkeypatch, capsys):
    from ganfx.plugin.cli import main
    from ganfx.plugin.discovery import list_plugins, open_plugin
    from ganfx.runtime.io import open_reader

    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "invert.py").write_text(USER_PLUGIN)
    (folder / "broken.py").write_text("PLUGIN = 3\n")
    monkeypatch.setenv("GANFX_PLUGINS", str(folder))
    assert [name for name, _ in list_plugins()] == ["broken", "invert"]
    assert open_plugin("invert").describe().identifier == "org.example.invert"
    assert main(["plugin", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"broken\t{folder / 'broken.py'}", f"invert\t{folder / 'invert.py'}"]
    frames = np.stack([frame(16, 24, seed=s) for s in range(3)])
    seq = tmp_path / "in"
    seq.mkdir()
    import cv2

    for i, f in enumerate(frames):
        cv2.imwrite(str(seq / f"s.{i:04d}.png"), f[..., ::-1])
    assert main(["render", "invert", str(seq / "s.####.png"), "-o", str(tmp_path / "o.####.png"), "--quiet",
                 "--tile", "16"]) == 0
    with open_reader(tmp_path / "o.####.png") as r:
        out = np.stack([f.image for f in r.frames()])
    assert np.array_equal(out, 255 - frames)
    cv2.imwrite(str(tmp_path / "matte.png"), np.zeros((16, 24), np.uint8))
    assert main(["render", "invert", str(seq / "s.####.png"), "-o", str(tmp_path / "m.####.png"), "--quiet",
                 "--matte", str(tmp_path / "matte.png")]) == 1  # refused before anything is rendered
    assert capsys.readouterr().err.strip() == "ganfx render: error: invert has no Matte clip: it takes no matte"
    assert not list(tmp_path.glob("m.*.png"))
    assert main(["render", "broken", str(seq / "s.####.png"), "-o", str(tmp_path / "b.####.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("broken.py: a plugin file must define PLUGIN = an ImageEffect instance")
    assert len(err.splitlines()) == 1
