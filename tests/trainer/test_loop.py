"""The generic training loop: run folders, checkpoints, exact resume, refusals of bad checkpoints."""

import json

import pytest
import torch
from texture_fixtures import stripes, tiny_config, tiny_loop

from ganfx.runtime.errors import ModelLoadError, UserInputError
from ganfx.trainer.checkpoint import list_checkpoints, read_checkpoint
from ganfx.trainer.config import LoopConfig, config_from_dict, load_run_config, new_run_dir
from ganfx.trainer.loop import train
from ganfx.trainer.texture_task import TextureConfig, TextureTask


@pytest.fixture(scope="module")
def exemplar(tmp_path_factory):
    return stripes(tmp_path_factory.mktemp("ex") / "stripes.png")


def _train(exemplar, run_dir, iterations, resume=None, **loop_kw):
    return train(TextureTask(tiny_config(exemplar)), tiny_loop(iterations, **loop_kw), run_dir, resume=resume,
                 log=lambda *_: None)


def test_run_folder_holds_config_checkpoints_metrics_and_pictures(exemplar, tmp_path):
    run = new_run_dir(tmp_path, "tiny")
    assert run.name == "00000-tiny" and new_run_dir(tmp_path, "tiny", create=False).name == "00001-tiny"
    result = _train(exemplar, run, 6, keep_checkpoints=2)
    assert result.iteration == 6
    assert [it for it, _ in list_checkpoints(run)] == [4, 6]  # older ones pruned
    assert not list(run.glob(".*"))  # no temporary (partial) files left behind
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [2, 4, 6]
    assert {"loss_d", "loss_g", "seconds", "it_per_s"} <= set(rows[0])
    assert (run / "samples-000006.png").is_file() and (run / "losses.png").is_file()
    task, loop, cfg = load_run_config(run)
    assert task == "texture" and loop.iterations == 6 and cfg == tiny_config(exemplar)


def test_resume_continues_exactly(exemplar, tmp_path):
    whole = _train(exemplar, tmp_path / "whole", 6)
    _train(exemplar, tmp_path / "split", 4)  # "interrupted" after iteration 4
    resumed = _train(exemplar, tmp_path / "split", 6, resume=tmp_path / "split")
    a, b = read_checkpoint(whole.last_checkpoint), read_checkpoint(resumed.last_checkpoint)
    assert a.iteration == b.iteration == 6
    assert set(a.tensors) == set(b.tensors)
    for key in a.tensors:
        assert torch.equal(a.tensors[key], b.tensors[key]), key
    assert a.meta["task_state"] == b.meta["task_state"]
    rows = [json.loads(line)["iteration"] for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert rows == [2, 4, 6]


def test_resume_refuses_a_different_task_config(exemplar, tmp_path):
    _train(exemplar, tmp_path / "r", 2)
    task = TextureTask(tiny_config(exemplar, batch=3))
    with pytest.raises(UserInputError, match="differs"):
        train(task, tiny_loop(4), tmp_path / "r", resume=tmp_path / "r", log=lambda *_: None)


def test_corrupt_and_pickled_checkpoints_are_refused_with_one_line(exemplar, tmp_path):
    result = _train(exemplar, tmp_path / "c", 2)
    st = result.last_checkpoint.with_suffix(".safetensors")
    st.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ModelLoadError) as err:
        read_checkpoint(result.run_dir)
    assert "corrupt safetensors" in str(err.value) and str(st) in str(err.value) and "\n" not in str(err.value)

    torch.save({"weights": torch.zeros(3)}, st)  # a pickle in disguise
    with pytest.raises(ModelLoadError, match="pickle"):
        read_checkpoint(result.last_checkpoint)
    pt = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(3)}, pt)
    with pytest.raises(ModelLoadError, match="pickled checkpoints are refused"):
        read_checkpoint(pt)
    with pytest.raises(ModelLoadError, match="no checkpoint"):
        read_checkpoint(tmp_path)


def test_configs_are_checked():
    with pytest.raises(UserInputError, match="unknown LoopConfig keys"):
        config_from_dict(LoopConfig, {"iterations": 3, "learning_rate": 1})
    with pytest.raises(UserInputError, match="iterations"):
        LoopConfig(iterations=0).check()
    with pytest.raises(UserInputError, match="multiple of the stride"):
        TextureConfig(exemplars=("x.png",), crop=100, stride=8).check()
    cfg = config_from_dict(TextureConfig, {"exemplars": ["a.png"], "g_widths": [8, 8, 8, 8]})
    assert cfg.exemplars == ("a.png",) and cfg.g_widths == (8, 8, 8, 8)
