"""`ganfx concat SEGMENTS... -o OUT`: join farm chunks without re-encoding (runtime/concat.py).

    ganfx concat out.part0001.mov out.part0002.mov -o out.mov --audio-from plate.mov
    ganfx concat wall.part0001.mp4 wall.part0002.mp4 -o wall.mp4 --sound fire=-6
    ganfx concat fire.part0001.wav fire.part0002.wav -o fire.wav       # sample for sample

Video segments are copied packet for packet (they must come from one render's chunks: same
codec, settings, size, rate, pixel format and time base); the source's audio is laid back
from --audio-from (the whole of it, or with --start-frame the span of the chunks, as a
render of a frame range keeps it), a --sound model is rendered once over the joined
duration. `--plan` on render and generate prints this command for you.
"""

from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("segments", nargs="+", metavar="SEGMENT", help="video segments (.mp4/.mov/.mkv) or .wav "
                                                                        "sound segments, in order")
    parser.add_argument("-o", "--output", required=True, help="the joined video or .wav")
    parser.add_argument("--audio-from", metavar="SOURCE", help="copy this file's audio under the joined video")
    parser.add_argument("--start-frame", type=int, metavar="N",
                        help="the first segment starts at frame N of the source (counted from its first frame): "
                             "the audio of --audio-from starts there and ends with the video, --sound starts at "
                             "N / fps")
    parser.add_argument("--sound", metavar="MODEL[=DB]", help="a sound model rendered under the joined video")
    parser.add_argument("--sound-seed", type=int, default=0, metavar="S", help="which sound of the family (default 0)")
    parser.add_argument("--keep-audio", action="store_true",
                        help="with --sound: keep --audio-from's audio as its own stream beside the generated one")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--quiet", action="store_true", help="no summary line")


def run(args) -> int:
    import dataclasses
    import time
    from fractions import Fraction

    from ganfx.plugin.cli.render_cmd import sound_track, stop_on_sigterm
    from ganfx.runtime.concat import concat
    from ganfx.runtime.errors import UserInputError

    if args.start_frame is not None and args.start_frame < 0:
        raise UserInputError(f"--start-frame must be 0 or more, got {args.start_frame}")
    args.provider = None  # sound_track's engine settings: the defaults
    sound = sound_track(args)
    audio_start = None
    if args.start_frame is not None or sound is not None:
        rate = _segment_rate(args.segments[0]) if not args.output.lower().endswith(".wav") else None
        if rate is not None:
            n = args.start_frame or 0
            if args.start_frame is not None:
                audio_start = float(Fraction(n) / rate)
            if sound is not None:
                sound = dataclasses.replace(sound, start_sample=int(round(Fraction(n) / rate * sound.rate)))
    stop_on_sigterm()
    start = time.perf_counter()
    stats = concat(args.segments, args.output, audio_from=args.audio_from, audio_start=audio_start, sound=sound,
                   overwrite=args.overwrite)
    if not args.quiet:
        what = f"{stats.frames} frames" if stats.frames else f"{stats.samples} samples"
        print(f"wrote {args.output}: {stats.segments} segments, {what}, {stats.seconds:.3f} s "
              f"(joined in {time.perf_counter() - start:.1f} s)")
    return 0


def _segment_rate(path):
    """The frame rate of a video segment (for --start-frame and --sound), or None where it cannot be read
    (concat then names the file and the problem)."""
    from fractions import Fraction

    try:
        import av

        with av.open(str(path)) as c:
            s = c.streams.video[0]
            return Fraction(s.average_rate or s.guessed_rate or 24)
    except Exception:  # unreadable: concat reports it with one line
        return None
