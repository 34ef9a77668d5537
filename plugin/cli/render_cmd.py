"""`ganfx render MODEL INPUT -o OUTPUT`: apply an effect model to a video, a sequence or a still.

    ganfx render watercolor plate.mov -o out.mov --codec prores
    ganfx render watercolor plates/shot.####.exr -o out/shot.####.exr --frames 1001-1050 --resume
    ganfx render watercolor clip.mp4 -o out.mp4 --param strength=0.6 --progress json
    ganfx render watercolor plate.mov -o out.mov --matte roto.mov     # the effect only where the matte is white
"""

from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("model", help="effect model name (see `ganfx models`) or path to an .onnx file")
    parser.add_argument("input", help="video (mp4/mov/mkv), sequence pattern (shot.####.exr, shot.%%04d.png) or image")
    parser.add_argument("-o", "--output", required=True, help="video, sequence pattern or image to write")
    parser.add_argument("--frames", metavar="A-B", help="render only frames A..B (inclusive; videos count from 0)")
    parser.add_argument("--matte", metavar="MATTE",
                        help="video, sequence or still image weighing the effect per pixel (0 = source, 1 = full "
                             "effect; RGBA: its alpha, otherwise its luma); its frames pair with the input's in order")
    add_common_arguments(parser)
    parser.add_argument("--fps", help="frame rate for a video made from an image sequence (default 24)")
    from ganfx.plugin.cli.plan import add_plan_arguments

    add_plan_arguments(parser)


def add_common_arguments(parser):
    """Options `render` and `generate` share."""
    parser.add_argument("--tile", type=int, metavar="N", help="run the model on N x N tiles (big frames, less memory)")
    parser.add_argument("--batch", type=int, default=1, metavar="N",
                        help="frames per network call (default 1; more can be faster on a GPU)")
    add_engine_arguments(parser)
    parser.add_argument("--codec", help="video: h264, h265, prores, prores4444, ffv1, png (opencv: a FourCC); "
                                        "EXR frames: half or float")
    parser.add_argument("--crf", type=int, metavar="Q", help="h264/h265 quality (lower is better; default 18/20)")
    parser.add_argument("--gop", type=int, metavar="N",
                        help="h264/h265: a closed GOP every N frames at a constant quantiser (the --crf value), so "
                             "each GOP depends on its own frames only: chunks of whole GOPs join to exactly this "
                             "render (--plan sets it to the chunk size)")
    parser.add_argument("--writer", choices=("pyav", "opencv"), help="video writer (default pyav)")
    parser.add_argument("--param", action="append", metavar="NAME=VALUE", help="model parameter; repeatable")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--resume", action="store_true", help="image sequences: keep frames already written")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--progress", choices=("bar", "json"), default="bar",
                        help="bar on stderr (default) or one JSON line per frame on stdout")
    parser.add_argument("--sound", metavar="MODEL[=DB]",
                        help="a sound model rendered under a video output, at DB gain (e.g. fire=-6); "
                             "it replaces the source's audio unless --keep-audio")
    parser.add_argument("--sound-seed", type=int, default=0, metavar="S", help="which sound of the family (default 0)")
    parser.add_argument("--keep-audio", action="store_true",
                        help="with --sound: keep the source's audio as its own stream beside the generated one")


def add_engine_arguments(parser):
    """--engine, --provider and --precision: every command that runs a model (runtime/engines.py)."""
    parser.add_argument("--engine", choices=("auto", "onnxruntime", "openvino"),
                        help="what runs the model: onnxruntime, openvino (pip install \"ganfx[openvino]\") or auto "
                             "(the fastest here; see `ganfx bench`); default onnxruntime, chosen for bf16/auto")
    parser.add_argument("--provider", action="append", metavar="NAME",
                        help="onnxruntime execution provider (cuda, tensorrt, coreml, directml, cpu); repeat for a "
                             "fallback list; with --engine openvino the device (cpu, gpu)")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16", "auto"), default="fp32",
                        help="fp32 (default), fp16 (GPU; onnxruntime uses the model's .fp16.onnx), bf16 (CPUs with "
                             "native bf16, on openvino), auto (the fastest within 2/255 of fp32, probed once)")


def engine_settings(args) -> dict:
    """The engine flags as load_model / SessionOptions keywords (absent flags: their defaults)."""
    return {"providers": tuple(args.provider) if getattr(args, "provider", None) else None,
            "precision": getattr(args, "precision", None) or "fp32", "engine": getattr(args, "engine", None)}


