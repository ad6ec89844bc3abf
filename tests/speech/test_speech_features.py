"""Log-mel features against numpy and the mel formula, normalisation, the cache."""

import math
import os

import numpy as np
import pytest
import soundfile
import torch
from scipy.signal import resample_poly

from lstmkit.data.audio import read_audio
from lstmkit.errors import Notice, UserError
from lstmkit.speech.feature_cache import FeatureCache, compute_features
from lstmkit.speech.features import (
    FeatureConfig,
    features_of_samples,
    log_mel,
    mel_filterbank,
    normalize_causal,
    normalize_utterance,
)


def mel(hz):
    return 2595 * math.log10(1 + hz / 700)


def hz(m):
    return 700 * (10 ** (m / 2595) - 1)


def edges(n_mels, f_min, f_max):
    """The n_mels + 2 filter edges in Hz, equally spaced in HTK mel."""
    lo, hi = mel(f_min), mel(f_max)
    return [hz(lo + (hi - lo) * i / (n_mels + 1)) for i in range(n_mels + 2)]


def reference_filterbank(n_freqs, n_mels, rate, f_min, f_max):
    """Triangles written out: 0 at the lower edge, 1 at the centre, 0 at the upper edge."""
    e = edges(n_mels, f_min, f_max)
    bank = np.zeros((n_freqs, n_mels))
    for k in range(n_freqs):
        f = k * (rate / 2) / (n_freqs - 1)
        for m in range(n_mels):
            lower, centre, upper = e[m], e[m + 1], e[m + 2]
            if lower < f <= centre:
                bank[k, m] = (f - lower) / (centre - lower)
            elif centre < f < upper:
                bank[k, m] = (upper - f) / (upper - centre)
    return bank


def reference_log_mel(x, config):
    """Frames of win samples every hop, periodic Hann, rfft of n_fft, |.|^2, mel, log."""
    win, hop, n_fft = config.win_length, config.hop_length, config.fft_size
    x = np.asarray(x, dtype=np.float64)
    if len(x) < win:
        x = np.concatenate([x, np.zeros(win - len(x))])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    frames = np.stack([x[t : t + win] * window for t in range(0, len(x) - win + 1, hop)])
    power = np.abs(np.fft.rfft(frames, n=n_fft)) ** 2  # (T, n_fft // 2 + 1)
    bank = reference_filterbank(n_fft // 2 + 1, config.n_mels, config.sample_rate, 0, config.top)
    return np.log(power @ bank + 1e-6)


def noise(n, seed=0):
    return np.random.default_rng(seed).normal(0, 0.3, n).astype(np.float32)


def tone(freq, n, rate=16000):
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float32)


# ---------------------------------------------------------------- config


def test_config_defaults_and_derived_sizes():
    config = FeatureConfig()
    assert (config.win_length, config.hop_length, config.fft_size, config.top) == (
        400,
        160,
        512,
        8000.0,
    )
    odd = FeatureConfig(sample_rate=22050, n_mels=64)
    assert (odd.win_length, odd.hop_length, odd.fft_size) == (551, 220, 1024)  # 551.25, 220.5
    assert FeatureConfig(**config.to_dict()) == config
    assert FeatureConfig.from_dict({"n_mels": 40}).n_mels == 40
    with pytest.raises(UserError, match=r"^features: unknown setting 'nmels'; expected one of"):
        FeatureConfig.from_dict({"nmels": 40})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"sample_rate": 0}, r"^sample_rate: expected an integer ≥ 1, got 0$"),
        ({"n_mels": 2.5}, r"^n_mels: expected an integer ≥ 1, got 2\.5$"),
        ({"win_ms": -1}, r"^win_ms: expected a number of milliseconds > 0, got -1$"),
        ({"hop_ms": 30.0}, r"^hop_ms: expected a step .* at most win_ms \(25\.0 ms\)"),
        ({"n_fft": 256}, r"^n_fft: expected an integer ≥ 400, got 256$"),
        ({"f_min": -5.0}, r"^f_min: expected a frequency in \[0, 8000\) Hz, got -5\.0$"),
        ({"f_max": 9000.0}, r"^f_max: expected a frequency in \(0, 8000\] Hz .* got 9000\.0$"),
        ({"f_min": 300.0, "f_max": 200.0}, r"^f_max: expected a frequency in \(300, 8000\]"),
        (
            {"n_mels": 128},
            r"^n_mels: expected mel bands that each hold an FFT bin, got 128: band 0",
        ),
        ({"normalize": "global"}, r"^normalize: expected one of utterance, causal, got 'global'$"),
    ],
)
def test_config_errors_name_the_field(settings, message):
    with pytest.raises(UserError, match=message):
        FeatureConfig(**settings)


