"""Augmentation: the vocal tract length warp against the mel formula and against the features
of a tone at the warped frequency; SpecAugment's masks within their bounds."""

import math

import numpy as np
import pytest
import torch

from lstmkit.errors import UserError
from lstmkit.speech.augment import band_centres, random_warp, spec_augment, warp_frequencies
from lstmkit.speech.features import FeatureConfig, log_mel

# ---------------------------------------------------------------- the warp


def mel(hz):
    return 2595 * math.log10(1 + hz / 700)


def test_band_centres_are_the_middle_edges_equally_spaced_in_mel():
    config = FeatureConfig(n_mels=10, f_min=100.0, f_max=6000.0)
    step = (mel(6000) - mel(100)) / 11
    expected = [700 * (10 ** ((mel(100) + k * step) / 2595) - 1) for k in range(1, 11)]
    np.testing.assert_allclose(band_centres(config).numpy(), expected, rtol=1e-9)


@pytest.mark.parametrize("factor", [0.8, 0.93, 1.0, 1.07, 1.25])
def test_a_feature_linear_in_mel_is_read_at_the_frequency_over_the_factor(factor):
    """A band's value is the input's at centre / factor Hz: for features linear in the mel of
    the band's centre, that is the line at mel(centre / factor), clamped to the end bands."""
    config = FeatureConfig(n_mels=40)
    centres = band_centres(config).numpy()
    mels = np.array([mel(c) for c in centres])
    x = torch.from_numpy(np.stack([0.01 * mels, -0.002 * mels + 3.0]))  # (T=2, F)
    out = warp_frequencies(x, factor, band_centres(config)).numpy()
    source = np.clip([mel(c / factor) for c in centres], mels[0], mels[-1])
    np.testing.assert_allclose(out[0], 0.01 * source, rtol=1e-9)
    np.testing.assert_allclose(out[1], -0.002 * source + 3.0, rtol=1e-9)


@pytest.mark.parametrize(("tone", "factor"), [(500.0, 1.15), (1000.0, 0.85), (2200.0, 1.1)])
def test_a_warped_tone_peaks_where_the_tone_at_the_scaled_frequency_peaks(tone, factor):
    config = FeatureConfig()
    t = np.arange(16000) / 16000

    def peak(features):
        return int(features.mean(0).argmax())

    heard = log_mel(np.sin(2 * np.pi * tone * t), config)
    scaled = log_mel(np.sin(2 * np.pi * tone * factor * t), config)
    assert abs(peak(warp_frequencies(heard, factor, band_centres(config))) - peak(scaled)) <= 1
    assert peak(heard) != peak(scaled)  # the warp moved it


def test_random_warp_draws_a_factor_in_the_spread_from_the_generator():
    config = FeatureConfig(n_mels=40)
    centres = band_centres(config)
    x = torch.randn(30, 40)
    out = [random_warp(x, torch.Generator().manual_seed(s), 0.1, centres) for s in range(20)]
    for s, o in enumerate(out):  # the factor 1 + 0.1 (2u - 1), u the generator's first draw
        u = float(torch.rand((), generator=torch.Generator().manual_seed(s), dtype=torch.float64))
        assert torch.equal(o, warp_frequencies(x, 1 + 0.1 * (2 * u - 1), centres))
    assert len({o.sum().item() for o in out}) == 20
    assert torch.equal(random_warp(x, torch.Generator().manual_seed(3), 0.0, centres), x)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, c: warp_frequencies(x, 0.0, c), r"^factor: expected a number > 0, got 0\.0$"),
        (
            lambda x, c: warp_frequencies(x[:, :5], 1.1, c),
            r"^features: expected \(T, 8\), got shape \(4, 5\)$",
        ),
        (
            lambda x, c: random_warp(x, torch.Generator(), 0.5, c),
            r"^spread: expected a number in \[0, 0\.5\), got 0\.5$",
        ),
        (
            lambda x, c: random_warp(x, torch.Generator(), -0.1, c),
            r"^spread: expected a number in \[0, 0\.5\), got -0\.1$",
        ),
    ],
)
def test_warp_errors(call, message):
    with pytest.raises(UserError, match=message):
        call(torch.ones(4, 8), band_centres(FeatureConfig(n_mels=8)))


# ---------------------------------------------------------------- SpecAugment


def runs(mask):
    """The lengths of the runs of True in a 1-D bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    starts, ends = np.flatnonzero(np.diff(padded) == 1), np.flatnonzero(np.diff(padded) == -1)
    return list(ends - starts)


def test_spec_augment_masks_within_their_bounds():
    x = torch.ones(200, 80)
    widest_band, widest_time = 0, 0
    for seed in range(40):
        one = spec_augment(x, torch.Generator().manual_seed(seed), freq_masks=1, time_masks=1)
        zero = (one == 0).numpy()
        bands, frames = zero.all(0), zero.all(1)  # (F,), (T,)
        assert ((one == 0) | (one == 1)).all()
        assert (zero == (bands[None, :] | frames[:, None])).all()  # whole bands and frames only
        assert len(runs(bands)) <= 1
        assert len(runs(frames)) <= 1
        widest_band = max([widest_band, *runs(bands)])
        widest_time = max([widest_time, *runs(frames)])
        two = (spec_augment(x, torch.Generator().manual_seed(seed)) == 0).numpy()
        assert two.all(0).sum() <= 2 * 27
        assert two.all(1).sum() <= 2 * 10
    assert 20 <= widest_band <= 27
    assert 8 <= widest_time <= 10  # floor(0.05 * 200)
    assert (x == 1).all()  # the input is left alone


def test_spec_augment_time_masks_adapt_to_the_length():
    for seed in range(20):
        out = spec_augment(torch.ones(40, 10), torch.Generator().manual_seed(seed), freq_masks=0)
        assert int((out == 0).all(1).sum()) <= 4  # 2 masks of at most floor(0.05 * 40) = 2


def test_spec_augment_is_deterministic_given_the_generator():
    x = torch.randn(120, 40)
    a = spec_augment(x, torch.Generator().manual_seed(5))
    b = spec_augment(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    others = [spec_augment(x, torch.Generator().manual_seed(s)) for s in range(6, 10)]
    assert any(not torch.equal(a, o) for o in others)
    none = spec_augment(x, torch.Generator(), freq_masks=0, time_masks=0)
    assert torch.equal(none, x)
    assert none is not x


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"freq_masks": -1}, r"^freq_masks: expected an integer ≥ 0, got -1$"),
        ({"freq_width": 2.0}, r"^freq_width: expected an integer ≥ 0, got 2\.0$"),
        ({"time_fraction": 1.5}, r"^time_fraction: expected a number in \[0, 1\], got 1\.5$"),
    ],
)
def test_spec_augment_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        spec_augment(torch.ones(10, 10), torch.Generator(), **kwargs)
    with pytest.raises(UserError, match=r"^features: expected \(T, F\), got shape \(10,\)$"):
        spec_augment(torch.ones(10), torch.Generator())
