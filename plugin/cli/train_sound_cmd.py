"""`ganfx train sound EXEMPLAR -o RUNS_DIR`: learn a sound texture from one recording.

    ganfx train sound fire.ogg -o runs --max-minutes 30 --threads 1
    ganfx train sound rain.wav --name rain --crop 98304 --adv-weight 0.1 -o runs
    ganfx train sound wind.flac --dry-run

Options left out take the defaults of ganfx.trainer.sound_task.SoundConfig.
"""

from __future__ import annotations

from ganfx.plugin.cli.train_cmd import (add_loop_arguments, flag_errors, loop_config, overrides, resumed_configs,
                                        run_training)


def _ints(text):
    return tuple(int(v) for v in text.split(","))


_SOUND_OPTIONS = (  # (flag, SoundConfig field, type, help)
    ("--name", "name", str, "model name (default: the exemplar's file name)"),
    ("--crop", "crop", int, "training crop in samples at 48 kHz, a multiple of --stride"),
    ("--batch", "batch", int, "crops per step"),
    ("--noise-channels", "noise_channels", int, "coarse noise values per cell"),
    ("--fine-noise", "fine_noise", int, "fresh noise values per sample of every finer level"),
    ("--stride", "stride", int, "output samples per noise cell (a power of 4)"),
    ("--widths", "widths", _ints, "generator channels per level, e.g. 128,64,32,16,16 (log4(stride)+1 values)"),
    ("--dilations", "dilations", _ints, "dilations of the residual blocks at the cell rate, e.g. 1,2,4,...,128"),
    ("--margin-cells", "margin_cells", int, "extra noise cells at each end of a crop, cut off"),
    ("--resolutions", "resolutions", _ints, "STFT windows of the spectral loss, e.g. 256,1024,4096"),
    ("--bands", "bands", int, "log-spaced frequency bands of the spectral loss"),
    ("--patch-frames", "patch_frames", int, "consecutive spectral frames matched together"),
    ("--stats-weight", "stats_weight", float, "weight of the envelope-statistics loss (0 = off)"),
    ("--adv-weight", "adv_weight", float, "weight of the spectrogram discriminator (0 = off)"),
    ("--d-width", "d_width", int, "discriminator width"),
    ("--lr-g", "lr_g", float, "generator learning rate"),
    ("--lr-d", "lr_d", float, "discriminator learning rate"),
    ("--eval-seconds", "eval_seconds", float, "length of the render the live statistics distance is measured on"),
)


def add_arguments(parser):
    parser.add_argument("exemplar", nargs="?", metavar="EXEMPLAR",
                        help="the recording to learn (wav, flac, ogg, mp3, or a video's audio)")
    group = parser.add_argument_group("sound (defaults: ganfx.trainer.sound_task.SoundConfig)")
    for flag, _, typ, help_text in _SOUND_OPTIONS:
        group.add_argument(flag, type=typ, default=None, help=help_text)
    group.add_argument("--no-polarity", dest="polarity", action="store_false", default=None,
                       help="do not negate real crops at random")
    add_loop_arguments(parser)


def run(args) -> int:
    import dataclasses

    from ganfx.runtime.errors import UserInputError, require

    require("torch", "torch", extra="train")
    from ganfx.trainer.sound_task import SoundConfig

    values = overrides(args, _SOUND_OPTIONS)
    if args.polarity is not None:
        values["polarity"] = args.polarity
    if args.seed is not None:
        values["seed"] = args.seed
    if args.resume:
        if args.exemplar or values:
            raise UserInputError("--resume continues with the saved sound settings; give only loop options")
        run_dir, loop, cfg = resumed_configs(args)
        return run_training(args, "sound", loop, cfg, run_dir=run_dir, table=_SOUND_OPTIONS)
    if not args.exemplar:
        raise UserInputError("give the exemplar sound file, or --resume RUN")
    with flag_errors(_SOUND_OPTIONS):
        cfg = dataclasses.replace(SoundConfig(exemplar=args.exemplar), **values).check()
    return run_training(args, "sound", loop_config(args), cfg, table=_SOUND_OPTIONS)
