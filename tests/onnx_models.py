"""Tiny real ONNX models for tests, built with onnx.helper (no torch needed).

    make_effect_model(tmp_path / "fx.onnx")        # 3x3 convs, halo 2
    make_texture_model(tmp_path / "tex.onnx")      # noise -> conv -> upsample x4 -> conv
    make_sound_model(tmp_path / "snd.onnx")        # noise cells -> two 1-D convs -> x16 samples, 48 kHz

Like an export, each model carries the digest of its weights (ganfx.digest), unless the
test passes its own `metadata` (then exactly that is stored).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ganfx.runtime.contract import (
    DIGEST_KEY, ModelSpec, NoiseSpec, ParamSpec, TensorSpec, effect_params, sound_params, texture_params,
)
from ganfx.runtime.onnxfile import weights_digest

OPSET = 17


def _conv(name, x, cin, cout, rng, stride=1, out=None):
    w = numpy_helper.from_array((rng.standard_normal((cout, cin, 3, 3)) * (1.0 / np.sqrt(9 * cin))).astype(np.float32),
                                f"{name}_w")
    b = numpy_helper.from_array((rng.standard_normal(cout) * 0.1).astype(np.float32), f"{name}_b")
    node = helper.make_node("Conv", [x, w.name, b.name], [out or name], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                            strides=[stride, stride])
    return node, [w, b]


def _upsample(name, x, factor):
    scales = numpy_helper.from_array(np.array([1, 1, factor, factor], np.float32), f"{name}_scales")
    node = helper.make_node("Resize", [x, "", scales.name], [name], mode="nearest")
    return node, [scales]


def _save(path, nodes, inits, in_name, in_ch, out_name, out_ch, spec: ModelSpec, metadata=None):
    graph = helper.make_graph(
        nodes, "ganfx_test",
        [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, ["n", in_ch, "h", "w"])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["n", out_ch, "h2", "w2"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    if metadata is None:
        md = {**spec.to_metadata(), DIGEST_KEY: weights_digest(model.SerializeToString())}
    else:
        md = metadata
    helper.set_model_props(model, md)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def effect_spec(name="testfx", halo=2, multiple=1, **kw) -> ModelSpec:
    return ModelSpec(
        kind="effect", name=name, version="1.0", description="test effect: two 3x3 convs", license="MIT",
        inputs=(TensorSpec("image", 3, (-1.0, 1.0), "srgb"),), outputs=(TensorSpec("styled", 3, (-1.0, 1.0), "srgb"),),
        halo=halo, multiple=multiple,
        params=effect_params() + (ParamSpec("look", "choice", "warm", label="Look", choices=("warm", "cool")),),
        training={"task": "test"}, parity=0.0, **kw,
    )


def make_effect_model(path, seed=0, strided=False, spec=None, metadata=None):
    """[N,3,H,W] in -1..1 -> same shape. strided=True adds a stride-2 conv + x2 upsample (multiple 2)."""
    rng = np.random.default_rng(seed)
    if strided:
        n1, i1 = _conv("c1", "image", 3, 8, rng, stride=2)
        r = helper.make_node("Relu", ["c1"], ["r1"])
        n2, i2 = _upsample("up", "r1", 2)
        n3, i3 = _conv("c3", "up", 8, 3, rng)
        nodes, inits = [n1, r, n2, n3], i1 + i2 + i3
        spec = spec or effect_spec(halo=6, multiple=2)
    else:
        n1, i1 = _conv("c1", "image", 3, 8, rng)
        r = helper.make_node("Relu", ["c1"], ["r1"])
        n3, i3 = _conv("c3", "r1", 8, 3, rng)
        nodes, inits = [n1, r, n3], i1 + i3
        spec = spec or effect_spec()
    nodes.append(helper.make_node("Tanh", [nodes[-1].output[0]], ["styled"]))
    return _save(path, nodes, inits, "image", 3, "styled", 3, spec, metadata)


def texture_spec(name="testtex", channels=4, stride=4, halo=2) -> ModelSpec:
    return ModelSpec(
        kind="texture", name=name, version="1.0", description="test texture: noise -> conv -> up x4 -> conv",
        license="MIT", inputs=(TensorSpec("noise", channels, (-4.0, 4.0), "none"),),
        outputs=(TensorSpec("rgb", 3, (0.0, 1.0), "srgb"),), halo=halo * stride, multiple=1,
        params=texture_params(), noise=NoiseSpec(channels, stride, halo), training={"task": "test"}, parity=0.0,
    )


def make_texture_model(path, seed=0, spec=None):
    rng = np.random.default_rng(seed)
    n1, i1 = _conv("c1", "noise", 4, 8, rng)
    r = helper.make_node("Relu", ["c1"], ["r1"])
    n2, i2 = _upsample("up", "r1", 4)
    n3, i3 = _conv("c3", "up", 8, 3, rng)
    s = helper.make_node("Sigmoid", ["c3"], ["rgb"])
    return _save(path, [n1, r, n2, n3, s], i1 + i2 + i3, "noise", 4, "rgb", 3, spec or texture_spec())


def sound_spec(name="testsnd", channels=6, stride=16, halo=2) -> ModelSpec:
    return ModelSpec(
        kind="sound", name=name, version="1.0", description="test sound: noise cells -> two 1-D convs -> x16",
        license="MIT", inputs=(TensorSpec("noise", channels, (-4.0, 4.0), "none", layout="NCW"),),
        outputs=(TensorSpec("audio", 1, (-1.0, 1.0), "none", layout="NCW", rate=48000),), halo=halo * stride,
        multiple=1, params=sound_params(), noise=NoiseSpec(channels, stride, halo), training={"task": "test"},
        parity=0.0,
    )


def make_sound_model(path, seed=0, spec=None, upsample=None):
    """[N,channels,cells] noise -> [N,1,cells*stride] in -1..1: two Conv1d (kernel 3: 2 cells of reach,
    the spec's halo), a ConvTranspose1d with kernel = stride = samples per cell, Tanh. `upsample`
    makes the graph give that many samples per cell instead of the spec's stride (a malformed model)."""
    spec = spec or sound_spec()
    rng = np.random.default_rng(seed)
    cin, cout, width, stride = spec.input.channels, spec.output.channels, 8, upsample or spec.noise.stride

    def weights(name, shape, fan_in):
        w = numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32), f"{name}_w")
        b = numpy_helper.from_array((rng.standard_normal(shape[1] if name == "up" else shape[0]) * 0.1)
                                    .astype(np.float32), f"{name}_b")
        return [w, b]

    inits = weights("c1", (width, cin, 3), 3 * cin) + weights("c2", (width, width, 3), 3 * width)
    inits += weights("up", (width, cout, stride), width)  # ConvTranspose weights: [Cin, Cout, k]
    nodes = [
        helper.make_node("Conv", ["noise", "c1_w", "c1_b"], ["c1"], kernel_shape=[3], pads=[1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "c2_w", "c2_b"], ["c2"], kernel_shape=[3], pads=[1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("ConvTranspose", ["r2", "up_w", "up_b"], ["up"], kernel_shape=[stride], strides=[stride]),
        helper.make_node("Tanh", ["up"], [spec.output.name]),
    ]
    graph = helper.make_graph(
        nodes, "ganfx_test_sound",
        [helper.make_tensor_value_info(spec.input.name, TensorProto.FLOAT, ["n", cin, "cells"])],
        [helper.make_tensor_value_info(spec.output.name, TensorProto.FLOAT, ["n", cout, "samples"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    helper.set_model_props(model, spec.to_metadata())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return add_digest(path)


def add_digest(path, out=None):
    """Rewrite only the metadata of an ONNX file so it carries the digest of its weights."""
    model = onnx.load(str(path))
    md = {p.key: p.value for p in model.metadata_props}
    md[DIGEST_KEY] = weights_digest(model.SerializeToString())
    del model.metadata_props[:]
    helper.set_model_props(model, md)
    onnx.save(model, str(out or path))
    return out or path


def flip_weight_bytes(path, out, count=400, seed=0):
    """Copy a model file with `count` bytes inside its largest weight tensor inverted, in place
    in the file (a copy damaged on disk or in transfer: the protobuf still parses)."""
    data = bytearray(open(path, "rb").read())
    model = onnx.load_from_string(bytes(data))
    raw = max((t.raw_data for t in model.graph.initializer), key=len)
    start = bytes(data).find(raw)
    assert start > 0 and len(raw) >= count
    rng = np.random.default_rng(seed)
    for i in rng.choice(len(raw), size=count, replace=False):
        data[start + int(i)] ^= 0xFF
    with open(out, "wb") as fh:
        fh.write(data)
    return out
