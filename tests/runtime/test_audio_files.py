"""Audio files: read anything PyAV decodes, write WAV/FLAC exactly, safely (partial names, no overwrite)."""

import wave

import av
import numpy as np
import pytest

from ganfx.runtime.errors import MediaIOError, OutputExistsError, UserInputError
from ganfx.runtime.io.audiofile import AudioFileWriter, read_audio, write_audio
from media import ffprobe, make_clip

RATE = 48000


def signal(channels=2, n=4801, seed=0):
    """Noise with values beyond -1..1 (clipped on integer writes) and the exact ends -1, 1."""
    x = np.random.default_rng(seed).normal(0, 0.4, (channels, n)).astype(np.float32)
    x[:, 0], x[:, 1], x[:, 2] = 1.0, -1.0, 1.7
    return x


def expected_ints(x, bits):
    return np.rint(np.clip(x.astype(np.float64), -1, 1) * (2 ** (bits - 1) - 1)).astype(np.int64)


def wave_ints(path):
    with wave.open(str(path)) as w:
        c, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        raw = np.frombuffer(w.readframes(n), np.uint8)
    if width == 2:
        v = raw.view("<i2").astype(np.int64)
    else:  # 24-bit little endian
        b = raw.reshape(-1, 3).astype(np.int64)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
    return v.reshape(n, c).T, rate


