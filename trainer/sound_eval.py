"""Evaluate an exported sound model against its exemplar and the two baselines of sound texture.

Runs the ONNX file through the runtime (what users get; no torch):

    report = evaluate_sound("fire", "fire_large.ogg", png="fire-eval.png")
    report["stats"]["ganfx"], report["stats"]["phase_randomised"], report["stats"]["crop_shuffle"]

Each method makes `seconds` of sound for `seeds` seeds: ganfx through the runtime,
phase-randomised noise with the exemplar's spectrum, and a shuffle of 1 s exemplar crops joined
with crossfades (the quilting of sound). Per method, averaged over the seeds
(trainer/sound_metrics.py defines each measure):

    report["stats"]       # sound-texture statistics distance to the exemplar (McDermott & Simoncelli 2011)
    report["spectrum"]    # multi-resolution log-spectrum distance, dB
    report["copy"]        # share of 100 ms windows with NCC > 0.95 to the exemplar
    report["goals"]       # {"stats_beats_phase": bool, "copies_less_than_shuffle": bool}
    report["loop"]        # exact loops (sample L equals sample 0, every seed); seam click ratios, median over seeds
                          # (1 = like anywhere else)
    report["speed"]       # x real time of the runtime render at the model's rate

The PNG stacks spectrograms: exemplar | ganfx | phase randomised | crop shuffle (seed 0).
"""

from __future__ import annotations

import time

import numpy as np

METHODS = ("ganfx", "phase_randomised", "crop_shuffle")
LABELS = {"ganfx": "ganfx", "phase_randomised": "phase-randomised noise", "crop_shuffle": "crop shuffle"}


def load_exemplar_sound(path, rate: int) -> np.ndarray:
    """The exemplar at `rate`, mono. # -> [n] float32"""
    from ganfx.runtime.files import check_regular_file
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.io.audiofile import read_audio

    check_regular_file(path, UserInputError, missing="exemplar not found")
    samples, _ = read_audio(path, rate=rate, channels=1)
    return np.ascontiguousarray(samples[0], np.float32)


def evaluate_sound(model, exemplar, seeds: int = 3, seconds: float = 10.0, png=None, model_obj=None) -> dict:
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.model import load_model
    from ganfx.runtime.sound import loop_samples

    from .sound_baselines import crop_shuffle, phase_randomised
    from .sound_metrics import (copy_share, seam_click, spectrogram_png, spectrum_distance, statistics_distance,
                                texture_statistics)

    if seeds < 1:
        raise UserInputError(f"seeds must be >= 1, got {seeds}")
    if not seconds > 0:
        raise UserInputError(f"seconds must be positive, got {seconds}")
    m = model_obj or load_model(model)
    if m.spec.kind != "sound":
        raise UserInputError(f"{m.spec.name} is {m.spec.what}, not a sound", path=m.path)
    rate = m.spec.rate
    ex = load_exemplar_sound(exemplar, rate)
    if len(ex) < rate:
        raise UserInputError(f"the exemplar is {len(ex) / rate:.2f} s long; measuring needs at least 1 s",
                             path=exemplar)
    n = int(round(seconds * rate))
    ex_stats = texture_statistics(ex, rate)  # the exemplar's side of every statistics distance, once
    render_times = []

    def ganfx(seed):
        t0 = time.perf_counter()
        y = m.sound(n, seed=seed)[0]
        render_times.append(time.perf_counter() - t0)
        return y

    makers = {
        "ganfx": ganfx,
        "phase_randomised": lambda s: phase_randomised(ex, n, seed=s),
        "crop_shuffle": lambda s: crop_shuffle(ex, n, seed=s, rate=rate),
    }
    per = {k: {meth: [] for meth in METHODS} for k in ("stats", "spectrum", "copy")}
    first = {}
    for meth in METHODS:
        for seed in range(seeds):
            y = np.asarray(makers[meth](seed), np.float32).reshape(-1)
            if seed == 0:
                first[meth] = y
            per["stats"][meth].append(float(statistics_distance(y, ex, rate, stats_b=ex_stats)))
            per["spectrum"][meth].append(float(spectrum_distance(y, ex, rate)))
            per["copy"][meth].append(float(copy_share(y, ex, rate)))
    mean = {k: {meth: float(np.mean(v)) for meth, v in d.items()} for k, d in per.items()}

    # An exact loop per seed: one loop plus its next sample; its seam measured like any other place
    # (median over the seeds: in a crackling sound any one place, the seam included, may be a click).
    L = loop_samples(min(seconds, 5.0), rate, m.spec.noise.stride)
    exact, clicks = [], []
    for seed in range(seeds):
        looped = m.sound(L + 1, seed=seed, loop=L)[0]
        exact.append(bool(looped[L] == looped[0]))
        clicks.append(seam_click(looped[:L], rate))
    loop = {"samples": int(L), "seconds": L / rate, "next_equals_first": all(exact),
            **{k: float(np.median([c[k] for c in clicks])) for k in clicks[0]},
            "per_seed": [{k: float(v) for k, v in c.items()} for c in clicks]}

    report = {
        "kind": "sound", "model": m.spec.name, "rate": rate, "seconds": seconds, "seeds": seeds,
        "exemplar": str(exemplar), "exemplar_seconds": len(ex) / rate,
        "stats": mean["stats"], "spectrum": mean["spectrum"], "copy": mean["copy"],
        "per_seed": per,
        "goals": {"stats_beats_phase": mean["stats"]["ganfx"] <= mean["stats"]["phase_randomised"],
                  "copies_less_than_shuffle": mean["copy"]["ganfx"] < mean["copy"]["crop_shuffle"]},
        "loop": loop,
        "speed": {"realtime": seconds / float(np.median(render_times)), "render_seconds": float(np.median(render_times))},
    }
    if png is not None:
        k = min(len(ex), n, 8 * rate)
        spectrogram_png(png, [("exemplar", ex[:k])] + [(LABELS[meth], first[meth][:k]) for meth in METHODS], rate)
        report["png"] = str(png)
    return report


def format_report(r: dict) -> str:
    lines = [f"{r['model']}: {r['seconds']:g} s at {r['rate']} Hz, {r['seeds']} seed(s), against "
             f"{r['exemplar']} ({r['exemplar_seconds']:.1f} s)",
             f"  {'method':24s} {'stats dist':>10s} {'spectrum dB':>11s} {'copy':>6s}"]
    for meth in METHODS:
        lines.append(f"  {LABELS[meth]:24s} {r['stats'][meth]:10.4f} {r['spectrum'][meth]:11.2f} "
                     f"{100 * r['copy'][meth]:5.1f}%")
    g = r["goals"]
    lines.append(f"  statistics distance below phase randomisation: {'yes' if g['stats_beats_phase'] else 'NO'}; "
                 f"copies less than the crop shuffle: {'yes' if g['copies_less_than_shuffle'] else 'NO'}")
    lp = r["loop"]
    lines.append(f"  loops of {lp['seconds']:.3f} s: next sample equals the first: "
                 f"{'yes' if lp['next_equals_first'] else 'NO'}; seam jump ratio {lp['jump_ratio']:.2f}, "
                 f"high-frequency ratio {lp['hf_ratio']:.2f} (medians over the seeds; 1 = like anywhere else)")
    lines.append(f"  speed: {r['speed']['realtime']:.0f}x real time")
    if r.get("png"):
        lines.append(f"  wrote {r['png']}")
    return "\n".join(lines)
