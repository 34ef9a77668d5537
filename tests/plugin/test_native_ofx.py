"""The native OpenFX bundle: built once per session with `ganfx plugin build-ofx`, loaded by the
project's own OFX host (tests/plugin/ofx_host.py), and compared pixel for pixel with the Python
runtime (GanEffect through the reference host), for a shipped effect and a shipped texture, whole
frames and tiles, 8-bit, 16-bit and float.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import threading
from dataclasses import replace

import numpy as np
import pytest

from ganfx.plugin.gan_effect import GanEffect
from ganfx.plugin.host import Host
from ganfx.plugin.ofx import HostInfo
from ganfx.runtime.contract import TensorSpec
from ganfx.runtime.frames import PixelFormat
from ganfx.runtime.noise import NoiseField
from ganfx.runtime.tiling import TileGrid

sys.path.insert(0, os.path.dirname(__file__))
from ofx_host import FAILED, OK, REPLY_DEFAULT, OfxHost  # noqa: E402
from onnx_models import effect_spec, flip_weight_bytes, make_effect_model  # noqa: E402

EFFECT, TEXTURE = "watercolor", "redbrick"
TILE_TEXTURE = "crackedrock"  # a tile texture: still noise channels (ganfx.noise still), 64 px cells
TOL = {np.dtype(np.uint8): 1, np.dtype(np.uint16): 257, np.dtype(np.float32): 1e-4}  # 1/255 for integers


def _toolchain() -> bool:
    return bool(shutil.which("cmake")) and bool(os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++"))


pytestmark = pytest.mark.skipif(not _toolchain(), reason="building the OFX bundle needs cmake and a C++ compiler")


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("ofx") / "ganfx.ofx.bundle"
    proc = subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", "plugin", "build-ofx", "-o", str(out),
                           "--jobs", "1"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out}")
    return out


@pytest.fixture(scope="session")
def extra_models(tmp_path_factory):
    """The folder GANFX_OFX_MODELS names: a small effect whose network sees -1..1 (strided: a size
    multiple of 2) with a choice parameter, the same with its weights in an external file, and bad
    models: a file that is not ONNX, an ONNX model without a contract, a contract that disagrees
    with its graph, weights damaged after export."""
    import onnx

    d = tmp_path_factory.mktemp("ofx_models")
    make_effect_model(d / "testfx_strided.onnx", strided=True)
    onnx.save_model(onnx.load(str(d / "testfx_strided.onnx")), str(d / "external.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="external.weights", size_threshold=200)
    flip_weight_bytes(d / "testfx_strided.onnx", d / "damaged.onnx", count=50)
    (d / "broken.onnx").write_bytes(b"this is not an onnx file\n" * 10)
    make_effect_model(d / "nocontract.onnx", metadata={"producer": "someone else"})
    wrong = replace(effect_spec(name="badio"), inputs=(TensorSpec("pixels", 3, (-1.0, 1.0), "srgb"),))
    make_effect_model(d / "badio.onnx", metadata=wrong.to_metadata())
    return d


@pytest.fixture(scope="session")
def host(bundle, extra_models):
    binary = bundle / "Contents" / "Linux-x86-64" / "ganfx.ofx"
    old = os.environ.get("GANFX_OFX_MODELS")
    os.environ["GANFX_OFX_MODELS"] = str(extra_models)
    try:
        h = OfxHost(binary)
        h.plugin_count()  # the plug-in reads its folders once, here
    finally:
        if old is None:
            os.environ.pop("GANFX_OFX_MODELS", None)
        else:
            os.environ["GANFX_OFX_MODELS"] = old
    return h


@pytest.fixture(scope="session")
def loaded(host):
    plugins = {}

    def get(name):
        if name not in plugins:
            p = host.plugin(f"org.ganfx.{name}")
            assert p.load() == OK, host.messages
            assert p.describe() == OK, host.messages
            plugins[name] = p
        return plugins[name]

    return get


@pytest.fixture(scope="session")
def reference():
    plugins = {}

    def get(name):
        if name not in plugins:
            plugins[name] = GanEffect.load(name)
        return plugins[name]

    return get


def _frame(h, w, c, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((h, w, c)).astype(np.float32)
    x = (x + np.linspace(0, 1, w, dtype=np.float32)[None, :, None]) / 2  # a gradient under the noise
    if np.dtype(dtype) == np.uint8:
        return np.round(x * 255).astype(np.uint8)
    if np.dtype(dtype) == np.uint16:
        return np.round(x * 65535).astype(np.uint16)
    return x


def _tiles(h, w, tile):
    """Non-overlapping windows covering the frame, top-down (x1, y1, x2, y2): the runtime's TileGrid cells."""
    return [(t.dst[1].start, t.dst[0].start, t.dst[1].stop, t.dst[0].stop) for t in TileGrid(h, w, tile)]


