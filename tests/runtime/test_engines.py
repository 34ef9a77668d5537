"""Engines (runtime/engines.py): choice and fallback, options, the probe cache, the OpenVINO rewrites.

GPU paths cannot run here; their option building and decisions are checked with fake
sessions, and the IO-binding code runs on onnxruntime's CPU device ("cpu" bindings).
Tests that need OpenVINO skip without it; those that need native bf16 skip on other CPUs.
"""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest
from onnx import helper, numpy_helper

from ganfx.runtime import engines
from ganfx.runtime.contract import read_spec
from ganfx.runtime.engines import EngineChoice, OpenVinoOptions, OrtOptions
from ganfx.runtime.errors import MissingDependencyError, ProviderError, UserInputError
from ganfx.runtime.model import Model, load_model
from ganfx.runtime.providers import onnxruntime, provider_options, split_threads
from onnx_models import _conv, _save, effect_spec, make_sound_model

try:
    import openvino  # noqa: F401

    HAVE_OV = True
except ImportError:
    HAVE_OV = False

needs_ov = pytest.mark.skipif(not HAVE_OV, reason="openvino is not installed (pip install ganfx[openvino])")
needs_bf16 = pytest.mark.skipif(not (HAVE_OV and engines.native_bf16()), reason="needs OpenVINO and native bf16")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test keeps its records in its own cache folder, never the user's."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("GANFX_CACHE", str(folder))
    return folder


def machine_with(monkeypatch, providers=("CPUExecutionProvider",), devices=("CPU",), bf16=False, fp16=False,
                 fast16=False):
    eng = {"onnxruntime": {"version": "1.x", "providers": list(providers)}}
    eng["openvino"] = {"version": "2026", "devices": list(devices)} if devices is not None else {"missing": "no"}
    monkeypatch.setattr(engines, "available_engines", lambda: eng)
    monkeypatch.setattr(engines, "native_bf16", lambda features=None: bf16)
    monkeypatch.setattr(engines, "native_fp16", lambda features=None: fp16)
    monkeypatch.setattr(engines, "fast_fp16", lambda features=None: fast16)


def concat_model(path):
    """Conv3x3(Concat(x, relu(conv(x)))) -> Conv3x3(Upsample x2 nearest(stride-2 conv)) + x: both rewrites apply."""
    rng = np.random.default_rng(3)
    n1, i1 = _conv("a", "image", 3, 5, rng)
    relu = helper.make_node("Relu", ["a"], ["ra"])
    cat = helper.make_node("Concat", ["image", "ra"], ["cat"], axis=1)
    n2, i2 = _conv("b", "cat", 8, 6, rng, stride=2)
    relu2 = helper.make_node("Relu", ["b"], ["rb"])
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")
    up = helper.make_node("Resize", ["rb", "", "s"], ["up"], mode="nearest")
    n3, i3 = _conv("c", "up", 6, 3, rng)
    add = helper.make_node("Add", ["c", "image"], ["sum"])
    out = helper.make_node("Tanh", ["sum"], ["styled"])
    return _save(path, [n1, relu, cat, n2, relu2, up, n3, add, out], i1 + i2 + i3 + [scales], "image", 3, "styled", 3,
                 effect_spec(name="catfx", halo=8, multiple=2))


# -- names, options, refusals -------------------------------------------------------------------
def test_names_and_precisions_are_checked_in_one_line():
    assert engines.normalize_engine(None) is None and engines.normalize_engine("OV") == "openvino"
    assert engines.normalize_engine("ort") == "onnxruntime" and engines.normalize_engine("auto") == "auto"
    with pytest.raises(UserInputError, match="engine must be") as e:
        engines.normalize_engine("tflite")
    assert e.value.about == "engine"
    with pytest.raises(UserInputError, match="precision must be fp32, fp16, bf16 or auto") as e:
        engines.check_precision("int8")
    assert e.value.about == "precision"
    assert engines.openvino_device("gpu.1") == "GPU.1"
    with pytest.raises(ProviderError, match="not 'cuda'"):
        engines.openvino_device("cuda")


