"""Classical baselines: exact naive values, ETS/ARIMA on tiny synthetic series, backtest folds."""

import math
import warnings
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import UserError
from lstmkit.forecast import baselines
from lstmkit.forecast.baselines import (
    BASELINES,
    arima,
    ets,
    forecast_baseline,
    naive,
    seasonal_naive,
)
from lstmkit.forecast.metrics import mase

AIR_PASSENGERS = Path("/work/shared/data/timeseries/AirPassengers.csv")


@pytest.fixture
def seasonal_series():
    """96 months: level 10, slope 0.2, amplitude-3 yearly sine, N(0, 0.3) noise."""
    t = np.arange(96)
    noise = np.random.default_rng(0).normal(0.0, 0.3, t.size)
    return 10 + 0.2 * t + 3 * np.sin(2 * np.pi * t / 12) + noise


def test_naive_values_and_quantiles():
    fc = naive([1.0, 2.0, 4.0, 7.0], 2, quantiles=(0.1, 0.5, 0.9))
    np.testing.assert_array_equal(fc.mean, [7.0, 7.0])
    sigma = math.sqrt((1 + 4 + 9) / 3)  # RMS of the one-step differences 1, 2, 3
    z = NormalDist().inv_cdf(0.9)
    np.testing.assert_allclose(fc.quantiles[0.9], [7 + z * sigma, 7 + z * sigma * math.sqrt(2)])
    np.testing.assert_allclose(fc.quantiles[0.5], fc.mean)
    assert fc.quantiles[0.1][1] == pytest.approx(7 - z * sigma * math.sqrt(2))


def test_seasonal_naive_values_and_quantiles():
    fc = seasonal_naive(np.arange(1.0, 8.0), 5, season=3, quantiles=(0.9,))
    np.testing.assert_array_equal(fc.mean, [5.0, 6.0, 7.0, 5.0, 6.0])
    # lag-3 differences are all 3; the spread grows once per completed season
    z = NormalDist().inv_cdf(0.9)
    widths = z * 3 * np.array([1, 1, 1, math.sqrt(2), math.sqrt(2)])
    np.testing.assert_allclose(fc.quantiles[0.9] - fc.mean, widths)


def test_seasonal_naive_needs_a_full_season():
    with pytest.raises(
        UserError, match="history: expected at least season = 4 values for seasonal_naive, got 3"
    ):
        seasonal_naive([1.0, 2.0, 3.0], 2, season=4)
    # exactly one season: a forecast, but no residuals for quantiles
    fc = seasonal_naive([1.0, 2.0, 3.0], 2, season=3)
    np.testing.assert_array_equal(fc.mean, [1.0, 2.0])
    assert fc.quantiles is None
    assert "no in-sample residuals" in fc.note


def test_pandas_history_dates_the_forecast():
    idx = pd.date_range("2020-01-01", periods=6, freq="MS")
    fc = forecast_baseline("naive", pd.Series(np.arange(6.0), index=idx), 3, 1)
    assert list(fc.index) == list(pd.date_range("2020-07-01", periods=3, freq="MS"))
    assert forecast_baseline("naive", np.arange(6.0), 3, 1).index is None


def test_ets_beats_naive_and_covers(seasonal_series):
    fc = ets(seasonal_series[:84], 12, season=12)
    assert "trend=damped add, seasonal=add 12" in fc.note
    y, scores = np.asarray(seasonal_series), {"naive": [], "ets": []}
    for origin in (len(y) - 36, len(y) - 24, len(y) - 12):  # three folds of 12
        train, test = y[:origin], y[origin : origin + 12]
        for name in scores:
            fc = forecast_baseline(name, train, 12, 12, quantiles=(0.1, 0.9))
            inside = (fc.quantiles[0.1] <= test) & (test <= fc.quantiles[0.9])
            scores[name].append((mase(test, fc.mean, train, 12), inside.mean()))
    m_ets, cover = np.mean(scores["ets"], axis=0)
    m_naive = np.mean(scores["naive"], axis=0)[0]
    assert m_ets < m_naive / 2, f"ETS MASE {m_ets:.3f}, naive {m_naive:.3f}"
    # The 80% interval covers less than 80% here: the damped trend falls behind a linear trend
    # and the analytic variance leaves out parameter uncertainty (about 57% over seeds 0-3).
    assert cover >= 0.5, f"80% interval covered {cover:.2f} of the truth over 3 folds"


