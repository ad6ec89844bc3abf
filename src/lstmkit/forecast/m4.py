"""The M4 competition's seasonal adjustment, which its benchmarks (and so the ``comb`` baseline)
forecast on.

Makridakis, Spiliotis & Assimakopoulos (2020), "The M4 Competition: 100,000 time series and 61
forecasting methods", IJF 36(1); the benchmarks' code is ``Benchmarks and Evaluation.R`` in the
M4-methods repository. A series is adjusted when :func:`m4_seasonal` says so: divided by the
seasonal indices of a classical multiplicative decomposition (R's ``decompose``), and the
forecasts of the adjusted series multiplied by the last season's indices again.

The competition's reference forecast, :func:`naive2`, is the naive forecast of that adjusted
series, and its summary score, :func:`owa`, is a method's sMAPE and MASE relative to Naive2's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

M4_TCRIT = 1.645  # the M4 code's tcrit: a two-sided 90% test


def m4_seasonal(y: np.ndarray, season: int) -> bool:
    """The M4 benchmarks' ``SeasonalityTest``: whether the lag-``season`` (m) autocorrelation r_m
    of the values exceeds ``1.645 · sqrt((1 + 2 Σ_{k<m} r_k²) / n)``, Bartlett's limit.

    As in the M4 code: m < 2 or fewer than 3m values is not seasonal, and the test is on the
    values, not on differences (unlike :func:`lstmkit.data.calendar.seasonality_test`). One
    departure: R's ``acf`` stops at lag 10·log10(n) by default, so the M4 code answers "not
    seasonal" whenever m is above that (m = 52 under 160,000 values); here lag m is always tested.

    Args:
        y: (T,) values.
        season: the period m.

    Returns:
        True when seasonal.

    Example:
        >>> t = np.arange(48)
        >>> m4_seasonal(10 + np.sin(2 * np.pi * t / 12), 12)
        True
        >>> m4_seasonal(np.arange(48.0), 12)
        False
    """
    from statsmodels.tsa.stattools import acf

    y = np.asarray(y, dtype=float)
    if season < 2 or y.size < 3 * season or np.ptp(y) == 0:
        return False
    r = acf(y, nlags=season, fft=False)[1:]  # r_1 .. r_m, the biased estimator R uses
    limit = M4_TCRIT * np.sqrt((1 + 2 * np.sum(r[: season - 1] ** 2)) / y.size)
    return bool(abs(r[season - 1]) > limit)


@dataclass(frozen=True)
class SeasonalAdjustment:
    """A series' seasonal adjustment for a forecast of ``horizon`` steps.

    Attributes:
        adjusted: (T,) the values with the season taken out.
        future: (K,) the indices to put back into the forecast of the next K steps.
        kind: "multiplicative", "additive" or "none".
    """

    adjusted: np.ndarray
    future: np.ndarray
    kind: str

    def restore(self, forecast: np.ndarray) -> np.ndarray:
        """``forecast`` (K,) of the adjusted series, with the season put back."""
        if self.kind == "multiplicative":
            return forecast * self.future
        if self.kind == "additive":
            return forecast + self.future
        return forecast


def classical_indices(y: np.ndarray, season: int) -> tuple[str, np.ndarray] | None:
    """The M4 benchmarks' seasonal indices of ``y``: None where :func:`m4_seasonal` finds no
    season, else the kind and (T,) the index of every position — a classical multiplicative
    decomposition's (R's ``decompose``), additive where ``y`` has a value ≤ 0 (the M4's series
    are all positive; statsforecast's Theta decomposes such a series additively).

    Example:
        >>> kind, indices = classical_indices(10 * (1 + 0.5 * (np.arange(36) % 4 == 0)), 4)
        >>> kind, indices[:4].round(3).tolist()
        ('multiplicative', [1.333, 0.889, 0.889, 0.889])
    """
    from statsmodels.tsa.seasonal import seasonal_decompose

    y = np.asarray(y, dtype=float)
    if not m4_seasonal(y, season):
        return None
    kind = "multiplicative" if y.min() > 0 else "additive"
    # statsmodels' filter and index normalisation are R decompose()'s: a centred 2×m moving
    # average for even m, indices averaged per position and scaled to mean 1 (sum 0)
    return kind, seasonal_decompose(y, model=kind, period=season).seasonal


def m4_adjustment(y: np.ndarray, season: int, horizon: int) -> SeasonalAdjustment:
    """The M4 benchmarks' ``des_input`` and ``SIout``: when :func:`m4_seasonal`, the series
    divided by a classical multiplicative decomposition's seasonal indices, and the last
    ``season`` indices repeated over the horizon; the series as it is otherwise.

    Multiplicative indices need positive values, which every M4 series has; a series with a
    value ≤ 0 is decomposed additively instead (as statsforecast's Theta does).

    Args:
        y: (T,) values.
        season: the period m.
        horizon: steps forecast, K.

    Returns:
        A :class:`SeasonalAdjustment`.

    Example:
        >>> t = np.arange(36)
        >>> a = m4_adjustment(10 * (1 + 0.5 * (t % 4 == 0)), 4, 2)
        >>> a.kind, a.adjusted.round(3)[:4].tolist(), a.future.round(3).tolist()
        ('multiplicative', [11.25, 11.25, 11.25, 11.25], [1.333, 0.889])
    """
    y = np.asarray(y, dtype=float)
    found = classical_indices(y, season)
    if found is None:
        return SeasonalAdjustment(y, np.ones(horizon), "none")
    kind, indices = found
    future = indices[y.size - season + np.arange(horizon) % season]
    adjusted = y / indices if kind == "multiplicative" else y - indices
    return SeasonalAdjustment(adjusted, future, kind)


def naive2(y: np.ndarray, season: int, horizon: int) -> np.ndarray:
    """The M4 competition's Naive2 benchmark: the last value of the seasonally adjusted series
    (:func:`m4_adjustment`), repeated over the horizon with the last season's indices put back;
    the plain naive forecast where :func:`m4_seasonal` finds no season.

    Args:
        y: (T,) values.
        season: the period m.
        horizon: steps forecast, K.

    Returns:
        (K,) the forecast.

    Example:
        >>> naive2(np.array([1.0, 2.0, 3.0]), 12, 2)  # too short to test: the naive forecast
        array([3., 3.])
    """
    adjustment = m4_adjustment(y, season, horizon)
    return adjustment.restore(np.full(horizon, adjustment.adjusted[-1]))


def owa(smape: float, mase: float, smape_naive2: float, mase_naive2: float) -> float:
    """The M4 competition's overall weighted average: the mean of a method's sMAPE and MASE, each
    relative to Naive2's, both averaged over the same series first (so per set, not per series).

    Below 1 is better than Naive2. The M4's Comb benchmark scored 0.898 over its 100,000 series.

    Example:
        >>> owa(smape=10.0, mase=1.2, smape_naive2=12.5, mase_naive2=1.5)  # (0.8 + 0.8) / 2
        0.8
    """
    return 0.5 * (smape / smape_naive2 + mase / mase_naive2)