def test_settings_route_providers_to_the_engine_that_takes_them():
    s = engines.settings("openvino", None, ["gpu"], threads=3)
    assert s.ov.device == "GPU" and s.device == "GPU" and s.ov.threads == 3 and s.ort.providers is None
    s = engines.settings(None, None, ["cuda"], threads=2, spinning=False)
    assert s.provider == "CUDAExecutionProvider" and s.ort.threads == 2 and not s.ort.spinning and s.device is None
    with pytest.raises(ProviderError, match="one device"):
        engines.settings("openvino", None, ["cpu", "gpu"])


def test_onnxruntime_refuses_bf16(effect_path):
    with pytest.raises(UserInputError, match="bf16 runs on the openvino engine"):
        load_model(effect_path, engine="onnxruntime", precision="bf16")


def test_bf16_is_refused_on_a_cpu_without_it(effect_path, monkeypatch):
    monkeypatch.setattr(engines, "native_bf16", lambda features=None: False)
    with pytest.raises(UserInputError, match="no native bfloat16") as e:
        load_model(effect_path, precision="bf16")
    assert e.value.about == "precision"


def test_missing_openvino_is_one_line_naming_the_extra(effect_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "ganfx\[openvino\]"') as e:
        load_model(effect_path, engine="openvino")
    assert "\n" not in str(e.value)
    assert "missing" in engines._find_engines()["openvino"]


def test_fp32_default_stays_onnxruntime_and_old_constructors_work(effect_path):
    m = load_model(effect_path, threads=1)
    assert m.engine.name == "onnxruntime" and m.providers == ["CPUExecutionProvider"] and m.precision == "fp32"
    sess = onnxruntime().InferenceSession(str(effect_path), providers=["CPUExecutionProvider"])
    old = Model(effect_path, read_spec(effect_path), sess, "given")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    assert old.session is sess and old.provider_reason == "given"
    assert np.array_equal(old.run(x), m.run(x))


# -- candidates and auto ----------------------------------------------------------------------
def test_candidates_per_machine(monkeypatch, effect_path):
    machine_with(monkeypatch, devices=("CPU",), bf16=True)
    assert [c.key for c in engines.candidates(None, None, effect_path)] == [
        "openvino/CPU/bf16", "openvino/CPU/fp32", "onnxruntime/CPUExecutionProvider/fp32"]
    machine_with(monkeypatch, devices=None)
    assert [c.key for c in engines.candidates(None, None, effect_path)] == ["onnxruntime/CPUExecutionProvider/fp32"]
    machine_with(monkeypatch, providers=("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
                 devices=("CPU", "GPU"))
    keys = [c.key for c in engines.candidates(None, None, effect_path)]
    assert keys[:3] == ["onnxruntime/TensorrtExecutionProvider/fp16", "onnxruntime/TensorrtExecutionProvider/fp32",
                        "onnxruntime/CUDAExecutionProvider/fp32"]  # CUDA fp16 needs the .fp16.onnx variant
    assert "openvino/GPU/fp16" in keys and keys[-1] == "onnxruntime/CPUExecutionProvider/fp32"
    assert all(c.engine == "openvino" for c in engines.candidates(None, "openvino", effect_path))


def test_cpu_fp16_only_where_it_is_fast():
    assert engines.native_fp16({"avx512_fp16"}) and not engines.fast_fp16({"avx512_fp16", "amx_bf16"})
    assert engines.fast_fp16({"amx_fp16"}) and engines.fast_fp16({"fphp"}) and not engines.fast_fp16(set())


def test_auto_skips_slow_cpu_fp16_and_bench_still_times_it(monkeypatch, effect_path):
    machine_with(monkeypatch, bf16=True, fp16=True, fast16=False)  # a Xeon with AVX-512 FP16, no AMX-FP16
    tried = [c.key for c in engines.candidates(None, None, effect_path)]
    timed = [c.key for c in engines.candidates(None, None, effect_path, every=True)]
    assert "openvino/CPU/fp16" not in tried and tried[0] == "openvino/CPU/bf16"
    assert timed == ["openvino/CPU/bf16", "openvino/CPU/fp16", "openvino/CPU/fp32",
                     "onnxruntime/CPUExecutionProvider/fp32"]
    machine_with(monkeypatch, bf16=True, fp16=True, fast16=True)
    assert [c.key for c in engines.candidates(None, None, effect_path)] == timed


def test_auto_without_openvino_is_onnxruntime_fp32(effect_path, monkeypatch):
    machine_with(monkeypatch, devices=None, bf16=True)
    m = load_model(effect_path, precision="auto", threads=1)
    assert m.engine.choice.key == "onnxruntime/CPUExecutionProvider/fp32" and "fp32" in m.provider_reason


def test_auto_falls_back_when_a_provider_fails(effect_path, monkeypatch):
    machine_with(monkeypatch, providers=("CUDAExecutionProvider", "CPUExecutionProvider"), devices=None)
    m = load_model(effect_path, precision="auto", threads=1)  # CUDA is "listed" but onnxruntime here has none
    assert m.engine.choice.key == "onnxruntime/CPUExecutionProvider/fp32"


@needs_bf16
def test_auto_probes_once_and_keeps_the_result(effect_path, cache, monkeypatch, caplog):
    calls = []
    real = engines.probe
    monkeypatch.setattr(engines, "probe", lambda *a, **k: calls.append(1) or real(*a, **k))
    with caplog.at_level(logging.INFO, logger="ganfx"):
        m = load_model(effect_path, precision="auto", threads=1)
    record = json.loads(next((cache / "engines").glob("*.json")).read_text())
    probe = record["probes"]["openvino/CPU/bf16"]
    assert calls == [1] and 0 <= probe["max_diff"] and probe["ok"] == (probe["max_diff"] <= 2 / 255)
    want = "openvino/CPU/bf16" if probe["ok"] else "openvino/CPU/fp32"
    assert m.engine.choice.key == want
    load_model(effect_path, precision="auto", threads=1)
    assert calls == [1]  # the second load reads the record
    key, why = engines.predict_auto(effect_path, read_spec(effect_path))
    assert key == want


@needs_ov
@pytest.mark.parametrize("fp16", [False, True])  # a CPU with fast fp16 tries OpenVINO fp16 next
def test_a_failed_probe_is_remembered_and_skipped(effect_path, monkeypatch, fp16):
    monkeypatch.setattr(engines, "native_bf16", lambda features=None: True)
    monkeypatch.setattr(engines, "native_fp16", lambda features=None: fp16)
    monkeypatch.setattr(engines, "fast_fp16", lambda features=None: fp16)
    spec = read_spec(effect_path)
    failed = {"max_diff": 0.5, "ok": False, "tolerance": 2 / 255}
    engines.write_record(effect_path, spec, {"probes": {"openvino/CPU/bf16": failed, "openvino/CPU/fp16": failed}})
    m = load_model(effect_path, precision="auto", threads=1)
    assert m.engine.choice.key == "openvino/CPU/fp32"


@needs_ov
def test_a_bench_pick_is_followed(effect_path):
    spec = read_spec(effect_path)
    engines.write_record(effect_path, spec, {"bench": {"size": "64x64", "picks": {
        "auto": "onnxruntime/CPUExecutionProvider/fp32", "fp32": "openvino/CPU/fp32"}}})
    assert load_model(effect_path, precision="auto").engine.choice.key == "onnxruntime/CPUExecutionProvider/fp32"
    m = load_model(effect_path, engine="auto")
    assert m.engine.choice.key == "openvino/CPU/fp32" and "ganfx bench" in m.provider_reason


def test_records_are_per_model_and_machine(effect_path, strided_path, cache, monkeypatch):
    a, b = read_spec(effect_path), read_spec(strided_path)
    engines.write_record(effect_path, a, {"probes": {"x/y/bf16": {"max_diff": 0.0, "ok": True}}})
    assert engines.read_record(effect_path, a)["probes"]["x/y/bf16"]["ok"]
    assert engines.read_record(strided_path, b) == {}
    monkeypatch.setattr(engines, "_MACHINE", {"cpu": "another one"})
    assert engines.read_record(effect_path, a) == {}  # another machine measures again
    assert engines.record_path(effect_path, a).parent == cache / "engines"


def test_cache_folder_order(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFX_CACHE", str(tmp_path / "mine"))
    assert engines.cache_folder() == tmp_path / "mine"
    monkeypatch.delenv("GANFX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert engines.cache_folder() == tmp_path / "xdg" / "ganfx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert engines.cache_folder().parts[-2:] == (".cache", "ganfx")


def test_an_unwritable_cache_only_logs(effect_path, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GANFX_CACHE", str(blocker))
    engines.write_record(effect_path, read_spec(effect_path), {"probes": {}})  # no exception
    assert engines.cache_subfolder("openvino") is None


# -- probe inputs and FLOPs -----------------------------------------------------------------------
def test_probe_inputs_fit_each_kind(effect_path, texture_path, tmp_path):
    fx, tex = read_spec(effect_path), read_spec(texture_path)
    x = engines.probe_input(fx)
    assert x.shape == (1, 3, 256, 256) and x.min() >= -1 and x.max() <= 1 and x.std() > 0.1
    assert np.array_equal(x, engines.probe_input(fx))  # deterministic
    t = engines.probe_input(tex)
    assert t.shape[:2] == (1, tex.noise.input_channels) and t.shape[2] == 32 + 2 * tex.noise.halo
    snd = read_spec(make_sound_model(tmp_path / "snd.onnx"))
    s = engines.probe_input(snd)
    assert s.ndim == 3 and s.shape[2] == 512 + 2 * snd.noise.halo
    assert engines.bench_input(fx, 50, 30).shape == (1, 3, 30, 50)
    assert engines.bench_input(tex, 64, 32).shape[2:] == (32 // 4 + 4, 64 // 4 + 4)


def test_output_difference_is_in_output_range_units(effect_path):
    spec = read_spec(effect_path)  # output range -1..1
    a = np.zeros((1, 3, 4, 4), np.float32)
    b = a.copy()
    b[0, 0, 0, 0] = 2 / 255 * 2
    assert engines.output_difference(a, b, spec) == pytest.approx(2 / 255)
    assert engines.output_difference(a, b[:, :2], spec) == float("inf")


def test_model_flops_counts_the_convolutions(effect_path):
    x = np.zeros((1, 3, 16, 16), np.float32)
    work = engines.model_flops(effect_path, x)
    per_pixel = 2 * (3 * 9 * 8 + 8 * 9 * 3)  # 3->8 and 8->3 3x3 convolutions
    assert work["per_output"] == pytest.approx(per_pixel) and work["by_op"] == {"Conv": per_pixel * 256}


# -- onnxruntime GPU paths: options and decisions ---------------------------------------------------
def test_tensorrt_options_cache_fp16_and_profile(cache):
    trt, cuda, cpu = provider_options(["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
                                      fp16=True, profile={"image": (1, 3, 544, 960)}, cuda_graph=True)
    name, o = trt
    assert name == "TensorrtExecutionProvider" and o["trt_fp16_enable"] and o["trt_engine_cache_enable"]
    assert o["trt_engine_cache_path"] == o["trt_timing_cache_path"] == str(cache / "tensorrt")
    assert (cache / "tensorrt").is_dir()
    assert o["trt_profile_min_shapes"] == o["trt_profile_opt_shapes"] == o["trt_profile_max_shapes"] == \
        "image:1x3x544x960"
    assert cuda == ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "EXHAUSTIVE", "do_copy_in_default_stream": True,
                                              "enable_cuda_graph": True})
    assert cpu == "CPUExecutionProvider"
    (_, plain), = provider_options(["TensorrtExecutionProvider"], cache_dir=str(cache / "mine"))
    assert not plain["trt_fp16_enable"] and "trt_profile_min_shapes" not in plain and (cache / "mine").is_dir()


class FakeSession:
    """Stands in for a CUDA InferenceSession: records what the engine asked for."""

    made = []

    def __init__(self, path, sess_options=None, providers=None):
        self.path, self.opts, self.asked = path, sess_options, providers
        FakeSession.made.append(self)

    def get_providers(self):
        return [p if isinstance(p, str) else p[0] for p in self.asked]

    def get_inputs(self):
        return [type("I", (), {"name": "image", "shape": ["n", 3, "h", "w"], "type": "tensor(float)"})()]

    def get_outputs(self):
        return [type("O", (), {"name": "styled"})()]


@pytest.fixture
def fake_cuda(monkeypatch):
    from ganfx.runtime import engine_onnxruntime as E
    from ganfx.runtime.providers import normalize

    FakeSession.made = []
    monkeypatch.setattr(E, "choose_providers", lambda req: (
        [normalize(p) for p in req] + ["CPUExecutionProvider"] if req else ["CUDAExecutionProvider"], "fake"))
    monkeypatch.setattr(onnxruntime(), "InferenceSession", FakeSession)
    return E


def test_cuda_engine_binds_io_and_graphs_only_with_a_fixed_shape(effect_path, fake_cuda, cache):
    spec = read_spec(effect_path)
    e = fake_cuda.OrtEngine(effect_path, spec, OrtOptions(providers=("cuda",)))
    assert e.device == "cuda" and e.io_binding and e.in_flight == 2 and not e.cuda_graph
    assert dict(FakeSession.made[-1].asked[0][1]).get("enable_cuda_graph") is None
    e = fake_cuda.OrtEngine(effect_path, spec, OrtOptions(providers=("cuda",), fixed_shape=(1, 3, 64, 64)))
    assert e.cuda_graph and e.fixed_buffers and FakeSession.made[-1].asked[0][1]["enable_cuda_graph"]
    e = fake_cuda.OrtEngine(effect_path, spec, OrtOptions(providers=("cuda",), fixed_shape=(1, 3, 64, 64),
                                                           cuda_graph=False, in_flight=1))
    assert not e.cuda_graph and e.in_flight == 1
    e = fake_cuda.OrtEngine(effect_path, spec, OrtOptions(providers=("tensorrt",), fixed_shape=(1, 3, 64, 64)),
                            precision="fp16")
    asked = dict(FakeSession.made[-1].asked[0][1])
    assert asked["trt_fp16_enable"] and asked["trt_profile_opt_shapes"] == "image:1x3x64x64"
    assert FakeSession.made[-1].path == str(effect_path)  # TensorRT builds fp16 from the fp32 file
    assert e.io_binding and not e.cuda_graph  # graphs are CUDA's; TensorRT has its own engine


def test_cuda_fp16_needs_the_variant(effect_path, fake_cuda):
    with pytest.raises(Exception, match="no fp16 variant"):
        fake_cuda.OrtEngine(effect_path, read_spec(effect_path), OrtOptions(providers=("cuda",)), precision="fp16")


def test_io_binding_paths_agree_with_plain_runs_on_the_cpu(effect_path):
    """The GPU code paths (bound input/output, frames in flight, fixed buffers) run on the CPU device here."""
    from ganfx.runtime.engine_onnxruntime import OrtEngine

    spec = read_spec(effect_path)
    plain = OrtEngine(effect_path, spec, OrtOptions(threads=1))
    x = np.random.default_rng(1).uniform(-1, 1, (3, 3, 16, 24)).astype(np.float32)
    want = plain.run(x)
    bound = OrtEngine(effect_path, spec, OrtOptions(threads=1, io_binding=True))
    assert bound.io_binding and bound.device == "cpu" and np.array_equal(bound.run(x), want)
    bound.in_flight = 2  # as on a GPU: one binding per frame, two at a time
    assert np.array_equal(bound.run(x), want)
    fixed = OrtEngine(effect_path, spec, OrtOptions(threads=1, io_binding=True, fixed_shape=x.shape))
    fixed.fixed_buffers = True  # what CUDA graphs need: the same buffers every call
    assert np.array_equal(fixed.run(x), want)
    y = x[::-1].copy()
    assert np.array_equal(fixed.run(y), plain.run(y))  # new data through the same buffers
    assert np.array_equal(fixed.run(x[:1]), want[:1])  # another shape: a plain bound run
    bound.close()


def test_split_threads_takes_the_fastest_measured():
    best, table = split_threads(lambda k: {1: 5.0, 2: 7.5, 3: 7.5, 4: 6.0}[k], cores=4)
    assert best == 2 and table == {1: 5.0, 2: 7.5, 3: 7.5, 4: 6.0}


# -- OpenVINO ------------------------------------------------------------------------------------------
def test_transposed_kernel_equals_upsample_then_conv():
    from ganfx.runtime.engine_openvino import transposed_kernel

    rng = np.random.default_rng(0)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    low = rng.standard_normal((3, 5, 6)).astype(np.float32)
    up = low.repeat(2, axis=1).repeat(2, axis=2)
    pad = np.pad(up, ((0, 0), (1, 1), (1, 1)))
    want = np.zeros((2, 10, 12))
    for y in range(10):
        for x in range(12):
            want[:, y, x] = np.einsum("oikl,ikl->o", w, pad[:, y:y + 3, x:x + 3])
    k = transposed_kernel(w)  # [Co,Ci,4,4]; output row Y = 2*y + k - 1
    got = np.zeros((2, 10, 12))
    for y in range(5):
        for x in range(6):
            for ky in range(4):
                for kx in range(4):
                    Y, X = 2 * y + ky - 1, 2 * x + kx - 1
                    if 0 <= Y < 10 and 0 <= X < 12:
                        got[:, Y, X] += k[:, :, ky, kx] @ low[:, y, x]
    assert np.abs(got - want).max() < 1e-4


@needs_ov
def test_rewrites_are_exact_in_fp32(tmp_path):
    path = concat_model(tmp_path / "catfx.onnx")
    spec = read_spec(path)
    ref = load_model(path, threads=1)
    ov = load_model(path, engine="openvino", threads=1)
    assert ov.engine.rewrites == {"split_concat": 1, "subpixel": 1, "precise_input": 0}
    x = np.random.default_rng(2).uniform(-1, 1, (2, 3, 20, 28)).astype(np.float32)
    assert np.abs(ov.run(x) - ref.run(x)).max() < 1e-5
    plain = load_model(path, options=OpenVinoOptions(rewrite=False, threads=1))
    assert plain.engine.rewrites == {} and np.abs(plain.run(x) - ref.run(x)).max() < 1e-5
    assert spec.kind == "effect"


@needs_ov
def test_openvino_model_cache_keeps_precisions_apart(effect_path, cache):
    """OpenVINO's cache key leaves out the precision: without a folder each, fp16's blob served fp32."""
    x = np.random.default_rng(4).uniform(-1, 1, (1, 3, 24, 32)).astype(np.float32)
    ref = load_model(effect_path, threads=1).run(x)
    plain = OpenVinoOptions(rewrite=False, threads=1)  # the same graph in both precisions: the same cache key
    first = load_model(effect_path, options=plain, precision="fp16").run(x)
    if np.abs(first - ref).max() < 1e-5:
        pytest.skip("OpenVINO runs fp16 as fp32 on this CPU")
    again = load_model(effect_path, options=plain).run(x)  # fp32, compiled after it with the same cache folder
    assert np.abs(again - ref).max() < 1e-5, "fp32 was served a model compiled in fp16"
    assert (cache / "openvino" / "fp16").is_dir() and (cache / "openvino" / "fp32").is_dir()


@needs_ov
def test_openvino_serves_every_kind_through_model_run(effect_path, strided_path, texture_path, tmp_path):
    for path, x in ((effect_path, np.random.default_rng(0).uniform(-1, 1, (2, 3, 12, 20))),
                    (strided_path, np.random.default_rng(1).uniform(-1, 1, (1, 3, 16, 8)))):
        a, b = load_model(path, threads=1), load_model(path, engine="openvino", threads=1)
        assert np.abs(a.run(x) - b.run(x)).max() < 1e-5 and b.providers == ["OpenVINO:CPU"] and b.session is None
    snd = make_sound_model(tmp_path / "snd.onnx")  # rank-3 NCW
    a, b = load_model(snd, threads=1), load_model(snd, engine="openvino", threads=1)
    assert np.abs(a.sound(5000, seed=2) - b.sound(5000, seed=2)).max() < 1e-5
    a, b = load_model(texture_path, threads=1), load_model(texture_path, engine="openvino", threads=1)
    assert np.abs(a.generate(40, 24, seed=3) - b.generate(40, 24, seed=3)).max() < 1e-5


@needs_ov
def test_openvino_tiles_equal_whole_frames(strided_path):
    m = load_model(strided_path, engine="openvino", threads=1)
    frame = (np.random.default_rng(4).random((70, 90, 3)) * 255).astype(np.uint8)
    whole, tiled = m.apply(frame), m.apply(frame, tile=32)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


@needs_ov
def test_openvino_keeps_a_few_shapes_then_goes_dynamic(effect_path, monkeypatch):
    from ganfx.runtime import engine_openvino as E

    monkeypatch.setattr(E, "MAX_COMPILED", 2)
    m = load_model(effect_path, engine="openvino", threads=1)
    ref = load_model(effect_path, threads=1)
    for h in (8, 12, 16, 20, 8):
        x = np.full((1, 3, h, 10), 0.3, np.float32)
        assert np.abs(m.run(x) - ref.run(x)).max() < 1e-5
    assert len(m.engine._compiled) == 2 and m.engine._dynamic is not None


@needs_ov
def test_openvino_frames_in_flight_agree(effect_path):
    m = load_model(effect_path, engine="openvino", threads=1)
    x = np.random.default_rng(5).uniform(-1, 1, (3, 3, 16, 16)).astype(np.float32)
    want = m.run(x)
    m.engine.in_flight = 2  # as on a GPU
    assert np.abs(m.engine.run(x) - want).max() < 1e-6


@needs_ov
def test_openvino_device_that_is_not_there(effect_path):
    with pytest.raises(ProviderError, match="OpenVINO device NPU.7 is not available"):
        load_model(effect_path, engine="openvino", providers=["npu.7"])


@needs_bf16
def test_bf16_keeps_the_input_precise(strided_path):
    from ganfx.runtime.engine_openvino import bf16_round

    x = np.float32([1.0 + 2 ** -10, 3.14159, -0.1])
    assert np.array_equal(bf16_round(np.float32([1.0, 2 ** -9 + 1])), np.float32([1.0, 1.0]))
    assert np.abs(x - bf16_round(x)).max() <= np.abs(x).max() * 2 ** -8
    m = load_model(strided_path, precision="bf16", threads=1)
    assert m.engine.rewrites["precise_input"] == 1 and m.precision == "bf16"
    ref = load_model(strided_path, threads=1)
    x = np.random.default_rng(6).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    assert np.abs(m.run(x) - ref.run(x)).max() < 0.02


def test_engine_choice_keys_round_trip():
    c = EngineChoice("openvino", "CPU", "bf16", "why")
    assert c.key == "openvino/CPU/bf16" and EngineChoice.from_key(c.key) == EngineChoice("openvino", "CPU", "bf16")