def _diff(a, b) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


# -- the bundle ----------------------------------------------------------------------------------
def _elf_dynamic(path) -> dict:
    """DT_NEEDED, DT_RUNPATH and the defined dynamic symbols of an x86-64 ELF, read with struct."""
    with open(path, "rb") as fh:
        data = fh.read()
    assert data[:4] == b"\x7fELF" and data[4] == 2, "not a 64-bit ELF"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]

    def strtab(index, offset):
        start = sections[index][4] + offset
        return data[start:data.index(b"\0", start)].decode()

    out = {"needed": [], "runpath": None, "symbols": set()}
    for name, type_, flags, addr, offset, size, link, info, align, entsize in sections:
        if type_ == 6:  # SHT_DYNAMIC
            for k in range(0, size, 16):
                tag, val = struct.unpack_from("<qQ", data, offset + k)
                if tag == 1:
                    out["needed"].append(strtab(link, val))
                elif tag == 29:
                    out["runpath"] = strtab(link, val)
        if type_ == 11:  # SHT_DYNSYM
            for k in range(0, size, 24):
                st_name, st_info, _, st_shndx = struct.unpack_from("<IBBH", data, offset + k)
                if st_shndx != 0 and st_info >> 4 == 1:  # defined, global
                    out["symbols"].add(strtab(link, st_name))
    return out


def test_bundle_layout(bundle):
    arch = bundle / "Contents" / "Linux-x86-64"
    libs = [p.name for p in arch.glob("libonnxruntime.so.1.*")]
    assert (arch / "ganfx.ofx").is_file() and len(libs) == 1
    elf = _elf_dynamic(arch / "ganfx.ofx")
    assert elf["runpath"] == "$ORIGIN"
    assert not any("onnxruntime" in n for n in elf["needed"])  # opened by absolute path, never by soname
    assert {"OfxGetNumberOfPlugins", "OfxGetPlugin", "OfxSetHost"} <= elf["symbols"]
    assert elf["symbols"] <= {"OfxGetNumberOfPlugins", "OfxGetPlugin", "OfxSetHost", "ganfx_noise_window"}
    models = sorted(p.stem for p in (bundle / "Contents" / "Resources" / "models").glob("*.onnx"))
    assert {EFFECT, TEXTURE} <= set(models)
    assert (bundle / "Contents" / "Resources" / "onnxruntime" / "LICENSE").is_file()
    assert not list(bundle.parent.glob(".*partial*"))


def test_build_ofx_refuses_bad_outputs(bundle, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", "plugin", "build-ofx", *args],
                              capture_output=True, text=True, check=False)

    for args, needle in (((("-o", str(bundle))), "exists already"),
                         (("-o", str(tmp_path / "x.bundle")), "ending in .ofx.bundle"),
                         (("-o", str(tmp_path / "no" / "x.ofx.bundle")), "folder does not exist"),
                         (("-o", str(tmp_path / "y.ofx.bundle"), "--model", str(tmp_path / "none.onnx")), "not found")):
        proc = cli(*args)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "y.ofx.bundle").exists()


