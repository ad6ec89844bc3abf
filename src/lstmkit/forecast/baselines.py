"""Classical forecasting baselines to hold an LSTM forecaster against, from statsforecast.

Six baselines, one interface (:data:`BASELINES`, :func:`forecast_baseline`): each fits on a 1-D
history and forecasts ``horizon`` steps with optional quantiles. The models are statsforecast's
(Nixtla), ports of R's ``forecast`` package that choose their own structure.

- ``naive``: the last value; ``seasonal_naive``: the last ``season`` values repeated. Their
  quantiles assume normal errors with the in-sample one-step (lag-``season``) residual RMS σ,
  widened as in Hyndman & Athanasopoulos, FPP3 §5.5: σ·sqrt(h) and σ·sqrt(⌊(h−1)/season⌋ + 1).
- ``ets``: ``AutoETS``, the error/trend/season combination (damped or not) with the lowest AICc;
  a damped trend's forecasts summed as the method defines them, which statsforecast 2.1.1 does
  not (:mod:`lstmkit.forecast.sf_compat`).
- ``arima``: ``AutoARIMA``, Hyndman & Khandakar's stepwise search over (p, d, q)(P, D, Q); the
  model search uses the CSS approximation on long or finely seasonal series, as R's
  ``auto.arima`` does by default (n > 150 or season > 12) and statsforecast does not.
- ``theta``: ``AutoTheta``, the best of the standard, optimised and dynamic Theta models
  (Fiorucci et al. 2016) on the series made non-seasonal by a classical decomposition when a
  90% autocorrelation test calls it seasonal.
- ``comb``: the M4 competition's Comb benchmark: the mean of simple exponential smoothing, Holt
  and damped Holt (``AutoETS`` with the models fixed to ANN, AAN and AAdN, R's ``ses`` and
  ``holt``) on the M4 seasonally adjusted series (:mod:`lstmkit.forecast.m4`). Its quantiles
  average the three models' (Lichtendahl, Grushka-Cockayne & Winkler 2013, "Is it better to
  average probabilities or quantiles?").

``ets``, ``arima``, ``theta`` and ``comb`` quantiles come from statsforecast's prediction
intervals (normal errors; simulated for some ETS and the Theta models): quantile q is the lower
(q < 0.5) or upper bound of the interval at level 100·|2q − 1|. Too short a history skips a
model (``mean`` None, the reason in ``note``), as do an ARIMA season over 52 or a history over
5000 values, where the search would blow up. Warnings while fitting are silenced and recorded in
``note``; a fit that fails outright is reported as skipped, so that one bad fold does not end a
backtest (:func:`lstmkit.forecast.backtest.backtest` scores them beside the LSTM).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmkit.errors import UserError
from lstmkit.forecast.m4 import m4_adjustment
from lstmkit.forecast.sf_compat import fix_damped, interval_levels, interval_quantiles

DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
# The fewest values each model fits on: statsforecast's ETS refuses n ≤ parameters + 4 (AAdN has
# 5, ZZZ counts 2), its Theta n ≤ 3; ARIMA's 8 keeps a few differences for the unit-root tests.
MIN_LENGTH = {"ets": 7, "arima": 8, "theta": 4, "comb": 10}
ARIMA_MAX_SEASON = 52  # the seasonal search's state grows with the season; 52 (weekly) is enough
ARIMA_MAX_LENGTH = 5000  # fit time grows with the length; beyond this it dominates a run
# R auto.arima's default: exact likelihood in the search up to 150 values and season 12, CSS
# beyond (measured on the weekly co2 series, 2232 values, season 52: 26 s against 13 minutes)
ARIMA_EXACT_LENGTH = 150
ARIMA_EXACT_SEASON = 12


@dataclass(frozen=True)
class BaselineForecast:
    """One baseline's forecast.

    Attributes:
        mean: the point forecast, (K,); None when the model was skipped.
        quantiles: ``{q: (K,)}`` for the requested levels, or None (none requested, skipped, or
            not estimable, e.g. no residuals).
        note: which model ran (and what it chose), why it was skipped, warnings while fitting.
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


def _inputs(history, horizon, season, quantiles):
    """(y, stamps, horizon, season, quantiles), checked."""
    y, stamps = _history(history)
    horizon = _check_int(horizon, "horizon", 1)
    season = _check_int(season, "season", 1)
    return y, stamps, horizon, season, _check_quantiles(quantiles)


def _future_index(stamps: pd.DatetimeIndex | None, horizon: int) -> pd.DatetimeIndex | None:
    if stamps is None:
        return None
    return pd.date_range(stamps[1], periods=horizon, freq=stamps.freq)


