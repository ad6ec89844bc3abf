"""What a series' frequency implies: its season length and calendar features; whether the
values do repeat with that season (:func:`seasonality_test`); and a timestamp as text
(:func:`stamp_text`).

Legend: T time steps, C calendar features.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from lstmkit.errors import UserError


def check_freq(freq: str, option: str = "freq"):
    """The pandas offset for a frequency string, or a UserError naming ``option``."""
    try:
        return to_offset(freq)
    except (ValueError, TypeError):
        raise UserError(
            f"{option}: expected a pandas frequency such as 'D', 'W-SUN', 'MS', 'QS', 'YS', 'h' "
            f"or '30min', got {freq!r}"
        ) from None


# Steps in one seasonal cycle, by the frequency's base: the year for yearly to weekly data, the
# week for daily data and the day for hourly and finer (the M4 and GluonTS conventions, except
# weekly and daily, which use the cycle that usually shows in practice).
_SEASONS = {"Y": 1, "BY": 1, "Q": 4, "BQ": 4, "M": 12, "BM": 12, "SM": 24, "W": 52, "D": 7, "B": 5}
_SEASONS |= {"C": 5}


def _base(offset) -> str:
    """``"YS-JAN"`` -> ``"Y"``, ``"BME"`` -> ``"BM"``, ``"30min"`` -> ``"min"``."""
    code = offset.rule_code.split("-")[0]
    return code if code in ("D", "B", "C", "W") else re.sub(r"[SE]$", "", code)


def _sub_daily(offset) -> bool:
    """Hours, minutes, seconds and finer; not days, which pandas < 3 counts as a Tick too."""
    return isinstance(offset, pd.offsets.Tick) and _base(offset) != "D"


def season_length(freq: str) -> int:
    """Steps in one seasonal cycle at ``freq``, for seasonal naive forecasts and MASE.

    Yearly 1, quarterly 4, monthly 12, semi-monthly 24, weekly 52, daily 7, business daily 5;
    hourly and finer, the steps in a day (24 hourly, 48 half-hourly). A multiple of a base
    frequency divides the cycle (``"2h"``: 12); when it does not divide evenly the answer is 1.

    Raises:
        UserError: ``freq`` is not a pandas frequency.

    Example:
        >>> season_length("MS"), season_length("W-SUN"), season_length("30min"), season_length("D")
        (12, 52, 48, 7)
    """
    offset = check_freq(freq)
    if _sub_daily(offset):
        cycle, step = 86400, pd.Timedelta(offset).total_seconds()
        return int(cycle // step) if step < cycle and cycle % step == 0 else 1
    base = _SEASONS.get(_base(offset))
    if base is None:
        return 1
    return base // offset.n if base % offset.n == 0 else 1


SEASONALITY_Z = 1.645  # the M4 benchmarks' critical value (one-sided 5%, two-sided 10%)
SEASONAL_STRENGTH = 0.64  # R forecast::nsdiffs' and feasts' threshold for seasonal differencing
STL_SEASONS = 50  # the strength is measured over the last 50 seasons at most (bounded cost)


class Seasonality(NamedTuple):
    """:func:`seasonality_test`'s answer; ``seasonal`` is None (the rest NaN) where the test
    could not run, ``strength`` NaN where the first criterion had already answered yes."""

    seasonal: bool | None
    acf: float  # the lag-m autocorrelation of the first differences
    limit: float  # what it had to exceed
    strength: float  # STL's seasonal strength


def seasonality_test(values, season: int) -> Seasonality:
    """Whether ``values`` repeat with period ``season`` (m): yes when either of two standard
    criteria says so.

    1. The M4 competition benchmarks' test (Makridakis et al. 2020), on the first
       differences: their lag-m autocorrelation r_m exceeds
       ``1.645 · sqrt((1 + 2 Σ_{k<m} r_k²) / n)`` (Bartlett's standard error, n differences).
       The differences, not the values: a trend or a random walk (exchange rates) has
       autocorrelation near 1 at every lag and would pass on its values alone.
    2. The seasonal strength ``max(0, 1 - Var(R) / Var(S + R))`` of an STL decomposition of
       the last 50 seasons at most (Wang, Smith & Hyndman 2006) exceeds 0.64, the threshold
       R's ``forecast::nsdiffs`` decides seasonal differencing by. It catches a short, nearly
       pure cycle, whose autocorrelations are large at every lag and inflate the first
       criterion's limit.

    Constant differences or m < 2: not seasonal; fewer than 3m differences: no answer (None).

    Example:
        >>> t = np.arange(120)
        >>> seasonality_test(np.sin(2 * np.pi * t / 12) + 0.05 * t, 12).seasonal
        True
        >>> seasonality_test(np.random.default_rng(0).normal(size=500).cumsum(), 7).seasonal
        False
    """
    from statsmodels.tsa.seasonal import STL
    from statsmodels.tsa.stattools import acf

    y = np.asarray(values, dtype=float)
    d, nan = np.diff(y), float("nan")
    if season >= 2 and len(d) < 3 * season:
        return Seasonality(None, nan, nan, nan)
    if season < 2 or np.ptp(d) == 0:
        return Seasonality(False, nan, nan, nan)
    r = acf(d, nlags=season, fft=True)
    limit = SEASONALITY_Z * np.sqrt((1 + 2 * np.sum(r[1:season] ** 2)) / len(d))
    if r[season] > limit:
        return Seasonality(True, float(r[season]), float(limit), nan)
    stl = STL(y[-STL_SEASONS * season :], period=season).fit()
    strength = max(0.0, 1 - np.var(stl.resid) / np.var(stl.seasonal + stl.resid))
    seasonal = bool(strength > SEASONAL_STRENGTH)
    return Seasonality(seasonal, float(r[season]), float(limit), float(strength))


def _calendar_parts(offset) -> list[tuple[str, object]]:
    """(name, index -> (position in cycle, cycle length)) for the cycles finer than a year that
    ``offset`` can resolve."""
    hour = ("hour", lambda i: (i.hour + i.minute / 60 + i.second / 3600, 24))
    weekday = ("dayofweek", lambda i: (i.day_of_week, 7))
    dayofyear = ("dayofyear", lambda i: (i.day_of_year - 1, 365 + i.is_leap_year))
    month = ("month", lambda i: (i.month - 1, 12))
    quarter = ("quarter", lambda i: (i.quarter - 1, 4))
    if _sub_daily(offset) or _base(offset) in ("bh", "cbh"):
        return [hour, weekday]
    return {
        "D": [weekday, dayofyear],
        "B": [weekday, dayofyear],
        "C": [weekday, dayofyear],
        "W": [dayofyear],
        "SM": [month],
        "M": [month],
        "BM": [month],
        "Q": [quarter],
        "BQ": [quarter],
    }.get(_base(offset), [])


def calendar_feature_names(freq: str) -> list[str]:
    """The columns of :func:`calendar_features` at ``freq``.

    Example:
        >>> calendar_feature_names("h")
        ['hour_sin', 'hour_cos', 'dayofweek_sin', 'dayofweek_cos']
    """
    parts = _calendar_parts(check_freq(freq))
    return [f"{name}_{f}" for name, _ in parts for f in ("sin", "cos")]


def calendar_features(index: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """Where each timestamp falls in the calendar's cycles, as sin/cos pairs: future covariates.

    A position ``k`` in a cycle of length ``P`` gives ``sin(2 pi k / P)`` and ``cos(2 pi k / P)``,
    so the last month of a year sits next to the first. The cycles follow the frequency: hour of
    day and day of week for hourly and finer data, day of week and day of year for daily, day of
    year for weekly, month of year for monthly, quarter of year for quarterly; yearly data has none.
    Names in :func:`calendar_feature_names`.

    Args:
        index: (T,) timestamps; extend it past the data (``pd.date_range``) to forecast.
        freq: the series' frequency.

    Returns:
        (T, C) float64.

    Example:
        >>> index = pd.date_range("2020-01-01", periods=3, freq="MS")
        >>> calendar_features(index, "MS").round(3).tolist()
        [[0.0, 1.0], [0.5, 0.866], [0.866, 0.5]]
    """
    index = pd.DatetimeIndex(index)
    columns = []
    for _, position in _calendar_parts(check_freq(freq)):
        k, period = position(index)
        angle = 2 * np.pi * np.asarray(k, dtype=float) / np.asarray(period, dtype=float)
        columns += [np.sin(angle), np.cos(angle)]
    if not columns:
        return np.zeros((len(index), 0))
    return np.stack(columns, axis=1)  # (T, C)


def stamp_text(stamp: pd.Timestamp) -> str:
    """``2020-01-01`` for midnight, ``2020-01-01 06:00:00`` otherwise."""
    stamp = pd.Timestamp(stamp)
    return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)