def parse_fps(text):
    """"25", "23.976", "24000/1001" -> exact Fraction; UserInputError otherwise."""
    from fractions import Fraction

    from ganfx.runtime.errors import UserInputError

    if text is None:
        return None
    try:
        fps = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise UserInputError(f"--fps takes a number or a ratio such as 24000/1001, got {text!r}") from None
    if "." in text:  # 23.976 and 29.97 mean the NTSC rates
        ntsc = Fraction(round(float(fps) * 1.001) * 1000, 1001)
        fps = ntsc if abs(float(ntsc) - float(fps)) < 5e-4 else fps.limit_denominator(1001)
    if fps <= 0:
        raise UserInputError(f"--fps must be positive, got {text!r}")
    return fps


def render_options(args, fps=None):
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.pipeline import RenderOptions

    batch = getattr(args, "batch", 1)
    if batch < 1:
        raise UserInputError(f"--batch must be at least 1, got {batch}")
    if args.tile is not None and args.tile < 16:
        raise UserInputError(f"--tile must be at least 16 pixels, got {args.tile}")
    if args.overwrite and args.resume:
        raise UserInputError("--overwrite and --resume contradict each other; pass one")
    return RenderOptions(batch=batch, codec=args.codec, writer=args.writer, overwrite=args.overwrite,
                         resume=args.resume, progress="quiet" if args.quiet else args.progress, fps=fps,
                         quality=args.crf, gop=args.gop, sound=sound_track(args))


def parse_sound(text: str) -> tuple:
    """"fire" -> ("fire", 0.0); "fire=-6" -> ("fire", -6.0); "my=sound.onnx" stays a name."""
    from ganfx.runtime.errors import UserInputError

    name, sep, gain = text.rpartition("=")
    if sep and name:
        try:
            return name, float(gain)
        except ValueError:
            pass
    if not text.strip():
        raise UserInputError("--sound takes MODEL or MODEL=GAIN_DB, got an empty value")
    return text, 0.0


def sound_track(args):
    """The --sound model as a SoundTrack for the writer (runtime/io/base.py), or None."""
    from ganfx.runtime.errors import UserInputError

    if getattr(args, "sound", None) is None:
        if getattr(args, "keep_audio", False):
            raise UserInputError("--keep-audio goes with --sound (without it the source's audio is kept anyway)")
        return None
    import math

    from ganfx.runtime import load_model
    from ganfx.runtime.io.base import SoundTrack

    name, gain = parse_sound(args.sound)
    if not math.isfinite(gain) or not -60 <= gain <= 24:
        raise UserInputError(f"--sound {args.sound}: the gain must be -60..24 dB")
    model = load_model(name, **engine_settings(args))
    if model.spec.kind != "sound":
        raise UserInputError(f"--sound takes a sound model; {model.spec.name} is {model.spec.what}",
                             path=model.path)
    renderer = model.sound_renderer(seed=args.sound_seed)
    return SoundTrack(render=renderer.render, rate=model.spec.rate, channels=renderer.channels, gain_db=gain,
                      keep_source=bool(args.keep_audio))


def session_options(args, **generator):
    from ganfx.plugin.session import SessionOptions

    return SessionOptions(tile=args.tile, **engine_settings(args), **generator)


def parse_params(items) -> dict:
    """["strength=0.5", "look=cool"] -> {"strength": "0.5", "look": "cool"}."""
    from ganfx.runtime.errors import UserInputError

    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserInputError(f"--param takes name=value, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def stop_on_sigterm():
    """Render farms stop jobs with SIGTERM: treat it like Ctrl-C, so unfinished output is removed."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def run(args) -> int:
    from ganfx.plugin.session import open_session
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.pipeline import parse_frame_range, render_file

    from ganfx.plugin.cli import plan

    plan.check_flags(args)
    if args.plan is not None and args.ray is None:
        return plan.emit(plan.render_plan(args), args)
    if args.ray is not None:
        from ganfx.plugin.cli.ray_render import ray_render

        return ray_render(args, "render")
    frames = parse_frame_range(args.frames) if args.frames is not None else None
    options = render_options(args, parse_fps(args.fps))
    if args.fps is not None:
        from ganfx.runtime.io import is_sequence

        if not is_sequence(args.input):  # not an error: a farm template may pass --fps to every job
            import sys

            print(f"ganfx render: warning: --fps {args.fps} is ignored: {args.input} is a video and keeps its "
                  "own frame rate (--fps sets the rate of image-sequence inputs)", file=sys.stderr)
    with open_session(args.model, parse_params(args.param), session_options(args), "ganfx-cli") as session:
        if session.kind != "effect":
            raise UserInputError(f"{session.spec.name} is a {session.kind} model; use `ganfx generate`")
        if args.matte is not None and not session.takes_matte:
            raise UserInputError(f"{session.spec.name} has no Matte clip: it takes no matte")
        stop_on_sigterm()
        stats = render_file(args.input, args.output, session, frames, options, matte=args.matte)
    if options.progress == "bar":
        print(f"wrote {args.output}: {stats.frames} frame{'' if stats.frames == 1 else 's'} in {stats.seconds:.1f} s "
              f"({stats.fps:.1f} fps)")
    return 0
