"""`ganfx generate MODEL -o OUTPUT --size WxH`: render a texture model to a still, a sequence or a video;
`ganfx generate MODEL -o OUTPUT.wav --seconds S`: a sound model to a wav/flac file (generate_sound.py).

    ganfx generate redbrick -o wall.exr --size 3840x2160 --tileable
    ganfx generate fire -o fire.wav --seconds 30 --loop --seed 3
    ganfx generate stonewall -o wall.mp4 --size 1280x720 --frames 96 --fps 24 --loop
    ganfx generate stonewall -o tex/wall.####.png --size 512x512 --frames 48 --param speed=0.5
"""

from __future__ import annotations

import re

from ganfx.plugin.cli.render_cmd import (
    add_common_arguments, parse_fps, parse_params, render_options, session_options, stop_on_sigterm,
)


def add_arguments(parser):
    parser.add_argument("model", help="texture or sound model name (see `ganfx models`) or path to an .onnx file")
    parser.add_argument("-o", "--output", required=True,
                        help="image (one frame), sequence pattern (tex.####.exr) or video (mp4/mov/mkv); "
                             "a sound: .wav or .flac")
    parser.add_argument("--size", metavar="WxH", help="texture: frame size, e.g. 1920x1080")
    parser.add_argument("--frames", type=int, default=1, metavar="N", help="number of frames (default 1: a still)")
    parser.add_argument("--range", metavar="A-B", dest="chunk",
                        help="render only frames A..B of the N (farm chunks; frame numbers are kept); "
                             "a sound: seconds A..B of --seconds")
    parser.add_argument("--fps", default="24", help="frame rate; animation time of frame n is n/fps (default 24)")
    parser.add_argument("--seed", type=int, help="which texture or sound of the family (the model parameter seed)")
    parser.add_argument("--loop", action="store_true", help="loop over the frame count: frame N equals frame 0 "
                                                            "(a sound: the file is one exact loop of --seconds)")
    parser.add_argument("--tileable", action="store_true", help="make every frame tile seamlessly")
    sound = parser.add_argument_group("sound models")
    sound.add_argument("--seconds", type=float, help="length of the sound (with --loop: the loop length)")
    sound.add_argument("--sample-format", default="16", metavar="16|24|float",
                       help="samples in the file: 16-bit, 24-bit (wav, flac) or 32-bit float (wav); default 16")
    sound.add_argument("--channels", type=int, choices=(1, 2), help="1 or 2 (a mono model on both); default the model's")
    sound.add_argument("--gain", type=float, metavar="DB", help="level change in dB (the model parameter gain)")
    add_common_arguments(parser)
    from ganfx.plugin.cli.plan import add_plan_arguments

    add_plan_arguments(parser)


def parse_size(text):
    from ganfx.runtime.errors import UserInputError

    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise UserInputError(f"--size takes WIDTHxHEIGHT (e.g. 1920x1080), got {text!r}")
    return int(m.group(1)), int(m.group(2))


MAX_SIDE = 32768  # pixels a side: beyond what renderers and GPUs take as a texture (16K-32K)
BYTES_PER_PIXEL = 64  # four float32 RGBA frames' worth: generated, converted, encoded, and the encoder's buffers


def check_size_fits(width: int, height: int) -> None:
    """Refuse a size no frame can have, or one this machine cannot hold, before any work starts.

    Tiles bound the network's memory, not the frame's: the whole frame is assembled before it
    is written, so it must fit in the memory available to this process (RLIMIT_AS included).
    """
    from ganfx.runtime.errors import UserInputError

    if max(width, height) > MAX_SIDE:
        raise UserInputError(f"{width}x{height} is larger than {MAX_SIDE} pixels a side", about="size")
    need, available = width * height * BYTES_PER_PIXEL, _available_memory()
    if available is not None and need > available:
        raise UserInputError(f"a {width}x{height} frame needs about {need / 2**30:.1f} GiB of memory and "
                             f"{available / 2**30:.1f} GiB is available", about="size")


def _available_memory() -> int | None:
    """Bytes this process can still allocate: free memory, or less under an address-space limit."""
    import resource

    options = []
    try:
        with open("/proc/meminfo") as fh:
            options += [int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:")]
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as fh:
                used = int(fh.read().split()[0]) * resource.getpagesize()
            options.append(max(0, soft - used))
    except (OSError, ValueError, IndexError):
        pass
    return min(options) if options else None


def texture_params(args) -> dict:
    """--param values plus --seed and --tileable, as a texture session takes them."""
    params = parse_params(args.param)
    if args.seed is not None:
        params["seed"] = str(args.seed)
    if args.tileable:
        params["tileable"] = "true"
    return params


def run(args) -> int:
    from ganfx.plugin.session import open_session
    from ganfx.runtime.errors import UserInputError
    from ganfx.plugin.cli import plan
    from ganfx.runtime.pipeline import generate_file, parse_frame_range

    plan.check_flags(args)
    if args.size is None or args.seconds is not None or args.output.lower().endswith((".wav", ".flac")):
        from ganfx.runtime import load_model

        from ganfx.plugin.cli.render_cmd import engine_settings

        model = load_model(args.model, **engine_settings(args))
        if model.spec.kind == "sound":
            from ganfx.plugin.cli.generate_sound import run_sound

            return run_sound(args, model)
        if args.size is None:
            raise UserInputError(f"{model.spec.name} is {model.spec.what}: give --size WxH")
        if args.seconds is not None:
            raise UserInputError(f"--seconds is for sound models; {model.spec.name} is a {model.spec.kind} model")
    size = parse_size(args.size)
    if args.plan is not None and args.ray is None:
        return plan.emit(plan.generate_plan(args), args)
    check_size_fits(*size)
    if args.ray is not None:
        from ganfx.plugin.cli.ray_render import ray_render

        return ray_render(args, "generate")
    chunk = parse_frame_range(args.chunk, "range") if args.chunk is not None else None
    if args.frames < 1:
        raise UserInputError(f"--frames must be at least 1, got {args.frames}")
    fps = parse_fps(args.fps)
    params = texture_params(args)
    options = render_options(args, fps)
    opts = session_options(args, size=size, fps=fps, loop_frames=args.frames if args.loop else None)
    with open_session(args.model, params, opts, "ganfx-cli") as session:
        if session.kind != "texture":
            raise UserInputError(f"{session.spec.name} is an {session.kind} model; use `ganfx render`")
        stop_on_sigterm()
        stats = generate_file(args.output, session, args.frames, size, options, chunk)
    if options.progress == "bar":
        print(f"wrote {args.output}: {stats.frames} frame{'' if stats.frames == 1 else 's'} in {stats.seconds:.1f} s "
              f"({stats.fps:.1f} fps)")
    return 0
