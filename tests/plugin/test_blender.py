"""The Blender extension in real Blender (bpy as a module), headless, in its own process and HOME.

One session (tests/plugin/blender_session.py) installs the zip `ganfx plugin build-blender`
makes, applies an effect to a movie strip, generates textures and sound strips, walks the error paths, trains a
tiny effect from keyframes of the movie strip (this test's Python is the trainer) and
unregisters; the assertions are here.

The session runs in the Python named by GANFX_BLENDER_PYTHON (tests/blender_matrix.sh points it
at a venv holding nothing but one bpy release), else in this Python when it has bpy. Either way
ganfx and its compiled dependencies must come from the zip: the session lets them be imported
only from Blender's extensions folder, and the zip packs the runtime wheels (onnxruntime, PyAV,
OpenCV, pinned to the versions installed here), downloaded once into a cache folder
(${XDG_CACHE_HOME:-~/.cache}/ganfx/blender-wheels).
"""

import dataclasses
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest
from onnx import helper, numpy_helper

from ganfx.plugin import packaging
from ganfx.plugin.cli import main

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from media import make_clip, make_sequence  # noqa: E402
from onnx_models import _save, effect_spec, make_effect_model, make_sound_model, make_texture_model  # noqa: E402
from test_blender_training import TINY, write_keyframes  # noqa: E402


def blender_python() -> str:
    """The Python the Blender session runs in; skips where there is none."""
    chosen = os.environ.get("GANFX_BLENDER_PYTHON")
    if chosen:  # asked for explicitly: a broken one fails the test rather than skipping it
        return chosen
    if importlib.util.find_spec("bpy") is None:
        pytest.skip("needs Blender as a Python module (pip install bpy), or GANFX_BLENDER_PYTHON")
    return sys.executable


def runtime_wheels(python: str, dest: Path) -> Path:
    """Links in `dest` to the pinned runtime wheels for this machine and `python` ("3.11"). -> dest

    They are what `ganfx plugin build-blender --platform ...` packs, from a cache folder that is
    filled by pip download on first use, so later runs need no network.
    """
    platform = packaging.host_platform()
    if platform is None:
        pytest.skip("Blender has no build for this machine")
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache = cache_home / "ganfx" / "blender-wheels" / f"{platform}-py{python}"
    pins = packaging.pinned()
    assert all("==" in pin for pin in pins), pins  # the tests pack exactly what they ran with

    def cached(pin):
        name, _, version = pin.partition("==")
        key = re.sub(r"[-_.]+", "_", name).lower()  # wheel file names spell names this way
        return [w for w in sorted(cache.glob("*.whl")) if w.name.lower().split("-")[:2] == [key, version]]

    missing = [pin for pin in pins if not cached(pin)]
    if missing:
        packaging.download_wheels(cache, [platform], missing, pythons=[python])
    dest.mkdir()
    for pin in pins:
        wheels = cached(pin)
        assert wheels, f"pip download gave no wheel for {pin}"
        (dest / wheels[-1].name).symlink_to(wheels[-1])
    return dest


def make_failing_model(path):
    """A valid ganfx effect whose graph fails in onnxruntime on any frame that is not 8x8."""
    shape = numpy_helper.from_array(np.array([1, 3, 8, 8], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["image", "shape"], ["r"]), helper.make_node("Tanh", ["r"], ["styled"])]
    return _save(path, nodes, [shape], "image", 3, "styled", 3, effect_spec(name="broken"))