def pyav_decoded(path):
    """Every decoded sample as stored ([C,n] int or float), the codec name and bits_per_raw_sample."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        blocks = []
        for f in c.decode(s):
            a = f.to_ndarray()
            blocks.append(a.reshape(-1, f.layout.nb_channels).T if f.format.is_packed else a)
        return np.concatenate(blocks, axis=1), s.codec_context.name


def check_ffprobe(path, rate, channels, n):
    probe = ffprobe(path)
    if probe is None:
        return None
    (a,) = [s for s in probe["streams"] if s["codec_type"] == "audio"]
    assert int(a["sample_rate"]) == rate and int(a["channels"]) == channels
    assert int(a["duration_ts"]) == n or round(float(a["duration"]) * rate) == n
    return a


@pytest.mark.parametrize("suffix,fmt", [(".wav", "s16"), (".wav", "s24"), (".wav", "f32"), (".flac", "s16"),
                                        (".flac", "s24")])
def test_write_read_exact(tmp_path, suffix, fmt):
    x = signal()
    out = write_audio(tmp_path / f"a{suffix}", x, RATE, fmt)
    assert out.is_file() and not list(tmp_path.glob(".*partial*"))
    stored, codec = pyav_decoded(out)
    got, rate = read_audio(out)
    assert rate == RATE and got.shape == x.shape and got.dtype == np.float32
    if fmt == "f32":
        assert codec == "pcm_f32le" and np.array_equal(stored, x)  # floats kept as given (1.7 too)
        assert np.array_equal(got, x)
    else:
        bits = 16 if fmt == "s16" else 24
        ints = expected_ints(x, bits)
        values = stored.astype(np.int64)
        if stored.dtype == np.int32 and bits == 24:
            assert not (values & 0xFF).any()  # 24 significant bits in s32
            values >>= 8
        assert np.array_equal(values, ints)
        assert np.array_equal(got, (ints / 2.0 ** (bits - 1)).astype(np.float32))  # FFmpeg's scaling
    a = check_ffprobe(out, RATE, 2, x.shape[1])
    if a is not None and suffix == ".flac" and fmt == "s24":
        assert a["bits_per_raw_sample"] == "24"


@pytest.mark.parametrize("fmt,width", [("s16", 2), ("s24", 3)])
def test_wav_pcm_reads_with_wave_module(tmp_path, fmt, width):
    x = signal(channels=1, n=1001)  # odd size in bytes at 24-bit mono: the data chunk is padded
    out = write_audio(tmp_path / "m.wav", x[0], 22050, fmt)
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, width, 22050, 1001)
    ints, rate = wave_ints(out)
    assert rate == 22050 and np.array_equal(ints, expected_ints(x, 8 * width))
    assert out.stat().st_size % 2 == 0
    check_ffprobe(out, 22050, 1, 1001)


def test_float_wav_has_fact_chunk(tmp_path):
    out = write_audio(tmp_path / "f.wav", signal(3, 1000), 44100, "f32")
    data = out.read_bytes()
    assert data[:4] == b"RIFF" and int.from_bytes(data[4:8], "little") == len(data) - 8
    assert int.from_bytes(data[20:22], "little") == 3  # WAVE_FORMAT_IEEE_FLOAT
    i = data.index(b"fact")
    assert int.from_bytes(data[i + 8:i + 12], "little") == 1000
    check_ffprobe(out, 44100, 3, 1000)


def test_blocks_equal_one_write(tmp_path):
    x = signal(2, 10000)
    with AudioFileWriter(tmp_path / "blocks.flac", RATE, 2, "s24") as w:
        for i in range(0, 10000, 999):
            w.write(x[:, i:i + 999])
        assert w.tmp.exists() and not (tmp_path / "blocks.flac").exists()  # a partial name meanwhile
    write_audio(tmp_path / "one.flac", x, RATE, "s24")
    assert np.array_equal(read_audio(tmp_path / "blocks.flac")[0], read_audio(tmp_path / "one.flac")[0])


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_no_overwrite_and_error_leaves_nothing(tmp_path, suffix):
    out = tmp_path / f"keep{suffix}"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match=f"keep{suffix}"):
        write_audio(out, signal(), RATE)
    assert out.read_bytes() == b"precious"
    with pytest.raises(RuntimeError):
        with AudioFileWriter(out, RATE, 2, overwrite=True) as w:
            w.write(signal())
            raise RuntimeError("boom")
    assert out.read_bytes() == b"precious" and not list(tmp_path.glob(".*partial*"))
    write_audio(out, signal(), RATE, overwrite=True)
    assert read_audio(out)[0].shape == (2, 4801)


def test_writer_makes_its_folder(tmp_path):
    out = write_audio(tmp_path / "new" / "deeper" / "a.wav", signal(1, 100), RATE)
    assert out.is_file()
    with pytest.raises(MediaIOError):
        with AudioFileWriter(tmp_path / "other" / "b.wav", RATE, 2) as w:
            w.write(np.zeros((3, 10), np.float32))  # wrong channel count
    assert not (tmp_path / "other").exists()


def test_write_refusals(tmp_path):
    with pytest.raises(UserInputError, match=r"f\.flac: FLAC holds 16 or 24-bit"):
        AudioFileWriter(tmp_path / "f.flac", RATE, 2, "f32")
    with pytest.raises(UserInputError, match="x.mp3: unknown audio file type"):
        AudioFileWriter(tmp_path / "x.mp3", RATE, 2)
    with pytest.raises(UserInputError, match="unknown sample format"):
        AudioFileWriter(tmp_path / "x.wav", RATE, 2, "s8")
    with pytest.raises(MediaIOError, match="NaN"):
        write_audio(tmp_path / "nan.wav", np.full((1, 10), np.nan), RATE)
    assert not list(tmp_path.iterdir())


def _encode(path, codec, fmt, options=None, rate=RATE, seconds=0.5, fmt_name=None):
    c = av.open(str(path), "w", format=fmt_name)
    s = c.add_stream(codec, rate=rate)
    s.layout = "stereo"
    if options:
        s.codec_context.options = options
    n = int(rate * seconds)
    x = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)
    f = av.AudioFrame.from_ndarray(np.stack([x, x]).astype(np.float32), format="fltp", layout="stereo")
    f.sample_rate, f.pts = rate, 0
    for p in s.encode(f):
        c.mux(p)
    for p in s.encode(None):
        c.mux(p)
    c.close()
    return path


def _peak_hz(x, rate):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spectrum) * rate / len(x)


@pytest.mark.parametrize("name,codec,options", [("a.ogg", "vorbis", {"strict": "experimental"}),
                                                ("a.mp3", "libmp3lame", None), ("a.m4a", "aac", None)])
def test_reads_compressed(tmp_path, name, codec, options):
    path = _encode(tmp_path / name, codec, "fltp", options)
    x, rate = read_audio(path)
    assert rate == RATE and x.shape[0] == 2 and abs(x.shape[1] - RATE // 2) < 3000
    assert abs(_peak_hz(x[0], rate) - 440) < 5 and 0.2 < np.abs(x).max() < 0.4


def test_reads_video_audio_resampled_and_mixed(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=24)  # a 0.2-amplitude 440 Hz tone, stereo, 48 kHz
    x, rate = read_audio(clip)
    assert x.shape[0] == 2 and rate == RATE and abs(x.shape[1] - 24 * 1001 / 24000 * RATE) < 2048
    mono, r16 = read_audio(clip, rate=16000, channels=1)
    assert r16 == 16000 and mono.shape[0] == 1 and abs(mono.shape[1] - x.shape[1] / 3) < 64
    assert abs(_peak_hz(mono[0], 16000) - 440) < 5
    assert np.allclose(np.sqrt(np.mean(mono[0, 2000:-2000] ** 2)), 0.2 / np.sqrt(2), rtol=0.05)


def test_channel_mixing(tmp_path):
    x = signal(2, 2000)
    path = write_audio(tmp_path / "st.wav", x, RATE, "f32")
    mono, _ = read_audio(path, channels=1)
    assert np.allclose(mono[0], x.mean(axis=0), atol=1e-6)
    write_audio(tmp_path / "m.wav", x[:1], RATE, "f32")
    up, _ = read_audio(tmp_path / "m.wav", channels=2)
    assert np.array_equal(up[0], x[0]) and np.array_equal(up[1], x[0])
    six = write_audio(tmp_path / "six.flac", signal(6, 2000), RATE, "s24")  # no channel order in the file
    down, _ = read_audio(six, channels=2)  # FFmpeg's 5.1 -> stereo matrix
    assert down.shape == (2, 2000) and np.abs(down).max() <= 1.0


def test_read_errors(tmp_path):
    with pytest.raises(MediaIOError, match="missing.wav: no such file"):
        read_audio(tmp_path / "missing.wav")
    (tmp_path / "notes.wav").write_text("not audio at all\n" * 10)
    with pytest.raises(MediaIOError, match="notes.wav: not a readable audio file"):
        read_audio(tmp_path / "notes.wav")
    clip = make_clip(tmp_path / "silent.mkv", frames=3, codec="ffv1", pix_fmt="bgr0", audio=None)
    with pytest.raises(MediaIOError, match="silent.mkv: has no audio stream"):
        read_audio(clip)
    with AudioFileWriter(tmp_path / "empty.wav", RATE, 1):
        pass
    with pytest.raises(MediaIOError, match="empty.wav: has no audio samples"):
        read_audio(tmp_path / "empty.wav")
    with pytest.raises(MediaIOError) as info:
        read_audio(tmp_path / "notes.wav")
    assert "\n" not in str(info.value)


def test_sample_rates_kept(tmp_path):
    for rate in (8000, 44100, 96000):
        out = write_audio(tmp_path / f"r{rate}.flac", signal(1, rate // 10), rate)
        assert read_audio(out)[1] == rate
        check_ffprobe(out, rate, 1, rate // 10)