def test_128_bands_at_512_points_leave_the_first_band_empty_by_the_formula():
    e = edges(128, 0, 8000)
    assert e[2] < 16000 / 512  # band 0 ends before bin 1 (31.25 Hz); bin 0 is its lower edge
    first_bin_of_band_0 = [k for k in range(257) if e[0] < k * 31.25 < e[2]]
    assert first_bin_of_band_0 == []


# ---------------------------------------------------------------- mel filters


@pytest.mark.parametrize(
    ("n_freqs", "n_mels", "rate", "f_min", "f_max"),
    [(257, 40, 16000, 50.0, 7000.0), (513, 64, 22050, 0.0, 11025.0), (129, 23, 8000, 0, 4000)],
)
def test_mel_filterbank_is_the_htk_triangles(n_freqs, n_mels, rate, f_min, f_max):
    got = mel_filterbank(n_freqs, n_mels, rate, f_min, f_max)
    assert got.dtype == torch.float32
    assert got.shape == (n_freqs, n_mels)
    expected = reference_filterbank(n_freqs, n_mels, rate, f_min, f_max)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


def test_each_filter_peaks_at_1_at_its_centre_and_lives_between_its_edges():
    n_freqs = 16001  # a bin every 0.5 Hz
    bank = mel_filterbank(n_freqs, 20, 16000).numpy()
    freqs = np.arange(n_freqs) * 0.5
    e = edges(20, 0, 8000)
    for m in range(20):
        inside = (freqs > e[m]) & (freqs < e[m + 2])
        assert (bank[~inside, m] == 0).all()
        assert (bank[inside, m] > 0).all()
        peak = np.argmax(bank[:, m])
        assert abs(freqs[peak] - e[m + 1]) <= 0.5
        assert bank[peak, m] == pytest.approx(1.0, abs=0.5 / (e[m + 1] - e[m]))


# ---------------------------------------------------------------- log-mel


@pytest.mark.parametrize(
    "config",
    [
        FeatureConfig(n_mels=40),
        FeatureConfig(n_mels=40, win_ms=25.0625),  # 401 samples: n_fft - win odd
        FeatureConfig(sample_rate=8000, n_mels=23),
        FeatureConfig(n_mels=40, n_fft=1024),
        FeatureConfig(n_mels=40, win_ms=32.0),  # win == n_fft
    ],
    ids=["default", "odd-padding", "8k", "n_fft", "no-padding"],
)
def test_log_mel_equals_numpy_framing_and_rfft(config):
    x = noise(4000)
    got = log_mel(x, config)
    expected = reference_log_mel(x, config)
    assert got.dtype == torch.float32
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [1, 399, 400, 401, 559, 560, 16000])
def test_frames_count_is_one_plus_n_minus_win_over_hop(n):
    config = FeatureConfig(n_mels=40)
    got = log_mel(noise(n), config)
    assert got.shape == (1 + max(0, n - 400) // 160, 40)
    assert config.num_frames(n) == got.shape[0]


def test_audio_shorter_than_a_window_is_zero_padded():
    x = noise(250)
    padded = np.concatenate([x, np.zeros(150, np.float32)])
    config = FeatureConfig(n_mels=40)
    np.testing.assert_array_equal(log_mel(x, config).numpy(), log_mel(padded, config).numpy())
    np.testing.assert_allclose(log_mel(x, config).numpy(), reference_log_mel(x, config), atol=1e-4)


def test_features_of_chunks_equal_features_of_the_whole():
    config = FeatureConfig(n_mels=40)
    x = noise(3200)
    whole = log_mel(x, config)
    first = log_mel(x[:1840], config)  # frames 0-9 (the last starts at 1440)
    rest = log_mel(x[1600:], config)  # frame 10 starts at sample 1600
    np.testing.assert_allclose(torch.cat([first, rest]).numpy(), whole.numpy(), atol=1e-4)


@pytest.mark.parametrize("freq", [150.0, 300.0, 1000.0, 3500.0])
def test_a_tones_energy_lands_in_a_band_that_contains_it(freq):
    features = log_mel(tone(freq, 8000), FeatureConfig()).mean(0)  # (F,)
    e = edges(80, 0, 8000)
    loudest = int(features.argmax())
    assert e[loudest] < freq < e[loudest + 2]
    far = [m for m in range(80) if e[m + 2] < freq / 2 or e[m] > freq * 2]
    assert float(features[loudest] - features[far].max()) > 5  # e^5: 150 times the energy


# ---------------------------------------------------------------- normalisation


def test_normalize_utterance_is_mean_0_std_1_per_band():
    x = np.random.default_rng(0).normal(3, 2, (50, 6)).astype(np.float32)
    x[:, 2] = 7.0  # a constant band
    got = normalize_utterance(torch.from_numpy(x)).numpy()
    expected = (x - x.mean(0)) / np.maximum(x.std(0), 1e-5)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(got.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(np.delete(got.std(0), 2), 1, atol=1e-5)
    assert (got[:, 2] == 0).all()


# ---------------------------------------------------------------- in-memory samples


def test_features_of_samples_normalise_and_resample():
    config = FeatureConfig()
    x = noise(1000)
    expected = reference_log_mel(x, config)
    expected = (expected - expected.mean(0)) / np.maximum(expected.std(0), 1e-5)
    np.testing.assert_allclose(features_of_samples(x, config).numpy(), expected, atol=2e-3)
    x8 = noise(4000)
    got = features_of_samples(x8, config, sample_rate=8000)
    upsampled = reference_log_mel(resample_poly(x8.astype(np.float64), 2, 1), config)
    upsampled = (upsampled - upsampled.mean(0)) / upsampled.std(0)
    below = [m for m, c in enumerate(edges(80, 0, 8000)[2:]) if c < 3500]  # energy there
    assert got.shape == upsampled.shape == (1 + (8000 - 400) // 160, 80)
    np.testing.assert_allclose(got.numpy()[:, below], upsampled[:, below], atol=1e-2)


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros(100, np.int16), r"^samples: expected float samples, full scale at ±1, got int16"),
        (np.zeros((100, 2)), r"^samples: expected a 1-D array \(N,\) .* got shape \(100, 2\)$"),
        (np.array([0.0, np.nan]), r"^samples: expected finite values, got NaN or infinity$"),
    ],
)
def test_samples_are_checked(samples, message):
    with pytest.raises(UserError, match=message):
        features_of_samples(samples, FeatureConfig())


