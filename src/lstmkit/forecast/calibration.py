"""Adjusting the forecaster's quantiles on held-out windows: shrinkage, then conformal intervals.

Both are fitted at the end of :meth:`lstmkit.forecast.Forecaster.fit` on the validation windows
(each series' last ``valid_windows`` horizons of the training data, whose targets the network
never trained on), in series-standardised units (each series divided by its training spread, so
series of any level pool), and kept in the checkpoint's config as plain JSON.

* **Shrinkage toward seasonal naive** (``shrink``; residual models only). The network forecasts
  the deviation r̂ from the seasonal naive forecast b; the point forecast becomes
  ``b + a_k · r̂`` with ``a_k`` in [0, 1] per horizon step k, the least-squares weight
  ``a_k = clip(Σ r r̂ / Σ r̂², 0, 1)`` over the validation windows (r the true deviation). It is
  the classical combination of two forecasts (Bates & Granger 1969) toward the one the network
  is a residual of: ``a = 0`` is seasonal naive exactly, ``a = 1`` the network. The other
  quantiles move with the median, keeping their distance to it.
* **Split-conformal calibration** (``calibrate``; conformalized quantile regression, Romano,
  Patterson & Candès 2019). For each pair of levels q < 0.5 < 1 - q the conformity score of a
  window's step is ``E = max(q_lo - y, y - q_hi)``; the interval is widened (narrowed, when
  negative) on both sides by the ``ceil((n + 1)(1 - α)) / n`` empirical quantile of the n
  scores, ``α = 2q``. The median is untouched; a level without its mirror is left as it is.

Each weight or margin is fitted per horizon step when there are at least
:data:`PER_STEP_WINDOWS` non-overlapping validation windows (series × ``valid_windows``; the
windows at every origin in between overlap and add little), else once over every step's values
pooled (a single short series with one validation window: its K steps give K scores). With so
few windows the coverage guarantee (exchangeable scores) is approximate, and the windows also
picked the best epoch, which makes them optimistic.

Legend: N validation windows, K horizon, Q quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lstmkit.checkpoint import load_checkpoint, save_checkpoint
from lstmkit.forecast.task import ForecastTask
from lstmkit.forecast.windows import forecast_windows

PER_STEP_WINDOWS = 20  # below this a step's (1 - α) quantile rests on a handful of scores
HEADER_KEYS = ("format", "format_version", "task", "lstmkit_version", "tied_weights")


def conformal_margin(scores: np.ndarray, alpha: float) -> float:
    """The ``ceil((n + 1)(1 - alpha))``-th smallest of the n scores (Romano et al. 2019, Th. 1).

    When that rank exceeds n (too few scores for the level) the largest score is used.

    Example:
        >>> conformal_margin(np.arange(1.0, 10.0), 0.2)  # n = 9: ceil(10 · 0.8) = 8th smallest
        8.0
    """
    s = np.sort(np.asarray(scores, dtype=float).ravel())
    if not len(s):
        raise ValueError("scores: expected at least one score, got none")
    # The tolerance keeps (n + 1)(1 - α) = 8.000000000000002 from rounding up to 9.
    rank = math.ceil((len(s) + 1) * (1 - alpha) - 1e-9)
    return float(s[min(max(rank, 1), len(s)) - 1])


def quantile_pairs(levels: Sequence[float]) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)`` of mirrored levels, ``levels[i] = 1 - levels[j] < 0.5``."""
    pairs = []
    for i, q in enumerate(levels):
        for j, p in enumerate(levels):
            if q < 0.5 and abs(q + p - 1) < 1e-9:
                pairs.append((i, j))
    return pairs


def _per_step(fit, *arrays: np.ndarray, per_step: bool) -> list[float]:
    """``fit`` applied to each step's column of the (N, K) arrays, or to all values pooled."""
    K = arrays[0].shape[1]
    if per_step:
        return [fit(*(a[:, k] for a in arrays)) for k in range(K)]
    return [fit(*(a.ravel() for a in arrays))] * K


def _least_squares_weight(predicted: np.ndarray, actual: np.ndarray) -> float:
    """``clip(Σ predicted · actual / Σ predicted², 0, 1)``; 1 when the network predicts 0."""
    denominator = float(np.sum(predicted**2))
    if denominator == 0:
        return 1.0
    return float(np.clip(np.sum(predicted * actual) / denominator, 0.0, 1.0))