def test_ets_simplifies_on_short_histories(seasonal_series):
    fc = ets(seasonal_series[:15], 3, season=12)
    assert fc.mean.shape == (3,)
    assert "season dropped: 15 values < 2 seasons of 12" in fc.note
    assert ets(seasonal_series[:3], 3).note == "ets skipped: 3 values, at least 4 needed"


def test_arima_forecasts_or_says_why_not(seasonal_series):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # statsmodels' warnings must stay inside (in the note)
        fc = arima(seasonal_series[:84], 12, season=12)
    assert fc.mean.shape == (12,)
    assert fc.note.startswith("arima(1, 1, 1)(0, 1, 1, 12)")
    assert set(fc.quantiles) == {0.1, 0.5, 0.9}
    skipped = arima(seasonal_series, 4, season=53)
    assert skipped.skipped
    assert skipped.note == "arima skipped: season 53 > 52, the seasonal state space is too large"
    assert arima(seasonal_series[:5], 2).note == "arima skipped: 5 values < 8"


def test_convergence_warnings_are_silenced_and_noted(seasonal_series, monkeypatch):
    monkeypatch.setattr(baselines, "MAXITER", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fc = ets(seasonal_series[:60], 6, season=12)
    assert fc.mean.shape == (6,)
    assert "ConvergenceWarning: Maximum Likelihood optimization failed to converge" in fc.note


def test_common_interface_errors_are_named():
    assert set(BASELINES) == {"naive", "seasonal_naive", "ets", "arima"}
    with pytest.raises(UserError, match="name: expected one of naive, seasonal_naive, ets, arima"):
        forecast_baseline("prophet", [1.0, 2.0], 1, 1)
    with pytest.raises(UserError, match="horizon: expected an integer ≥ 1, got 0"):
        forecast_baseline("naive", [1.0, 2.0], 0, 1)
    with pytest.raises(UserError, match="quantiles: expected levels strictly between 0 and 1"):
        forecast_baseline("naive", [1.0, 2.0], 1, 1, quantiles=(0.0, 0.5))
    with pytest.raises(UserError, match=r"history: expected finite values, got NaN/inf at"):
        forecast_baseline("ets", [1.0, np.nan, 3.0, 4.0], 1, 1)
    with pytest.raises(UserError, match=r"history: expected a non-empty 1-D series, got shape"):
        forecast_baseline("naive", np.zeros((3, 2)), 1, 1)


def test_arima_is_skipped_on_a_short_history_and_fitted_on_a_longer_one():
    y = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0, 8.0])
    short = forecast_baseline("arima", y[:6], 2, 2)
    assert short.skipped
    assert short.note == "arima skipped: 6 values < 8"
    assert forecast_baseline("arima", y[:10], 2, 2).mean.shape == (2,)


@pytest.mark.skipif(not AIR_PASSENGERS.exists(), reason=f"{AIR_PASSENGERS} is absent")
def test_air_passengers_ets_beats_seasonal_naive():
    y = pd.read_csv(AIR_PASSENGERS)["#Passengers"].to_numpy(dtype=float)
    train, test = y[:-12], y[-12:]
    m_snaive = mase(test, seasonal_naive(train, 12, 12).mean, train, 12)
    m_ets = mase(test, ets(train, 12, 12).mean, train, 12)
    assert m_ets < m_snaive, f"AirPassengers MASE: ETS {m_ets:.3f}, seasonal naive {m_snaive:.3f}"
