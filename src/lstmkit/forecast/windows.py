"""Forecasting windows: scaling, look-back/horizon windows and the residual to seasonal naive.

Two scalings, both standard practice for a global model over series of different levels:

* **Per series** (:class:`SeriesScaler`): each series' target is standardised by the mean and
  standard deviation of its *training part only*, and each covariate column by its mean and
  spread over all series' training parts, so nothing after the training cut leaks into the
  inputs' scale.
* **Per window** (``window_norm``, RevIN, Kim et al. 2022): inside a window the look-back's own
  mean and spread (floored at :data:`WINDOW_SCALE_FLOOR`) are subtracted and divided out, and
  added back to the forecast. A trending series then looks alike at every origin, so the network
  learns shapes rather than levels it has not seen.

A window at origin ``t`` of series ``s`` reads ``y[t - W : t]`` and forecasts ``y[t : t + K]``;
future covariates (the user's, then the calendar's) are given for both stretches.

**Residual to seasonal naive** (``season`` m > 0): the network reads the seasonal differences
``y[j] - y[j - m]`` of the look-back (and, as one more past covariate, the look-back's level
around its mean, which the differences lose and a mean-reverting series needs) and forecasts
``y[t + k] - y[t - m + (k mod m)]``, the deviation from the seasonal naive forecast, which is
added back. A network that has learnt
nothing forecasts seasonal naive (m = 1: naive), not noise; what it learns is the correction —
the classical idea behind SARIMA's differencing and Smyl's ES-RNN (M4 winner, 2020).

Legend: B windows in a batch, N windows of one series, T time steps of a series, W look-back
window, K horizon, P past covariates, F future covariates (user's and calendar), Q quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lstmkit.data.calendar import calendar_features, seasonality_test
from lstmkit.data.series import Series
from lstmkit.forecast.seasonal import SeasonalIndices
from lstmkit.nn.device import device_of

WINDOW_SCALE_FLOOR = 0.1  # in series-standardised units: a flat look-back is not blown up
STD_FLOOR = 1e-8  # a constant covariate column is centred, not divided by zero


@dataclass
class SeriesScaler:
    """Standardisation statistics fitted on the training part only.

    Attributes:
        target: series name -> (mean, std) of its target.
        past, future: per column (mean, std) of the past and the user's future covariates.
    """

    target: dict[str, tuple[float, float]]
    past: list[tuple[float, float]]
    future: list[tuple[float, float]]

    @classmethod
    def fit(cls, series: list[Series], train_ends: list[int]) -> SeriesScaler:
        """Statistics of ``series[i]`` over ``[0, train_ends[i])``."""
        target = {s.name: _stats(s.values[:end]) for s, end in zip(series, train_ends, strict=True)}

        def columns(kind: str) -> list[tuple[float, float]]:
            if getattr(series[0], kind) is None:
                return []
            parts = [getattr(s, kind)[:end] for s, end in zip(series, train_ends, strict=True)]
            stacked = np.concatenate(parts)  # (sum of T, P or F)
            return [_stats(stacked[:, c]) for c in range(stacked.shape[1])]

        return cls(target, columns("past"), columns("future"))

    def target_stats(self, name: str, values: np.ndarray) -> tuple[float, float]:
        """The fitted (mean, std) of series ``name``; a series unseen in training uses its own."""
        return self.target.get(name) or _stats(values)

    def to_dict(self) -> dict:
        return {"target": self.target, "past": self.past, "future": self.future}

    @classmethod
    def from_dict(cls, data: dict) -> SeriesScaler:
        target = {k: (float(m), float(s)) for k, (m, s) in data["target"].items()}
        return cls(target, [tuple(p) for p in data["past"]], [tuple(f) for f in data["future"]])


def _stats(values: np.ndarray) -> tuple[float, float]:
    std = float(np.std(values))
    return float(np.mean(values)), std if std > STD_FLOOR else 1.0


def _standardise(x: np.ndarray | None, stats: list[tuple[float, float]]) -> np.ndarray | None:
    if x is None or not stats:
        return None
    mean, std = np.array(stats).T  # each (P,) or (F,)
    return (x - mean) / std


@dataclass
class Prepared:
    """One series, scaled, with its covariates laid out for windowing.

    Attributes:
        name, index: as the :class:`Series`.
        y: (T,) the standardised target.
        past: (T, P) standardised past covariates, or None.
        future: (T + extra, F) the user's standardised future covariates then the calendar's,
            or None; may run past the end of ``y`` (the covariates of a forecast horizon).
        mean, std: the target's standardisation, to undo it.
        seasonal: (T + extra,) the seasonal indices taken out of the target before it was
            standardised, or None (:mod:`lstmkit.forecast.seasonal`); ``seasonal_kind`` says
            whether they divided ("multiplicative") or were subtracted ("additive").
    """

    name: str
    index: pd.DatetimeIndex
    y: np.ndarray
    past: np.ndarray | None
    future: np.ndarray | None
    mean: float
    std: float
    seasonal: np.ndarray | None = None
    seasonal_kind: str | None = None

    def to_values(self, t: int, z: np.ndarray) -> np.ndarray:
        """Standardised values (K[, Q]) of the steps from ``t`` back in the series' units:
        unscaled, and the season put back."""
        values = z * self.std + self.mean
        if self.seasonal is None:
            return values
        s = self.seasonal[t : t + len(values)].reshape((-1,) + (1,) * (values.ndim - 1))
        return values * s if self.seasonal_kind == "multiplicative" else values + s


def prepare(
    series: Series,
    scaler: SeriesScaler,
    calendar_freq: str | None,
    future_extra: np.ndarray | None = None,
    extra_steps: int = 0,
    seasonal: SeasonalIndices | None = None,
) -> Prepared:
    """Scale one series and attach its future covariates.

    Args:
        series: the series.
        scaler: the fitted statistics (of the season-adjusted values, with ``seasonal``).
        calendar_freq: the frequency whose calendar features join the future covariates, or
            None for none.
        future_extra: (extra_steps, F_user) the user's future covariates after the series' end.
        extra_steps: steps past the end for which future covariates are wanted (a horizon).
        seasonal: seasonal indices to take out of the target before scaling it.
    """
    index = series.index
    full = pd.date_range(index[0], periods=len(index) + extra_steps, freq=index.freq)
    target, factors = series.values, None
    if seasonal is not None:
        factors = seasonal.at(full)
        target = seasonal.remove(series.values, index)
    mean, std = scaler.target_stats(series.name, target)
    parts = []
    if series.future is not None:
        user = series.future if future_extra is None else np.vstack([series.future, future_extra])
        parts.append(_standardise(user, scaler.future))
    if calendar_freq is not None:
        cal = calendar_features(full, calendar_freq)
        if cal.shape[1]:
            parts.append(cal)
    future = np.hstack([p[: len(full)] for p in parts]) if parts else None
    past = _standardise(series.past, scaler.past)
    kind = seasonal and seasonal.kind
    return Prepared(
        series.name, index, (target - mean) / std, past, future, mean, std, factors, kind
    )


@dataclass
class Window:
    """A batch of windows as tensors; ``y`` and ``target`` are window-normalised.

    Attributes:
        y: (B, W); past: (B, W, P) or None; future_hist: (B, W, F) or None;
        future_horizon: (B, K, F) or None; target: (B, K) or None (origins at the series' end);
        loc, scale: (B,) the window normalisation, to undo it.
    """

    y: Tensor
    past: Tensor | None
    future_hist: Tensor | None
    future_horizon: Tensor | None
    target: Tensor | None
    loc: Tensor
    scale: Tensor
    base: Tensor  # (B, K): the seasonal naive forecast added back (zeros without a season)

    def undo(self, values: Tensor) -> Tensor:
        """Window-normalised (B, K[, Q]) values back to series-standardised units."""
        shape = (-1,) + (1,) * (values.dim() - 1)  # (B, 1[, 1])
        base = self.base if values.dim() == 2 else self.base.unsqueeze(-1)
        return values * self.scale.view(shape) + self.loc.view(shape) + base

    def inputs(self) -> tuple:
        return self.y, self.past, self.future_hist, self.future_horizon


def make_windows(
    prepared: list[Prepared],
    origins: list[tuple[int, int]],
    lookback: int,
    horizon: int,
    window_norm: bool = True,
    season: int = 0,
) -> Window:
    """Cut windows at ``origins`` ((series index, t) pairs) into one batch.

    A window's target is included when the series holds all ``horizon`` values after ``t``.
    With ``season`` m > 0 the windows are residuals to seasonal naive (see the module's
    docstring) and ``t`` must be at least ``lookback + m``. The slices are gathered with one
    index array per series (a batch's windows in the order of ``origins``).
    """
    which = np.array([s for s, _ in origins])
    full = all(t + horizon <= len(prepared[s].y) for s, t in origins)
    groups = [(np.flatnonzero(which == s), s) for s in np.unique(which)]
    parts = [
        _cut(prepared[s], np.array([origins[r][1] for r in rows]), lookback, horizon, season, full)
        for rows, s in groups
    ]
    order = np.argsort(np.concatenate([rows for rows, _ in groups]))  # back to origins' order

    def stacked(key):
        if parts[0][key] is None:
            return None
        return torch.tensor(np.concatenate([p[key] for p in parts])[order], dtype=torch.float32)

    y = stacked("y")  # (B, W)
    if window_norm and season:  # differences: scaled, not centred (that would add a drift)
        loc = torch.zeros(len(origins))
        scale = y.pow(2).mean(1).sqrt().clamp_min(WINDOW_SCALE_FLOOR)
    elif window_norm:
        loc = y.mean(1)
        scale = y.std(1, correction=0).clamp_min(WINDOW_SCALE_FLOOR)
    else:
        loc, scale = torch.zeros(len(origins)), torch.ones(len(origins))
    target = stacked("target")
    return Window(
        (y - loc[:, None]) / scale[:, None],
        stacked("past"),
        stacked("future_hist"),
        stacked("future_horizon"),
        None if target is None else (target - loc[:, None]) / scale[:, None],
        loc,
        scale,
        stacked("base"),
    )


def _cut(
    p: Prepared, t: np.ndarray, lookback: int, horizon: int, season: int, full: bool
) -> dict[str, np.ndarray | None]:
    """:func:`make_windows`' arrays for the origins ``t`` (N,) of one series, float64."""
    look = t[:, None] + np.arange(-lookback, 0)  # (N, W) indices of the look-back
    ahead = t[:, None] + np.arange(horizon)  # (N, K) indices of the horizon
    values = p.y[look]  # (N, W)
    hist, base = values, np.zeros(ahead.shape)
    past = None if p.past is None else p.past[look]  # (N, W, P)
    if season:
        hist = values - p.y[look - season]
        base = p.y[t[:, None] - season + np.arange(horizon) % season]
        # the level the differences lost, as the look-back's deviation from its mean
        level = (values - values.mean(1, keepdims=True))[..., None]  # (N, W, 1)
        past = level if past is None else np.concatenate([past, level], -1)
    return {
        "y": hist,
        "base": base,
        "past": past,
        "future_hist": None if p.future is None else p.future[look],
        "future_horizon": None if p.future is None else p.future[ahead],
        "target": p.y[ahead] - base if full else None,
    }


def forecast_windows(model: nn.Module, window: Window) -> Tensor:
    """The model's quantiles for a batch of windows, window normalisation undone: (B, K, Q) in
    series-standardised units."""
    device = device_of(model)
    inputs = [None if x is None else x.to(device) for x in window.inputs()]
    return window.undo(model.forecast(*inputs).cpu())  # (B, K, Q)


def seasonal_scales(values: list[np.ndarray], ends: list[int], season: int) -> list[float]:
    """MASE's denominator per series, in the series' own units: mean |y_t - y_{t-m}| of its
    ``values`` over ``[0, end)`` (m = ``season``, or 1 where the part is too short)."""
    scales = []
    for v, end in zip(values, ends, strict=True):
        y = np.asarray(v)[:end]
        m = season if end > season else 1
        d = float(np.mean(np.abs(y[m:] - y[:-m]))) if end > m else 1.0
        scales.append(d if d > STD_FLOOR else 1.0)
    return scales


def residual_lag(parts: list[np.ndarray], season: int, tested: bool = True) -> dict:
    """The lag of the residual to (seasonal) naive for series whose training parts are
    ``parts``, and on how many of them :func:`~lstmkit.data.calendar.seasonality_test` passed
    (None: not run).

    The lag is the season where the test passes on at least half the parts (one too short to
    test counts as passing) or is not run (``tested`` false: a season the user gave), else 1
    (naive); 1 for a season of 1.

    Example:
        >>> walk = np.random.default_rng(0).normal(size=300).cumsum()
        >>> residual_lag([walk], 7)
        {'lag': 1, 'seasonal_series': 0, 'series': 1}
    """
    if season < 2 or not tested:
        return {"lag": max(season, 1), "seasonal_series": None, "series": None}
    passed = sum(seasonality_test(p, season).seasonal is not False for p in parts)
    lag = season if 2 * passed >= len(parts) else 1
    return {"lag": lag, "seasonal_series": passed, "series": len(parts)}


__all__ = [
    "Prepared",
    "SeriesScaler",
    "Window",
    "forecast_windows",
    "make_windows",
    "prepare",
    "residual_lag",
    "seasonal_scales",
]
