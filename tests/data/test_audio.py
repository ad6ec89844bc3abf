"""Reading audio: formats and sample widths, mixdown, resampling, errors that name the file."""

import os

import numpy as np
import pytest
import soundfile

from lstmkit.data.audio import (
    AUDIO_SUFFIXES,
    AudioInfo,
    audio_info,
    check_audible,
    read_audio,
    resample,
)
from lstmkit.errors import UserError


def sine(freq, rate, n, amplitude=0.5):
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float32)


def peak_hz(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.argmax(spectrum) * rate / len(samples)


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("name", "subtype", "bits"),
    [
        ("a.wav", "PCM_16", 16),
        ("a.wav", "PCM_24", 24),
        ("a.wav", "PCM_32", 32),
        ("a.wav", "FLOAT", None),
        ("a.wav", "PCM_U8", 8),
        ("a.flac", "PCM_16", 16),
        ("a.flac", "PCM_24", 24),
    ],
)
def test_lossless_formats_read_back_within_their_quantisation(tmp_path, name, subtype, bits):
    written = np.random.default_rng(0).uniform(-0.9, 0.9, 800).astype(np.float32)
    soundfile.write(tmp_path / name, written, 16000, subtype=subtype)
    got = read_audio(tmp_path / name)
    # written as round(x * (2^(b-1) - 1)), read as n / 2^(b-1): under 2 steps apart
    tolerance = 0.0 if bits is None else 2 / 2 ** (bits - 1) + 1e-7
    assert got.dtype == np.float32
    assert got.shape == (800,)
    assert np.abs(got - written).max() <= tolerance


def test_ogg_vorbis_is_lossy_but_keeps_the_signal(tmp_path):
    written = sine(440, 16000, 16000) + sine(1250, 16000, 16000, 0.2)
    soundfile.write(tmp_path / "a.ogg", written, 16000)
    got = read_audio(tmp_path / "a.ogg")
    assert got.shape == written.shape
    assert np.sqrt(np.mean((got - written) ** 2)) < 0.05 * np.sqrt(np.mean(written**2))


def test_mp3_is_read(tmp_path):
    try:
        soundfile.write(tmp_path / "a.mp3", sine(440, 16000, 16000), 16000, format="MP3")
    except (soundfile.LibsndfileError, TypeError, ValueError) as error:
        pytest.skip(f"this libsndfile cannot write MP3: {error}")
    assert ".mp3" in AUDIO_SUFFIXES
    got = read_audio(tmp_path / "a.mp3")
    assert abs(len(got) - 16000) <= 2000  # encoder padding
    assert abs(peak_hz(got, 16000) - 440) <= 2


def test_stereo_is_mixed_down_to_the_mean_of_its_channels(tmp_path):
    rng = np.random.default_rng(1)
    left, right = rng.uniform(-1, 1, 300), rng.uniform(-1, 1, 300)
    soundfile.write(
        tmp_path / "s.wav", np.stack([left, right], 1).astype(np.float32), 16000, "FLOAT"
    )
    expected = (left.astype(np.float32) + right.astype(np.float32)) / 2
    np.testing.assert_allclose(read_audio(tmp_path / "s.wav"), expected, atol=1e-7)


def test_audio_info_reads_the_header(tmp_path):
    soundfile.write(tmp_path / "a.flac", np.zeros((11025, 2)), 22050)
    assert audio_info(tmp_path / "a.flac") == AudioInfo(11025, 22050, 2, 0.5)


# ---------------------------------------------------------------- resampling


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_resampling_keeps_a_sines_frequency_values_and_duration(tmp_path, rate):
    n = rate // 2  # half a second
    soundfile.write(tmp_path / "a.wav", sine(1000, rate, n), rate, subtype="FLOAT")
    got = read_audio(tmp_path / "a.wav", sample_rate=16000)
    assert got.dtype == np.float32
    assert len(got) == n * 16000 // rate == 8000
    spectrum = np.abs(np.fft.rfft(got))
    assert np.argmax(spectrum) == 1000 * len(got) // 16000  # bin k is k * 16000 / M Hz
    # away from the edges (the filter's reach), the sine sampled at 16 kHz
    middle = slice(200, -200)
    np.testing.assert_allclose(got[middle], sine(1000, 16000, 8000)[middle], atol=5e-3)


