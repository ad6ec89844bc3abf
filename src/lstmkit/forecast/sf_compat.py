"""statsforecast's forecasts in the baselines' terms: prediction intervals as quantiles, and
ETS damped-trend forecasts with the damping summed as the method defines it.

statsforecast 2.1.1, like R's ``forecast`` package it ports until 2026, adds φ^(i+1) instead of
φ^(i+2) to the damping sum after step i, so step h gets φ + (φ + φ² + … + φ^(h−1)) where
Gardner's damped trend has φ + φ² + … + φ^h (robjhyndman/forecast PR #1172, Nixtla/statsforecast
PR #1219). :func:`fix_damped` recomputes the point forecast from the final state.
"""

from __future__ import annotations

import numpy as np


def interval_level(q: float) -> float:
    """The interval level (0-100) whose lower (q < 0.5) or upper bound is quantile ``q``.

    Example:
        >>> interval_level(0.1), interval_level(0.9), interval_level(0.5)
        (80.0, 80.0, 0.0)
    """
    return round(100 * abs(2 * q - 1), 6)


def interval_levels(quantiles) -> list[float] | None:
    """The ``level`` argument for statsforecast that gives ``quantiles``; None for None."""
    return None if quantiles is None else sorted({interval_level(q) for q in quantiles})


def interval_quantiles(out: dict, quantiles) -> dict[float, np.ndarray] | None:
    """``{q: (K,)}`` from statsforecast's ``lo-<level>``/``hi-<level>`` bounds in ``out``."""
    if quantiles is None:
        return None
    side = {True: "lo", False: "hi"}
    return {q: np.asarray(out[f"{side[q < 0.5]}-{interval_level(q)}"], float) for q in quantiles}


def ets_point_forecast(fitted: dict, horizon: int) -> np.ndarray:
    """The point forecast (K,) of a fitted statsforecast ETS model (``AutoETS().fit(y).model_``)
    from its final state, by the forecast equations of Hyndman et al. (2008), table 2.1:
    ``(l + (φ + … + φ^h) b) ⊕ s`` with ⊕ adding or multiplying the season's index.

    Example:
        >>> fitted = {"components": "AAND", "m": 1, "par": [0.5, 0.1, np.nan, 0.5],
        ...           "states": np.array([[10.0, 2.0]])}
        >>> ets_point_forecast(fitted, 3).tolist()
        [11.0, 11.5, 11.75]
    """
    _, trend, season, damped = fitted["components"]
    state, m = np.asarray(fitted["states"])[-1], int(fitted["m"])
    has_trend = trend != "N"
    phi = fitted["par"][3] if damped == "D" else 1.0
    slope = state[1] if has_trend else 0.0
    f = state[0] + np.cumsum(phi ** np.arange(1, horizon + 1)) * slope
    if season != "N":
        # the seasonal states run newest first: the next step's index is the last one
        indices = state[1 + has_trend : 1 + has_trend + m][(m - 1 - np.arange(horizon)) % m]
        f = f + indices if season == "A" else f * indices
    return f


def fix_damped(fitted: dict, out: dict) -> dict:
    """``out`` (statsforecast's ``predict``) with a damped model's point forecast recomputed by
    :func:`ets_point_forecast` and every interval bound shifted with it; as it was otherwise.

    The shift is exact for additive errors, whose intervals are the mean ± z·σ_h; with
    multiplicative errors σ_h grows with the mean and is off by the same small relative amount.
    """
    if fitted["components"][3] != "D":
        return out
    mean = ets_point_forecast(fitted, len(out["mean"]))
    shift = mean - np.asarray(out["mean"], dtype=float)
    return {key: np.asarray(value, dtype=float) + shift for key, value in out.items()}