def test_extension_zip_packs_the_runtime_without_trainer_or_torch(tmp_path, effect_path):
    zpath = tmp_path / "ext.zip"
    assert main(["plugin", "build-blender", "-o", str(zpath), "--no-download"]) == 0
    with zipfile.ZipFile(zpath) as z:
        names = set(z.namelist())
        manifest = z.read("blender_manifest.toml").decode()
        wheel = next(n for n in names if n.startswith("wheels/ganfx-"))
        z.extract(wheel, tmp_path)
    assert {"blender_manifest.toml", "__init__.py", "operators.py", "jobs.py"} <= names
    assert f'"./{wheel}"' in manifest and 'files = "' in manifest and "network" not in manifest
    with zipfile.ZipFile(tmp_path / wheel) as w:
        inside = w.namelist()
        assert "ganfx/runtime/model.py" in inside and "ganfx/plugin/host.py" in inside
        assert not any(n.startswith("ganfx/trainer") for n in inside)
        assert not any(b"import torch" in w.read(n) for n in inside if n.endswith(".py"))
    # The packed ganfx runs on its own: imported from the unpacked wheel, it renders through the host.
    site = tmp_path / "site"
    zipfile.ZipFile(tmp_path / wheel).extractall(site)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import numpy as np\n"
            "from ganfx.plugin.host import Host; from ganfx.plugin.gan_effect import GanEffect\n"
            "import ganfx.runtime, ganfx.plugin.host as h\n"
            "assert h.__file__.startswith(sys.argv[1]), h.__file__\n"
            "host = Host(GanEffect.load(sys.argv[2], threads=1))\n"
            "out = host.render_frame(host.create_instance(), 0, np.zeros((16, 16, 3), np.uint8))\n"
            "assert out.shape == (16, 16, 3) and 'torch' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code, str(site), str(effect_path)], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
    assert main(["plugin", "build-blender", "-o", str(zpath), "--no-download"]) == 1  # exists: not replaced
    assert main(["plugin", "build-blender", "-o", str(tmp_path / "x.zip"), "--platform", "amiga"]) == 1


def test_worker_thread_job_reports_progress_and_cancel_leaves_nothing(tmp_path, effect_path):
    # The extension's jobs need no bpy: the threaded path the modal operator polls, run here.
    from ganfx.plugin.blender import jobs

    clip = make_clip(tmp_path / "plate.mp4", frames=12, audio=None)
    spec = jobs.EffectJobSpec(model=str(effect_path), params={"strength": 0.5},
                              source=jobs.SourceClip("movie", (str(clip),), 3, 10), folder=tmp_path / "out" / "a")
    job = jobs.Job(jobs.render_effect, spec)
    job.start()
    job.join(60)
    assert job.done and not job.error and (job.done_frames, job.total_frames, job.progress) == (8, 8, 1.0)
    assert job.result == [f"frame.{i:04d}.png" for i in range(1, 9)] == sorted(p.name for p in spec.folder.iterdir())

    class StopAfterTwo(jobs.Job):
        def report(self, done, total):
            super().report(done, total)
            if done == 2:
                self.cancel()

    b = dataclasses.replace(spec, folder=tmp_path / "out" / "b")
    job = StopAfterTwo(jobs.render_effect, b)
    job.start()
    job.join(60)
    assert job.error == "cancelled" and job.done_frames == 2 and sorted(os.listdir(tmp_path / "out")) == ["a"]
    job = jobs.Job(jobs.render_effect, spec)  # an existing folder is never written into
    job.run()
    assert "output folder exists already" in job.error and len(os.listdir(spec.folder)) == 8


