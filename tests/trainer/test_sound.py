"""The sound kind end to end: train a tiny model for a few steps, export it, render it through
the runtime and the CLI (chunks, loops, files), evaluate it, and refuse bad input by name."""

from __future__ import annotations

import json
import subprocess
import sys
import wave

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ganfx.runtime import load_model  # noqa: E402
from ganfx.runtime.contract import ModelSpec, read_spec  # noqa: E402
from ganfx.runtime.errors import ContractError, UserInputError  # noqa: E402
from ganfx.runtime.sound import BLOCK_CELLS, loop_samples  # noqa: E402

RATE = 48000
TINY = ["--crop", "8192", "--batch", "2", "--stride", "16", "--widths", "8,8,8", "--dilations", "1,2",
        "--noise-channels", "4", "--fine-noise", "1", "--resolutions", "256,1024", "--bands", "16",
        "--margin-cells", "2", "--eval-seconds", "0.5"]


def ganfx(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"ganfx {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def write_wav(path, x, rate=RATE):
    data = (np.clip(x, -1, 1) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
    return path


def read_wav(path):
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())


@pytest.fixture(scope="module")
def sound_model(tmp_path_factory):
    """A real, tiny sound model: 3 training steps on amplitude-modulated noise, exported."""
    d = tmp_path_factory.mktemp("sound")
    rng = np.random.default_rng(0)
    t = np.arange(RATE * 2) / RATE
    ex = write_wav(d / "crackle.wav", 0.3 * rng.standard_normal(len(t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)))
    ganfx("train", "sound", ex, "-o", d / "runs", "--iterations", 3, "--sample-every", 3, "--checkpoint-every", 3,
          "--threads", 1, "--no-progress", *TINY)
    run = next((d / "runs").iterdir())
    assert any(run.glob("samples-*.png")) and any(run.glob("checkpoint-*.safetensors"))
    ganfx("export", run, "-o", d / "crackle.onnx")
    return d / "crackle.onnx", ex


def test_contract_of_an_exported_sound(sound_model):
    spec = read_spec(sound_model[0])
    assert spec.kind == "sound" and spec.rate == RATE
    assert spec.input.layout == spec.output.layout == "NCW"
    assert spec.noise.stride == 16 and spec.noise.halo > 0 and spec.noise.waves == ()
    assert {p.name for p in spec.params} == {"seed", "gain"}
    assert spec.training["task"] == "sound"


def _md(path):
    from ganfx.runtime.onnxfile import read_onnx_info

    return dict(read_onnx_info(path).metadata)


@pytest.mark.parametrize("change, words", [
    (lambda io: io["outputs"][0].pop("rate"), "no sample rate"),
    (lambda io: io["outputs"][0].update(rate=100), "rate 100 outside"),
    (lambda io: io["outputs"][0].update(layout="NCHW"), "layout 'NCHW' (a sound model needs NCW)"),
    (lambda io: io["outputs"][0].update(channels=3), "3 channels"),
])
def test_malformed_sound_contracts_are_refused_by_name(sound_model, change, words):
    md = _md(sound_model[0])
    io = json.loads(md["ganfx.io"])
    change(io)
    md["ganfx.io"] = json.dumps(io)
    with pytest.raises(ContractError, match="ganfx.io") as exc:
        ModelSpec.from_metadata(md, path="bad.onnx")
    assert words in str(exc.value) and str(exc.value).startswith("bad.onnx: ")


def test_sound_without_noise_key_or_with_waves_is_refused(sound_model):
    md = _md(sound_model[0])
    noise = json.loads(md["ganfx.noise"])
    with pytest.raises(ContractError, match="required for sound models"):
        ModelSpec.from_metadata({k: v for k, v in md.items() if k != "ganfx.noise"}, path="x.onnx")
    md["ganfx.noise"] = json.dumps({**noise, "waves": [[0.1, 0.0]]})
    with pytest.raises(ContractError, match="sound models take no waves"):
        ModelSpec.from_metadata(md, path="x.onnx")


def test_any_span_equals_the_whole_render(sound_model):
    m = load_model(sound_model[0], threads=1)
    block = BLOCK_CELLS * m.spec.noise.stride
    whole = m.sound(3 * block + 123, seed=5)
    assert whole.shape == (1, 3 * block + 123) and np.isfinite(whole).all() and whole.std() > 0
    for first, count in ((0, 1), (block - 7, 20), (block + 1, 2 * block), (17, 3 * block + 100)):
        assert np.array_equal(m.sound(count, first=first, seed=5), whole[:, first:first + count])
    assert not np.array_equal(m.sound(500, seed=6), whole[:, :500])  # another seed, another sound


def test_loops_are_exact(sound_model):
    m = load_model(sound_model[0], threads=1)
    L = loop_samples(0.5, RATE, m.spec.noise.stride)
    assert L % m.spec.noise.stride == 0 and abs(L - 24000) < m.spec.noise.stride
    y = m.sound(2 * L + 10, seed=1, loop=L)
    assert np.array_equal(y[:, L:2 * L], y[:, :L]) and np.array_equal(y[:, 2 * L:], y[:, :10])
    assert not np.array_equal(y[:, :L], m.sound(L, seed=1))  # the loop wraps its noise: not a cut of the free sound
    with pytest.raises(UserInputError, match="whole number of noise cells"):
        m.sound(10, loop=L + 1)


def test_the_wrong_method_for_the_kind_is_named(sound_model):
    m = load_model(sound_model[0])
    with pytest.raises(UserInputError, match="sound model; use sound"):
        m.generate(16, 16)


def test_generate_writes_wavs_and_chunks_join_exactly(sound_model, tmp_path):
    model = sound_model[0]
    whole = tmp_path / "whole.wav"
    r = ganfx("generate", model, "-o", whole, "--seconds", 3, "--seed", 2)
    assert "x real time" in r.stdout
    rate, ch, a = read_wav(whole)
    assert (rate, ch, len(a)) == (RATE, 1, 3 * RATE)
    ganfx("generate", model, "-o", tmp_path / "part.wav", "--seconds", 3, "--seed", 2, "--range", "1.5-2.25")
    _, _, b = read_wav(tmp_path / "part.wav")
    assert np.array_equal(b, a[int(1.5 * RATE):int(2.25 * RATE)])
    ganfx("generate", model, "-o", tmp_path / "st.wav", "--seconds", 0.5, "--seed", 2, "--channels", 2)
    _, ch2, c = read_wav(tmp_path / "st.wav")
    assert ch2 == 2 and np.array_equal(c[:, 0], c[:, 1]) and np.array_equal(c[:, 0], a[:RATE // 2, 0])


def test_generate_loop_file_wraps(sound_model, tmp_path):
    out = tmp_path / "loop.wav"
    r = ganfx("generate", sound_model[0], "-o", out, "--seconds", 1, "--loop")
    assert "exact loop" in r.stdout
    _, _, y = read_wav(out)
    m = load_model(sound_model[0])
    L = len(y)
    nxt = m.sound(1, first=L, loop=L)[0, 0]
    assert np.round(nxt * 32767) == y[0, 0] or abs(nxt - m.sound(1, loop=L)[0, 0]) == 0


@pytest.mark.parametrize("extra, words", [
    ([], "give --seconds"),
    (["--seconds", "1", "--size", "64x64"], "--size, --frames and --tileable are for textures"),
    (["--seconds", "1", "--sample-format", "12"], "--sample-format takes 16, 24 or float"),
    (["--seconds", "2", "--range", "1-3"], "START < END <= --seconds"),
    (["--seconds", "1", "--param", "gain=99"], "above the maximum"),
    (["--seconds", "inf"], "give --seconds"),
    (["--seconds", "100000"], "more than a day"),
    (["--seconds", "50000"], "more than a WAV file holds"),
])
def test_generate_sound_bad_input_is_one_line(sound_model, tmp_path, extra, words):
    r = ganfx("generate", sound_model[0], "-o", tmp_path / "x.wav", *extra, check=False)
    assert r.returncode != 0 and words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_generate_sound_needs_an_audio_file(sound_model, tmp_path):
    r = ganfx("generate", sound_model[0], "-o", tmp_path / "x.png", "--seconds", 1, check=False)
    assert r.returncode != 0 and ".wav or .flac" in r.stderr


def test_eval_sound_reports_every_measure(sound_model, tmp_path):
    model, ex = sound_model
    png = tmp_path / "e.png"
    r = ganfx("eval", model, "--exemplar", ex, "--seconds", 1.5, "--seeds", 1, "--png", png, "--json")
    rep = json.loads(r.stdout)
    for key in ("stats", "spectrum", "copy"):
        assert set(rep[key]) == {"ganfx", "phase_randomised", "crop_shuffle"}
    assert rep["loop"]["next_equals_first"] is True
    assert rep["copy"]["crop_shuffle"] > rep["copy"]["phase_randomised"]
    assert rep["speed"]["realtime"] > 0 and png.stat().st_size > 1000


def test_train_sound_refuses_short_or_missing_exemplars(tmp_path):
    short = write_wav(tmp_path / "short.wav", np.zeros(1000))
    r = ganfx("train", "sound", short, "-o", tmp_path / "runs", "--iterations", 1, *TINY, check=False)
    assert r.returncode != 0 and "short.wav" in r.stderr and "at least one crop" in r.stderr
    r = ganfx("train", "sound", tmp_path / "none.wav", "-o", tmp_path / "runs", check=False)
    assert r.returncode != 0 and "none.wav" in r.stderr and "Traceback" not in r.stderr


def _audio_streams(path):
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        video_s = float(v.frames / v.average_rate) if v.frames else float(c.duration / 1e6)
        out = []
        for s in c.streams.audio:
            n = sum(f.samples for f in c.decode(s))
            out.append((s.codec_context.name, s.rate, n))
            c.seek(0)
        return video_s, out


def test_sound_muxed_under_a_generated_texture_video(sound_model, tmp_path):
    from onnx_models import make_texture_model

    tex = make_texture_model(tmp_path / "tex.onnx")
    out = tmp_path / "tex.mov"
    ganfx("generate", tex, "-o", out, "--size", "32x32", "--frames", 12, "--fps", 24, "--sound",
          f"{sound_model[0]}=-6", "--sound-seed", 4)
    seconds, streams = _audio_streams(out)
    assert len(streams) == 1 and streams[0][1] == RATE
    assert abs(streams[0][2] - seconds * RATE) <= 1024  # ends with the video, within one audio frame
    # PCM in a .mov: the samples are the sound model's own, 6 dB down (24-bit rounding aside)
    import av

    with av.open(str(out)) as c:
        got = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)]).astype(np.float64)
    got = got / 2**31 if np.abs(got).max() > 2 else got
    want = load_model(sound_model[0]).sound(len(got), seed=4)[0] * 10 ** (-6 / 20)
    assert np.abs(got - want).max() < 1e-4


