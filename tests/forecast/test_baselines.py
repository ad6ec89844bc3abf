"""Classical baselines: naive values by formula, Comb against SES/Holt/damped Holt written out,
the automatic models' choices on series whose structure is known, statsforecast called directly."""

import math
import re
import warnings
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from statsforecast import StatsForecast
from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

from lstmkit.errors import UserError
from lstmkit.forecast import baselines
from lstmkit.forecast.baselines import (
    BASELINES,
    arima,
    comb,
    ets,
    forecast_baseline,
    naive,
    seasonal_naive,
    theta,
)
from lstmkit.forecast.m4 import m4_adjustment
from lstmkit.forecast.metrics import mase

AIR_PASSENGERS = Path("/work/shared/data/timeseries/AirPassengers.csv")
QS = (0.1, 0.5, 0.9)


@pytest.fixture
def seasonal_series():
    """96 months: level 10, slope 0.2, amplitude-3 yearly sine, N(0, 0.3) noise."""
    t = np.arange(96)
    noise = np.random.default_rng(0).normal(0.0, 0.3, t.size)
    return 10 + 0.2 * t + 3 * np.sin(2 * np.pi * t / 12) + noise


@pytest.fixture
def random_walk():
    return 50 + np.random.default_rng(3).normal(0.0, 1.0, 120).cumsum()


def test_naive_values_and_quantiles():
    fc = naive([1.0, 2.0, 4.0, 7.0], 2, quantiles=QS)
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


# ---------------------------------------------------------------------------------------------
# Comb: the M4 benchmark, rebuilt from its parts


def smoothing_forecast(y: np.ndarray, par: np.ndarray, horizon: int) -> np.ndarray:
    """Additive-error ETS in error-correction form (Hyndman et al. 2008, table 2.1) from the
    parameters [alpha, beta, gamma, phi, l0, (b0)]: SES without beta, Holt with phi = 1."""
    alpha, beta, _, phi = par[:4]
    trend = not math.isnan(beta)
    beta, phi = (beta, 1.0 if math.isnan(phi) else phi) if trend else (0.0, 1.0)
    level, slope = par[4], (par[5] if trend else 0.0)
    for value in y:
        error = value - (level + phi * slope)
        level, slope = level + phi * slope + alpha * error, phi * slope + beta * error
    damping = np.cumsum(phi ** np.arange(1, horizon + 1))
    return level + damping * slope


@pytest.mark.parametrize("season", [12, 1])
def test_comb_is_the_mean_of_ses_holt_and_damped_holt(seasonal_series, season):
    y, K = seasonal_series + 5, 18  # positive: the M4 adjustment is multiplicative
    fc = comb(y, K, season=season, quantiles=None)
    adjustment = m4_adjustment(y, season, K)
    assert adjustment.kind == ("multiplicative" if season == 12 else "none")
    members = []
    for model, damped, components in (
        ("ANN", None, "ANNN"),
        ("AAN", False, "AANN"),
        ("AAN", True, "AAND"),
    ):
        fitted = AutoETS(model=model, damped=damped).fit(adjustment.adjusted).model_
        assert fitted["components"] == components
        members.append(smoothing_forecast(adjustment.adjusted, fitted["par"], K))
    np.testing.assert_allclose(fc.mean, np.mean(members, axis=0) * adjustment.future, rtol=1e-9)
    assert fc.note.startswith("comb: mean of SES, Holt and damped Holt")
    assert ("multiplicatively adjusted season 12" in fc.note) == (season == 12)


def test_comb_quantiles_average_the_members(seasonal_series):
    y = seasonal_series + 5
    fc = comb(y, 12, 12, quantiles=QS)
    adjustment = m4_adjustment(y, 12, 12)
    expected = {q: [] for q in QS}
    for model, damped in (("ANN", None), ("AAN", False), ("AAN", True)):
        fitted = AutoETS(model=model, damped=damped).fit(adjustment.adjusted)
        out = fitted.predict(h=12, level=[80.0, 0.0])
        # statsforecast's interval around it, centred on the forecast written out above
        centre = smoothing_forecast(adjustment.adjusted, fitted.model_["par"], 12)
        for q, key in ((0.1, "lo-80.0"), (0.9, "hi-80.0"), (0.5, "lo-0.0")):
            expected[q].append(centre + out[key] - out["mean"])
    for q in QS:
        want = np.mean(expected[q], axis=0) * adjustment.future
        np.testing.assert_allclose(fc.quantiles[q], want, rtol=1e-9)