def wav_samples(path):
    """(int16 samples [C,n], rate) of a 16-bit PCM WAV, read with the standard library."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        c, rate, n = w.getnchannels(), w.getframerate(), w.getnframes()
        return np.frombuffer(w.readframes(n), "<i2").reshape(n, c).T, rate


def test_sound_job_writes_a_wav_reports_samples_and_cancel_leaves_nothing(tmp_path, effect_path, texture_path):
    from ganfx.plugin.blender import jobs
    from ganfx.runtime.model import load_model

    model = make_sound_model(tmp_path / "testsnd.onnx")
    spec = jobs.SoundJobSpec(model=str(model), params={"seed": 2, "gain": -3.0}, seconds=0.7, loop=False,
                             path=tmp_path / "out" / "a.wav", providers=("cpu",))
    job = jobs.Job(jobs.render_sound, spec)
    job.start()
    job.join(60)
    assert job.done and not job.error and job.result == jobs.RenderedSound(spec.path, 33600, 48000)
    assert (job.done_frames, job.total_frames, job.progress) == (33600, 33600, 1.0) and "0.7/0.7 s" in job.status
    x, rate = wav_samples(spec.path)
    want = load_model(model, threads=1).sound(33600, seed=2, gain_db=-3.0)
    assert rate == 48000 and x.shape == (1, 33600)
    assert np.abs(x - np.rint(want.astype(np.float64) * 32767)).max() <= 1

    class StopAtFirstBlock(jobs.Job):
        def report(self, done, total):
            super().report(done, total)
            if done:
                self.cancel()

    job = StopAtFirstBlock(jobs.render_sound, dataclasses.replace(spec, path=tmp_path / "out" / "b" / "b.wav"))
    job.run()
    assert job.error == "cancelled" and 0 < job.done_frames < job.total_frames
    assert sorted(os.listdir(tmp_path / "out")) == ["a.wav"]  # no partial, no folder made for it
    for other, use in ((effect_path, "is an effect model; use Apply ganfx Effect"),
                       (texture_path, "is a texture model; use Generate ganfx Texture")):
        job = jobs.Job(jobs.render_sound, dataclasses.replace(spec, model=str(other), path=tmp_path / "c.wav"))
        job.run()
        assert job.error.startswith(f"{other}: ") and job.error.endswith(use) and "\n" not in job.error
    job = jobs.Job(jobs.render_texture, jobs.TextureJobSpec(str(model), {}, (16, 16), 1, 24.0))
    job.run()
    assert job.error == f"{model}: testsnd is a sound model; use Generate ganfx Sound"
    assert sorted(os.listdir(tmp_path)) == ["out", "testsnd.onnx"]


def write_matte(folder, count, width, height):
    """`count` PNGs s.0001.png ... of a matte: the left half black, the right half white. -> their paths"""
    from ganfx.runtime.io.images import write_image

    folder.mkdir(parents=True)
    img = np.zeros((height, width, 3), np.uint8)
    img[:, width // 2 :] = 255
    paths = [folder / f"m.{n:04d}.png" for n in range(1, count + 1)]
    for path in paths:
        write_image(path, img)
    return paths


def test_effect_job_with_a_matte_mixes_per_pixel_and_refuses_a_bad_matte(tmp_path, effect_path):
    from ganfx.plugin.blender import jobs
    from ganfx.runtime.io.images import read_image

    seq = [str(p) for p in make_sequence(tmp_path / "seq" / "s.####.png", range(1, 4), width=40, height=30)]
    matte = jobs.SourceClip("images", tuple(map(str, write_matte(tmp_path / "m", 4, 40, 30))), 1, 3, "m")
    spec = jobs.EffectJobSpec(model=str(effect_path), params={"strength": 0.7}, name="f",
                              source=jobs.SourceClip("images", tuple(seq), 0, 2, "shots"), folder=tmp_path / "a")
    job = jobs.Job(jobs.render_effect, dataclasses.replace(spec, matte=matte))
    job.run()
    assert not job.error and len(job.result) == 3
    plain = jobs.Job(jobs.render_effect, dataclasses.replace(spec, folder=tmp_path / "b"))
    plain.run()
    for k, path in enumerate(seq):
        src, got = read_image(path), read_image(tmp_path / "a" / job.result[k])
        full = read_image(tmp_path / "b" / plain.result[k])
        assert np.array_equal(got[:, :20], src[:, :20])  # black: the source
        assert np.array_equal(got[:, 20:], full[:, 20:]) and not np.array_equal(full[:, 20:], src[:, 20:])
    short = jobs.Job(jobs.render_effect, dataclasses.replace(spec, folder=tmp_path / "c",
                                                               matte=dataclasses.replace(matte, first=2)))
    short.run()
    assert short.error == "the matte strip 'm' has 2 frames but the source strip 'shots' has 3"
    big = jobs.SourceClip("images", tuple(map(str, write_matte(tmp_path / "big", 3, 64, 48))), 0, 2, "big")
    wrong = jobs.Job(jobs.render_effect, dataclasses.replace(spec, folder=tmp_path / "c", matte=big))
    wrong.run()
    assert wrong.error.startswith("the matte strip 'big' is 64x48 but the source strip 'shots' is 40x30")
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "big", "m", "seq"]


@pytest.mark.blender
def test_blender_extension_end_to_end(tmp_path, effect_path):
    python = blender_python()
    probe = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True)
    assert probe.returncode == 0, f"GANFX_BLENDER_PYTHON={python} does not run: {probe.stderr[-500:]}"
    wheels = runtime_wheels(probe.stdout.strip(), tmp_path / "wheels")
    models = tmp_path / "models"
    models.mkdir()
    make_effect_model(models / "testfx.onnx")
    make_texture_model(models / "testtex.onnx")
    make_failing_model(models / "broken.onnx")
    make_sound_model(models / "testsnd.onnx")
    clip = make_clip(tmp_path / "plate.mp4", frames=12, audio=None)
    zpath = tmp_path / "ganfx_blender.zip"
    assert main(["plugin", "build-blender", "-o", str(zpath), "--no-download", "--wheels", str(wheels)]) == 0
    out = tmp_path / "renders"
    out.mkdir()
    cfg = {"zip": str(zpath), "models": str(models), "clip": str(clip), "out": str(out),
           "result": str(tmp_path / "result.json"), "effect_pixels": str(tmp_path / "effect.npy"),
           "texture_pixels": str(tmp_path / "texture.npy"), "sequence": str(tmp_path / "seq"),
           "sequence_pixels": str(tmp_path / "sequence.npy"), "matte": str(tmp_path / "matte"), "trainer_python": sys.executable,
           "trainer_options": " ".join(TINY), "keyframes": write_keyframes(tmp_path / "kf", [1, 8]),
           "holdout": write_keyframes(tmp_path / "held", [4])}
    make_sequence(tmp_path / "seq" / "s.####.png", range(1, 5), width=40, height=30)
    write_matte(tmp_path / "matte", 4, 40, 30)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    home = tmp_path / "home"  # Blender's config and extensions land here, not in the user's
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "GANFX_THREADS": "1", "GANFX_MODELS": "",
           "XDG_CONFIG_HOME": str(home / ".config")}
    done = subprocess.run([python, str(HERE / "blender_session.py"), str(tmp_path / "cfg.json")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads(Path(cfg["result"]).read_text())

    # ganfx ran from the zip's wheels: this Blender's Python had none before the install, and
    # ganfx and its compiled dependencies were imported from the extensions folder in HOME.
    assert r["imported_before"] == [] and not any(r["importable_before"].values()), r["importable_before"]
    assert r["enabled"]
    extensions = Path(r["extensions_dir"])
    assert extensions.is_relative_to(home.resolve()), extensions
    for name, path in r["modules_from"].items():
        assert Path(path).resolve().is_relative_to(extensions), (name, path)
    assert r["params"] == {"strength": ["double", "Strength", 1.0], "look": ["choice", "Look", "warm"]}
    # The source shows movie frames 2..8 at scene frames 7..13; the result sits above, aligned.
    assert r["source"] == [1, 7, 14, 12]  # 12 frames, 2 trimmed at the head, 3 at the tail
    assert r["apply"] == [["FINISHED"], ""]
    name, kind, channel, start, end = r["new"]
    assert (kind, channel, start, end) == ("IMAGE", 2, 7, 14)

    # Its pixels, as Blender loads them, are `ganfx render` of the same frames (within 1/255).
    ref = tmp_path / "ref" / "r.####.png"
    assert main(["render", str(effect_path), str(clip), "-o", str(ref), "--frames", "2-8", "--quiet",
                 "--param", "strength=0.7", "--param", "look=cool"]) == 0
    from ganfx.runtime.io import open_reader

    with open_reader(ref) as reader:
        want = np.stack([f.image for f in reader.frames()]).astype(np.float32) / 255
    got = np.load(cfg["effect_pixels"])
    assert got.shape == want.shape == (7, 48, 64, 3)
    assert np.abs(got - want).max() <= 1 / 255 + 1e-6

    # An image strip works the same: 4 frames at 60..63, the first free channel above it.
    assert r["apply_images"] == [["FINISHED"], ""] and r["new_images"] == ["IMAGE", 6, 60, 64]
    assert main(["render", str(effect_path), str(tmp_path / "seq" / "s.####.png"), "-o",
                 str(tmp_path / "ref2" / "r.####.png"), "--quiet", "--param", "strength=0.7",
                 "--param", "look=cool"]) == 0
    with open_reader(tmp_path / "ref2" / "r.####.png") as reader:
        want = np.stack([f.image for f in reader.frames()]).astype(np.float32) / 255
    got = np.load(cfg["sequence_pixels"])
    assert got.shape == want.shape == (4, 30, 40, 3) and np.abs(got - want).max() <= 1 / 255 + 1e-6

    # With the matte strip (left half black, right half white): a new strip above, whose frames
    # are the source exactly where the matte is black and the effect (as without a matte) where white.
    from ganfx.runtime.io.images import read_image

    # The Matte field offers the movie and image strips (the results are image strips too).
    assert r["matte_offered"] == ["matte", "plate", "plate ganfx", "shots", "shots ganfx"]
    assert r["apply_matte"] == [["FINISHED"], ""] and r["new_matte"] == ["IMAGE", 7, 60, 64]
    sources = sorted((tmp_path / "seq").iterdir())
    (plain, plain_files), (mixed, mixed_files) = r["images_folder"], r["matte_folder"]
    assert len(mixed_files) == len(sources) == 4
    for src, p, m in zip(sources, plain_files, mixed_files):
        src, plain_img, got = read_image(src), read_image(Path(plain) / p), read_image(Path(mixed) / m)
        assert np.array_equal(got[:, :20], src[:, :20])
        assert np.array_equal(got[:, 20:], plain_img[:, 20:]) and not np.array_equal(got[:, 20:], src[:, 20:])
    status, message, unchanged = r["matte_wrong_size"]
    assert status == ["CANCELLED"] and unchanged, message
    assert "ganfx: the matte strip 'plate' is 64x48 but the source strip 'shots' is 40x30" in message

    # Textures: a still in a float image equal to the model's output; an animated strip at the playhead.
    from ganfx.runtime.model import load_model

    assert r["texture_still"] == [["FINISHED"], ""] and r["texture_image"] == [[64, 32], True]
    tex = np.load(cfg["texture_pixels"])
    ref_tex = load_model(models / "testtex.onnx", threads=1).generate(64, 32, seed=5, tileable=True,
                                                                    colorspace="linear")
    assert np.abs(tex[..., :3] - ref_tex).max() < 1e-4 and np.all(tex[..., 3] == 1)
    assert r["texture_anim"] == [["FINISHED"], ""]
    assert r["texture_strip"] == [1, 40, 46, 6]
    assert r["texture_anim_differs"]

    # The model menus, one per kind, each sets its own setting; the sound model's parameters come
    # from its contract, and the Sound panel draws.
    offered = {kind: [(item[2], item[4]["kind"]) for item in items if item[0] == "operator"]
               for kind, items in r["menus"].items()}
    assert all(kind == set_kind for kind, items in offered.items() for _, set_kind in items), offered
    names = {kind: [name for name, _ in items] for kind, items in offered.items()}
    # The models folder's first, then the shipped ones (GANFX_MODELS is empty here).
    assert names["effect"][:2] == ["broken", "testfx"] and names["texture"][:1] == ["testtex"]
    assert names["sound"][:1] == ["testsnd"] and "testsnd" not in names["effect"] + names["texture"]
    assert r["set_sound_model"] == [["FINISHED"], ""] and r["set_models"] == ["testfx", "testtex", "testsnd"]
    assert r["sound_params"] == {"seed": ["seed", "Seed", 0], "gain": ["double", "Gain (dB)", 0.0]}
    panel = r["sound_panel"]
    assert [i[1] for i in panel if i[0] == "prop"] == ["sound_model", "value_int", "value_float", "sound_seconds",
                                                       "sound_loop", "output_dir"]
    assert all(i[2] for i in panel if i[0] == "prop") and ["menu", "GANFX_MT_sound_models"] in panel
    assert [i[:4] for i in panel if i[0] == "operator"] == [["operator", "ganfx.generate_sound", "", "SOUND"]]
    assert r["icons_known"]

    # Sound strips: at the playhead (frame 70) on the first free channel, as long as the rendered
    # seconds at 24 fps (Blender reads the length from the file), a 48 kHz 16-bit mono WAV.
    sound_model = load_model(models / "testsnd.onnx", threads=1)
    if not r["sound_can"]:  # the bpy 4.2 module on PyPI has no Audaspace: refused before rendering
        for result in (r["sound"], r["sound_loop"]):
            assert result[0] == ["CANCELLED"] and "built without audio (Audaspace)" in result[1], result
        assert r["sound"][2] and not list(out.glob("*.wav"))
    else:
        assert r["sound"][:2] == [["FINISHED"], ""] and not r["sound"][2]
        name, kind, channel, first, end, frames, path = r["sound_strip"]
        assert (name, kind, channel, first) == ("testsnd_seed7", "SOUND", 1, 70)
        assert abs((end - first) - 1.3 * 24) <= 1 and frames == end - first
        x, rate = wav_samples(path)
        assert Path(path) == out / "testsnd_seed7.wav" and rate == 48000 and x.shape == (1, 62400)
        want = sound_model.sound(62400, seed=7, gain_db=-6.0)
        assert np.abs(x - np.rint(want.astype(np.float64) * 32767)).max() <= 1
        # The loop: "0 seconds" is the scene's length (frames 11..70 at 24 fps: 2.5 s), exact.
        assert r["sound_loop"] == [["FINISHED"], ""]
        name, kind, channel, first, end, frames, path = r["sound_loop_strip"]
        assert (name, kind, channel, first, end, frames) == ("testsnd_seed7_loop", "SOUND", 2, 70, 130, 60)
        x, rate = wav_samples(path)
        assert rate == 48000 and x.shape == (1, 120000)
        want = sound_model.sound(120001, seed=7, loop=120000, gain_db=-6.0)
        assert want[0, -1] == want[0, 0]  # the sample after the last is the first
        assert np.abs(x - np.rint(want[:, :-1].astype(np.float64) * 32767)).max() <= 1
    errors = r["sound_errors"]
    for case, (status, message, unchanged) in errors.items():
        assert status == ["CANCELLED"] and message.startswith("Error: ganfx:") and unchanged, (case, message)
        assert "\n" not in message.strip(), message
    if r["sound_can"]:
        assert errors["effect model as sound"][1].endswith(
            f"ganfx: {models / 'testfx.onnx'}: testfx is an effect model; use Apply ganfx Effect")
        assert f"no model named 'no_such_model' in the models folder {models}" in errors["missing model"][1]

    # Every error: cancelled, a message in the UI, scene and output folder unchanged.
    errors = r["errors"]
    assert set(errors) == {"missing model", "wrong strip type", "failed render", "texture model as effect"}
    for case, (status, message, unchanged) in errors.items():
        assert status == ["CANCELLED"] and message.startswith("Error: ganfx:") and unchanged, (case, message)
    assert f"no model named 'no_such_model' in the models folder {models}" in errors["missing model"][1]
    assert "'colour' is a color strip" in errors["wrong strip type"][1] and r["colour"] == [1, 11]
    assert "render failed" in errors["failed render"][1]
    assert "is a texture model" in errors["texture model as effect"][1]
    assert not [p for p in out.rglob("*partial*")]

    # Training from keyframes: errors refuse with one line, starting nothing and changing nothing.
    errors = r["train_errors"]
    assert set(errors) == {"no trainer python", "not a movie strip", "keyframes missing"}
    for case, (status, message, unchanged) in errors.items():
        assert status == ["CANCELLED"] and message.startswith("Error: ganfx:") and unchanged, (case, message)
    assert "no trainer Python set: in the ganfx preferences" in errors["no trainer python"][1]
    assert "'colour' is a color strip; select the movie strip" in errors["not a movie strip"][1]
    assert f"{out / 'no_keyframes'}: keyframes folder not found" in errors["keyframes missing"][1]
    # Then a real one: the trainer ran, the exported model is in the models folder, is the effect
    # model now, the menu offers it, and Apply ganfx Effect renders with it.
    assert r["train"] == [["FINISHED"], ""], r["train"]
    assert r["models_after"] == ["blendfx.onnx", "broken.onnx", "testfx.onnx", "testsnd.onnx", "testtex.onnx"]
    from ganfx.runtime.contract import read_spec

    assert read_spec(models / "blendfx.onnx").kind == "effect"
    assert r["trained_model"] == "blendfx" and "blendfx" in r["offered"]
    assert r["training_folders"] == ["blendfx_training"]
    assert (out / "blendfx_training" / "runs" / "00000-blendfx" / "metrics.jsonl").is_file()
    assert r["apply_trained"] == [["FINISHED"], ""] and r["apply_trained_strip"] == ["plate_blendfx", 7]
    assert r["train_again"][0] == ["CANCELLED"] and "exists already in the models folder" in r["train_again"][1]
    assert r["models_again"] == r["models_after"]

    assert r["disabled"] and r["operator_gone"] and r["scene_prop_gone"]
    shutil.rmtree(home)  # the unpacked wheels are a few hundred MB; kept for a look only on failure
