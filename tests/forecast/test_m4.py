"""The M4 seasonality test and seasonal adjustment, against the formulas written out here."""

import numpy as np
import pytest

from lstmkit.forecast.m4 import m4_adjustment, m4_seasonal

M = 12


def acf_by_hand(y: np.ndarray, lags: int) -> np.ndarray:
    """r_1 .. r_lags, R's acf: the lag-k autocovariance over n, divided by the variance."""
    d = y - y.mean()
    return np.array([np.sum(d[k:] * d[: d.size - k]) for k in range(1, lags + 1)]) / np.sum(d * d)


def classical_indices(y: np.ndarray, m: int, multiplicative: bool) -> np.ndarray:
    """R's decompose(): centred 2×m moving average (m even), per-position mean of the detrended
    values, normalised to mean 1 (sum 0); the indices of every position of ``y``."""
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.full(y.size, np.nan)
    trend[m // 2 : y.size - m // 2] = np.convolve(y, weights, mode="valid")
    detrended = y / trend if multiplicative else y - trend
    figure = np.array([np.nanmean(detrended[i::m]) for i in range(m)])
    figure = figure / figure.mean() if multiplicative else figure - figure.mean()
    return figure[np.arange(y.size) % m]


@pytest.fixture
def seasonal():
    """96 positive months with a multiplicative yearly season and a trend."""
    t = np.arange(96)
    noise = np.random.default_rng(1).normal(0, 0.02, t.size)
    return (20 + 0.1 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / M) + noise)


def test_seasonality_test_is_the_m4_formula(seasonal):
    r = acf_by_hand(seasonal, M)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[: M - 1] ** 2)) / seasonal.size)
    assert abs(r[M - 1]) > limit
    assert m4_seasonal(seasonal, M)
    noise = np.random.default_rng(0).normal(size=96)
    r = acf_by_hand(noise, M)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[: M - 1] ** 2)) / noise.size)
    assert m4_seasonal(noise, M) == bool(abs(r[M - 1]) > limit)


def test_short_constant_or_unseasonal_periods_are_not_seasonal(seasonal):
    spikes = 10 + 5.0 * (np.arange(3 * M) % M == 0)
    assert m4_seasonal(spikes, M)
    assert not m4_seasonal(spikes[:-1], M)  # the M4 code wants 3 seasons
    assert not m4_seasonal(np.full(60, 4.0), M)
    assert not m4_seasonal(seasonal, 1)


def test_multiplicative_adjustment_matches_the_classical_decomposition(seasonal):
    a = m4_adjustment(seasonal, M, 15)
    idx = classical_indices(seasonal, M, multiplicative=True)
    assert a.kind == "multiplicative"
    np.testing.assert_allclose(a.adjusted, seasonal / idx)
    # SIout: the last season's indices, repeated in phase over the horizon
    future_positions = np.arange(seasonal.size, seasonal.size + 15) % M
    np.testing.assert_allclose(a.future, idx[:M][future_positions])
    np.testing.assert_allclose(a.restore(np.ones(15)), a.future)


def test_non_positive_values_are_adjusted_additively(seasonal):
    shifted = seasonal - 30  # crosses zero
    a = m4_adjustment(shifted, M, 3)
    assert a.kind == "additive"
    idx = classical_indices(shifted, M, multiplicative=False)
    np.testing.assert_allclose(a.adjusted, shifted - idx)
    np.testing.assert_allclose(a.restore(np.zeros(3)), idx[:3])


def test_unseasonal_series_are_left_as_they_are():
    y = np.linspace(1.0, 5.0, 50)
    a = m4_adjustment(y, M, 4)
    assert a.kind == "none"
    np.testing.assert_array_equal(a.adjusted, y)
    np.testing.assert_array_equal(a.restore(np.arange(4.0)), np.arange(4.0))
