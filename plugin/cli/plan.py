"""Farm job plans: `ganfx render|generate ... --plan CHUNK` prints one command per chunk and the join.

    ganfx render watercolor plate.mov -o out.mov --plan 48
    ganfx render M plate.mov -o out.mov --frames 0-47 --codec prores          # chunk 1
    ganfx render M plate.mov -o out.mov --frames 48-95 --codec prores         # (outputs out.part0001.mov, ...)
    ganfx concat out.part0001.mov out.part0002.mov -o out.mov --audio-from plate.mov

Each line is a complete command for Deadline, OpenCue, Tractor or a shell loop (`--json`
prints the same plan as JSON, `--json FILE` also writes it to FILE). Chunks of an image
sequence write their own frames (no join); chunks of a video write segments NAME.partNNNN.EXT
joined without re-encoding by `ganfx concat`. An h264/h265 chunk is encoded in closed GOPs of
a fixed length at a constant quantiser (`--gop`, the chunk size unless given; it must divide the
chunk size), so the join is frame for frame the single render made with the same `--gop`;
chunks of a sound (CHUNK in seconds) write wav
segments joined sample for sample by `ganfx concat`. A generated sound under a video
(`--sound`) is left out of the chunks and rendered once by the join.

The chunk commands are rebuilt from the parsed options (not from the raw command line), with
every path made absolute: farm workers do not share the submitter's working folder.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from fractions import Fraction
from pathlib import Path

PLAN_FLAGS = ("plan", "json", "ray")  # never copied into a chunk's command
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
SOUND_FLAGS = ("sound", "sound_seed", "keep_audio")


def add_plan_arguments(parser) -> None:
    """--plan, --json and --ray: render and generate (not add_common_arguments)."""
    group = parser.add_argument_group("farms and clusters")
    group.add_argument("--plan", type=float, metavar="CHUNK",
                       help="print a job plan instead of rendering: one command per chunk of CHUNK frames "
                            "(a sound: seconds) and the command that joins them")
    group.add_argument("--json", nargs="?", const="-", metavar="FILE",
                       help="with --plan: the plan as JSON on stdout, or written to FILE")
    group.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="render the chunks on a Ray cluster (a local one without ADDRESS; pip install "
                            "\"ganfx[ray]\"); with --plan, CHUNK sets the chunk size")


def segment_name(output, index: int) -> str:
    """out.mp4, 1 -> out.part0001.mp4 (beside the output)."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}.part{index:04d}{p.suffix}"))


def chunk_ranges(first: int, last: int, size: int) -> list:
    return [(a, min(a + size - 1, last)) for a in range(first, last + 1, size)]


def _subparser(command: str):
    from ganfx.plugin.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices[command]


def _looks_like_path(value: str) -> bool:
    return os.sep in value or value.lower().endswith(".onnx") or Path(value).exists()


def rebuild_argv(args, command: str, replace: dict, drop=()) -> list:
    """The command line of `args` (ganfx COMMAND ...), with `replace` {dest: value or None} applied.

    Options at their defaults are left out; paths (input, output, matte, a model file) are made
    absolute. A `replace` value of None removes the option.
    """
    sub = _subparser(command)
    out = ["ganfx", command]
    for action in sub._actions:
        dest = action.dest
        if dest in ("help",) or dest in PLAN_FLAGS or dest in drop or dest.startswith("_"):
            continue
        value = replace[dest] if dest in replace else getattr(args, dest, action.default)
        if dest in ("input", "output", "matte") and value is not None:
            value = os.path.abspath(value)
        if dest == "model" and _looks_like_path(str(value)):
            value = os.path.abspath(value)
        if not action.option_strings:
            out.append(str(value))
            continue
        if value is None or value == action.default:
            continue
        flag = max(action.option_strings, key=len)
        if action.nargs == 0:
            if value:
                out.append(flag)
        elif isinstance(value, list):
            for v in value:
                out += [flag, str(v)]
        else:
            out += [flag, str(value)]
    return out


def _sound_value(text: str) -> str:
    """--sound MODEL[=DB] with a model file's path made absolute."""
    from ganfx.plugin.cli.render_cmd import parse_sound

    name, gain = parse_sound(text)
    if not _looks_like_path(name):
        return text
    return os.path.abspath(name) + (text[len(name):] if text.startswith(name) else "")