# -- describing --------------------------------------------------------------------------------
def test_one_plugin_per_model_described_from_its_contract(host, loaded):
    ids = {p.identifier for p in host.plugins()}
    assert {f"org.ganfx.{n}" for n in (EFFECT, TEXTURE, "broken", "nocontract", "badio", "damaged")} <= ids
    assert loaded("external")  # weights in a file beside it: found, hashed and matched to its digest
    fx = loaded(EFFECT).descriptor.props
    assert fx.get("OfxPropLabel", 0) == EFFECT and fx.get("OfxImageEffectPluginPropGrouping", 0) == "ganfx"
    assert fx.get("OfxImageEffectPropSupportedContexts") == ["OfxImageEffectContextFilter"]
    assert set(fx.get("OfxImageEffectPropSupportedPixelDepths")) == {
        "OfxBitDepthByte", "OfxBitDepthShort", "OfxBitDepthFloat"}
    assert fx.get("OfxImageEffectPropSupportsTiles", 0) == 1
    status, ctx = loaded(EFFECT).describe_in_context("filter")
    assert status == OK and set(ctx.clips) == {"Source", "Output", "Matte"}
    matte = ctx.clips["Matte"].props
    assert matte.get("OfxImageClipPropOptional", 0) == 1 and matte.get("OfxImageClipPropIsMask", 0) == 1
    strength = ctx.params["strength"]
    assert strength.type == "OfxParamTypeDouble" and strength.default() == 1.0
    assert strength.props.get("OfxParamPropMin", 0) == 0.0 and strength.props.get("OfxParamPropMax", 0) == 1.0
    assert strength.props.get("OfxParamPropAnimates", 0) == 1
    assert ctx.params["tile"].type == "OfxParamTypeInteger"

    tex = loaded(TEXTURE).descriptor.props
    assert tex.get("OfxImageEffectPropSupportedContexts") == ["OfxImageEffectContextGenerator"]
    status, ctx = loaded(TEXTURE).describe_in_context("generator")
    assert status == OK and set(ctx.clips) == {"Output"}
    assert {n: p.type for n, p in ctx.params.items()} == {
        "seed": "OfxParamTypeInteger", "speed": "OfxParamTypeDouble", "loop": "OfxParamTypeInteger",
        "tileable": "OfxParamTypeBoolean"}


# -- effects --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype, channels, strength, tile, negative_rows", [
    (np.uint8, 4, 1.0, 0, False),
    (np.float32, 4, 0.6, 96, True),
    (np.uint16, 3, 1.0, 0, False),
])
def test_effect_equals_the_runtime(loaded, reference, dtype, channels, strength, tile, negative_rows):
    h, w = 75, 97  # not multiples of the model's size multiple: the bottom/right padding is exercised
    frame = _frame(h, w, channels, dtype)
    ref_host = Host(reference(EFFECT))
    ref = ref_host.render_frame(ref_host.create_instance({"strength": strength, "tile": tile}), 0, frame)
    ref_tiled_host = Host(reference(EFFECT), HostInfo(tile=40))
    ref_tiled = ref_tiled_host.render_frame(ref_tiled_host.create_instance({"strength": strength, "tile": tile}), 0,
                                            frame)

    fx = loaded(EFFECT).create_instance("filter", {"strength": strength, "tile": tile})
    assert fx.begin_sequence((0, 0)) == OK
    statuses = []
    whole = fx.render(0, source=frame, channels=channels, negative_rows=negative_rows, statuses=statuses)
    tiled = fx.render(0, source=frame, channels=channels, tiles=_tiles(h, w, 40), negative_rows=negative_rows,
                      statuses=statuses)
    assert fx.end_sequence((0, 0)) == OK and fx.destroy() == OK
    assert {s for a, s in statuses if a == "render"} == {OK} and fx.host.images_out == 0
    assert whole.dtype == ref.dtype and whole.shape == ref.shape == (h, w, channels)
    tol = TOL[np.dtype(dtype)]
    assert _diff(whole, ref) <= tol and _diff(tiled, ref_tiled) <= tol and _diff(tiled, ref) <= tol
    if channels == 4:  # alpha passes through untouched
        assert np.array_equal(whole[..., 3], frame[..., 3]) and np.array_equal(tiled[..., 3], frame[..., 3])


