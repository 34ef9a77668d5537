"""`ganfx probe INPUT`: the media properties the reader sees.

    ganfx probe plate.mov
    ganfx probe "plates/shot.####.exr" --json
"""

from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("input", help="video, sequence pattern (shot.####.exr, shot.%%04d.png) or image")
    parser.add_argument("--json", action="store_true", help="print the properties as JSON")


def run(args) -> int:
    import json

    from ganfx.runtime.io import open_reader

    with open_reader(args.input) as reader:
        props = reader.properties
    if args.json:
        print(json.dumps(props.to_json(), indent=2))
    else:
        print("\n".join(props.describe()))
    return 0
