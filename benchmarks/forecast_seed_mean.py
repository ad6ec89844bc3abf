"""Forecasting: the mean of several seeds' forecasts against each seed alone.

Trains the forecaster of :mod:`forecast_series` (its defaults: three validation horizons, early
stopping) once per seed on each series, and scores each seed's point forecast and the mean of
all seeds' point forecasts on the same test window(s) with MASE (each fold against the history
before its origin, as :func:`lstmkit.forecast.backtest.backtest` does). The mean of the seeds'
MASEs bounds the mean forecast's from above (the absolute error is convex); the question is how
it compares with the seeds one by one, and what the training costs (one run per seed).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_seed_mean.py --seeds 0 1 2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_seed_mean.py --folds 4 --only co2
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from forecast_series import DATA, SERIES
from lstmkit.forecast import Forecaster
from lstmkit.forecast.backtest import backtest
from lstmkit.forecast.estimator import DEFAULT_TRAIN
from lstmkit.forecast.metrics import mase


def seed_forecasts(name: str, seeds: list[int], folds: int, epochs: int):
    """{seed: {(series, fold): point forecast (H,)}}, the frame, the horizon and the season."""
    loader, horizon = SERIES[name]
    frame = loader()
    found = {}
    for seed in seeds:
        fc = Forecaster(
            horizon=horizon,
            valid_windows=3,
            train={**DEFAULT_TRAIN, "epochs": epochs, "seed": seed},
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bt = backtest(fc, frame, folds, baselines=("seasonal_naive",), progress=False)
        lstm = bt.forecasts[bt.forecasts.model == "lstm"]
        found[seed] = {key: g.forecast.to_numpy() for key, g in lstm.groupby(["series", "fold"])}
    return found, frame, horizon, bt.scores["season"]


def scores(found, frame, horizon: int, season: int, folds: int) -> dict[str, float]:
    """MASE per seed and of the seeds' mean forecast: mean over folds, then over series."""
    seeds = list(found)
    per_series = {k: [] for k in [*map(str, seeds), "mean"]}
    for s in frame:
        per_fold = {k: [] for k in per_series}
        for fold in range(folds):
            origin = len(s) - horizon * (folds - fold)  # backtest's origins, a horizon apart
            truth, history = s.values[origin : origin + horizon], s.values[:origin]
            forecasts = np.stack([found[seed][(s.name, fold)] for seed in seeds])  # (seeds, H)
            for seed, f in zip(seeds, forecasts, strict=True):
                per_fold[str(seed)].append(mase(truth, f, history, season))
            per_fold["mean"].append(mase(truth, forecasts.mean(0), history, season))
        for k, v in per_fold.items():
            per_series[k].append(np.mean(v))
    return {k: float(np.mean(v)) for k, v in per_series.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(SERIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--folds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=DEFAULT_TRAIN["epochs"])
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA}: not found; this benchmark reads the shared data sets")
    rows = []
    for name in args.only or SERIES:
        found, frame, horizon, season = seed_forecasts(name, args.seeds, args.folds, args.epochs)
        rows.append((name, scores(found, frame, horizon, season, args.folds)))
        print(name, {k: round(v, 3) for k, v in rows[-1][1].items()}, file=sys.stderr, flush=True)
    columns = [*map(str, args.seeds), "mean"]
    print(
        f"MASE, test: the last {args.folds} horizon(s); seeds {args.seeds}; 'mean': the mean "
        "of their point forecasts\n"
    )
    print("| series | " + " | ".join(f"seed {c}" if c != "mean" else c for c in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    overall = {c: np.mean([r[c] for _, r in rows]) for c in columns}
    for name, r in [*rows, ("mean over series", overall)]:
        print(f"| {name} | " + " | ".join(f"{r[c]:.3f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
