"""The effect-model part of `ganfx eval`: held-out PSNR/SSIM and the temporal warping-error ratio,
beside keyframe propagation along optical flow (the baseline to beat).

    ganfx eval watercolor --video demo_clip.mp4 --keyframes holdout/      # held-out frames of the clip + flicker
    ganfx eval watercolor --video demo_clip.mp4 --propagate-from kf/ --far 8   # vs propagation from kf/,
                                                       # on the 8 frames farthest from them (targets: the teacher)
    ganfx eval watercolor --video demo_clip.mp4 --propagate-from kf/ --keyframes holdout/   # on your held-out frames
    ganfx eval grade.onnx --pairs held/ --json                             # held/input/NAME <-> held/target/NAME
    ganfx eval grade.onnx --video plate.mp4 --reference graded.mp4         # flicker against a treated clip

With a named target process as the reference (given, or the one the model was trained on),
the teacher and the model are also timed per frame on the clip: the speed ratio.
Runs the ONNX model through the runtime (no torch); see ganfx.trainer.effect_eval.
"""

from __future__ import annotations

from pathlib import Path


def add_effect_arguments(parser):
    fx = parser.add_argument_group("effect models")
    fx.add_argument("--pairs", metavar="DIR", help="held-out pairs: DIR/input/NAME <-> DIR/target/NAME (PSNR, SSIM)")
    fx.add_argument("--video", metavar="CLIP",
                    help="render this clip and measure the temporal warping-error ratio (and the inputs of --keyframes)")
    fx.add_argument("--keyframes", metavar="DIR", help="held-out targets named by frame number of --video (PSNR, SSIM)")
    fx.add_argument("--reference", metavar="REF",
                    help="the target effect for the ratio: a named process (e.g. stylization), a video of the "
                         "treated clip, or 'source' (default: the process the model was trained on, else source); "
                         "a named process is also timed against the model")
    fx.add_argument("--propagate-from", metavar="DIR",
                    help="the painted keyframes the model learned from, named by frame number of --video: "
                         "also measure keyframe propagation along DIS optical flow, side by side with the model")
    fx.add_argument("--far", type=int, metavar="N",
                    help="hold out the N frames of --video farthest from the --propagate-from keyframes (within "
                         "their shots), their targets made by the reference effect (instead of --keyframes)")
    fx.add_argument("--tile", type=int, metavar="N", help="render in N x N tiles")


def evaluate(args, path) -> tuple:
    """(report dict, console text) for an effect model."""
    from ganfx.plugin.cli.eval_cmd import check_png, default_png
    from ganfx.runtime.errors import UserInputError
    from ganfx.runtime.files import check_regular_file
    from ganfx.trainer.effect_eval import evaluate_effect, format_report

    if args.keyframes and not args.video:
        raise UserInputError("--keyframes are frames of a clip: give --video CLIP too")
    if not (args.pairs or args.video):
        raise UserInputError("effect models are measured on held-out pairs or a clip: give --pairs DIR and/or --video CLIP")
    if (args.propagate_from or args.far is not None) and not args.video:
        raise UserInputError("keyframe propagation runs along a clip: give --video CLIP with --propagate-from DIR")
    if args.far is not None and not args.propagate_from:
        raise UserInputError("--far picks frames far from the keyframes: give them with --propagate-from DIR")
    if args.far is not None and args.far < 1:
        raise UserInputError(f"--far must be at least 1, got {args.far}")
    if args.far is not None and (args.pairs or args.keyframes):
        raise UserInputError("give held-out targets (--keyframes DIR) or let --far N pick the frames, not both")
    if args.propagate_from and args.pairs:
        raise UserInputError("propagation makes frames of --video: give held-out targets by frame number "
                             "(--keyframes DIR) or --far N, not --pairs")
    if args.propagate_from and not (args.keyframes or args.far):
        raise UserInputError("propagation is measured on held-out frames: give --keyframes DIR or --far N")
    for folder in (args.pairs, args.keyframes, args.propagate_from):
        if folder and not Path(folder).is_dir():
            raise UserInputError("no such folder" if not Path(folder).exists() else "is not a folder", path=folder)
    if args.video:
        check_regular_file(args.video, UserInputError)  # a pipe would block the reader
    if args.tile is not None and args.tile < 16:
        raise UserInputError(f"--tile must be at least 16 pixels, got {args.tile}")
    png = None
    if args.pairs or args.keyframes or args.far:
        # the shared --png option: held-out rows input | output | target (input | propagation | model | target)
        png = check_png(args.png or default_png(path), args.overwrite,
                        inputs={"the clip": args.video, "the reference": args.reference, "the model": path})
    elif args.png:
        raise UserInputError("the picture shows held-out pairs: give --pairs DIR, --keyframes DIR or --far N "
                             "with --png")
    report = evaluate_effect(path, pairs=args.pairs, video=args.video, keyframes=args.keyframes,
                             reference=args.reference, tile=args.tile, png=png,
                             propagate_from=args.propagate_from, far=args.far)
    return report, format_report(report)