def test_render_replaces_or_keeps_the_source_audio(sound_model, tmp_path):
    from media import make_clip
    from onnx_models import make_effect_model

    fx = make_effect_model(tmp_path / "fx.onnx")
    clip = make_clip(tmp_path / "plate.mp4", frames=12)
    ganfx("render", fx, clip, "-o", tmp_path / "a.mp4", "--sound", sound_model[0])
    ganfx("render", fx, clip, "-o", tmp_path / "b.mp4", "--sound", sound_model[0], "--keep-audio")
    _, a = _audio_streams(tmp_path / "a.mp4")
    _, b = _audio_streams(tmp_path / "b.mp4")
    assert len(a) == 1 and len(b) == 2
    ganfx("render", fx, clip, "-o", tmp_path / "part.mp4", "--frames", "6-11", "--sound", sound_model[0])
    seconds, part = _audio_streams(tmp_path / "part.mp4")
    assert abs(part[0][2] - seconds * RATE) <= 1024


@pytest.mark.parametrize("args, words", [
    (["--sound", "NOPE"], "no model named 'NOPE'"),
    (["--keep-audio"], "--keep-audio goes with --sound"),
    (["--sound", "SELF"], "--sound takes a sound model"),
])
def test_sound_option_errors(sound_model, tmp_path, args, words):
    from onnx_models import make_texture_model

    tex = make_texture_model(tmp_path / "tex.onnx")
    args = [str(tex) if a == "SELF" else a for a in args]
    r = ganfx("generate", tex, "-o", tmp_path / "t.mp4", "--size", "32x32", "--frames", 4, *args, check=False)
    assert r.returncode != 0 and words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "t.mp4").exists()


def test_sound_needs_a_video_output(sound_model, tmp_path):
    from onnx_models import make_texture_model

    tex = make_texture_model(tmp_path / "tex.onnx")
    r = ganfx("generate", tex, "-o", tmp_path / "t.####.png", "--size", "32x32", "--frames", 2, "--sound",
              sound_model[0], check=False)
    assert r.returncode != 0 and "a sound goes under a video output" in r.stderr
