"""The ganfx contract: round trip, validation errors naming file and key, graph checks."""

import json

import onnx
import pytest
from onnx_models import effect_spec, flip_weight_bytes, make_effect_model, texture_spec

from ganfx.runtime.contract import DIGEST_KEY, REQUIRED_KEYS, ModelSpec, ParamSpec, read_spec
from ganfx.runtime.errors import ContractError, ModelLoadError, UserInputError
from ganfx.runtime.onnxfile import weights_digest


@pytest.mark.parametrize("make_spec", [effect_spec, texture_spec])
def test_metadata_round_trip(make_spec):
    spec = make_spec()
    md = spec.to_metadata()
    assert all(isinstance(v, str) for v in md.values())
    assert set(REQUIRED_KEYS) <= set(md)
    assert ModelSpec.from_metadata(md) == spec


def test_read_spec_from_file_without_onnx_runtime(effect_path, texture_path):
    fx = read_spec(effect_path)
    assert fx.kind == "effect" and fx.input.name == "image" and fx.halo == 2
    assert [p.name for p in fx.params] == ["strength", "look"]
    tex = read_spec(texture_path)
    assert tex.kind == "texture" and tex.noise.stride == 4 and tex.noise.halo == 2


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_missing_key_is_named(key):
    md = effect_spec().to_metadata()
    del md[key]
    with pytest.raises(ContractError) as err:
        ModelSpec.from_metadata(md, path="fx.onnx")
    assert str(err.value).startswith("fx.onnx: ") and key in str(err.value)


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("ganfx.schema", "2", "unsupported schema"),
        ("ganfx.kind", "filter", "invalid value"),
        ("ganfx.halo", "-1", "must be >= 0"),
        ("ganfx.halo", "two", "not an integer"),
        ("ganfx.multiple", "0", "must be >= 1"),
        ("ganfx.io", "{not json", "invalid JSON"),
        ("ganfx.io", json.dumps({"inputs": [], "outputs": []}), "non-empty"),
        ("ganfx.io", json.dumps({"inputs": [{"name": "x", "channels": 3, "colorspace": "rec709"}],
                                 "outputs": [{"name": "y", "channels": 3}]}), "colorspace"),
        ("ganfx.params", json.dumps([{"name": "a", "type": "matrix"}]), "type 'matrix'"),
        ("ganfx.params", json.dumps([{"name": "a", "type": "double", "default": 5, "max": 1}]), "default invalid"),
        ("ganfx.params", json.dumps([{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]), "duplicate"),
        ("ganfx.parity", "abc", "not a number"),
    ],
)
def test_invalid_values_are_named(key, value, needle):
    md = effect_spec().to_metadata()
    md[key] = value
    with pytest.raises(ContractError) as err:
        ModelSpec.from_metadata(md, path="fx.onnx")
    assert needle in str(err.value) and "fx.onnx" in str(err.value)
    assert "\n" not in str(err.value)


def test_texture_needs_noise_key():
    md = texture_spec().to_metadata()
    del md["ganfx.noise"]
    with pytest.raises(ContractError, match="ganfx.noise"):
        ModelSpec.from_metadata(md)


@pytest.mark.parametrize(
    "waves,needle",
    [
        ("oops", "list of [ky, kx]"),
        ([[0.5]], "list of [ky, kx]"),
        ([[0.5, 4.0]], "at most pi"),
        ([[0.5, 0.1]], "input has"),  # two more input channels than the graph's
    ],
)
def test_malformed_waves_are_refused_by_name(waves, needle):
    md = texture_spec().to_metadata()
    noise = json.loads(md["ganfx.noise"])
    md["ganfx.noise"] = json.dumps({**noise, "waves": waves})
    with pytest.raises(ContractError) as err:
        ModelSpec.from_metadata(md, path="tex.onnx")
    assert needle in str(err.value) and "tex.onnx" in str(err.value) and "ganfx.noise" in str(err.value)


