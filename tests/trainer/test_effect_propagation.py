"""Keyframe propagation along optical flow (the baseline of `ganfx eval` for effects)."""

import json

import numpy as np
import pytest
from effect_fixtures import make_clip, make_keyframes, shift_filter

from ganfx.trainer.effect_eval import far_frames, gap_to_keyframe
from ganfx.trainer.effect_metrics import psnr
from ganfx.trainer.propagation import propagate, shots_from_flows

STEP = 3  # px per frame


def texture(seed: int, size=(96, 200)) -> np.ndarray:
    """Smooth random colours with grain at two scales, nothing periodic (stripes would alias the
    flow of a large shift onto the next stripe). # -> [H,W,3] uint8"""
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.random((6, 8, 3)).astype(np.float32), size[::-1], interpolation=cv2.INTER_CUBIC) * 255
    for sigma, amplitude in ((1.5, 300), (5, 600)):
        img += (cv2.GaussianBlur(rng.random(size + (3,)).astype(np.float32), (0, 0), sigma) - 0.5) * amplitude
    return np.clip(img, 0, 255).astype(np.uint8)


def pan(frames: int = 13, seed: int = 0, width: int = 128) -> list:
    """A camera panning right over a texture by STEP px per frame. # -> frames x [96,width,3] uint8"""
    big = texture(seed, (96, width + STEP * frames))
    return [np.ascontiguousarray(big[:, STEP * t: STEP * t + width]) for t in range(frames)]


def colour_transform(rgb: np.ndarray) -> np.ndarray:
    """The 'artist's' fixed look: channels rotated, contrast down, lifted. # uint8 -> uint8"""
    return np.clip(rgb[..., [2, 0, 1]].astype(np.float32) * 0.8 + 30, 0, 255).astype(np.uint8)


def test_pan_is_propagated_near_perfectly():
    clip = pan()
    painted = {0: colour_transform(clip[0]), 12: colour_transform(clip[12])}
    prop = propagate(clip, painted)
    assert prop.flow == "direct" and prop.keyframes == [0, 12] and set(prop.shots) == {0}
    for t in (3, 6, 9):
        want = colour_transform(clip[t])
        blend = psnr(prop.frames["blend"][t], want)
        assert blend > 35, (t, blend)  # both sides cover what enters the frame
        assert prop.sources[t] == (0, 12) and prop.same_shot[t]
    assert np.array_equal(prop.frames["blend"][12], painted[12])  # keyframes are kept as painted
    # the nearest keyframe alone misses the strip that entered the frame since, but inside it is exact
    t = 6
    near, want = prop.frames["nearest"][t], colour_transform(clip[t])
    inside = slice(0, -STEP * t - 2)
    assert psnr(near[:, inside], want[:, inside]) > 35 and psnr(near, want) < psnr(prop.frames["blend"][t], want) - 5
    chained = propagate(clip, painted, flow="chained", frames=[6])
    assert psnr(chained.frames["blend"][6], want) > 30 and chained.frames["blend"][5] is None


def test_propagation_fails_without_motion_to_follow():
    """Random content (no frame follows from the last): what propagation makes is far from the target."""
    clip = pan()
    rng = np.random.default_rng(3)
    noise = [(rng.random(clip[0].shape) * 255).astype(np.uint8) for _ in clip]
    moving = propagate(clip, {0: colour_transform(clip[0]), 12: colour_transform(clip[12])}, frames=[6])
    random = propagate(noise, {0: colour_transform(noise[0]), 12: colour_transform(noise[12])}, frames=[6])
    good = psnr(moving.frames["blend"][6], colour_transform(clip[6]))
    bad = max(psnr(random.frames[v][6], colour_transform(noise[6])) for v in ("nearest", "blend"))
    assert bad < 15 and good > bad + 20
    assert not random.same_shot[6]  # every pair is a cut: no keyframe shares frame 6's shot


