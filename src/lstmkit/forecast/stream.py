"""Streaming forecasts: one observed value in, the next horizon out, in bounded memory.

:meth:`Forecaster.start <lstmkit.forecast.Forecaster.start>` and
:meth:`Forecaster.step <lstmkit.forecast.Forecaster.step>` call this module; the language
model's and the seq2seq decoder's steps are in :mod:`lstmkit.decode.stream`.

Legend: W look-back window, K horizon.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from lstmkit.data.series import Series
from lstmkit.errors import UserError


@dataclass(frozen=True)
class ForecastState:
    """A forecaster's state: the last ``lookback (+ season)`` values of one series.

    Attributes:
        series: the series' name (one the model was trained on).
        end: the timestamp of the last value.
        values: the last values, oldest first; always the same length.
    """

    series: str
    end: pd.Timestamp
    values: tuple[float, ...]


def forecast_start(fc, series: str | None = None, data=None, **read_options) -> ForecastState:
    """:meth:`lstmkit.forecast.Forecaster.start`: the state after a series' history."""
    covariates = {k: v for k, v in fc.covariates_.items() if v}
    if covariates:
        raise UserError(
            f"step: expected a model without past or future covariates (a value "
            f"per step is all a stream gives), got {covariates}"
        )
    history = {s.name: s for s in fc.history(data, **read_options)}
    if series is None and len(history) == 1:
        series = next(iter(history))
    if series not in history:
        raise UserError(f"series: expected one of {list(history)}, got {series!r}")
    if series not in fc.scaler_.target:
        trained = list(fc.scaler_.target)  # a new series' scale would drift with its window
        raise UserError(f"series: expected one the model was trained on, {trained}, got {series!r}")
    s = history[series]
    if len(s) < fc.reach_:
        raise UserError(
            f"series {series!r}: expected at least {fc.reach_} steps of history, got {len(s)}"
        )
    return ForecastState(series, s.index[-1], tuple(float(v) for v in s.values[-fc.reach_ :]))


def forecast_step(fc, value: float, state: ForecastState | None = None):
    """:meth:`lstmkit.forecast.Forecaster.step`: one observed value in, the next horizon out.

    The forecaster normalises every look-back window by its own level and spread (RevIN) and
    reads seasonal differences, and its encoder starts each window from a zero state: carrying
    the LSTM's state across origins would compute another function than the one trained. The
    state is therefore the last ``lookback (+ season)`` values — bounded, O(W) work per step.

    Returns:
        The forecast as :meth:`~lstmkit.forecast.Forecaster.predict` gives it (K rows:
        ``series``, ``time``, ``forecast``, a ``q<level>`` per quantile), and the new state.
    """
    if state is None:
        state = forecast_start(fc)
    if not isinstance(state, ForecastState):
        raise UserError(
            f"state: expected a ForecastState from start() or an earlier step, "
            f"got {type(state).__name__}"
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise UserError(f"value: expected a finite number, got {value!r}")
    end = state.end + to_offset(fc.freq_)
    state = ForecastState(state.series, end, (*state.values[1:], float(value)))
    index = pd.date_range(end=end, periods=len(state.values), freq=fc.freq_)
    s = Series(state.series, index, np.asarray(state.values, dtype=np.float64))
    return fc.forecast_at([s], [len(s)]), state


__all__ = ["ForecastState", "forecast_start", "forecast_step"]