@contextmanager
def _recorded_warnings(notes: list[str]):
    """Silence warnings inside, appending one line per distinct warning to ``notes``."""
    # numpy's floating-point warnings from inside the optimisers say nothing a user can act on;
    # a non-finite result is caught on the way out (_finish)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        line = f"{w.category.__name__}: {str(w.message).splitlines()[0][:100]}"
        if line not in seen:
            seen.add(line)
            notes.append(line)


def _too_short(name: str, n: int) -> BaselineForecast:
    return BaselineForecast(
        None, None, f"{name} skipped: {n} values, at least {MIN_LENGTH[name]} needed"
    )


def _finish(name, mean, quantiles, notes, stamps) -> BaselineForecast:
    mean = np.asarray(mean, dtype=float)
    if not np.all(np.isfinite(mean)):
        return BaselineForecast(
            None, None, f"{name} skipped: non-finite forecast; " + "; ".join(notes)
        )
    if quantiles is not None and not all(np.all(np.isfinite(v)) for v in quantiles.values()):
        quantiles = None
        notes.append("no quantiles: non-finite interval")
    return BaselineForecast(mean, quantiles, "; ".join(notes), _future_index(stamps, len(mean)))


def _fit(name, model, y, horizon, quantiles, stamps, describe, ets=False) -> BaselineForecast:
    """Fit one statsforecast model and forecast; ``describe(model)`` names what it chose."""
    notes: list[str] = []
    try:
        with _recorded_warnings(notes):
            out = model.fit(y).predict(h=horizon, level=interval_levels(quantiles))
    # statsforecast raises a bare Exception ("no model able to be fitted") besides the usual
    except Exception as e:
        return BaselineForecast(None, None, f"{name} skipped: fit failed: {e}")
    if ets:
        out = fix_damped(model.model_, out)
    notes.insert(0, describe(model))
    return _finish(name, out["mean"], interval_quantiles(out, quantiles), notes, stamps)


# ---------------------------------------------------------------------------------------------
# Baselines; each takes (history, horizon, season, quantiles) and returns a BaselineForecast.


def naive(history, horizon: int, season: int = 1, quantiles=DEFAULT_QUANTILES):
    """The last value repeated; ``season`` is ignored (it is there for the common interface).

    Example:
        >>> naive([1.0, 2.0, 5.0], 2, quantiles=None).mean
        array([5., 5.])
    """
    from statsforecast.models import Naive

    y, stamps, horizon, _, quantiles = _inputs(history, horizon, 1, quantiles)
    return _repeat_last("naive", Naive(), y, horizon, 1, quantiles, "naive", stamps)


def seasonal_naive(history, horizon: int, season: int, quantiles=DEFAULT_QUANTILES):
    """The last ``season`` values repeated.

    Raises:
        UserError: a history shorter than ``season``.

    Example:
        >>> seasonal_naive([1.0, 2.0, 3.0, 4.0], 3, season=2, quantiles=None).mean
        array([3., 4., 3.])
    """
    from statsforecast.models import SeasonalNaive

    y, stamps, horizon, season, quantiles = _inputs(history, horizon, season, quantiles)
    if y.size < season:
        raise UserError(
            f"history: expected at least season = {season} values for seasonal_naive, got {y.size}"
        )
    model = SeasonalNaive(season_length=season)
    note = f"seasonal_naive(season={season})"
    return _repeat_last("seasonal_naive", model, y, horizon, season, quantiles, note, stamps)


def _repeat_last(name, model, y, horizon, season, quantiles, note, stamps) -> BaselineForecast:
    notes = [note]
    if quantiles is not None and y.size <= season:
        # statsforecast would give σ = 0, intervals of width zero
        quantiles = None
        notes.append("no quantiles: no in-sample residuals")
    out = model.forecast(y=y, h=horizon, level=interval_levels(quantiles))
    return _finish(name, out["mean"], interval_quantiles(out, quantiles), notes, stamps)


def ets(history, horizon: int, season: int = 1, quantiles=DEFAULT_QUANTILES):
    """statsforecast's ``AutoETS``: the exponential smoothing model with the lowest AICc.

    The season is left out when the history holds no more than one; skipped under 7 values.
    """
    from statsforecast.models import AutoETS

    y, stamps, horizon, season, quantiles = _inputs(history, horizon, season, quantiles)
    if y.size < MIN_LENGTH["ets"]:
        return _too_short("ets", y.size)

    def describe(model) -> str:
        chosen = model.model_
        seasonal = chosen["components"][2] != "N"
        note = f"AutoETS chose {chosen['method']}" + (f" with season {season}" if seasonal else "")
        if season > 1 and y.size <= season:
            note += f"; season dropped: {y.size} values ≤ season {season}"
        return note

    model = AutoETS(season_length=season)
    return _fit("ets", model, y, horizon, quantiles, stamps, describe, ets=True)


