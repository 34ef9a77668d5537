"""A generated sound (OutputSpec.sound) muxed into PyAVWriter's videos: codec, duration, samples, gain, keep_source."""

from fractions import Fraction

import av
import numpy as np
import pytest

from ganfx.runtime.errors import MediaIOError, UserInputError
from ganfx.runtime.io import Frame, OutputSpec, open_writer
from ganfx.runtime.io.base import SoundTrack
from media import RATE, ffprobe, make_clip

SR = 48000
HZ = 440.0


class Sine:
    """A stereo sine from absolute sample positions (right channel at half amplitude); records its calls."""

    def __init__(self, rate=SR, amplitude=0.5, channels=2):
        self.rate, self.amplitude, self.channels, self.calls = rate, amplitude, channels, []

    def expected(self, first, count):
        x = self.amplitude * np.sin(2 * np.pi * HZ * np.arange(first, first + count) / self.rate)
        return np.stack([x, 0.5 * x][: self.channels])

    def __call__(self, first, count):
        self.calls.append((first, count))
        return self.expected(first, count).astype(np.float32)


def write_video(path, frames=12, rate=RATE, **spec_kw):
    spec = OutputSpec(64, 48, rate, **spec_kw)
    with open_writer(path, spec) as w:
        for i in range(frames):
            w.write(Frame(i, np.full((48, 64, 3), 40, w.dtype)))
    return path


def decoded(path, index=0):
    """(samples [C,n] float64 in -1..1, codec, stream rate, end of the last packet in samples)."""
    with av.open(str(path)) as c:
        s = c.streams.audio[index]
        blocks = []
        for f in c.decode(s):
            a = f.to_ndarray()
            if f.format.is_packed:
                a = a.reshape(-1, f.layout.nb_channels).T
            if a.dtype == np.int16:
                a = a / 32767.0
            elif a.dtype == np.int32:
                a = (a >> 8) / 8388607.0
            blocks.append(a.astype(np.float64))
    with av.open(str(path)) as c:
        s = c.streams.audio[index]
        end = max(float((p.pts + p.duration) * s.time_base) for p in c.demux(s) if p.size and p.pts is not None)
        return np.concatenate(blocks, axis=1), s.codec_context.name, s.codec_context.sample_rate, end


def audio_streams(path):
    with av.open(str(path)) as c:
        return [s.codec_context.name for s in c.streams.audio]


@pytest.mark.parametrize("ext,codec", [(".mp4", "aac"), (".mov", "pcm_s24le"), (".mkv", "pcm_s24le")])
def test_sound_track_codec_duration_and_signal(tmp_path, ext, codec):
    sine = Sine()
    out = write_video(tmp_path / f"v{ext}", frames=12, sound=SoundTrack(sine, SR, 2))
    video_s = 12 / float(RATE)
    x, got_codec, rate, end = decoded(out)
    assert got_codec == codec and rate == SR and x.shape[0] == 2
    assert abs(end - video_s) <= 1024 / SR  # one AAC frame
    n = round(video_s * SR)
    ref = sine.expected(0, n).astype(np.float32).astype(np.float64)  # what render returned
    if codec == "aac":
        m = min(n, x.shape[1]) - 1024
        assert np.corrcoef(x[0, 1024:m], ref[0, 1024:m])[0, 1] > 0.99
        assert np.corrcoef(x[1, 1024:m], ref[1, 1024:m])[0, 1] > 0.99
    else:
        assert x.shape[1] == n
        assert np.array_equal(np.rint(x * 8388607), np.rint(ref * 8388607))  # exact 24-bit
    assert all(c % 4096 == 0 for c, _ in sine.calls) and sum(k for _, k in sine.calls) >= n
    probe = ffprobe(out)
    if probe is not None:
        kinds = [s["codec_type"] for s in probe["streams"]]
        assert kinds == ["video", "audio"]
        a = probe["streams"][1]
        assert a["codec_name"] == codec and int(a["sample_rate"]) == SR and int(a["channels"]) == 2
        seconds = float(a.get("duration") or probe["format"]["duration"])
        assert abs(seconds - video_s) <= 1024 / SR + 1e-3


