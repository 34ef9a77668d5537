"""The sound side of `ganfx generate`: a sound model to a wav or flac file.

    ganfx generate fire -o fire.wav --seconds 30 --loop --seed 3
    ganfx generate rain -o rain.flac --seconds 600 --sample-format 24 --channels 2
    ganfx generate fire -o part2.wav --seconds 600 --range 300-450     # farm chunk: samples 300 s..450 s

A chunk equals the same span of a whole render sample for sample (runtime/sound.py); with
`--loop` the file is one loop of `--seconds` (rounded to whole noise cells), whose next sample
would be its first.
"""

from __future__ import annotations

import re

SAMPLE_FORMATS = {"16": "s16", "24": "s24", "float": "f32"}
BYTES = {"s16": 2, "s24": 3, "f32": 4}
MAX_SECONDS = 24 * 3600  # a day of sound in one file; longer beds are farm chunks (--range)
WAV_LIMIT = 2**32 - 1 - 1024  # a RIFF size field is 32 bits


def parse_seconds_range(text: str, total: float) -> tuple:
    """"A-B" seconds inside [0, total] -> (A, B) floats; UserInputError otherwise."""
    from ganfx.runtime.errors import UserInputError

    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*-\s*(\d+(?:\.\d*)?)\s*", text or "")
    if not m:
        raise UserInputError(f"--range takes START-END in seconds for a sound (e.g. 30-60), got {text!r}")
    a, b = float(m.group(1)), float(m.group(2))
    if not a < b <= total + 1e-9:
        raise UserInputError(f"--range {text}: needs START < END <= --seconds ({total:g})")
    return a, b


def run_sound(args, model) -> int:
    import time
    from pathlib import Path

    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.sound import loop_samples, write_sound_file

    spec = model.spec
    if args.size or args.frames != 1 or args.tileable:
        raise UserInputError(f"{spec.name} is a sound model: --size, --frames and --tileable are for textures "
                             "(give --seconds)")
    import math

    if args.seconds is None or not args.seconds > 0 or not math.isfinite(args.seconds):
        raise UserInputError(f"{spec.name} is a sound model: give --seconds (a positive length)")
    if args.seconds > MAX_SECONDS:
        raise UserInputError(f"--seconds {args.seconds:g} is more than a day ({MAX_SECONDS} s); render longer beds "
                             "as chunks with --range")
    if getattr(args, "plan", None) is not None and getattr(args, "ray", None) is None:
        from ganfx.plugin.cli import plan

        return plan.emit(plan.sound_plan(args, model), args)
    if getattr(args, "ray", None) is not None:
        from ganfx.plugin.cli.ray_render import ray_render

        return ray_render(args, "sound", model=model)
    suffix = Path(args.output).suffix.lower()
    if suffix not in (".wav", ".flac"):
        raise UserInputError(f"a sound renders to .wav or .flac, got {args.output!r} (to put a sound under a "
                             "video, use --sound with a video output)", path=args.output)
    fmt = SAMPLE_FORMATS.get(str(args.sample_format))
    if fmt is None:
        raise UserInputError(f"--sample-format takes 16, 24 or float, got {args.sample_format!r}")
    rate = spec.rate
    params = spec.coerce_params({k: v for k, v in _params(args).items()})
    total = int(round(args.seconds * rate))
    loop = None
    if args.loop:
        loop = loop_samples(args.seconds, rate, spec.noise.stride)
        total = loop
    first, count = 0, total
    if args.chunk is not None:
        a, b = parse_seconds_range(args.chunk, total / rate)
        first, count = int(round(a * rate)), int(round(b * rate)) - int(round(a * rate))
    channels = args.channels or spec.output.channels
    if suffix == ".wav" and count * channels * BYTES[fmt] > WAV_LIMIT:
        label = "float" if fmt == "f32" else f"{args.sample_format}-bit"
        raise UserInputError(f"{count / rate:.0f} s of {channels}-channel {label} audio is more than a "
                             "WAV file holds (4 GiB); write .flac, fewer seconds, or chunks with --range",
                             path=args.output)
    renderer = model.sound_renderer(seed=int(params["seed"]), loop=loop)
    from ganfx.plugin.cli.render_cmd import stop_on_sigterm

    stop_on_sigterm()  # a farm's SIGTERM stops the render like Ctrl-C: the partial file is removed
    bar = None
    if not args.quiet and args.progress == "bar":
        from tqdm import tqdm

        bar = tqdm(total=count, unit="smp", unit_scale=True, desc=spec.name, leave=False)
    start = time.perf_counter()
    try:
        write_sound_file(args.output, renderer, first, count, rate, fmt, args.channels, float(params["gain"]),
                         overwrite=args.overwrite, progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    if not args.quiet and args.progress == "bar":
        loop_note = f", an exact loop of {loop / rate:.6g} s" if loop else ""
        print(f"wrote {args.output}: {count / rate:.3f} s at {rate} Hz{loop_note} in {seconds:.1f} s "
              f"({count / rate / max(seconds, 1e-9):.0f}x real time)")
    return 0


def _params(args) -> dict:
    from ganfx.plugin.cli.render_cmd import parse_params

    params = parse_params(args.param)
    if args.seed is not None:
        params["seed"] = str(args.seed)
    if args.gain is not None:
        params["gain"] = str(args.gain)
    return params
