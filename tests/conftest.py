import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from onnx_models import make_effect_model, make_texture_model  # noqa: E402


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    make_effect_model(d / "testfx.onnx")
    make_effect_model(d / "testfx_strided.onnx", strided=True)
    make_texture_model(d / "testtex.onnx")
    return d


@pytest.fixture(scope="session")
def effect_path(models_dir):
    return models_dir / "testfx.onnx"


@pytest.fixture(scope="session")
def strided_path(models_dir):
    return models_dir / "testfx_strided.onnx"


@pytest.fixture(scope="session")
def texture_path(models_dir):
    return models_dir / "testtex.onnx"


@pytest.fixture
def user_models(models_dir, monkeypatch):
    monkeypatch.setenv("GANFX_MODELS", str(models_dir))
    return models_dir