def _chunk_size(args, integer=True):
    from ganfx.runtime.errors import UserInputError

    size = args.plan
    if not size > 0 or (integer and size != int(size)):
        raise UserInputError(f"--plan takes a whole number of frames per chunk (at least 1), got {size:g}")
    return int(size) if integer else float(size)


def _seconds(samples: int, rate: int) -> str:
    return f"{samples / rate:.10f}".rstrip("0").rstrip(".") or "0"


# -- the plans --------------------------------------------------------------------------------

def render_plan(args) -> dict:
    """The plan of a `ganfx render` (args parsed by render_cmd)."""
    from ganfx.runtime.io import open_reader

    size = _chunk_size(args)
    with open_reader(args.input) as reader:
        p = reader.properties
    first, last = render_span(args, p)
    trimmed = (first, last) != (p.first_frame, p.last_frame)
    rate = p.frame_rate or Fraction(args.fps or 24)
    join_extra = []
    if p.audio and (args.sound is None or args.keep_audio):
        join_extra += ["--audio-from", os.path.abspath(args.input)]
    if trimmed:
        join_extra += ["--start-frame", str(first - p.first_frame)]
    return _frame_plan(args, "render", "frames", first, last, size, rate, join_extra, is_pattern(args.output))


def render_span(args, p) -> tuple:
    """(first, last) frames a `ganfx render` covers: --frames, else the whole source (`p`, its properties)."""
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.pipeline import parse_frame_range

    first, last = parse_frame_range(args.frames) if args.frames is not None else (p.first_frame, p.last_frame)
    if first < p.first_frame or last > p.last_frame:
        raise UserInputError(f"frames {first}-{last} are outside the source's frames {p.first_frame}-{p.last_frame}",
                             path=args.input, about="frames")
    return first, last


def generate_span(args) -> tuple:
    """(first, last) frames a texture `ganfx generate` covers: --range, else all --frames."""
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.pipeline import parse_frame_range

    if args.frames < 1:
        raise UserInputError(f"--frames must be at least 1, got {args.frames}")
    first, last = parse_frame_range(args.chunk, "range") if args.chunk is not None else (0, args.frames - 1)
    if first < 0 or last > args.frames - 1:
        raise UserInputError(f"frames {first}-{last} are outside the {args.frames} frames 0-{args.frames - 1}",
                             about="range")
    return first, last


def generate_plan(args) -> dict:
    """The plan of a texture `ganfx generate`."""
    size = _chunk_size(args)
    first, last = generate_span(args)
    join_extra = ["--start-frame", str(first)] if first else []
    from ganfx.plugin.cli.render_cmd import parse_fps

    return _frame_plan(args, "generate", "chunk", first, last, size, parse_fps(args.fps), join_extra,
                       is_pattern(args.output))


def is_pattern(path) -> bool:
    """True for a sequence pattern (shot.####.exr), which chunks can share; a still is one job."""
    from ganfx.runtime.io.sequence import parse_pattern

    return parse_pattern(path) is not None


def _frame_plan(args, command, range_dest, first, last, size, rate, join_extra, sequence) -> dict:
    from ganfx.runtime.errors import UserInputError

    output = os.path.abspath(args.output)
    video = Path(output).suffix.lower() in VIDEO_SUFFIXES
    if not sequence and not video:
        raise UserInputError("--plan needs an image-sequence (shot.####.exr) or video output; a single image is "
                             "one job", path=args.output)
    gop = _plan_gop(args, output, size) if video else None
    chunks = []
    for i, (a, b) in enumerate(chunk_ranges(first, last, size), 1):
        replace = {range_dest: f"{a}-{b}"}
        drop = ()
        if video:
            replace["output"] = segment_name(output, i)
            drop = SOUND_FLAGS  # the join renders the sound once, over the whole duration
            if gop is not None:
                replace["gop"] = gop
        argv = rebuild_argv(args, command, replace, drop)
        chunks.append({"index": i, "first": a, "last": b, "frames": b - a + 1,
                       "output": replace.get("output", output), "argv": argv})
    join = None
    if video:
        argv = ["ganfx", "concat", *(c["output"] for c in chunks), "-o", output, *join_extra]
        if args.sound is not None:
            argv += ["--sound", _sound_value(args.sound)]
            if args.sound_seed:
                argv += ["--sound-seed", str(args.sound_seed)]
            if args.keep_audio:
                argv.append("--keep-audio")
        if args.overwrite:
            argv.append("--overwrite")
        join = {"argv": argv}
    return {"version": 1, "command": command, "kind": "video" if video else "sequence", "output": output,
            "first": first, "last": last, "frame_rate": str(rate), "chunk": size, "gop": gop, "chunks": chunks,
            "join": join}