def test_keyframes_do_not_cross_cuts():
    a, b = pan(6, seed=0), pan(6, seed=7)
    clip = a + b  # a cut between frames 5 and 6
    painted = {0: colour_transform(clip[0]), 7: colour_transform(clip[7])}
    prop = propagate(clip, painted, frames=[4, 9])
    assert prop.shots == [0] * 6 + [1] * 6
    assert prop.sources[4] == (0,) and prop.sources[9] == (7,)  # 7 is nearer to 4, but in the next shot
    inside = slice(0, -STEP * 4 - 2)  # what entered the frame since keyframe 0 is unknown to it
    assert psnr(prop.frames["blend"][4][:, inside], colour_transform(clip[4])[:, inside]) > 35
    inside = slice(0, -STEP * 2 - 2)
    assert psnr(prop.frames["blend"][9][:, inside], colour_transform(clip[9])[:, inside]) > 35
    across = propagate(clip, {7: painted[7]}, frames=[4])  # a shot without a keyframe: across the cut, flagged
    assert across.sources[4] == (7,) and not across.same_shot[4]
    assert psnr(across.frames["blend"][4], colour_transform(clip[4])) < 15


def test_far_frames_pick_within_shots():
    shots = [0] * 10 + [1] * 10 + [2] * 5  # shot 2 has no keyframe: nothing in it is picked
    assert far_frames(2, [2, 15], shots) == [9, 10]
    picks = far_frames(5, [2, 15], shots)
    assert len(picks) == 5 and not set(picks) & {2, 15} and max(picks) < 20
    assert far_frames(100, [2, 15], shots) == [t for t in range(20) if t not in (2, 15)]
    assert gap_to_keyframe(9, [2, 15], shots) == 7 and gap_to_keyframe(22, [2, 15], shots) is None
    assert shots_from_flows([1, None, 1]) == [0, 0, 1, 1]


# -- `ganfx eval` with a tiny real effect model ----------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny effect model trained for 2 steps on keyframes 1 and 8 of a 10-frame pan, exported."""
    from ganfx.trainer.config import LoopConfig
    from ganfx.trainer.effect_data import read_clip_frames
    from ganfx.trainer.effect_footage import write_clip
    from ganfx.trainer.effect_task import EffectConfig, EffectTask
    from ganfx.trainer.export import export_run
    from ganfx.trainer.loop import train

    root = tmp_path_factory.mktemp("prop")
    clip = make_clip(root / "pan.mp4", frames=10)
    kf, held = make_keyframes(root / "kf", clip, [1, 8]), make_keyframes(root / "held", clip, [4, 6])
    frames = read_clip_frames(clip, range(10))
    treated = write_clip(root / "treated.mp4", [shift_filter(frames[i]) for i in range(10)])
    task = EffectTask(EffectConfig(video=str(clip), keyframes=str(kf), name="tiny", patch=32, batch=2, g_width=8,
                                   g_blocks=1, d_width=8))
    result = train(task, LoopConfig(iterations=2, threads=1, progress=False), root / "run", log=lambda *a: None)
    model, _ = export_run(result.run_dir, root / "tiny.onnx")
    return {"model": model, "clip": clip, "kf": kf, "held": held, "treated": treated}