def test_effect_with_a_value_range_and_a_choice(loaded, extra_models):
    """A network that sees -1..1, with a size multiple of 2 and a choice parameter."""
    ref_fx = GanEffect.load(extra_models / "testfx_strided.onnx")
    status, ctx = loaded("testfx_strided").describe_in_context("filter")
    assert status == OK
    look = ctx.params["look"]
    assert look.type == "OfxParamTypeChoice" and look.props.get("OfxParamPropChoiceOption") == ["warm", "cool"]
    for dtype in (np.uint8, np.float32):
        frame = _frame(37, 51, 4, dtype, seed=5)
        ref_host = Host(ref_fx)
        ref = ref_host.render_frame(ref_host.create_instance({"strength": 0.7}), 0, frame)
        fx = loaded("testfx_strided").create_instance("filter", {"strength": 0.7})
        out = fx.render(0, source=frame, tiles=_tiles(37, 51, 16))
        fx.destroy()
        assert _diff(out, ref) <= TOL[np.dtype(dtype)]


def test_effect_regions_of_interest_grow_by_the_halo(loaded, reference):
    fx = loaded(EFFECT).create_instance("filter")
    fx.connect("Source", _frame(200, 300, 4, np.uint8))
    halo, m = reference(EFFECT).spec.halo, reference(EFFECT).spec.multiple
    status, rois = fx.regions_of_interest(0, (100.0, 60.0, 150.0, 90.0), (1.0, 1.0))
    # top-down rows 110..140 need rows (110-39)//4*4 = 68 .. 179: bottom-up y 21 .. 132
    assert status == OK and rois["Source"] == rois["Matte"]
    x1, y1, x2, y2 = rois["Source"]
    assert (x1, x2) == ((100 - halo) // m * m, 150 + halo)
    assert (200 - y2, 200 - y1) == ((110 - halo) // m * m, 140 + halo)
    # at render scale 0.5 the frame is 150x100 pixels and the window pixels 25..38 x 15..23 (top-down rows 77..85)
    status, rois = fx.regions_of_interest(0, (50.0, 30.0, 75.0, 45.0), (0.5, 0.5))
    x1, y1, x2, y2 = (v * 0.5 for v in rois["Source"])  # pixels: clipped to the frame
    assert status == OK and (x1, y1, x2, y2) == (0, 0, 38 + halo, 100 - (77 - halo) // m * m)
    fx.destroy()


def test_effect_render_scale_and_matte(loaded, reference):
    full = _frame(120, 160, 3, np.uint8, seed=1)
    half = np.ascontiguousarray(full[::2, ::2])  # what a host hands over at render scale 0.5
    ref_host = Host(reference(EFFECT))
    ref = ref_host.render_frame(ref_host.create_instance({"strength": 0.8}), 0, half)
    fx = loaded(EFFECT).create_instance("filter", {"strength": 0.8})
    fx.connect("Source", half, full_size=(160, 120))
    out = fx.render(0, scale=(0.5, 0.5), tiles=_tiles(60, 80, 32), channels=3)
    assert out.shape == half.shape and _diff(out, ref) <= 1

    matte = np.zeros((60, 80, 1), np.uint8)
    matte[10:50, 20:70] = 255
    matte[30:40] = 128
    ref_m = ref_host.render_frames(ref_host.create_instance({"strength": 0.8}), [0], half[None],
                                   mattes=matte[None])[0]
    fx.connect("Matte", matte, full_size=(160, 120))
    out_m = fx.render(0, scale=(0.5, 0.5), tiles=_tiles(60, 80, 32), channels=3)
    assert _diff(out_m, ref_m) <= 1
    assert np.array_equal(out_m[:10], half[:10])  # matte 0: the source, bit for bit
    fx.destroy()


def test_identity_at_strength_zero(loaded):
    frame = _frame(40, 50, 4, np.uint8)
    fx = loaded(EFFECT).create_instance("filter", {"strength": 0.0})
    fx.connect("Source", frame)
    status, clip, time = fx.is_identity(3.0, [0, 0, 50, 40], (1.0, 1.0))
    assert (status, clip, time) == (OK, "Source", 3.0)
    assert np.array_equal(fx.render(3.0, source=frame), frame)  # the host copies the source
    fx.set_param("strength", 0.5)
    assert fx.is_identity(3.0, [0, 0, 50, 40], (1.0, 1.0))[0] == REPLY_DEFAULT
    fx.destroy()


# -- textures -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype, channels, values, size, time, scale", [
    (np.uint8, 4, {"seed": 3, "speed": 0.7}, (72, 52), 5.0, (1.0, 1.0)),
    (np.float32, 3, {"seed": 11, "loop": 48, "tileable": True}, (128, 64), 30.0, (1.0, 1.0)),  # 64 px cells tile too
    (np.float32, 4, {"seed": 2}, (64, 48), 2.0, (0.5, 0.5)),
    (np.uint8, 3, {"seed": 5, "speed": 2.0}, (64, 48), 7.0, (0.75, 0.75)),
])
@pytest.mark.parametrize("model", [TEXTURE, TILE_TEXTURE])
def test_texture_equals_the_runtime(loaded, reference, model, dtype, channels, values, size, time, scale):
    fps = 25.0
    ref_host = Host(reference(model), HostInfo(project_size=size, frame_rate=fps))
    inst = ref_host.create_instance(values)
    fmt = PixelFormat(np.dtype(dtype).name, "linear" if np.dtype(dtype).kind == "f" else "srgb", channels)
    ref_host.begin_sequence(inst, (time, time), scale, output=fmt)
    ref = ref_host.render_frames(inst, [time], None, scale)[0]
    ref_host.end_sequence(inst)

    fx = loaded(model).create_instance("generator", values, project=size, fps=fps)
    fx.begin_sequence((time, time), scale)
    h, w = ref.shape[:2]
    whole = fx.render(time, dtype=dtype, channels=channels, scale=scale)
    tiled = fx.render(time, dtype=dtype, channels=channels, scale=scale, tiles=_tiles(h, w, 24))
    fx.end_sequence((time, time), scale)
    fx.destroy()
    tol = TOL[np.dtype(dtype)]
    assert whole.shape == ref.shape and _diff(whole, ref) <= tol and _diff(tiled, ref) <= tol
    if channels == 4:
        assert (whole[..., 3] == (255 if dtype == np.uint8 else 1.0)).all()


def test_noise_field_is_the_runtimes(host):
    cases = [
        dict(seed=0, channels=100, period=None, loop=None, waves=(), y0=-12, x0=-12, h=20, w=24, t=0.0),
        dict(seed=7, channels=5, period=(9, 11), loop=3.5, waves=((0.8, 0.1), (-0.4, 0.9)), y0=-4, x0=3, h=10,
             w=12, t=2.7),
        dict(seed=2**31 - 1, channels=3, period=None, loop=None, waves=((1.2, -3.1),), y0=10**6, x0=-10**6, h=6,
             w=7, t=-1234.5),
        dict(seed=5, channels=4, period=(6, 8), loop=2.0, waves=(), y0=-1, x0=-1, h=8, w=10, t=0.7, still=2),
    ]
    for c in cases:
        field = NoiseField(seed=c["seed"], channels=c["channels"], period=c["period"], loop=c["loop"],
                           waves=c["waves"], still=c.get("still", 0))
        ref = field.window(c["y0"], c["x0"], c["h"], c["w"], c["t"])
        got = host.noise_window(c["seed"], c["channels"], c["period"], c["loop"], c["waves"], c["y0"], c["x0"],
                                c["h"], c["w"], c["t"], c.get("still", 0))
        # same hash, same Box-Muller: differences are float32 rounding of log/cos (numpy's own vs libm's)
        assert got.shape == ref.shape and _diff(got, ref) <= 2e-6, c


# -- errors and threads ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, needle", [
    ("broken", "not an ONNX model (unreadable protobuf"),
    ("nocontract", "no ganfx contract"),
    ("badio", "declares inputs ['pixels']"),
    ("damaged", "the weights do not match the contract's ganfx.digest"),
])
def test_bad_models_fail_with_a_message(host, name, needle):
    p = host.plugin(f"org.ganfx.{name}")
    before = len(host.messages)
    assert p.load() == FAILED
    new = host.messages[before:]
    assert len(new) == 1 and new[0][1] == "OfxMessageError"
    assert f"{name}.onnx" in new[0][2] and needle in new[0][2] and "\n" not in new[0][2]
    assert p.describe() == FAILED  # and nothing crashed: the host goes on


