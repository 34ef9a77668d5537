"""`ganfx generate MODEL -o OUTPUT --size WxH`: render a texture model to a still, a sequence or a video.

    ganfx generate brick -o brick.exr --size 3840x2160 --tileable
    ganfx generate grass -o grass.mp4 --size 1280x720 --frames 96 --fps 24 --loop
    ganfx generate grass -o tex/grass.####.png --size 512x512 --frames 48 --param speed=0.5
"""

from __future__ import annotations

import re

from ganfx.plugin.cli.render_cmd import (
    add_common_arguments, parse_fps, parse_params, render_options, session_options, stop_on_sigterm,
)


def add_arguments(parser):
    parser.add_argument("model", help="texture model name (see `ganfx models`) or path to an .onnx file")
    parser.add_argument("-o", "--output", required=True,
                        help="image (one frame), sequence pattern (tex.####.exr) or video (mp4/mov/mkv)")
    parser.add_argument("--size", required=True, metavar="WxH", help="frame size, e.g. 1920x1080")
    parser.add_argument("--frames", type=int, default=1, metavar="N", help="number of frames (default 1: a still)")
    parser.add_argument("--range", metavar="A-B", dest="chunk",
                        help="render only frames A..B of the N (farm chunks; frame numbers are kept)")
    parser.add_argument("--fps", default="24", help="frame rate; animation time of frame n is n/fps (default 24)")
    parser.add_argument("--seed", type=int, help="which texture of the family (the model parameter seed)")
    parser.add_argument("--loop", action="store_true", help="loop over the frame count: frame N equals frame 0")
    parser.add_argument("--tileable", action="store_true", help="make every frame tile seamlessly")
    add_common_arguments(parser)


def parse_size(text):
    from ganfx.runtime.errors import UserInputError

    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise UserInputError(f"--size takes WIDTHxHEIGHT (e.g. 1920x1080), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def run(args) -> int:
    from ganfx.plugin.session import open_session
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.pipeline import generate_file, parse_frame_range

    size = parse_size(args.size)
    chunk = parse_frame_range(args.chunk, "range") if args.chunk is not None else None
    if args.frames < 1:
        raise UserInputError(f"--frames must be at least 1, got {args.frames}")
    fps = parse_fps(args.fps)
    params = parse_params(args.param)
    if args.seed is not None:
        params["seed"] = str(args.seed)
    if args.tileable:
        params["tileable"] = "true"
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