@pytest.mark.parametrize("still", [-1, 99, 1.5, "2", True])
def test_malformed_still_channels_are_refused_by_name(still):
    md = texture_spec().to_metadata()
    noise = json.loads(md["ganfx.noise"])
    md["ganfx.noise"] = json.dumps({**noise, "still": still})
    with pytest.raises(ContractError) as err:
        ModelSpec.from_metadata(md, path="tex.onnx")
    assert "still must be" in str(err.value) and "tex.onnx" in str(err.value) and "\n" not in str(err.value)
    md["ganfx.noise"] = json.dumps({**noise, "still": noise["channels"]})
    assert ModelSpec.from_metadata(md).noise.still == noise["channels"]


def test_no_contract_at_all():
    with pytest.raises(ContractError, match="no ganfx contract"):
        ModelSpec.from_metadata({"producer": "x"}, path="plain.onnx")


def test_graph_mismatch_is_refused(tmp_path):
    # Contract says input "frame" with 4 channels; the graph has "image" with 3.
    spec = effect_spec()
    md = spec.to_metadata()
    io = json.loads(md["ganfx.io"])
    io["inputs"][0]["name"] = "frame"
    md["ganfx.io"] = json.dumps(io)
    path = make_effect_model(tmp_path / "bad_names.onnx", metadata=md)
    with pytest.raises(ContractError, match="declares inputs"):
        read_spec(path)
    io["inputs"][0]["name"] = "image"
    io["inputs"][0]["channels"] = 4
    md["ganfx.io"] = json.dumps(io)
    path = make_effect_model(tmp_path / "bad_channels.onnx", metadata=md)
    with pytest.raises(ContractError, match="3 channels, ganfx.io declares 4"):
        read_spec(path)


def test_onnx_metadata_matches_what_onnx_reads(effect_path):
    model = onnx.load(str(effect_path))
    props = {p.key: p.value for p in model.metadata_props}
    digest = props.pop(DIGEST_KEY)
    assert props == effect_spec().to_metadata()
    assert digest == weights_digest(model.SerializeToString()) == read_spec(effect_path).digest


def test_digest_key_round_trip_and_format():
    md = {**effect_spec().to_metadata(), DIGEST_KEY: "sha256:" + "ab" * 32}
    spec = ModelSpec.from_metadata(md)
    assert spec.digest == "sha256:" + "ab" * 32 and spec.to_metadata() == md
    for bad in ("md5:abc", "sha256:" + "AB" * 32, "sha256:" + "a" * 63, ""):
        with pytest.raises(ContractError, match="ganfx.digest") as err:
            ModelSpec.from_metadata({**md, DIGEST_KEY: bad}, path="fx.onnx")
        assert str(err.value).startswith("fx.onnx: ")


def test_digest_ignores_metadata_and_tensor_order(effect_path):
    model = onnx.load(str(effect_path))
    before = weights_digest(model.SerializeToString())
    model.metadata_props.add(key="note", value="changed")
    inits = list(model.graph.initializer)[::-1]
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)
    assert weights_digest(model.SerializeToString()) == before
    model.graph.initializer[0].raw_data = bytes(len(model.graph.initializer[0].raw_data))
    assert weights_digest(model.SerializeToString()) != before


def test_flipped_weight_bytes_are_refused_by_read_spec(tmp_path, effect_path):
    bad = flip_weight_bytes(effect_path, tmp_path / "flipped.onnx")
    with pytest.raises(ModelLoadError, match="weights do not match the contract's ganfx.digest") as err:
        read_spec(bad)
    assert str(err.value).startswith(str(bad)) and "\n" not in str(err.value)


def test_param_coercion():
    spec = effect_spec()
    values = spec.coerce_params({"strength": "0.25", "look": "cool"})
    assert values == {"strength": 0.25, "look": "cool"}
    with pytest.raises(UserInputError, match="above the maximum"):
        spec.coerce_params({"strength": "2"})
    with pytest.raises(UserInputError, match="no parameter 'gain'"):
        spec.coerce_params({"gain": "1"})
    with pytest.raises(UserInputError, match="one of warm, cool"):
        spec.coerce_params({"look": "hot"})
    assert ParamSpec("b", "bool").coerce("off") is False
    assert ParamSpec("c", "rgb").coerce("1,0.5,0") == (1.0, 0.5, 0.0)
