"""Point and interval scores for forecasts: MAE, RMSE, sMAPE, MASE, coverage and pinball loss.

Arrays are one forecast shaped ``(K,)`` or a batch of ``N`` forecasts shaped ``(N, K)`` (K the
horizon); every score is the mean over all N·K terms and comes back as a Python float.

Definitions (y the truth, ŷ the forecast):

- ``mae``: mean |y − ŷ|; ``rmse``: sqrt(mean (y − ŷ)²).
- ``smape``: the M4 competition's 200/K · Σ |y − ŷ| / (|y| + |ŷ|), in percent (0 to 200); a term
  with y = ŷ = 0 is 0/0 and is counted as 0 (a perfect forecast of zero), not dropped.
- ``mase``: MAE divided by the in-sample MAE of the seasonal naive forecast with lag ``season``,
  mean |x_t − x_{t−season}| over the history x (M4's definition); per series for a batch.
- ``coverage``: share of y with lower ≤ y ≤ upper.
- ``pinball``: mean over quantiles q and terms of max(q·(y − ŷ_q), (q − 1)·(y − ŷ_q)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lstmkit.errors import UserError


def _as_array(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim not in (1, 2) or a.size == 0:
        raise UserError(f"{name}: expected a non-empty array shaped (K,) or (N, K), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise UserError(
            f"{name}: expected finite values, got {int((~np.isfinite(a)).sum())} NaN/inf"
        )
    return a


def _pair(y, yhat, name: str = "yhat") -> tuple[np.ndarray, np.ndarray]:
    y = _as_array(y, "y")
    yhat = _as_array(yhat, name)
    if yhat.shape != y.shape:
        raise UserError(f"{name}: expected the shape of y {y.shape}, got {yhat.shape}")
    return y, yhat


def mae(y, yhat) -> float:
    """Mean absolute error.

    Example:
        >>> mae([1.0, 2.0, 4.0], [1.0, 3.0, 2.0])
        1.0
    """
    y, yhat = _pair(y, yhat)
    return float(np.mean(np.abs(y - yhat)))


def rmse(y, yhat) -> float:
    """Root mean squared error.

    Example:
        >>> rmse([0.0, 0.0], [3.0, 4.0]) == (12.5) ** 0.5
        True
    """
    y, yhat = _pair(y, yhat)
    return float(np.sqrt(np.mean((y - yhat) ** 2)))


def smape(y, yhat) -> float:
    """Symmetric MAPE as in M4, in percent; 0/0 terms (y = ŷ = 0) count as 0.

    Example:
        >>> smape([0.0, 1.0], [0.0, 3.0])  # 200/2 · (0 + 2/4)
        50.0
    """
    y, yhat = _pair(y, yhat)
    num = np.abs(y - yhat)
    den = np.abs(y) + np.abs(yhat)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(200.0 * np.mean(terms))


def seasonal_scale(insample, season: int) -> np.ndarray:
    """In-sample MAE of the seasonal naive forecast: mean |x_t − x_{t−season}| along the last axis.

    Args:
        insample: the history, shaped (T,) or (N, T), with T ≥ season + 1.
        season: the lag (1 for the plain naive forecast).

    Returns:
        The scale, shaped () or (N,).

    Raises:
        UserError: season < 1, a history shorter than season + 1, or a zero scale (a history that
            repeats itself exactly, which makes MASE undefined).
    """
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise UserError(f"season: expected an integer ≥ 1, got {season!r}")
    x = _as_array(insample, "insample")
    if x.shape[-1] < season + 1:
        raise UserError(
            f"insample: expected at least season + 1 = {season + 1} values, got {x.shape[-1]}"
        )
    scale = np.mean(np.abs(x[..., season:] - x[..., :-season]), axis=-1)
    if np.any(scale == 0):
        raise UserError(
            f"insample: expected a history that is not exactly {season}-periodic "
            "(seasonal naive in-sample MAE > 0), got MAE 0"
        )
    return scale


def mase(y, yhat, insample, season: int) -> float:
    """Mean absolute scaled error: MAE over the in-sample seasonal naive MAE (lag ``season``).

    Args:
        y, yhat: truth and forecast, (K,) or (N, K).
        insample: the history the forecast was made from, (T,) for (K,) or (N, T) for (N, K).
        season: seasonal period (1 for non-seasonal data).

    Raises:
        UserError: mismatched shapes, a history shorter than season + 1, or a zero scale.

    Example:
        >>> mase([5.0, 6.0], [4.0, 6.0], insample=[1.0, 2.0, 4.0], season=1)  # 0.5 / 1.5
        0.3333333333333333
    """
    y, yhat = _pair(y, yhat)
    x = _as_array(insample, "insample")
    if x.ndim != y.ndim or (y.ndim == 2 and x.shape[0] != y.shape[0]):
        want = "(T,)" if y.ndim == 1 else f"({y.shape[0]}, T)"
        raise UserError(f"insample: expected shape {want} to match y {y.shape}, got {x.shape}")
    scale = seasonal_scale(x, season)
    per_series = np.mean(np.abs(y - yhat), axis=-1) / scale
    return float(np.mean(per_series))


def coverage(y, lower, upper) -> float:
    """Share of the truth inside the closed interval [lower, upper].

    Raises:
        UserError: mismatched shapes or some lower > upper.

    Example:
        >>> coverage([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.5, 0.0], [1.0, 5.0, 4.0, 3.0])
        0.5
    """
    y, lower = _pair(y, lower, "lower")
    _, upper = _pair(y, upper, "upper")
    if np.any(lower > upper):
        raise UserError(
            f"upper: expected upper ≥ lower everywhere, got {int((lower > upper).sum())} crossings"
        )
    return float(np.mean((lower <= y) & (y <= upper)))


def pinball(y, q_pred, quantiles: Sequence[float]) -> float:
    """Mean quantile (pinball) loss over all quantiles and terms.

    Args:
        y: truth, (K,) or (N, K).
        q_pred: the predicted quantiles stacked on a first axis, (Q, K) or (Q, N, K).
        quantiles: the Q levels, each strictly between 0 and 1.

    Example:
        >>> round(pinball([10.0], [[8.0], [12.0]], quantiles=[0.1, 0.9]), 6)  # (0.1·2 + 0.1·2) / 2
        0.2
    """
    y = _as_array(y, "y")
    qs = np.asarray(quantiles, dtype=float)
    if qs.ndim != 1 or qs.size == 0 or np.any((qs <= 0) | (qs >= 1)):
        raise UserError(f"quantiles: expected levels strictly between 0 and 1, got {quantiles!r}")
    q_pred = np.asarray(q_pred, dtype=float)
    if q_pred.shape != (qs.size, *y.shape):
        raise UserError(
            f"q_pred: expected shape {(qs.size, *y.shape)} (quantiles first), got {q_pred.shape}"
        )
    diff = y[None] - q_pred  # (Q, ...)
    q = qs.reshape((-1,) + (1,) * y.ndim)
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def score_forecast(
    y,
    yhat,
    insample,
    season: int,
    lower=None,
    upper=None,
    *,
    q_pred=None,
    quantiles: Sequence[float] | None = None,
) -> dict:
    """Every score for one forecast (or batch) at once.

    Args:
        y, yhat, insample, season: as in :func:`mase`.
        lower, upper: an interval, both or neither; adds ``coverage``.
        q_pred, quantiles: predicted quantiles as in :func:`pinball`; adds ``pinball``.

    Returns:
        ``{"mae", "rmse", "smape", "mase"}`` plus ``"coverage"`` and ``"pinball"`` when given.

    Example:
        >>> s = score_forecast([5.0, 6.0], [4.0, 6.0], [1.0, 2.0, 4.0], season=1)
        >>> sorted(s), s["mae"]
        (['mae', 'mase', 'rmse', 'smape'], 0.5)
    """
    scores = {
        "mae": mae(y, yhat),
        "rmse": rmse(y, yhat),
        "smape": smape(y, yhat),
        "mase": mase(y, yhat, insample, season),
    }
    if (lower is None) != (upper is None):
        raise UserError("upper: expected lower and upper together, got only one of them")
    if lower is not None:
        scores["coverage"] = coverage(y, lower, upper)
    if (q_pred is None) != (quantiles is None):
        raise UserError("quantiles: expected q_pred and quantiles together, got only one of them")
    if q_pred is not None:
        scores["pinball"] = pinball(y, q_pred, quantiles)
    return scores