def test_render_error_is_a_failure_with_a_message(loaded, host):
    frame = _frame(90, 90, 3, np.uint8)
    fx = loaded(EFFECT).create_instance("filter", {"tile": 16})  # too small for the halo
    statuses = []
    before = len(host.messages)
    fx.render(0, source=frame, statuses=statuses)
    assert ("render", FAILED) in statuses
    kind, type_, text = host.messages[before]
    assert kind == "persistent" and type_ == "OfxMessageError" and "too small for a halo" in text
    fx.set_param("tile", 0)
    statuses.clear()
    fx.render(0, source=frame, statuses=statuses)
    assert ("render", OK) in statuses and host.messages[-1][0] == "clear"
    fx.destroy()


OUT_OF_MEMORY = """
import resource, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from ofx_host import OfxHost
host = OfxHost(sys.argv[1])
p = host.plugin("org.ganfx.watercolor")
assert p.load() == 0 and p.describe() == 0
fx = p.create_instance("filter")
fx.connect("Source", np.zeros((4000, 4000, 4), np.uint8))
with open("/proc/self/status") as fh:
    vm = int(fh.read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 150 * 2**20, resource.RLIM_INFINITY))  # 150 MB more, no more
statuses = []
fx.render(0, statuses=statuses)
resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
again = []
fx.render(0, source=np.zeros((40, 40, 4), np.uint8), statuses=again)
print(dict(statuses)["render"], repr(host.messages[-2][2]), dict(again)["render"])
"""


