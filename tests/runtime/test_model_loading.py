"""load_model: name resolution, every refusal, provider choice, fp16 variant lookup."""

import logging
import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from onnx_models import effect_spec, make_effect_model

from ganfx.runtime.errors import ContractError, ModelLoadError, ProviderError, UserInputError
from ganfx.runtime.model import list_models, load_model, resolve_model_path
from ganfx.runtime.providers import choose_providers


def test_load_by_path_and_run(effect_path):
    model = load_model(effect_path)
    assert model.spec.name == "testfx"
    assert model.providers == ["CPUExecutionProvider"]
    out = model.run(np.zeros((2, 3, 16, 24), np.float32))
    assert out.shape == (2, 3, 16, 24) and out.dtype == np.float32


def test_load_by_name_from_user_folder(user_models):
    assert resolve_model_path("testtex") == user_models / "testtex.onnx"
    assert load_model("testtex").spec.kind == "texture"
    names = {m.name: m for m in list_models()}
    assert names["testfx"].source == "user" and names["testfx"].spec.kind == "effect"


def test_unknown_name_lists_known(user_models):
    with pytest.raises(ModelLoadError, match="no model named 'nosuch'.*testfx"):
        load_model("nosuch")


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="not found") as err:
        load_model(tmp_path / "gone.onnx")
    assert "gone.onnx" in str(err.value)


def test_not_onnx(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is not a model\n" * 10)
    with pytest.raises(ModelLoadError, match="not an ONNX model"):
        load_model(bad)


def test_truncated_onnx(tmp_path, effect_path):
    data = effect_path.read_bytes()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as err:
        load_model(bad)
    assert "cut.onnx" in str(err.value)


def test_onnx_without_contract(tmp_path):
    path = make_effect_model(tmp_path / "plain.onnx", metadata={})
    with pytest.raises(ContractError, match="no ganfx contract") as err:
        load_model(path)
    assert "plain.onnx" in str(err.value)


def test_contract_graph_mismatch(tmp_path):
    md = effect_spec().to_metadata()
    md["ganfx.io"] = md["ganfx.io"].replace('"styled"', '"out"')
    path = make_effect_model(tmp_path / "mismatch.onnx", metadata=md)
    with pytest.raises(ContractError, match="declares outputs"):
        load_model(path)


def _with_external_data(src, dst_dir, location):
    """Copy a model, moving one initializer to external data at `location`."""
    model = onnx.load(str(src))
    init = model.graph.initializer[0]
    arr = numpy_helper.to_array(init)
    init.ClearField("raw_data")
    init.ClearField("float_data")
    init.data_location = onnx.TensorProto.EXTERNAL
    del init.external_data[:]
    init.external_data.append(onnx.StringStringEntryProto(key="location", value=location))
    init.external_data.append(onnx.StringStringEntryProto(key="length", value=str(arr.nbytes)))
    path = dst_dir / "ext.onnx"
    with open(path, "wb") as fh:
        fh.write(model.SerializeToString())
    return path, arr


def test_external_data_inside_folder_loads(tmp_path, effect_path):
    path, arr = _with_external_data(effect_path, tmp_path, "weights.bin")
    (tmp_path / "weights.bin").write_bytes(arr.tobytes())
    model = load_model(path)
    ref = load_model(effect_path)
    x = np.random.default_rng(0).random((1, 3, 8, 8), np.float32)
    assert np.allclose(model.run(x), ref.run(x))


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_outside_folder_refused(tmp_path, effect_path, location):
    inner = tmp_path / "model"
    inner.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 1024)
    path, _ = _with_external_data(effect_path, inner, location)
    with pytest.raises(ModelLoadError, match="external data location"):
        load_model(path)


def test_provider_choice():
    chosen, reason = choose_providers(None, ["CPUExecutionProvider"])
    assert chosen == ["CPUExecutionProvider"] and "CPU" in reason
    chosen, reason = choose_providers(None, ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"])
    assert chosen == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert "Tensorrt" in reason
    chosen, _ = choose_providers(["cuda"], ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert chosen == ["CUDAExecutionProvider", "CPUExecutionProvider"]  # CPU kept for fallback nodes
    with pytest.raises(ProviderError, match="CUDAExecutionProvider is not available"):
        choose_providers(["cuda"], ["CPUExecutionProvider"])


def test_explicit_unavailable_provider_refused_on_load(effect_path):
    with pytest.raises(ProviderError, match="not available"):
        load_model(effect_path, providers=["TensorrtExecutionProvider"])


def test_provider_log_line(effect_path, caplog):
    with caplog.at_level(logging.INFO, logger="ganfx"):
        load_model(effect_path)
    lines = [r.getMessage() for r in caplog.records if "execution provider" in r.getMessage()]
    assert len(lines) == 1 and "CPU" in lines[0]


def test_fp16_variant_lookup(tmp_path, effect_path):
    shutil.copy(effect_path, tmp_path / "fx.onnx")
    with pytest.raises(ModelLoadError, match="no fp16 variant"):
        load_model(tmp_path / "fx.onnx", precision="fp16")
    shutil.copy(effect_path, tmp_path / "fx.fp16.onnx")
    assert resolve_model_path(tmp_path / "fx.onnx", "fp16").name == "fx.fp16.onnx"
    with pytest.raises(UserInputError, match="precision"):
        load_model(tmp_path / "fx.onnx", precision="int8")


def test_wrong_kind_calls(effect_path, texture_path):
    with pytest.raises(UserInputError, match="use generate"):
        load_model(texture_path).apply(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UserInputError, match="use apply"):
        load_model(effect_path).generate(8, 8)




def test_weights_digest_checked_at_load(tmp_path, effect_path, caplog):
    from onnx_models import flip_weight_bytes

    assert load_model(effect_path).spec.digest.startswith("sha256:")
    bad = flip_weight_bytes(effect_path, tmp_path / "flipped.onnx")
    with pytest.raises(ModelLoadError, match="weights do not match the contract's ganfx.digest") as err:
        load_model(bad)
    assert str(err.value).startswith(str(bad))
    old = make_effect_model(tmp_path / "old.onnx", metadata=effect_spec().to_metadata())  # exported before the key
    with caplog.at_level(logging.WARNING, logger="ganfx"):
        load_model(old)
        load_model(old)
    warnings = [r.getMessage() for r in caplog.records if "no weights digest" in r.getMessage()]
    assert len(warnings) == 1 and "old.onnx" in warnings[0]


def test_names_that_are_not_model_files(tmp_path, user_models, monkeypatch):
    import os

    monkeypatch.chdir(tmp_path)
    (tmp_path / "testfx").mkdir()  # a folder named like a model does not hide it
    assert resolve_model_path("testfx") == user_models / "testfx.onnx"
    with pytest.raises(ModelLoadError, match="the model name is empty"):
        resolve_model_path("  ")
    os.mkfifo(tmp_path / "pipe.onnx")
    with pytest.raises(ModelLoadError, match=r"pipe.onnx: is a named pipe \(FIFO\), not a file"):
        load_model(tmp_path / "pipe.onnx")


@pytest.mark.parametrize("value", ["-1", "0", "many", "100000"])
def test_bad_thread_counts_are_refused(effect_path, monkeypatch, value):
    monkeypatch.setenv("GANFX_THREADS", value)
    with pytest.raises(ProviderError, match="GANFX_THREADS must be a whole number from 1 to 1024"):
        load_model(effect_path)