def _plan_gop(args, output, size: int):
    """The GOP length of h264/h265 chunks (--gop, else the chunk size); None for intra codecs."""
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.io.pyav import GOP_CODECS, check_gop, pick_codec

    if getattr(args, "writer", None) == "opencv":
        return args.gop
    name, _ = pick_codec(Path(output), args.codec, False, 8)
    check_gop(name, args.gop, output)
    if name not in GOP_CODECS:
        return None
    gop = args.gop or size
    if size % gop:
        raise UserInputError(f"chunks of {size} frames are not whole GOPs of {gop}; give a --plan chunk that "
                             f"{gop} divides", about="gop")
    return gop


def sound_plan(args, model) -> dict:
    """The plan of a sound `ganfx generate` (CHUNK in seconds; wav segments)."""
    from ganfx.plugin.cli.generate_sound import parse_seconds_range
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.sound import loop_samples

    size = _chunk_size(args, integer=False)
    if args.seconds is None or not args.seconds > 0:
        raise UserInputError(f"{model.spec.name} is a sound model: give --seconds (a positive length)")
    output = os.path.abspath(args.output)
    if Path(output).suffix.lower() != ".wav":
        raise UserInputError("a sound plan writes wav segments joined sample for sample: give a .wav output "
                             "(convert the joined file to flac afterwards)", path=args.output)
    rate = model.spec.rate
    total = loop_samples(args.seconds, rate, model.spec.noise.stride) if args.loop else int(round(args.seconds * rate))
    first, end = 0, total
    if args.chunk is not None:
        a, b = parse_seconds_range(args.chunk, total / rate)
        first, end = int(round(a * rate)), int(round(b * rate))
    step = max(1, int(round(size * rate)))
    chunks = []
    for i, a in enumerate(range(first, end, step), 1):
        b = min(a + step, end)
        replace = {"chunk": f"{_seconds(a, rate)}-{_seconds(b, rate)}", "output": segment_name(output, i)}
        argv = rebuild_argv(args, "generate", replace)
        chunks.append({"index": i, "first_sample": a, "samples": b - a, "start_s": a / rate, "end_s": b / rate,
                       "output": replace["output"], "argv": argv})
    argv = ["ganfx", "concat", *(c["output"] for c in chunks), "-o", output]
    if args.overwrite:
        argv.append("--overwrite")
    return {"version": 1, "command": "generate", "kind": "sound", "output": output, "rate": rate,
            "first_sample": first, "samples": end - first, "chunk": size, "chunks": chunks, "join": {"argv": argv}}


def emit(plan: dict, args, stream=None) -> int:
    """Print the plan (one command a line, then the join), or its JSON; write --json FILE."""
    from ganfx.runtime.files import write_atomic

    stream = stream or sys.stdout
    for item in [*plan["chunks"], *([plan["join"]] if plan["join"] else [])]:
        item["command"] = shlex.join(item["argv"])
    text = json.dumps(plan, indent=2) + "\n"
    if args.json not in (None, "-"):
        write_atomic(args.json, text)
    if args.json == "-":
        stream.write(text)
    else:
        for item in [*plan["chunks"], *([plan["join"]] if plan["join"] else [])]:
            stream.write(item["command"] + "\n")
    stream.flush()
    return 0


def check_flags(args) -> None:
    from ganfx.runtime.errors import UserInputError

    if args.json is not None and args.plan is None:
        raise UserInputError("--json goes with --plan (it prints the job plan as JSON)")