def test_pcm_s16_exact_and_start_sample(tmp_path):
    sine = Sine(channels=1)
    out = write_video(tmp_path / "v.mov", frames=10, rate=Fraction(25),
                      sound=SoundTrack(sine, SR, 1, start_sample=12345, codec="pcm_s16le"))
    x, codec, _, end = decoded(out)
    n = 10 * SR // 25
    assert codec == "pcm_s16le" and x.shape == (1, n) and abs(end - 0.4) < 1e-9
    expected = np.rint(sine.expected(12345, n).astype(np.float32).astype(np.float64) * 32767)
    assert np.array_equal(np.rint(x * 32767), expected)
    assert sine.calls[0][0] == 12345


def test_gain_halves_amplitude(tmp_path):
    loud = decoded(write_video(tmp_path / "a.mov", sound=SoundTrack(Sine(), SR, 2)))[0]
    quiet = decoded(write_video(tmp_path / "b.mov", sound=SoundTrack(Sine(), SR, 2, gain_db=-6.0)))[0]
    assert np.allclose(quiet, loud * 10 ** (-6 / 20), atol=2e-7)
    assert abs(np.abs(quiet).max() / np.abs(loud).max() - 0.501) < 0.001
    clipped = decoded(write_video(tmp_path / "c.mov", sound=SoundTrack(Sine(amplitude=0.9), SR, 2, gain_db=12)))[0]
    assert np.abs(clipped).max() <= 1.0 and np.isclose(np.abs(clipped[0]).max(), 1.0)


@pytest.mark.parametrize("ext", [".mp4", ".mov"])
def test_keep_source_or_replace(tmp_path, ext):
    clip = make_clip(tmp_path / "src.mp4", frames=12)  # aac tone
    replaced = write_video(tmp_path / f"r{ext}", audio_from=str(clip), sound=SoundTrack(Sine(), SR, 2))
    kept = write_video(tmp_path / f"k{ext}", audio_from=str(clip), sound=SoundTrack(Sine(), SR, 2, keep_source=True))
    sound = "aac" if ext == ".mp4" else "pcm_s24le"
    assert audio_streams(replaced) == [sound]
    assert audio_streams(kept) == ["aac", sound]  # the source's first
    source = decoded(kept, 0)[0]
    assert abs(np.sqrt(np.mean(source[0, 2048:-2048] ** 2)) - 0.2 / np.sqrt(2)) < 0.01  # make_clip's 0.2 tone
    assert abs(decoded(kept, 1)[3] - 12 / float(RATE)) <= 1024 / SR
    probe = ffprobe(kept)
    if probe is not None:
        assert [s["codec_type"] for s in probe["streams"]] == ["video", "audio", "audio"]


def test_mono_and_a_rate_aac_lacks(tmp_path):
    out = write_video(tmp_path / "m.mp4", frames=24, sound=SoundTrack(Sine(rate=40000, channels=1), 40000, 1))
    x, codec, rate, end = decoded(out)
    assert codec == "aac" and rate == 48000 and x.shape[0] == 1  # 40 kHz is no AAC rate: resampled
    assert abs(end - 24 / float(RATE)) <= 1024 / 48000
    peak = np.argmax(np.abs(np.fft.rfft(x[0] * np.hanning(x.shape[1])))) * rate / x.shape[1]
    assert abs(peak - HZ) < 5


def test_sound_refusals_leave_nothing(tmp_path):
    with pytest.raises(UserInputError, match="cannot hold a pcm_s16le sound track"):
        write_video(tmp_path / "x.mp4", sound=SoundTrack(Sine(), SR, 2, codec="pcm_s16le"))

    def wrong(first, count):
        return np.zeros((2, count + 1), np.float32)

    with pytest.raises(MediaIOError, match=r"y\.mov: the sound rendered \[2, 4097\]"):
        write_video(tmp_path / "y.mov", sound=SoundTrack(wrong, SR, 2))

    def nan(first, count):
        return np.full((1, count), np.nan, np.float32)

    with pytest.raises(MediaIOError, match="NaN"):
        write_video(tmp_path / "z.mkv", sound=SoundTrack(nan, SR, 1))
    assert not list(tmp_path.iterdir())


def test_no_sound_unchanged(tmp_path):
    clip = make_clip(tmp_path / "src.mp4", frames=12)
    out = write_video(tmp_path / "plain.mp4", audio_from=str(clip))
    assert audio_streams(out) == ["aac"]
    assert audio_streams(write_video(tmp_path / "none.mov")) == []
