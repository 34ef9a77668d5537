"""`--ray`: a local Ray cluster (2 CPUs) renders a short clip identical to the local render, also after one
worker process is killed mid-task (Ray restarts the actor and retries the chunk)."""

import os
import re
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from media import make_clip
from onnx_models import make_sound_model

pytest.importorskip("ray")


def _env(models):
    env = dict(os.environ, GANFX_MODELS=str(models), GANFX_THREADS="1", GANFX_RAY_CPUS="2", RAY_AUTH_MODE="disabled",
               RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1")
    return env


def _ganfx(env, *argv, **kw):
    return subprocess.Popen([sys.executable, "-m", "ganfx.plugin.cli", *map(str, argv)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def decoded(path):
    with av.open(str(path)) as c:
        return [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def audio_packets(path):
    with av.open(str(path)) as c:
        return [(p.pts, bytes(p)) for p in c.demux(audio=0) if p.size]


def test_ray_render_equals_the_local_render_after_a_worker_is_killed(tmp_path, user_models):
    clip = make_clip(tmp_path / "plate.mp4", frames=40, width=320, height=240)
    env = _env(user_models)
    out = tmp_path / "out.mkv"
    proc = _ganfx(env, "render", "testfx", clip, "-o", out, "--ray", "--plan", 10, "--quiet")
    killed, deadline = None, time.monotonic() + 120
    partial = re.compile(r"^\.out\.part\d{4}\.partial-(\d+)\.mkv$")
    while proc.poll() is None and time.monotonic() < deadline:
        if killed is None:
            for work in tmp_path.glob(".out.mkv.ray-*"):
                for entry in os.listdir(work) if work.is_dir() else ():
                    m = partial.match(entry)
                    if m:
                        killed = int(m.group(1))
                        os.kill(killed, signal.SIGKILL)  # a worker process dies mid-chunk
                        break
                if killed:
                    break
        time.sleep(0.005)
    out_text, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert killed is not None, "no chunk was caught in flight"
    local = tmp_path / "local.mkv"
    r = subprocess.run([sys.executable, "-m", "ganfx.plugin.cli", "render", "testfx", str(clip), "-o", str(local),
                        "--quiet"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a, b = decoded(out), decoded(local)
    assert len(a) == len(b) == 40
    assert all(pa == pb and np.array_equal(x, y) for (pa, x), (pb, y) in zip(a, b))
    assert audio_packets(out) == audio_packets(local)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.mkv", "out.mkv", "plate.mp4"]  # no leftovers


@pytest.mark.slow
def test_ray_sequence_and_sound_equal_local_renders(tmp_path, user_models):
    make_sound_model(user_models / "testsnd.onnx")
    clip = make_clip(tmp_path / "plate.mp4", frames=12)
    env = _env(user_models)
    for argv in (("render", "testfx", clip, "-o", tmp_path / "ray/f.####.png"),
                 ("generate", "testsnd", "-o", tmp_path / "ray.wav", "--seconds", 3, "--plan", 1)):
        p = _ganfx(env, *argv, "--ray")
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-3000:]
    for argv in (("render", "testfx", clip, "-o", tmp_path / "local/f.####.png"),
                 ("generate", "testsnd", "-o", tmp_path / "local.wav", "--seconds", 3)):
        p = _ganfx(env, *argv, "--quiet")
        assert p.wait(timeout=120) == 0
    ray_frames = sorted((tmp_path / "ray").iterdir())
    local_frames = sorted((tmp_path / "local").iterdir())
    assert [f.name for f in ray_frames] == [f.name for f in local_frames] and len(ray_frames) == 12
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(ray_frames, local_frames))
    assert (tmp_path / "ray.wav").read_bytes() == (tmp_path / "local.wav").read_bytes()