def test_out_of_memory_is_a_status_not_a_crash(bundle):
    """A 4000x4000 render with 150 MB to spare: kOfxStatErrMemory and a message; the next render works."""
    binary = bundle / "Contents" / "Linux-x86-64" / "ganfx.ofx"
    proc = subprocess.run([sys.executable, "-c", OUT_OF_MEMORY, str(binary), os.path.dirname(__file__)],
                          capture_output=True, text=True, check=False, env={**os.environ, "GANFX_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["8", "'ganfx", "watercolor:", "out", "of", "memory'", "0"], proc.stdout


def test_a_second_render_thread_gives_the_same_pixels(loaded):
    frames = [_frame(64, 80, 4, np.uint8, seed=s) for s in (3, 4)]
    fx = loaded(EFFECT).create_instance("filter", {"strength": 0.9})
    tex = loaded(TEXTURE).create_instance("generator", {"seed": 9}, project=(48, 40))
    alone = [fx.render(0, source=frames[0]), tex.render(4.0, dtype=np.uint8)]
    fx2 = loaded(EFFECT).create_instance("filter", {"strength": 0.9})
    results, errors = {}, []
    start = threading.Barrier(3)

    def work(key, fn):
        try:
            start.wait()
            results[key] = [fn() for _ in range(2)]
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=("fx", lambda: fx.render(0, source=frames[0]))),
               threading.Thread(target=work, args=("fx2", lambda: fx2.render(0, source=frames[1]))),
               threading.Thread(target=work, args=("tex", lambda: tex.render(4.0, dtype=np.uint8)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.array_equal(r, alone[0]) for r in results["fx"])
    assert all(np.array_equal(r, alone[1]) for r in results["tex"])
    assert all(np.array_equal(r, fx.render(0, source=frames[1])) for r in results["fx2"])
    for inst in (fx, fx2, tex):
        inst.destroy()


def test_onnxruntime_is_the_bundles(bundle, loaded):
    loaded(EFFECT)
    with open("/proc/self/maps") as fh:
        maps = fh.read()
    ours = next((bundle / "Contents" / "Linux-x86-64").glob("libonnxruntime.so.1.*")).resolve()
    assert str(ours) in maps  # opened by its path beside ganfx.ofx, beside any other onnxruntime in the process
