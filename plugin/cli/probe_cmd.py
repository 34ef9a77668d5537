"""`ganfx probe INPUT`: the media properties the reader sees, every frame decoded.

    ganfx probe plate.mov
    ganfx probe "plates/shot.####.exr" --json
    ganfx probe "plates/shot.####.exr" --headers-only     # properties only: no frame is decoded

By default every frame is read as `ganfx render` would read it, so a sequence with a damaged
frame or a cut-off video fails here (exit 1, one line naming the file) rather than halfway
through a render; `--headers-only` is the quick look.
"""

from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("input", help="video, sequence pattern (shot.####.exr, shot.%%04d.png) or image")
    parser.add_argument("--json", action="store_true", help="print the properties as JSON")
    parser.add_argument("--headers-only", action="store_true",
                        help="read the headers only (fast); by default every frame is decoded as a render would")


def run(args) -> int:
    import json

    from ganfx.runtime.io import open_reader

    with open_reader(args.input) as reader:
        props = reader.properties
        decoded = None if args.headers_only else sum(1 for _ in reader.frames())
    if args.json:
        print(json.dumps({**props.to_json(), "frames_decoded": decoded}, indent=2))
    else:
        print("\n".join(props.describe()))
        if decoded is not None:
            print(f"  decoded: all {decoded} frames")
    return 0
