"""Classical forecasting baselines to hold an LSTM forecaster against.

Four baselines, one interface (:data:`BASELINES`, :func:`forecast_baseline`): each fits on a 1-D
history and forecasts ``horizon`` steps with optional quantiles.

- ``naive``: the last value; ``seasonal_naive``: the last ``season`` values repeated. Their
  quantiles assume normal errors with the in-sample one-step (lag-``season``) residual RMS σ,
  widened as in Hyndman & Athanasopoulos, FPP3 §5.5: σ·sqrt(h) and σ·sqrt(⌊(h−1)/season⌋ + 1).
- ``ets``: statsmodels ``ETSModel`` with additive errors, a damped additive trend and additive
  seasonality when season > 1 and the history holds ≥ 2 full seasons; without the season when it
  does not, without the trend under 10 values. Quantiles from the model's exact (analytic)
  forecast variance, assuming normal errors.
- ``arima``: statsmodels ``SARIMAX`` order (1, 1, 1), seasonal (0, 1, 1, season) when
  2 ≤ season ≤ 52 and the history holds ≥ 2 full seasons + 4 values; (1, 1, 1) alone otherwise.
  Skipped (``mean`` None, the reason in ``note``) for season > 52, a history under 8 values or
  over 5000, where the state space or the fit time would blow up. Quantiles from the state-space
  forecast variance.

Fits are capped (``maxiter``) and their warnings (convergence above all) are silenced and recorded
in ``note`` instead. A fit that fails outright is reported as skipped too, so that one bad fold
does not end a backtest (:func:`lstmkit.forecast.backtest.backtest` scores them beside the LSTM).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from lstmkit.errors import UserError

DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
MAXITER = 100  # optimiser iterations per statsmodels fit
ARIMA_MAX_SEASON = 52  # the seasonal MA state grows with the season; 52 (weekly-yearly) is enough
ARIMA_MAX_LENGTH = 5000  # Kalman filter fit time grows linearly; beyond this it dominates a run
ARIMA_MIN_LENGTH = 8
ETS_HEURISTIC_SEASON = 24  # above this, estimating every initial seasonal state is slow


@dataclass(frozen=True)
class BaselineForecast:
    """One baseline's forecast.

    Attributes:
        mean: the point forecast, (K,); None when the model was skipped.
        quantiles: ``{q: (K,)}`` for the requested levels, or None (none requested, skipped, or
            not estimable, e.g. no residuals).
        note: which configuration ran, why it was skipped, warnings raised while fitting.
        index: the forecast's timestamps when the history had a DatetimeIndex with a frequency.
    """

    mean: np.ndarray | None
    quantiles: dict[float, np.ndarray] | None
    note: str = ""
    index: pd.DatetimeIndex | None = None

    @property
    def skipped(self) -> bool:
        return self.mean is None


# ---------------------------------------------------------------------------------------------
# Input checks


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise UserError(f"{name}: expected an integer ≥ {low}, got {value!r}")
    return int(value)


def _check_quantiles(quantiles) -> tuple[float, ...] | None:
    if quantiles is None:
        return None
    qs = tuple(float(q) for q in quantiles)
    if not qs or any(not 0 < q < 1 for q in qs):
        raise UserError(f"quantiles: expected levels strictly between 0 and 1, got {quantiles!r}")
    return qs


def _history(history) -> tuple[np.ndarray, pd.DatetimeIndex | None]:
    """The history as a float array, and the index's last stamp and frequency if it has them."""
    index = None
    if isinstance(history, pd.Series):
        if isinstance(history.index, pd.DatetimeIndex) and len(history) > 0:
            freq = history.index.freq or (
                pd.infer_freq(history.index) if len(history) >= 3 else None
            )
            if freq is not None:
                index = pd.date_range(history.index[-1], periods=2, freq=freq)
        history = history.to_numpy()
    y = np.asarray(history, dtype=float)
    if y.ndim != 1 or y.size == 0:
        raise UserError(f"history: expected a non-empty 1-D series, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        bad = np.flatnonzero(~np.isfinite(y))
        raise UserError(f"history: expected finite values, got NaN/inf at positions {bad[:5]}")
    return y, index


def _future_index(stamps: pd.DatetimeIndex | None, horizon: int) -> pd.DatetimeIndex | None:
    if stamps is None:
        return None
    return pd.date_range(stamps[1], periods=horizon, freq=stamps.freq)


def _normal_quantiles(mean, std, quantiles) -> dict[float, np.ndarray] | None:
    if quantiles is None or std is None or not np.all(np.isfinite(std)):
        return None
    z = NormalDist()
    return {q: mean + z.inv_cdf(q) * std for q in quantiles}


@contextmanager
def _recorded_warnings(notes: list[str]):
    """Silence warnings inside, appending one line per distinct warning to ``notes``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        line = f"{w.category.__name__}: {str(w.message).splitlines()[0][:100]}"
        if line not in seen:
            seen.add(line)
            notes.append(line)


# ---------------------------------------------------------------------------------------------
# Baselines; each takes (history, horizon, season, quantiles) and returns a BaselineForecast.


def naive(history, horizon: int, season: int = 1, quantiles=DEFAULT_QUANTILES):
    """The last value repeated; ``season`` is ignored (it is there for the common interface).

    Example:
        >>> naive([1.0, 2.0, 5.0], 2, quantiles=None).mean
        array([5., 5.])
    """
    y, stamps = _history(history)
    horizon = _check_int(horizon, "horizon", 1)
    quantiles = _check_quantiles(quantiles)
    return _repeat_last(y, horizon, 1, quantiles, "naive", stamps)


def seasonal_naive(history, horizon: int, season: int, quantiles=DEFAULT_QUANTILES):
    """The last ``season`` values repeated.

    Raises:
        UserError: a history shorter than ``season``.

    Example:
        >>> seasonal_naive([1.0, 2.0, 3.0, 4.0], 3, season=2, quantiles=None).mean
        array([3., 4., 3.])
    """
    y, stamps = _history(history)
    horizon = _check_int(horizon, "horizon", 1)
    season = _check_int(season, "season", 1)
    quantiles = _check_quantiles(quantiles)
    if y.size < season:
        raise UserError(
            f"history: expected at least season = {season} values for seasonal_naive, got {y.size}"
        )
    return _repeat_last(y, horizon, season, quantiles, f"seasonal_naive(season={season})", stamps)


def _repeat_last(y, horizon, season, quantiles, note, stamps) -> BaselineForecast:
    steps = np.arange(horizon)
    mean = y[-season:][steps % season]
    std = None
    if quantiles is not None:
        if y.size > season:
            sigma = np.sqrt(np.mean((y[season:] - y[:-season]) ** 2))
            std = sigma * np.sqrt(steps // season + 1)
        else:
            note += "; no quantiles: no in-sample residuals"
    q = _normal_quantiles(mean, std, quantiles)
    return BaselineForecast(mean, q, note, _future_index(stamps, horizon))


def ets(history, horizon: int, season: int = 1, quantiles=DEFAULT_QUANTILES):
    """Exponential smoothing (statsmodels ``ETSModel``), configured by the history's length.

    Additive error, damped additive trend (≥ 10 values) and additive season (season > 1 and
    ≥ 2 full seasons); skipped under 4 values.
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y, stamps = _history(history)
    horizon = _check_int(horizon, "horizon", 1)
    season = _check_int(season, "season", 1)
    quantiles = _check_quantiles(quantiles)
    n = y.size
    if n < 4:
        return BaselineForecast(None, None, f"ets skipped: {n} values, at least 4 needed")
    seasonal = season > 1 and n >= 2 * season
    trend = n >= 10
    config = dict(
        error="add",
        trend="add" if trend else None,
        damped_trend=trend,
        seasonal="add" if seasonal else None,
        seasonal_periods=season if seasonal else None,
        initialization_method=(
            "heuristic" if seasonal and season > ETS_HEURISTIC_SEASON else "estimated"
        ),
    )
    notes = [
        f"ets(error=add, trend={'damped add' if trend else 'none'}, "
        f"seasonal={'add ' + str(season) if seasonal else 'none'})"
    ]
    if season > 1 and not seasonal:
        notes.append(f"season dropped: {n} values < 2 seasons of {season}")
    try:
        with _recorded_warnings(notes):
            # A Series, not an array: statsmodels 0.15's ETS get_prediction fails on arrays.
            fit = ETSModel(pd.Series(y), **config).fit(disp=False, maxiter=MAXITER)
            pred = fit.get_prediction(start=n, end=n + horizon - 1)
            mean = np.asarray(pred.predicted_mean, dtype=float)
            std = np.sqrt(np.asarray(pred.var_pred_mean, dtype=float))
    except (np.linalg.LinAlgError, ValueError) as e:
        return BaselineForecast(None, None, f"ets skipped: fit failed: {e}")
    return _finish(mean, std, quantiles, notes, stamps, "ets")


def arima(history, horizon: int, season: int = 1, quantiles=DEFAULT_QUANTILES):
    """SARIMAX (1, 1, 1)(0, 1, 1, season) where feasible, (1, 1, 1) or skipped otherwise."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y, stamps = _history(history)
    horizon = _check_int(horizon, "horizon", 1)
    season = _check_int(season, "season", 1)
    quantiles = _check_quantiles(quantiles)
    n = y.size
    if season > ARIMA_MAX_SEASON:
        reason = f"season {season} > {ARIMA_MAX_SEASON}, the seasonal state space is too large"
        return BaselineForecast(None, None, f"arima skipped: {reason}")
    if n > ARIMA_MAX_LENGTH:
        reason = f"{n} values > {ARIMA_MAX_LENGTH}, the fit would take too long"
        return BaselineForecast(None, None, f"arima skipped: {reason}")
    if n < ARIMA_MIN_LENGTH:
        reason = f"{n} values < {ARIMA_MIN_LENGTH}"
        return BaselineForecast(None, None, f"arima skipped: {reason}")
    seasonal = season > 1 and n >= 2 * season + 4
    seasonal_order = (0, 1, 1, season) if seasonal else (0, 0, 0, 0)
    notes = ["arima(1, 1, 1)" + (f"(0, 1, 1, {season})" if seasonal else "")]
    if season > 1 and not seasonal:
        notes.append(f"season dropped: {n} values < 2 seasons of {season} + 4")
    try:
        with _recorded_warnings(notes):
            model = SARIMAX(y, order=(1, 1, 1), seasonal_order=seasonal_order)
            fit = model.fit(disp=False, maxiter=MAXITER)
            pred = fit.get_forecast(horizon)
            mean = np.asarray(pred.predicted_mean, dtype=float)
            std = np.sqrt(np.asarray(pred.var_pred_mean, dtype=float))
    except (np.linalg.LinAlgError, ValueError) as e:
        return BaselineForecast(None, None, f"arima skipped: fit failed: {e}")
    return _finish(mean, std, quantiles, notes, stamps, "arima")


def _finish(mean, std, quantiles, notes, stamps, name) -> BaselineForecast:
    if not np.all(np.isfinite(mean)):
        return BaselineForecast(
            None, None, f"{name} skipped: non-finite forecast; " + "; ".join(notes)
        )
    q = _normal_quantiles(mean, std, quantiles)
    return BaselineForecast(mean, q, "; ".join(notes), _future_index(stamps, len(mean)))


BASELINES: dict[str, Callable[..., BaselineForecast]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "ets": ets,
    "arima": arima,
}


def forecast_baseline(
    name: str, history, horizon: int, season: int, quantiles=DEFAULT_QUANTILES
) -> BaselineForecast:
    """Forecast ``horizon`` steps after ``history`` with the baseline called ``name``.

    Args:
        name: one of :data:`BASELINES`.
        history: 1-D numpy array, or pandas Series (a DatetimeIndex with a frequency, given or
            inferable, dates the forecast).
        horizon: steps to forecast, ≥ 1.
        season: seasonal period, ≥ 1 (1: none).
        quantiles: levels in (0, 1) to predict, or None for the point forecast alone.

    Returns:
        A :class:`BaselineForecast`; ``mean`` is None (and ``note`` says why) if the model was
        skipped.

    Raises:
        UserError: an unknown name, horizon < 1, a bad season or quantile, a history that is not
            1-D and finite, or one too short for seasonal_naive.

    Example:
        >>> forecast_baseline("seasonal_naive", [1.0, 2.0, 3.0, 1.5, 2.5, 3.5], 2, 3).mean
        array([1.5, 2.5])
    """
    if name not in BASELINES:
        raise UserError(f"name: expected one of {', '.join(BASELINES)}, got {name!r}")
    return BASELINES[name](history, horizon, season, quantiles)
