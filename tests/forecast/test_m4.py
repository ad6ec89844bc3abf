"""The M4 seasonality test and seasonal adjustment, against the formulas written out here."""

import numpy as np
import pytest

from lstmkit.forecast.m4 import m4_adjustment, m4_seasonal, naive2, owa

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


# Four years of quarters, a level rising one a year and a season of +3, -3, -1, +1 around it.
QUARTERS = [8, 2, 4, 6, 9, 3, 5, 7, 10, 4, 6, 8, 11, 5, 7, 9]


def test_naive2_on_a_hand_worked_quarterly_series():
    y = np.array(QUARTERS, dtype=float)
    # The seasonality test: mean 6.5, sum of squared deviations 100, lagged products at lags
    # 1..4: -5.75, -29.5, -3.25, 65; so r_4 = 0.65 against 1.645 * sqrt((1 + 2 * (0.0575² +
    # 0.295² + 0.0325²)) / 16) = 0.4473: seasonal.
    assert m4_seasonal(y, 4)
    # The centred 2x4 moving average at t = 2..13 is (37 + 2t) / 8 (41/8, 43/8, ..., 63/8); the
    # ratios y_t / trend_t per quarter (t mod 4), averaged over the three years they exist in:
    ratio = {t: 8 * y[t] / (37 + 2 * t) for t in range(2, 14)}
    figure = [
        (ratio[4] + ratio[8] + ratio[12]) / 3,  # 72/45, 80/53, 88/61: 1.51735
        (ratio[5] + ratio[9] + ratio[13]) / 3,  # 24/47, 32/55, 40/63: 0.57579
        (ratio[2] + ratio[6] + ratio[10]) / 3,  # 32/41, 40/49, 48/57: 0.81297
        (ratio[3] + ratio[7] + ratio[11]) / 3,  # 48/43, 56/51, 64/59: 1.09969
    ]
    indices = np.array(figure) / np.mean(figure)  # scaled to mean 1
    np.testing.assert_allclose(indices, [1.515153, 0.574958, 0.811795, 1.098094], atol=1e-6)
    # The last value, 9 (a fourth quarter), adjusted: 9 / 1.098094 = 8.196018; repeated and
    # multiplied by the indices of the quarters that follow: 1, 2, 3, 4, 1, 2.
    expected = [12.418223, 4.712365, 6.653486, 9.0, 12.418223, 4.712365]
    np.testing.assert_allclose(naive2(y, 4, 6), expected, atol=1e-6)


def test_naive2_is_naive_where_the_series_is_not_seasonal():
    y = np.array(QUARTERS[:11], dtype=float)  # under three seasons: not tested, not seasonal
    np.testing.assert_array_equal(naive2(y, 4, 3), [y[-1]] * 3)
    trend = np.linspace(1.0, 5.0, 40)
    np.testing.assert_array_equal(naive2(trend, 4, 2), [5.0, 5.0])


def test_owa_is_the_mean_of_the_two_ratios_to_naive2():
    # sMAPE 9 against 12, MASE 1.6 against 2: (0.75 + 0.8) / 2
    assert owa(9.0, 1.6, 12.0, 2.0) == pytest.approx(0.775)
    assert owa(12.0, 2.0, 12.0, 2.0) == pytest.approx(1.0)
