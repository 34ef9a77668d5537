"""Sound model cards: the recording and its licence, the measures beside both baselines, the
loop seam, speed, spectrograms, and the commands that reproduce the model.

Written by `python -m ganfx.trainer.model_card` for a model whose contract kind is "sound"
(ganfx.trainer.model_card holds what every card shares), from `ganfx eval MODEL --exemplar
REC --json`.
"""

from __future__ import annotations

import shlex

from ganfx.runtime.errors import UserInputError

from .model_card import _closing, portable_path, threads_phrase
from .sound_eval import LABELS, METHODS


def check_sound_report(report: dict, source=None) -> None:
    missing = [k for k in ("stats", "spectrum", "copy", "loop", "speed", "goals") if k not in report]
    if missing:
        raise UserInputError(f"not a sound report (no {', '.join(missing)}); write it with "
                             "`ganfx eval MODEL --exemplar RECORDING --json`", path=source)


def sound_card(path, spec, config: dict, report: dict, data: str, notes: str, png: str, training_note: str,
               run_dir) -> list:
    tr = spec.training
    size_mb = path.stat().st_size / 1e6
    best = min(METHODS, key=lambda m: report["stats"][m])
    g, lp = report["goals"], report["loop"]
    lines = [
        f"# {spec.name} — ganfx sound model",
        "",
        spec.description,
        "",
        f"![spectrograms: exemplar | ganfx | phase-randomised noise | crop shuffle]({png or path.stem + '-eval.png'})",
        "",
        "*Top to bottom: log-magnitude spectrograms (0–24 kHz, 80 dB range) of the exemplar, this model (seed 0), "
        "phase-randomised noise and a shuffle of exemplar crops.*",
        "",
        "## Use",
        "",
        "```sh",
        f"ganfx generate {spec.name} -o {spec.name}.wav --seconds 30",
        f"ganfx generate {spec.name} -o {spec.name}-loop.wav --seconds 20 --loop --seed 2",
        f"ganfx render watercolor plate.mp4 -o out.mp4 --sound {spec.name}=-6",
        "```",
        "",
        f"File: `{path.name}` ({size_mb:.2f} MB). Output: {spec.output.channels} channel at {spec.rate} Hz. "
        f"Noise: {spec.noise.channels} channels per cell, {spec.noise.stride} samples per cell, halo "
        f"{spec.noise.halo} cells ({spec.halo} samples, {spec.halo / spec.rate * 1000:.0f} ms). onnxruntime vs torch "
        f"at export: max abs difference {spec.parity:.2e}.",
        "",
        "## Data and licence",
        "",
        data,
        "",
        f"Model licence: {spec.license}",
        "",
        "## Quality against the recording",
        "",
        f"Renders of {report['seconds']:g} s, mean over {report['seeds']} seeds per method, measured by `ganfx eval` "
        "(trainer/sound_metrics.py): the sound-texture statistics distance (McDermott & Simoncelli 2011: "
        "subband envelope moments, modulation power, cross-band envelope correlations; lower is closer), a "
        "multi-resolution log-spectrum distance (dB), and the copy share (100 ms windows whose best normalised "
        "cross-correlation with the recording exceeds 0.95).",
        "",
        "| method | statistics distance | log-spectrum distance (dB) | copy share |",
        "|---|---|---|---|",
    ]
    for m in METHODS:
        stat = f"**{report['stats'][m]:.4f}**" if m == best else f"{report['stats'][m]:.4f}"
        lines.append(f"| {LABELS[m]} | {stat} | {report['spectrum'][m]:.2f} | {100 * report['copy'][m]:.1f}% |")
    lines += [
        "",
        f"Statistics distance below phase randomisation: {'yes' if g['stats_beats_phase'] else '**no**'}. "
        f"Copies less than the crop shuffle: {'yes' if g['copies_less_than_shuffle'] else '**no**'}.",
        "",
        f"Loops ({lp['seconds']:.3f} s, one per seed): the sample after the last equals the first: "
        f"{'yes' if lp['next_equals_first'] else 'no'}; at the seam the sample-to-sample jump is "
        f"{lp['jump_ratio']:.2f}x and the high-frequency energy {lp['hf_ratio']:.2f}x the median of 200 other places "
        "(medians over the seeds; 1 = no click: a loop of noise that wraps its own noise field has no seam, so "
        "what is left is chance — in a crackling sound the seam may fall on a crackle like any other place).",
        "",
        f"Speed: {report['speed']['realtime']:.0f}x real time ({report['seconds']:g} s rendered in "
        f"{report['speed']['render_seconds']:.2f} s through onnxruntime on this machine's CPU).",
        "",
    ]
    minutes = (tr.get("training_seconds") or 0) / 60
    training = (f"{tr['iterations']} iterations, {minutes:.0f} minutes of training on "
                f"{threads_phrase(config['loop'])} of a shared 2-core CPU "
                f"(data fingerprint `{tr.get('data_fingerprint', '')}`).")
    lines += _closing(spec, config, notes, training, training_note, "ganfx.trainer.sound_task.SoundConfig",
                      f"ganfx eval {spec.name}.onnx --exemplar {shlex.quote(portable_path(report['exemplar'], run_dir))} "
                      f"--seconds {report['seconds']:g} --png {spec.name}-eval.png", False)
    return "\n".join(lines)