# ---------------------------------------------------------------- the cache


@pytest.fixture
def wavs(tmp_path):
    paths = []
    for k, n in enumerate([8000, 5000]):
        path = tmp_path / f"u{k}.wav"
        soundfile.write(path, noise(n, seed=k), 16000, subtype="PCM_16")
        paths.append(path)
    return paths


def entries(folder):
    return sorted(folder.rglob("*.npy"))


def test_features_are_computed_cached_and_read_back(wavs, tmp_path, monkeypatch):
    config = FeatureConfig(n_mels=40)
    cache = tmp_path / "cache"
    first = compute_features(wavs, config, cache_dir=cache, progress=True)
    for path, features in zip(wavs, first, strict=True):
        expected = normalize_utterance(
            torch.from_numpy(reference_log_mel(read_audio(path), config))
        )
        assert features.dtype == torch.float16
        np.testing.assert_allclose(features.float().numpy(), expected.numpy(), atol=1e-2, rtol=1e-2)
    assert [f.shape[0] for f in first] == [1 + (8000 - 400) // 160, 1 + (5000 - 400) // 160]
    assert len(entries(cache)) == 2
    assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".npy"]

    def no_reading(*args, **kwargs):
        raise AssertionError("audio was read although its features are cached")

    monkeypatch.setattr("lstmkit.speech.feature_cache.read_audio", no_reading)
    again = compute_features(wavs, config, cache_dir=cache)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


def test_the_key_follows_the_audio_bytes_and_the_settings(wavs, tmp_path):
    cache = FeatureCache(FeatureConfig(n_mels=40), tmp_path / "c")
    other = FeatureCache(FeatureConfig(n_mels=41), tmp_path / "c")
    key = cache.key(wavs[0])
    assert len(key) == 64
    assert key != other.key(wavs[0])
    assert key != cache.key(wavs[1])
    assert key == FeatureCache(FeatureConfig(n_mels=40), False).key(wavs[0])


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "shape", "dtype", "nan", "pickle"],
)
def test_a_damaged_entry_is_computed_again(wavs, tmp_path, monkeypatch, damage):
    config = FeatureConfig(n_mels=40)
    cache = FeatureCache(config, tmp_path / "c")
    good = cache.features(wavs[0])
    (entry,) = entries(tmp_path / "c")
    if damage == "garbage":
        entry.write_bytes(b"not an npy file")
    elif damage == "truncated":
        entry.write_bytes(entry.read_bytes()[:-100])
    elif damage == "shape":
        np.save(entry, np.zeros((3, 7), np.float16))
    elif damage == "dtype":
        np.save(entry, np.zeros(tuple(good.shape), np.float32))
    elif damage == "nan":
        np.save(entry, np.full(tuple(good.shape), np.nan, np.float16))
    else:
        np.save(entry, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    reads = []

    def counting(*args, **kwargs):
        reads.append(args[0])
        return read_audio(*args, **kwargs)

    monkeypatch.setattr("lstmkit.speech.feature_cache.read_audio", counting)
    assert torch.equal(cache.features(wavs[0]), good)
    assert reads == [wavs[0]]
    assert torch.equal(torch.from_numpy(np.load(entry, allow_pickle=False)), good)  # rewritten


def test_no_disk_cache_writes_nothing(wavs, tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path / "root"))
    compute_features(wavs, FeatureConfig(n_mels=40), cache_dir=False)
    assert not (tmp_path / "root").exists()
    compute_features(wavs[:1], FeatureConfig(n_mels=40))  # the default: $LSTMKIT_CACHE/features
    assert len(entries(tmp_path / "root" / "features")) == 1