def fit_adjustment(
    q: np.ndarray,
    base: np.ndarray | None,
    y: np.ndarray,
    levels: Sequence[float],
    *,
    shrink: bool = True,
    calibrate: bool = True,
    independent: int | None = None,
) -> dict:
    """Fit the shrinkage weights and the conformal margins on validation windows.

    Args:
        q: (N, K, Q) the network's quantiles; base: (N, K) the seasonal naive forecast the
            network is a residual of, or None (no shrinkage then); y: (N, K) the truth; all in
            the same (series-standardised) units.
        levels: the Q quantile levels, 0.5 among them.
        shrink, calibrate: which adjustments to fit.
        independent: how many of the N windows do not overlap (default N); per-step fits need
            :data:`PER_STEP_WINDOWS` of them.

    Returns:
        ``{"windows": N, "independent": int, "per_step": bool, "shrink": [a_k] (K) or None,
        "calibration": [{"levels": [q, 1 - q], "alpha": 2q, "margin": [K floats]}, ...]}``,
        JSON values.
    """
    N = q.shape[0]
    independent = N if independent is None else independent
    per_step = independent >= PER_STEP_WINDOWS
    out = {
        "windows": N,
        "independent": independent,
        "per_step": per_step,
        "shrink": None,
        "calibration": [],
    }
    median = list(levels).index(0.5)
    if shrink and base is not None:
        out["shrink"] = _per_step(
            _least_squares_weight, q[..., median] - base, y - base, per_step=per_step
        )
        q = adjust_quantiles(q, base, out, levels)
    if calibrate:
        for i, j in quantile_pairs(levels):
            scores = np.maximum(q[..., i] - y, y - q[..., j])  # (N, K)
            alpha = 2 * levels[i]
            margin = _per_step(lambda s, a=alpha: conformal_margin(s, a), scores, per_step=per_step)
            out["calibration"].append(
                {"levels": [levels[i], levels[j]], "alpha": alpha, "margin": margin}
            )
    return out


def adjust_quantiles(
    q: np.ndarray, base: np.ndarray | None, adjustment: dict, levels: Sequence[float]
) -> np.ndarray:
    """Apply a fitted :func:`fit_adjustment` to quantiles (N, K', Q), K' <= K (base (N, K') or
    None).

    Quantiles stay ordered outwards from the untouched median: a narrowed pair can cross neither
    the median nor its inner neighbour (each side is made monotone from the median out).
    """
    q = np.array(q, dtype=float)
    K, levels = q.shape[1], [float(x) for x in levels]
    median = levels.index(0.5)
    if adjustment.get("shrink") is not None and base is not None:
        a = np.asarray(adjustment["shrink"][:K])  # (K,)
        q -= ((1 - a) * (q[..., median] - base))[..., None]  # the median moves, the rest with it
    if not adjustment.get("calibration"):
        return q
    for pair in adjustment["calibration"]:
        margin = np.asarray(pair["margin"][:K])  # (K,)
        lo, hi = (levels.index(float(x)) for x in pair["levels"])
        q[..., lo] -= margin
        q[..., hi] += margin
    mid = q[..., median : median + 1]  # (N, K, 1)
    below = np.minimum.accumulate(np.minimum(q[..., :median], mid)[..., ::-1], -1)[..., ::-1]
    above = np.maximum.accumulate(np.maximum(q[..., median + 1 :], mid), -1)
    return np.concatenate([below, mid, above], -1)


def validation_forecasts(model: nn.Module, task: ForecastTask, view: int = 0) -> tuple:
    """The network's quantiles (N, K, Q), the seasonal naive base (N, K) (None without
    residuals) and the truth (N, K) over the task's validation windows of ``view`` (an
    ensemble's member reads its own: :mod:`lstmkit.forecast.views`), series-standardised; and
    how many of them do not overlap (one per series and validation horizon)."""
    qs, bases, ys = [], [], []
    for k in range(0, len(task.valid_origins), 256):
        window = task.windows(task.valid_origins[k : k + 256], view)
        with torch.no_grad():
            qs.append(forecast_windows(model, window).numpy())
        bases.append(window.base.numpy())
        ys.append(window.undo(window.target).numpy())
    base = np.concatenate(bases) if task.seasons[view] else None
    first = {}
    for s, t in task.valid_origins:
        first[s] = min(first.get(s, t), t)
    independent = sum((t - first[s]) % task.horizon == 0 for s, t in task.valid_origins)
    return np.concatenate(qs), base, np.concatenate(ys), independent


def stamp_checkpoint(directory: Path, model: nn.Module, data: dict) -> None:
    """Rewrite the checkpoint ``directory`` with ``data`` over its config's ``data`` (the
    views with their fitted adjustments), so that loading it forecasts as the fitted estimator
    does. The optimiser's state is not kept: this is ``best/``, a model to use; a run resumes
    from ``last/``."""
    checkpoint = load_checkpoint(directory, task="forecast")
    config = {k: v for k, v in checkpoint.config.items() if k not in HEADER_KEYS}
    config["data"] = {**config["data"], **data}
    progress = {k: checkpoint.training_state.get(k) for k in ("progress", "carry")}
    save_checkpoint(directory, task="forecast", config=config, model=model, training_state=progress)


__all__ = [
    "PER_STEP_WINDOWS",
    "adjust_quantiles",
    "conformal_margin",
    "fit_adjustment",
    "quantile_pairs",
    "stamp_checkpoint",
    "validation_forecasts",
]