def test_damped_ets_forecasts_sum_the_damping_as_defined():
    t = np.arange(80)
    y = 20 + 15 * (1 - 0.95**t) + np.random.default_rng(2).normal(0, 0.4, t.size)
    fc = ets(y, 10, quantiles=(0.1, 0.9))
    assert fc.note == "AutoETS chose ETS(A,Ad,N)"
    fitted = AutoETS(model="AAN", damped=True).fit(y)
    want = smoothing_forecast(y, fitted.model_["par"], 10)
    np.testing.assert_allclose(fc.mean, want, rtol=1e-9)
    # statsforecast 2.1.1 sums 2φ + φ² + … + φ^(h−1): off by b (φ − φ^h) from step 2 on
    raw = fitted.predict(h=10, level=[80.0])
    phi, slope = fitted.model_["par"][3], fitted.model_["states"][-1][1]
    if not np.allclose(raw["mean"], want):
        shortfall = slope * (phi - phi ** np.arange(1, 11))
        np.testing.assert_allclose(raw["mean"] - want, shortfall, atol=1e-9)
    np.testing.assert_allclose(fc.quantiles[0.9] - fc.mean, raw["hi-80.0"] - raw["mean"])


# ---------------------------------------------------------------------------------------------
# The automatic models: what they choose, and that they are statsforecast's own


def test_automatic_models_find_the_season(seasonal_series):
    chosen_ets = AutoETS(season_length=12).fit(seasonal_series).model_["components"]
    assert chosen_ets[2] in "AM", chosen_ets
    assert "with season 12" in ets(seasonal_series, 12, 12).note
    note = arima(seasonal_series, 12, 12).note
    assert ")[12]" in note, note  # a seasonal part (P, D, Q) ≠ 0
    assert "adjusted season 12" in theta(seasonal_series, 12, 12).note


@pytest.mark.filterwarnings("ignore:possible convergence problem")  # statsforecast called directly
def test_a_random_walk_gets_one_difference(random_walk):
    model = AutoARIMA().fit(random_walk).model_
    p, q, _, _, _, d, D = model["arma"]  # R's arma: p, q, P, Q, m, d, D
    assert (d, D) == (1, 0)
    assert arima(random_walk, 6).note.startswith(f"AutoARIMA chose ARIMA({p},1,{q})")
    assert re.match(r"AutoETS chose ETS\([AM],N,N\)$", ets(random_walk, 6).note)  # ≈ SES
    fc = arima(random_walk, 6, quantiles=None)
    # no drift or AR term on a pure random walk: the forecast is flat at the last value
    if (p, q) == (0, 0):
        np.testing.assert_allclose(fc.mean, random_walk[-1])


