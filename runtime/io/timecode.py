"""SMPTE timecode: a rendered frame range starts at the source timecode of its first frame.

    offset("01:00:00:00", 24, Fraction(24))                 # '01:00:01:00'
    offset("00:00:59;28", 2, Fraction(30000, 1001))         # '00:01:00;02'  (drop-frame)

Drop-frame timecode (`;` before the frames) skips frame numbers 0 and 1 (0-3 at 59.94) at
the start of every minute except each tenth, so that it keeps pace with the clock.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..errors import MediaIOError

_TC = re.compile(r"(\d+):(\d\d):(\d\d)([:;.,])(\d\d)")


def offset(timecode: str, frames: int, rate: Fraction) -> str:
    """`timecode` moved by `frames` frames at `rate`."""
    m = _TC.fullmatch(timecode.strip())
    if not m:
        raise MediaIOError(f"unreadable timecode {timecode!r}")
    hh, mm, ss, sep, ff = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), int(m.group(5))
    fps = round(float(rate))
    drop = (2 if fps == 30 else 4 if fps == 60 else 0) if sep in ";," else 0
    minutes = 60 * hh + mm
    n = ((hh * 60 + mm) * 60 + ss) * fps + ff - drop * (minutes - minutes // 10)
    n = max(0, n + int(frames))
    if drop:
        per_10min = fps * 600 - drop * 9
        per_min = fps * 60 - drop
        tens, rest = divmod(n, per_10min)
        n += drop * 9 * tens + (drop * ((rest - drop) // per_min) if rest > drop else 0)
    ff, n = n % fps, n // fps
    ss, n = n % 60, n // 60
    mm, hh = n % 60, (n // 60) % 24
    return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"