def test_resampled_length_is_rounded_up():
    assert len(resample(np.zeros(1000), 44100, 16000)) == -(-1000 * 16000 // 44100) == 363
    assert len(resample(np.zeros(1000), 16000, 16000)) == 1000


def test_downsampling_filters_out_what_the_new_rate_cannot_hold():
    tone = sine(12000, 44100, 44100)  # above 8 kHz, the Nyquist frequency at 16 kHz
    got = resample(tone, 44100, 16000)
    # naive decimation would alias it to 4 kHz at full amplitude (RMS 0.35)
    assert np.sqrt(np.mean(got[500:-500] ** 2)) < 0.01


def test_bad_rates_are_named():
    with pytest.raises(UserError, match=r"^to_rate: expected a sample rate in Hz .* got 0$"):
        resample(np.zeros(3), 16000, 0)
    with pytest.raises(UserError, match=r"^sample_rate: expected .* got 16000\.0$"):
        read_audio("x.wav", sample_rate=16000.0)


# ---------------------------------------------------------------- errors


def test_a_file_that_is_not_audio_gives_libsndfiles_reason(tmp_path):
    (tmp_path / "bad.wav").write_text("hello")
    with pytest.raises(UserError) as info:
        read_audio(tmp_path / "bad.wav")
    assert str(info.value) == (
        f"{tmp_path / 'bad.wav'}: expected audio that libsndfile can read, got an error: "
        "Format not recognised"
    )


def test_an_empty_file_has_no_samples(tmp_path):
    soundfile.write(tmp_path / "e.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(UserError, match=r"e\.wav: expected audio samples, got none \(an empty"):
        read_audio(tmp_path / "e.wav")


def test_too_long_is_refused_from_the_header_before_reading(tmp_path, monkeypatch):
    soundfile.write(tmp_path / "long.wav", np.zeros(32000, np.float32), 16000)

    def no_reading(*args, **kwargs):
        raise AssertionError("the samples were read")

    monkeypatch.setattr(soundfile.SoundFile, "read", no_reading)
    with pytest.raises(UserError) as info:
        read_audio(tmp_path / "long.wav", max_seconds=1.5)
    assert str(info.value) == (
        f"{tmp_path / 'long.wav'}: expected at most 1.5 s of audio (`max_seconds`), got 2.00 s"
    )


def test_max_seconds_must_be_positive(tmp_path):
    with pytest.raises(UserError, match=r"^max_seconds: expected a number of seconds > 0, got 0$"):
        read_audio(tmp_path / "a.wav", max_seconds=0)


def test_missing_folder_and_fifo_are_named(tmp_path):
    with pytest.raises(UserError, match=r"nope\.wav: no such audio file$"):
        read_audio(tmp_path / "nope.wav")
    (tmp_path / "d.wav").mkdir()
    with pytest.raises(UserError, match=r"d\.wav: expected an audio file, got a folder$"):
        read_audio(tmp_path / "d.wav")
    os.mkfifo(tmp_path / "f.wav")  # opening it would block: it must not be opened
    with pytest.raises(UserError, match=r"f\.wav: expected an audio file, got a special file"):
        audio_info(tmp_path / "f.wav")


# ---------------------------------------------------------------- silence


def test_silence_is_refused_with_its_peak_in_dbfs():
    with pytest.raises(UserError, match=r"^a\.wav:3: silent audio \(peak -inf dBFS\); expected"):
        check_audible(np.zeros(100), "a.wav:3")
    quiet = np.full(10, -1e-4)  # 20 log10(1e-4) = -80 dBFS
    with pytest.raises(UserError, match=r"silent audio \(peak -80\.0 dBFS\)"):
        check_audible(quiet, "q.wav")
    with pytest.raises(UserError, match=r"peak -60\.9 dBFS"):
        check_audible(np.array([0.0009]), "q.wav")
    check_audible(np.array([0.0, 0.001]), "ok.wav")  # -60 dBFS exactly is audible
    check_audible(sine(440, 16000, 100, 0.01), "ok.wav")
