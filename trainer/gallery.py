"""The README gallery: exemplar | ganfx | image quilting, one row per shipped texture, at 1:1.

    python -m ganfx.trainer.gallery -o docs/gallery.png \
        exported_models/grass.onnx=skimage:grass exported_models/redbrick.onnx=etr/.../pave02.png

Each row shows a `--side` px square of the exemplar (its centre), of a ganfx render (seed 0,
through the runtime, as users get it) and of image quilting (seed 0) at the same size, pixel for
pixel (no resampling), labelled. numpy and OpenCV only.
"""

from __future__ import annotations

import argparse

import numpy as np


def _centre(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    side = min(side, h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return img[y:y + side, x:x + side]


def gallery_rows(pairs: list, side: int = 256) -> np.ndarray:
    """[(model path, exemplar spec), ...] -> the gallery image. # -> [H,W,3] uint8"""
    from ganfx.runtime.model import load_model

    from .baselines import image_quilting
    from .exemplars import load_exemplar
    from .plots import image_row, label

    rows = []
    for model_path, spec in pairs:
        model = load_model(model_path)
        ex = load_exemplar(spec)
        s = min(side, *ex.shape[:2])
        ganfx = np.clip(model.generate(s, s, seed=0), 0.0, 1.0)
        quilt = image_quilting(ex, (s, s), seed=0)
        name = model.spec.name
        rows.append(image_row([label(image_row([_centre(ex, s)]), f"{name}: exemplar"),
                               label(image_row([ganfx]), "ganfx"),
                               label(image_row([quilt]), "image quilting")], gap=6))
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(padded, axis=0)


def main(argv=None) -> int:
    from ganfx.runtime.io.images import write_png

    parser = argparse.ArgumentParser(description="exemplar | ganfx | quilting for each texture model")
    parser.add_argument("pairs", nargs="+", metavar="MODEL=EXEMPLAR")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--side", type=int, default=256, help="square size of each picture (default 256)")
    args = parser.parse_args(argv)
    pairs = [tuple(p.split("=", 1)) for p in args.pairs]
    write_png(args.output, gallery_rows(pairs, args.side))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