def arima(history, horizon: int, season: int = 1, quantiles=DEFAULT_QUANTILES):
    """statsforecast's ``AutoARIMA``: orders (p, d, q)(P, D, Q) chosen by a stepwise AICc search.

    Skipped under 8 values, over 5000, or for a season over 52.
    """
    from statsforecast.arima import arima_string
    from statsforecast.models import AutoARIMA

    y, stamps, horizon, season, quantiles = _inputs(history, horizon, season, quantiles)
    n = y.size
    if season > ARIMA_MAX_SEASON:
        reason = f"season {season} > {ARIMA_MAX_SEASON}, the seasonal search is too large"
        return BaselineForecast(None, None, f"arima skipped: {reason}")
    if n > ARIMA_MAX_LENGTH:
        reason = f"{n} values > {ARIMA_MAX_LENGTH}, the fit would take too long"
        return BaselineForecast(None, None, f"arima skipped: {reason}")
    if n < MIN_LENGTH["arima"]:
        return _too_short("arima", n)
    approximate = n > ARIMA_EXACT_LENGTH or season > ARIMA_EXACT_SEASON
    model = AutoARIMA(season_length=season, approximation=approximate)

    def describe(model) -> str:
        how = " (CSS search)" if approximate else ""
        return f"AutoARIMA chose {arima_string(model.model_).strip()}{how}"

    return _fit("arima", model, y, horizon, quantiles, stamps, describe)


def theta(history, horizon: int, season: int = 1, quantiles=DEFAULT_QUANTILES):
    """statsforecast's ``AutoTheta``: the standard, optimised or dynamic Theta model with the
    lowest in-sample MSE, on the seasonally adjusted series. Skipped under 4 values."""
    from statsforecast.models import AutoTheta

    y, stamps, horizon, season, quantiles = _inputs(history, horizon, season, quantiles)
    if y.size < MIN_LENGTH["theta"]:
        return _too_short("theta", y.size)

    def describe(model) -> str:
        chosen = model.model_
        note = f"AutoTheta chose {chosen['modeltype']}"
        if chosen.get("decompose", False):
            note += f" on the {chosen['decomposition_type']}ly adjusted season {season}"
        return note

    return _fit("theta", AutoTheta(season_length=season), y, horizon, quantiles, stamps, describe)


def comb(history, horizon: int, season: int = 1, quantiles=DEFAULT_QUANTILES):
    """The M4 competition's Comb benchmark: the mean of SES, Holt and damped Holt forecasts of
    the seasonally adjusted series (:func:`lstmkit.forecast.m4.m4_adjustment`), the season put
    back. Quantiles: the three models' averaged. Skipped under 10 values.
    """
    from statsforecast.models import AutoETS

    y, stamps, horizon, season, quantiles = _inputs(history, horizon, season, quantiles)
    if y.size < MIN_LENGTH["comb"]:
        return _too_short("comb", y.size)
    adjustment = m4_adjustment(y, season, horizon)
    notes = ["comb: mean of SES, Holt and damped Holt"]
    if adjustment.kind != "none":
        notes[0] += f" on the {adjustment.kind}ly adjusted season {season}"
    # damped fixed both ways: statsforecast's Holt class leaves it to AICc (damped=None)
    members = [AutoETS(model="ANN"), AutoETS(model="AAN", damped=False)]
    members.append(AutoETS(model="AAN", damped=True))
    levels = interval_levels(quantiles)
    try:
        with _recorded_warnings(notes):
            fitted = [m.fit(adjustment.adjusted) for m in members]
            outs = [fix_damped(m.model_, m.predict(h=horizon, level=levels)) for m in fitted]
    except Exception as e:  # statsforecast raises a bare Exception besides the usual
        return BaselineForecast(None, None, f"comb skipped: fit failed: {e}")
    mean = adjustment.restore(np.mean([out["mean"] for out in outs], axis=0))
    q = None
    if quantiles is not None:
        each = [interval_quantiles(out, quantiles) for out in outs]
        q = {k: adjustment.restore(np.mean([e[k] for e in each], axis=0)) for k in quantiles}
    return _finish("comb", mean, q, notes, stamps)


BASELINES: dict[str, Callable[..., BaselineForecast]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "ets": ets,
    "arima": arima,
    "theta": theta,
    "comb": comb,
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
