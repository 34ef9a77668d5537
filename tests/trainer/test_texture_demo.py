"""`ganfx demo` end to end with the shipped texture models (slow: renders a 4K still)."""

import shutil
import subprocess

import pytest

from ganfx.plugin.cli import main
from ganfx.runtime.model import list_models


@pytest.mark.slow
def test_demo_writes_a_looping_video_and_a_tileable_4k_still(tmp_path):
    if not [e for e in list_models() if e.source == "shipped" and e.spec and e.spec.kind == "texture"]:
        pytest.skip("no shipped texture models in this checkout")
    assert main(["demo", "-o", str(tmp_path), "--seconds", "0.5", "--fps", "8", "--no-progress"]) == 0
    video = tmp_path / "textures-loop.mp4"
    assert video.is_file()
    from ganfx.runtime.io import open_reader

    with open_reader(video) as r:
        assert (r.properties.width, r.properties.height, r.properties.frame_count) == (768, 432, 4)
    stills = list(tmp_path.glob("*-tileable-4k.png"))
    assert len(stills) == 1
    import cv2

    assert cv2.imread(str(stills[0])).shape == (2160, 3840, 3)
    if shutil.which("ffprobe") is None:  # checked with ffprobe where present
        return
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", str(video)],
                         capture_output=True, text=True)
    assert out.returncode != 0 or "h264" in out.stdout
