"""A sequence render killed with SIGKILL midway, rerun with --resume, ends byte-identical to an
uninterrupted render; partial files of the dead process are removed by the rerun."""

import json
import os
import signal
import subprocess
import sys

from media import make_clip

FRAMES = 120


def _render(model, clip, out, *extra):
    return [sys.executable, "-m", "ganfx.plugin.cli", "render", str(model), str(clip), "-o", str(out), *extra]


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_sigkill_midway_then_resume_is_byte_identical(tmp_path, effect_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=FRAMES, width=96, height=64, audio=None)
    env = {**os.environ, "GANFX_THREADS": "1", "GANFX_MODELS": ""}
    whole, killed = tmp_path / "whole" / "o.####.png", tmp_path / "killed" / "o.####.png"
    subprocess.run(_render(effect_path, clip, whole, "--quiet"), env=env, check=True, capture_output=True,
                   timeout=300)

    child = subprocess.Popen(_render(effect_path, clip, killed, "--progress", "json"), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    done = 0
    for line in child.stdout:  # one JSON line per frame written: kill after a few
        if json.loads(line).get("event") == "frame":
            done += 1
            if done == 5:
                child.send_signal(signal.SIGKILL)
                break
    child.wait(timeout=60)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    folder = killed.parent
    written = [n for n in os.listdir(folder) if not n.startswith(".")]
    assert 5 <= len(written) < FRAMES, "the render finished before it could be killed"
    # Whatever frame it was writing when killed stays as a partial of a dead process; make sure one is there.
    stale = folder / f".o.{FRAMES - 1:04d}.partial-{child.pid}.png"
    stale.write_bytes(b"half a frame")
    kept = {n: (folder / n).read_bytes() for n in written}

    r = subprocess.run(_render(effect_path, clip, killed, "--resume", "--progress", "json"), env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rendered = [json.loads(x)["frame"] for x in r.stdout.splitlines() if json.loads(x)["event"] == "frame"]
    assert len(rendered) == FRAMES - len(written)  # frames already there were kept, not redone
    assert not [n for n in os.listdir(folder) if ".partial-" in n]
    assert all((folder / n).read_bytes() == data for n, data in kept.items())
    assert _files(folder) == _files(whole.parent)