@pytest.mark.filterwarnings("ignore:possible convergence problem")  # statsforecast called directly
@pytest.mark.parametrize("n", [96, 200])  # 200 > 150: AutoARIMA's search uses CSS
def test_forecasts_are_statsforecasts_own(n):
    t = np.arange(n)
    y = 10 + 0.2 * t + 3 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.3, n)
    frame = pd.DataFrame({"unique_id": "s", "ds": np.arange(n), "y": y})
    models = [
        AutoETS(season_length=12),
        AutoARIMA(season_length=12, approximation=n > 150),
        AutoTheta(season_length=12),
    ]
    direct = StatsForecast(models=models, freq=1).forecast(df=frame, h=12, level=[80])
    for name, column in (("ets", "AutoETS"), ("arima", "AutoARIMA"), ("theta", "AutoTheta")):
        fc = forecast_baseline(name, y, 12, 12, quantiles=(0.1, 0.9))
        np.testing.assert_allclose(fc.mean, direct[column], rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(fc.quantiles[0.1], direct[f"{column}-lo-80"], rtol=1e-5)
        np.testing.assert_allclose(fc.quantiles[0.9], direct[f"{column}-hi-80"], rtol=1e-5)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_quantiles_are_ordered_and_widen(seasonal_series, name):
    fc = forecast_baseline(name, seasonal_series, 24, 12, quantiles=(0.05, 0.1, 0.5, 0.9, 0.95))
    q = fc.quantiles
    for lo, hi in ((0.05, 0.1), (0.1, 0.5), (0.5, 0.9), (0.9, 0.95)):
        assert np.all(q[lo] <= q[hi] + 1e-9), (name, lo, hi)
    width = q[0.9] - q[0.1]
    assert width[-1] > width[0], (name, width)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_intervals_widen_step_by_step_on_a_random_walk(random_walk, name):
    fc = forecast_baseline(name, random_walk, 12, 1, quantiles=(0.1, 0.9))
    width = fc.quantiles[0.9] - fc.quantiles[0.1]
    if name == "theta":  # sampled intervals (200 paths): wider over the horizon, not every step
        assert width[-1] > 2 * width[0], width
    else:
        assert np.all(np.diff(width) > 0), (name, width)


def test_too_short_histories_are_skipped_with_a_reason():
    y = np.arange(1.0, 10.0)
    assert ets(y[:6], 3).note == "ets skipped: 6 values, at least 7 needed"
    assert arima(y[:7], 3).note == "arima skipped: 7 values, at least 8 needed"
    assert theta(y[:3], 3).note == "theta skipped: 3 values, at least 4 needed"
    assert comb(y, 3).note == "comb skipped: 9 values, at least 10 needed"
    for name, fewest in baselines.MIN_LENGTH.items():
        fc = forecast_baseline(name, 5 + np.sin(np.arange(fewest)), 2, 1)
        assert fc.mean.shape == (2,), (name, fc.note)


def test_arima_limits(seasonal_series, monkeypatch):
    skipped = arima(seasonal_series, 4, season=53)
    assert skipped.skipped
    assert skipped.note == "arima skipped: season 53 > 52, the seasonal search is too large"
    monkeypatch.setattr(baselines, "ARIMA_MAX_LENGTH", 90)
    assert arima(seasonal_series, 4).note == (
        "arima skipped: 96 values > 90, the fit would take too long"
    )


def test_warnings_are_silenced_and_noted(seasonal_series, monkeypatch):
    fit = AutoTheta.fit

    def noisy_fit(self, y, X=None):
        warnings.warn("optimiser did not converge", UserWarning, stacklevel=1)
        return fit(self, y, X)

    monkeypatch.setattr(AutoTheta, "fit", noisy_fit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fc = theta(seasonal_series, 6, 12)
    assert fc.mean.shape == (6,)
    assert fc.note.endswith("; UserWarning: optimiser did not converge")


def test_a_failed_fit_is_a_skip_not_an_error(seasonal_series, monkeypatch):
    def fail(self, y, X=None):
        raise Exception("no model able to be fitted")  # statsforecast's own bare Exception

    monkeypatch.setattr(AutoETS, "fit", fail)
    fc = ets(seasonal_series, 6, 12)
    assert fc.skipped
    assert fc.note == "ets skipped: fit failed: no model able to be fitted"


def test_common_interface_errors_are_named():
    assert list(BASELINES) == ["naive", "seasonal_naive", "ets", "arima", "theta", "comb"]
    with pytest.raises(
        UserError, match="name: expected one of naive, seasonal_naive, ets, arima, theta, comb"
    ):
        forecast_baseline("prophet", [1.0, 2.0], 1, 1)
    with pytest.raises(UserError, match="horizon: expected an integer ≥ 1, got 0"):
        forecast_baseline("naive", [1.0, 2.0], 0, 1)
    with pytest.raises(UserError, match="quantiles: expected levels strictly between 0 and 1"):
        forecast_baseline("naive", [1.0, 2.0], 1, 1, quantiles=(0.0, 0.5))
    with pytest.raises(UserError, match=r"history: expected finite values, got NaN/inf at"):
        forecast_baseline("ets", [1.0, np.nan, 3.0, 4.0], 1, 1)
    with pytest.raises(UserError, match=r"history: expected a non-empty 1-D series, got shape"):
        forecast_baseline("comb", np.zeros((3, 2)), 1, 1)


def test_ets_beats_naive_and_covers(seasonal_series):
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
    assert cover >= 0.5, f"80% interval covered {cover:.2f} of the truth over 3 folds"


@pytest.mark.skipif(not AIR_PASSENGERS.exists(), reason=f"{AIR_PASSENGERS} is absent")
def test_air_passengers_models_beat_seasonal_naive():
    y = pd.read_csv(AIR_PASSENGERS)["#Passengers"].to_numpy(dtype=float)
    train, test = y[:-12], y[-12:]
    m_snaive = mase(test, seasonal_naive(train, 12, 12).mean, train, 12)
    for name in ("ets", "arima", "theta", "comb"):
        m = mase(test, forecast_baseline(name, train, 12, 12).mean, train, 12)
        assert m < m_snaive, f"AirPassengers MASE: {name} {m:.3f}, seasonal naive {m_snaive:.3f}"
