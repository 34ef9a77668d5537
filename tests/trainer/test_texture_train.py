"""End to end through the CLI: train a tiny texture, export it, render with the runtime.

Also the runtime guarantees a texture model must keep: a 4K tiled render equals the whole
render, a loop's frame N equals frame 0, and tileable output wraps around.
"""

import numpy as np
import pytest
from texture_fixtures import stripes

from ganfx.plugin.cli import main
from ganfx.runtime.contract import read_spec
from ganfx.runtime.model import load_model

TINY_ARGS = ["--crop", "32", "--batch", "2", "--stride", "4", "--g-widths", "16,8,8", "--cell-blocks", "1",
             "--noise-channels", "4", "--waves", "1", "--lowpass", "4", "--d-width", "8", "--d-downs", "2", "--sample-px", "32", "--no-swd",
             "--threads", "1", "--no-progress", "--log-every", "2", "--sample-every", "4", "--checkpoint-every", "2"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    ex = stripes(root / "wall.png")
    assert main(["train", "texture", str(ex), "-o", str(root / "runs"), "--iterations", "4"] + TINY_ARGS) == 0
    run = root / "runs" / "00000-wall"
    assert (run / "config.json").is_file() and (run / "checkpoint-000004.json").is_file()
    out = root / "wall.onnx"
    assert main(["export", str(run), "-o", str(out), "--description", "tiny wall"]) == 0
    return out


def test_trained_model_loads_and_renders(model_path):
    spec = read_spec(model_path)
    assert spec.kind == "texture" and spec.name == "wall" and spec.description == "tiny wall"
    img = load_model(model_path).generate(100, 70, seed=2, dtype=np.uint8)
    assert img.shape == (70, 100, 3) and img.dtype == np.uint8 and img.std() > 0


def test_4k_tiled_render_equals_whole_render(model_path):
    m = load_model(model_path)
    whole = m.generate(3840, 2160, seed=1, max_pixels=3840 * 2160)
    runs = m.runs
    tiled = m.generate(3840, 2160, seed=1, tile=512)
    assert m.runs - runs > 1  # really tiled
    assert np.abs(whole - tiled).max() <= 1 / 255


def test_loop_frame_n_equals_frame_0(model_path):
    m = load_model(model_path)
    fps, frames = 24, 12
    first = m.generate(64, 48, t=0.0, seed=3, loop=frames / fps)
    middle = m.generate(64, 48, t=5 / fps, seed=3, loop=frames / fps)
    last = m.generate(64, 48, t=frames / fps, seed=3, loop=frames / fps)
    assert np.abs(last - first).max() < 1e-5
    assert np.abs(middle - first).max() > 1e-3  # it does move in between


def test_tileable_output_wraps(model_path):
    m = load_model(model_path)
    img = m.generate(64, 48, seed=4, tileable=True)
    # A 2x2 canvas run on the same periodic noise (waves snapped to the period) repeats the tile exactly.
    s, halo = m.spec.noise.stride, m.spec.noise.halo
    field = m.noise_field(seed=4, period=(48 // s, 64 // s))
    noise = field.window(-halo, -halo, 2 * 48 // s + 2 * halo, 2 * 64 // s + 2 * halo)
    canvas = m.run(noise[None])[0].transpose(1, 2, 0)[halo * s:-halo * s, halo * s:-halo * s]
    canvas = np.clip((canvas + 1.0) * 0.5, 0.0, 1.0)
    for y0, x0 in ((0, 0), (0, 64), (48, 0), (48, 64)):
        assert np.abs(canvas[y0:y0 + 48, x0:x0 + 64] - img).max() < 1e-5
    plain = m.generate(64, 48, seed=4)
    assert np.abs(plain - img).max() > 1e-3