def test_eval_reports_model_beside_propagation(tmp_path, tiny, capsys):
    from ganfx.plugin.cli import main
    from ganfx.trainer.effect_data import read_image

    png = tmp_path / "side.png"
    args = ["eval", str(tiny["model"]), "--video", str(tiny["clip"]), "--propagate-from", str(tiny["kf"])]
    assert main(args + ["--keyframes", str(tiny["held"]), "--png", str(png), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    p, c = report["propagation"], report["comparison"]
    assert p["keyframes"] == [1, 8] and p["flow"] == "direct" and p["method"] in ("nearest", "blend")
    assert set(p["variants"]) == {"nearest", "blend"}
    for v in p["variants"].values():
        assert 10 < v["psnr"] < 60 and 0 < v["ssim"] <= 1 and v["ratio"] > 0
    assert p["psnr"] == max(v["psnr"] for v in p["variants"].values())
    assert set(c) == {"model", "propagation", "psnr_gain_db"} and set(c["model"]) == {"psnr", "ssim", "look", "ratio"}
    assert c["model"]["look"] == pytest.approx(np.mean([r["look"] for r in report["per_pair"]]))
    assert all(r["look"] > 0 and r["propagation_look"] > 0 for r in report["per_pair"])
    assert "look_floor" not in report  # shift_filter draws nothing at random
    assert c["psnr_gain_db"] == pytest.approx(report["psnr"] - p["psnr"])
    assert [r["gap"] for r in report["per_pair"]] == [3, 2] and "propagation_psnr" in report["per_pair"][0]
    # a shift_filter look propagated along a real pan (22.7 dB): well above a model trained for 2 steps (18.0)
    assert p["psnr"] > report["psnr"] + 2
    side = read_image(png)
    assert side.shape[1] == 4 * 320  # input | propagation | model | target

    assert main(args + ["--far", "3", "--reference", str(tiny["treated"]), "--png", str(png), "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert "held-out pairs: 3" in text and "model vs keyframe propagation (keyframes 1, 8;" in text
    assert "picked farthest from the keyframes: 0, 4, 6 (targets: video treated.mp4)" in text
    assert "propagation, blend" in text and "propagation, nearest" in text and "dB" in text.splitlines()[-1]
    # farthest from 1 and 8: 4 (3 frames, before 5), then 6 (2 from 4 and 8), then the earliest of the rest
    assert [line.split(":")[0].strip() for line in text.splitlines() if ": PSNR" in line] == ["0", "4", "6"]


def test_eval_look_floor_repaints_a_seeded_teacher(tmp_path, tiny, capsys):
    """With the painterly teacher as the reference, the floor is the teacher repainted with other seeds."""
    from ganfx.plugin.cli import main
    from ganfx.trainer.effect_data import read_clip_frames
    from ganfx.trainer.effect_metrics import look_distance
    from ganfx.trainer.effect_targets import apply_process

    args = ["eval", str(tiny["model"]), "--video", str(tiny["clip"]), "--propagate-from", str(tiny["kf"]),
            "--far", "2", "--reference", "painterly", "--png", str(tmp_path / "side.png"), "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    frames = read_clip_frames(tiny["clip"], report["heldout"]["frames"])
    repainted = [look_distance(apply_process("painterly", frames[n], frame=n + 1000),
                               apply_process("painterly", frames[n], frame=n)) for n in report["heldout"]["frames"]]
    assert report["look_floor"] == pytest.approx(np.mean(repainted)) and report["look_floor"] > 0


@pytest.mark.parametrize("case", ["far-alone", "no-heldout", "overlap", "far-source", "pairs"])
def test_eval_propagation_errors_one_line(tmp_path, tiny, capsys, case):
    from effect_fixtures import make_pairs

    from ganfx.plugin.cli import main

    args = ["eval", str(tiny["model"]), "--video", str(tiny["clip"])]
    if case == "far-alone":
        args += ["--far", "2"]
        want = "--far picks frames far from the keyframes: give them with --propagate-from DIR"
    elif case == "no-heldout":
        args += ["--propagate-from", str(tiny["kf"])]
        want = "give --keyframes DIR or --far N"
    elif case == "overlap":
        args += ["--propagate-from", str(tiny["kf"]), "--keyframes", str(make_keyframes(tmp_path / "h", tiny["clip"],
                                                                                           [4, 8]))]
        want = "frames [8] are both keyframes the propagation starts from and held out"
    elif case == "far-source":
        args += ["--propagate-from", str(tiny["kf"]), "--far", "2", "--reference", "source"]
        want = "take their targets from the reference effect"
    else:
        args += ["--propagate-from", str(tiny["kf"]), "--pairs", str(make_pairs(tmp_path / "p", size=(64, 64)))]
        want = "not --pairs"
    assert main(args + ["--png", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and want in err, err
    assert not (tmp_path / "x.png").exists()