def test_max_seconds_is_checked_even_when_cached(wavs, tmp_path):
    config = FeatureConfig(n_mels=40)
    compute_features(wavs[:1], config, cache_dir=tmp_path / "c")
    with pytest.raises(UserError, match=r"u0\.wav: expected at most 0\.3 s of audio"):
        compute_features(wavs[:1], config, cache_dir=tmp_path / "c", max_seconds=0.3)


def test_a_cache_that_cannot_be_written_warns_once(wavs, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    with pytest.warns(Notice, match=r"cannot cache features") as caught:
        features = compute_features(wavs, FeatureConfig(n_mels=40), cache_dir=blocked)
    assert len(caught) == 1
    assert [f.shape[1] for f in features] == [40, 40]
    assert sorted(os.listdir(tmp_path)) == ["file", "u0.wav", "u1.wav"]  # no temporary left


# ---------------------------------------------------------------- causal normalisation


def reference_causal(x, prior_frames=25, prior_std=4.0, floor=1e-5):
    """Frame t by the mean and deviation of a prior (prior_frames copies of frame 0, variance
    prior_std²) and frames 0..t, written out frame by frame."""
    out = np.zeros_like(x, dtype=np.float64)
    for t in range(len(x)):
        seen = x[: t + 1].astype(np.float64)
        n = prior_frames + t + 1
        mean = (prior_frames * x[0] + seen.sum(0)) / n
        second = (prior_frames * (x[0] ** 2 + prior_std**2) + (seen**2).sum(0)) / n
        out[t] = (x[t] - mean) / np.sqrt(np.maximum(second - mean**2, floor**2))
    return out


def test_normalize_causal_is_the_running_mean_and_deviation_with_a_prior():
    x = np.random.default_rng(3).normal(-5, 3, (40, 6)).astype(np.float32)
    x[:, 2] = 1.5  # a constant band: 0 throughout
    got, stats = normalize_causal(torch.from_numpy(x))
    np.testing.assert_allclose(got.numpy(), reference_causal(x), rtol=1e-5, atol=1e-5)
    assert got.dtype == torch.float32
    assert (got[:, 2] == 0).all()
    assert (got[0] == 0).all()  # frame 0 is its own prior's mean
    assert stats.count == 25 + 40
    np.testing.assert_allclose(stats.total, 25 * x[0] + x.astype(np.float64).sum(0))


def test_normalize_causal_frames_depend_on_no_later_frame():
    x = torch.randn(30, 4)
    changed = x.clone()
    changed[12:] = torch.randn(18, 4) * 10
    a, _ = normalize_causal(x)
    b, _ = normalize_causal(changed)
    assert torch.equal(a[:12], b[:12])
    assert not torch.equal(a[12:], b[12:])


def test_normalize_causal_in_chunks_equals_the_whole_exactly():
    x = torch.randn(50, 8) * 4 - 6
    whole, _ = normalize_causal(x)
    pieces, stats = [], None
    for lo, hi in [(0, 1), (1, 1), (1, 7), (7, 8), (8, 50)]:  # an empty chunk too
        out, stats = normalize_causal(x[lo:hi], stats)
        pieces.append(out)
    assert torch.equal(torch.cat(pieces), whole)


def test_features_of_samples_normalise_as_the_config_says():
    x = tone(700, 8000) + noise(8000) * 0.1
    raw = log_mel(x, FeatureConfig(n_mels=20))
    utterance = features_of_samples(x, FeatureConfig(n_mels=20))
    causal = features_of_samples(x, FeatureConfig(n_mels=20, normalize="causal"))
    assert torch.equal(utterance, normalize_utterance(raw))
    np.testing.assert_allclose(causal.numpy(), reference_causal(raw.numpy()), atol=1e-5)
    assert not torch.allclose(causal, utterance, atol=0.1)


def test_one_frame_of_log_mel_equals_its_row_among_many():
    config = FeatureConfig(n_mels=40)
    x = noise(4000, seed=4)
    whole = log_mel(x, config)
    for t in (0, 5, 22):
        start = t * config.hop_length
        one = log_mel(x[start : start + config.win_length], config)[0]
        # to float32 rounding: the FFT's code path depends on the batch on some CPUs
        torch.testing.assert_close(one, whole[t], rtol=0, atol=1e-5)
