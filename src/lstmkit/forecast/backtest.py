"""The LSTM forecaster scored beside the baselines, on the same windows, in one run.

A rolling-origin backtest with ``folds`` origins per series (:func:`rolling_origins`, the last
window ending at the series' end). The LSTM is trained once, on each series up to its first
origin (its validation windows cut from that part too), and forecasts every fold from the history
before that fold's origin without refitting, as Darts' ``historical_forecasts(retrain=False)``;
the baselines (:mod:`lstmkit.forecast.baselines`) refit at every origin, which only favours
them. Every model is scored by :func:`~lstmkit.forecast.metrics.score_forecast`: MAE, RMSE,
sMAPE, MASE (scaled on the history before the origin), and the coverage of the interval between
the lowest and highest quantile with the pinball loss over all quantiles.

``lstmkit forecast train`` is this with ``folds`` test windows (1 by default), keeping the model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lstmkit.data.series import SeriesFrame
from lstmkit.data.series_split import rolling_origins
from lstmkit.data.series_tools import truncate
from lstmkit.errors import UserError
from lstmkit.forecast.baselines import BASELINES, forecast_baseline
from lstmkit.forecast.metrics import score_forecast

if TYPE_CHECKING:  # the estimator calls this module: Forecaster.backtest
    from lstmkit.forecast.estimator import Forecaster

MODELS = ("lstm", *BASELINES)


@dataclass
class Backtest:
    """What :func:`backtest` found.

    Attributes:
        scores: ``{"horizon", "season", "folds", "train_seconds", "series": {name: {"origins":
            [time, ...], "models": {model: {"folds": [scores | None], "mean": scores | None,
            "notes": [str]}}}}, "overall": {model: mean over series of the series' means},
            "adjustment": the LSTM's shrinkage and calibration (None without),
            "lstm_unadjusted": the LSTM's overall scores without them}``; the LSTM's entry per
            series also holds ``"unadjusted": {"folds", "mean"}``.
        forecasts: every model's forecast, one row per model, series, fold and step:
            ``model, series, fold, time, forecast, q<level>..., actual``.
    """

    scores: dict
    forecasts: pd.DataFrame


def backtest(
    forecaster: Forecaster,
    frame: SeriesFrame,
    folds: int = 3,
    step: int | None = None,
    baselines: Sequence[str] = tuple(BASELINES),
    *,
    out=None,
    progress: bool = True,
    resume=None,
) -> Backtest:
    """Train ``forecaster`` before the first origin, then score it and the baselines per fold.

    Args:
        forecaster: an unfitted (or to-be-refitted) :class:`Forecaster`; left fitted.
        frame: the series.
        folds, step: origins per series and steps between them (default the horizon).
        baselines: names from :data:`lstmkit.forecast.baselines.BASELINES`.
        out: the run folder for the LSTM's training (default a temporary one).
        progress: show the training progress bar.
        resume: a checkpoint of an earlier run of this backtest's training to continue.

    Raises:
        UserError: an unknown baseline, or series too short for the folds, look-back, horizon
            and validation windows.
    """
    for name in baselines:
        if name not in BASELINES:
            raise UserError(f"baselines: expected names from {', '.join(BASELINES)}, got {name!r}")
    K = forecaster.horizon
    origins = {s.name: rolling_origins(len(s), K, folds, step, min_train=2) for s in frame}
    first = SeriesFrame(
        [truncate(s, origins[s.name][0]) for s in frame],
        frame.freq,
        frame.target,
        frame.past_covariates,
        frame.future_covariates,
        dict(frame.source),
    )
    started = time.monotonic()
    forecaster.fit(first, out=out, progress=progress, resume=resume)
    seconds = time.monotonic() - started
    quantiles = list(forecaster.config_.quantiles)
    tables, per_series = [], {}
    for s in frame:
        cuts = origins[s.name]
        found = {m: {"folds": [], "notes": []} for m in ("lstm", *baselines)}
        raw = found["lstm"]["unadjusted"] = {"folds": []}
        for fold, origin in enumerate(cuts):
            truth, history = s.values[origin : origin + K], s.values[:origin]
            lstm = forecaster.forecast_at([s], [origin])
            lstm.insert(0, "model", "lstm")
            unadjusted = forecaster.forecast_at([s], [origin], adjusted=False)
            raw["folds"].append(_score(unadjusted, truth, history, forecaster.season_))
            runs = [("lstm", lstm, "")]
            for name in baselines:
                runs.append((name, *_baseline(name, s, origin, K, forecaster.season_, quantiles)))
            for name, table, note in runs:
                found[name]["notes"].append(note)
                if table is None:
                    found[name]["folds"].append(None)
                    continue
                found[name]["folds"].append(_score(table, truth, history, forecaster.season_))
                tables.append(table.assign(fold=fold, actual=truth))
        for entry in (*found.values(), raw):
            entry["mean"] = _mean(entry["folds"])
        times = [str(s.index[o]) for o in cuts]
        per_series[s.name] = {"origins": times, "models": found}
    scores = {
        "horizon": K,
        "season": forecaster.season_,
        "folds": folds,
        "train_seconds": seconds,
        "series": per_series,
        "overall": {
            m: _mean([r["models"][m]["mean"] for r in per_series.values()])
            for m in ("lstm", *baselines)
        },
        "adjustment": forecaster.adjustment_,
        "lstm_unadjusted": _mean(
            [r["models"]["lstm"]["unadjusted"]["mean"] for r in per_series.values()]
        ),
    }
    columns = ["model", "series", "fold", "time", "forecast"]
    forecasts = pd.concat(tables, ignore_index=True)
    rest = [c for c in forecasts.columns if c not in columns]
    return Backtest(scores, forecasts[columns + rest])


def _baseline(name, series, origin, horizon, season, quantiles):
    """(table like the LSTM's or None, note) of one baseline at one origin."""
    fc = forecast_baseline(name, series.to_pandas().iloc[:origin], horizon, season, quantiles)
    if fc.skipped:
        return None, fc.note
    table = pd.DataFrame(
        {"model": name, "series": series.name, "time": fc.index, "forecast": fc.mean}
    )
    for level in quantiles:
        if fc.quantiles and level in fc.quantiles:
            table[f"q{level:g}"] = fc.quantiles[level]
    return table, fc.note


def _score(table: pd.DataFrame, truth, history, season: int) -> dict:
    levels = sorted(float(c[1:]) for c in table.columns if c.startswith("q"))
    extra = {}
    if len(levels) >= 2:
        q_pred = np.stack([table[f"q{q:g}"].to_numpy() for q in levels])  # (Q, K)
        extra = {"lower": q_pred[0], "upper": q_pred[-1], "q_pred": q_pred, "quantiles": levels}
    try:
        return score_forecast(truth, table["forecast"].to_numpy(), history, season, **extra)
    except UserError:  # MASE's scale is 0: the history repeats exactly at the season
        return {
            **score_forecast(truth, table["forecast"].to_numpy(), history, 1, **extra),
            "mase": float("nan"),
        }


def _mean(scores: list[dict | None]) -> dict | None:
    """Mean per metric over the scored entries (None where none were scored)."""
    scored = [s for s in scores if s is not None]
    if not scored:
        return None
    return {k: float(np.mean([s[k] for s in scored if k in s])) for k in scored[0]}


__all__ = ["MODELS", "Backtest", "backtest"]
