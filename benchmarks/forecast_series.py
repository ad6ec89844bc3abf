"""Forecasting quality: the LSTM beside seasonal naive and ETS on real series, same split.

Each series' last ``horizon`` steps are the test window; every model forecasts them from the
history before it (:func:`lstmkit.forecast.backtest.backtest` with one fold: the LSTM trains on
the history, its last three horizons (``--valid-windows``) held out, the baselines fit on all of
it). ``--folds k`` tests on the last k horizons as rolling origins instead: the LSTM trains once
before the first, the baselines refit at every origin, and each score is the mean over them.
The held-out horizons pick the LSTM's best epoch and fit, the same way on every series, the
shrinkage of its correction toward seasonal naive and the conformal calibration of its intervals
(:mod:`lstmkit.forecast.calibration`); "unadjusted" is the same network without them. Scores:
MASE (scaled by the in-sample seasonal naive error) and sMAPE (%), as in the M4 competition, and
the 80% interval's coverage. Target (issue 5): the LSTM beats seasonal naive on every series and
ETS on at least half.

Series: ``../shared/data/timeseries`` (AirPassengers, monthly-milk, us_gasoline, taylor, ETTh1's
"OT", exchange_rate's 8 series as one global model) and the built-ins (co2, elnino, macrodata's
real GDP, sunspots, and elec_equip, the euro area's electrical equipment turnover, which the issue
names). taylor and exchange_rate come without timestamps; they get a regular index
(half-hourly from 2000-06-05, daily from 1990-01-01) as Darts does. ``--only`` also takes two
series of the shared folder that are not in the default eleven, where the frequency's season is not
the data's (daily minimum temperatures, no weekly cycle; monthly sunspots, an 11-year cycle, not a
yearly one): ``temps`` and ``monthly-sunspots``. ``--season-given`` passes the frequency's season
to the forecaster explicitly, which then takes its residual at that lag untested (the behaviour
before the seasonality test).

Run::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/forecast_series.py
    .venv/bin/python benchmarks/forecast_series.py --only AirPassengers co2 --epochs 10
    .venv/bin/python benchmarks/forecast_series.py --only temps monthly-sunspots --season-given
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_series.py --folds 4
    .venv/bin/python benchmarks/forecast_series.py --only elec_equip --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmkit.data.calendar import season_length
from lstmkit.data.series_builtin import builtin_series
from lstmkit.data.series_tools import read_frame
from lstmkit.forecast import Forecaster
from lstmkit.forecast.backtest import backtest
from lstmkit.forecast.estimator import DEFAULT_TRAIN
from lstmkit.models.forecaster import ForecastConfig

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "timeseries"


def _csv(name: str, **options):
    return lambda: read_frame(DATA / name, **options)


def _indexed(name: str, start: str, freq: str, columns=None):
    def load():
        table = pd.read_csv(DATA / name)
        table = table[columns] if columns else table
        table.columns = [str(c) for c in table.columns]
        table.insert(0, "time", pd.date_range(start, periods=len(table), freq=freq))
        return read_frame(table, time="time", target=list(table.columns[1:]), freq=freq)

    return load


# name -> (loader, horizon)
SERIES = {
    "AirPassengers": (_csv("AirPassengers.csv"), 12),
    "monthly-milk": (_csv("monthly-milk.csv"), 12),
    "us_gasoline": (_csv("us_gasoline.csv"), 52),
    "taylor": (_indexed("taylor.csv", "2000-06-05", "30min"), 48),
    "ETTh1 OT": (_csv("ETTh1.csv", target="OT"), 24),
    "exchange_rate (8)": (_indexed("exchange_rate.csv", "1990-01-01", "D"), 30),
    "co2": (lambda: builtin_series("co2"), 52),
    "elec_equip": (lambda: builtin_series("elec_equip"), 12),
    "elnino": (lambda: builtin_series("elnino"), 12),
    "macrodata realgdp": (lambda: builtin_series("macrodata"), 8),
    "sunspots": (lambda: builtin_series("sunspots"), 11),
}
# Scored beside the LSTM: the table holds the two, the verdicts count all four.
BASELINES = ("naive", "seasonal_naive", "ets", "arima")
# Selectable with --only, not in the default table (see the module docstring).
EXTRA = {
    "temps": (_csv("temps.csv", fill="interpolate"), 30),
    "monthly-sunspots": (_csv("monthly-sunspots.csv"), 12),
}


def run(name: str, args) -> dict:
    loader, horizon = {**SERIES, **EXTRA}[name]
    frame = loader()
    fc = Forecaster(
        horizon=horizon,
        season=season_length(frame.freq) if args.season_given else None,
        model={
            "hidden_size": args.hidden_size,
            "num_layers": args.num_layers,
            "one_step_loss": args.one_step_loss,
        },
        batches_per_epoch=args.batches_per_epoch,
        valid_windows=args.valid_windows,
        window_norm=args.window_norm,
        shrink=args.shrink,
        calibrate=args.calibrate,
        train={"epochs": args.epochs, "seed": args.seed, "patience": args.patience or None},
    )
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = backtest(fc, frame, args.folds, baselines=BASELINES, progress=False)
    overall = bt.scores["overall"]
    return {
        "name": name,
        "freq": frame.freq,
        "length": int(np.mean([len(s) for s in frame])),
        "series": len(frame),
        "horizon": horizon,
        "season": bt.scores["season"],
        "lookback": fc.lookback_,
        "lag": fc.residual_["lag"],
        "train_s": bt.scores["train_seconds"],
        "total_s": time.monotonic() - started,
        **{m: overall[m] for m in ("lstm", *BASELINES)},
        "raw": bt.scores["lstm_unadjusted"],
        "shrink": (bt.scores["adjustment"] or {}).get("shrink"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[*SERIES, *EXTRA],
        help="a subset, or series not in the default eleven",
    )
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=DEFAULT_TRAIN["epochs"])
    parser.add_argument(
        "--patience",
        type=int,
        default=DEFAULT_TRAIN.get("patience"),
        help="early stopping: epochs without a better validation loss (0: off)",
    )
    parser.add_argument("--batches-per-epoch", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--one-step-loss",
        type=float,
        default=ForecastConfig.one_step_loss,
        help="weight of the encoder's one-step-ahead loss (0: off)",
    )
    # Three: the shrinkage and the calibration of one series rest on its validation windows
    # (2 x horizon + 1 of them; one window gave a single horizon of scores).
    parser.add_argument("--valid-windows", type=int, default=3)
    parser.add_argument("--folds", type=int, default=1, help="test windows (rolling origins)")
    parser.add_argument("--shrink", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument(
        "--window-norm",
        action=argparse.BooleanOptionalAction,
        default=Forecaster().window_norm,
        help="normalise each window by its look-back (RevIN)",
    )
    parser.add_argument("--calibrate", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument(
        "--season-given",
        action="store_true",
        help="give the frequency's season explicitly: the residual is taken at it untested",
    )
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA}: not found; this benchmark reads the shared data sets")
    load = os.getloadavg()[0]
    rows = []
    for name in args.only or SERIES:
        rows.append(run(name, args))
        r = rows[-1]
        scores = ", ".join(f"{m} {r[m]['mase']:.3f}" for m in ("lstm", "seasonal_naive", "ets"))
        print(
            f"{name}: MASE {scores}, unadjusted LSTM {r['raw']['mase']:.3f}, coverage "
            f"{r['raw'].get('coverage', float('nan')):.0%} -> "
            f"{r['lstm'].get('coverage', float('nan')):.0%}, shrink {_weights(r['shrink'])} "
            f"({r['train_s']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    if args.json:
        print(json.dumps({"seed": args.seed, "folds": args.folds, "series": rows}, indent=1))
        return
    print(
        f"torch {torch.__version__} | threads {torch.get_num_threads()} | "
        f"{platform.processor() or platform.machine()} | seed {args.seed} | 1-min load avg "
        f"{load:.2f} at start, {os.getloadavg()[0]:.2f} at end\n"
    )
    print(
        f"LSTM: {args.num_layers}x{args.hidden_size} encoder and autoregressive decoder, "
        f"quantiles 0.1/0.5/0.9, {args.epochs} epochs x {args.batches_per_epoch} batches of 64 "
        f"windows{_stopping(args.patience)}, best epoch on the last {args.valid_windows} "
        "horizon(s) before the test window, which also fit the shrinkage toward seasonal naive "
        f"({_on(args.shrink)}) and the conformal calibration ({_on(args.calibrate)}); test: "
        f"{_test(args.folds)}. MASE and sMAPE (%); lower is better; best of the three in bold. "
        "Unadjusted: the network alone, before shrinkage and calibration; shrink: the weights "
        "a_k of the network's correction (min-max over the steps).\n"
    )
    print(table(rows))
    print()
    print(all_models(rows))
    print()
    for line in verdicts(rows):
        print(line)


def table(rows: list[dict]) -> str:
    models = ("lstm", "seasonal_naive", "ets")
    head = (
        "| series | freq | length | horizon | look-back | residual lag | MASE LSTM | MASE s.naive "
        "| MASE ETS | sMAPE LSTM | sMAPE s.naive | sMAPE ETS | MASE LSTM unadjusted | shrink "
        "| 80% coverage unadjusted | 80% coverage calibrated | LSTM train s |"
    )
    lines = [head, "|---|---|---:|---:|---:|---:|" + "---:|" * 11]
    for r in rows:
        cells = []
        for metric in ("mase", "smape"):
            values = [r[m][metric] if r[m] else float("nan") for m in models]
            best = np.nanmin(values)
            cells += [_bold(v, best) for v in values]
        length = f"{r['length']:,}" + (f" x {r['series']}" if r["series"] > 1 else "")
        coverage = [r[m].get("coverage", float("nan")) for m in ("raw", "lstm")]
        lines.append(
            f"| {r['name']} | {r['freq']} | {length} | {r['horizon']} | {r['lookback']} | "
            f"{r['lag']} | "
            + " | ".join(cells)
            + f" | {r['raw']['mase']:.3f} | {_weights(r['shrink'])} | {coverage[0]:.0%} "
            f"| {coverage[1]:.0%} | {r['train_s']:.0f} |"
        )
    return "\n".join(lines)


def all_models(rows: list[dict]) -> str:
    """MASE of the LSTM and every baseline ('-': skipped), the best in bold."""
    models = ("lstm", *BASELINES)
    lines = [
        "| series | " + " | ".join(NAMES[m] for m in models) + " |",
        "|---|" + "---:|" * len(models),
    ]
    for r in rows:
        values = [r[m]["mase"] if r[m] else float("nan") for m in models]
        best = np.nanmin(values)
        cells = [_bold(v, best) for v in values]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _bold(value: float, best: float) -> str:
    return "-" if np.isnan(value) else f"**{value:.3f}**" if value == best else f"{value:.3f}"


NAMES = {
    "lstm": "MASE LSTM",
    "naive": "naive",
    "seasonal_naive": "s.naive",
    "ets": "ETS",
    "arima": "ARIMA",
}


def _weights(shrink: list[float] | None) -> str:
    if shrink is None:
        return "-"
    low, high = min(shrink), max(shrink)
    return f"{low:.2f}" if high - low < 0.005 else f"{low:.2f}-{high:.2f}"


def _test(folds: int) -> str:
    if folds == 1:
        return "the last horizon"
    return (
        f"the last {folds} horizons as rolling origins (the LSTM trained once before the "
        "first, the baselines refit at each), scores averaged over them"
    )


def _stopping(patience: int | None) -> str:
    if not patience:
        return ""
    return f" (stopped after {patience} epochs without a better validation loss)"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def verdicts(rows: list[dict]) -> list[str]:
    def beats(r, m):
        return r[m] is None or r["lstm"]["mase"] < r[m]["mase"]

    snaive = [r["name"] for r in rows if not beats(r, "seasonal_naive")]
    ets = sum(beats(r, "ets") for r in rows)
    missed = f" (not {', '.join(snaive)})" if snaive else ""
    others = []  # how often each other model beats seasonal naive, for scale
    for m in ("naive", "ets", "arima"):
        fitted = [r for r in rows if r[m] is not None]
        won = sum(r[m]["mase"] < r["seasonal_naive"]["mase"] for r in fitted)
        skipped = f", skipped on {len(rows) - len(fitted)}" if len(fitted) < len(rows) else ""
        others.append(f"{m} {won}/{len(fitted)}{skipped}")
    coverage = {m: [r[m].get("coverage", float("nan")) for r in rows] for m in ("raw", "lstm")}
    near = {m: sum(0.7 <= c <= 0.9 for c in v) for m, v in coverage.items()}
    return [
        f"- 80% interval coverage of the test window(s): mean {np.mean(coverage['raw']):.0%} "
        f"unadjusted, {np.mean(coverage['lstm']):.0%} calibrated; within 70-90% on "
        f"{near['raw']}/{len(rows)} and {near['lstm']}/{len(rows)} series",
        f"- {'PASS' if not snaive else 'FAIL'}: LSTM beats seasonal naive (MASE) on "
        f"{len(rows) - len(snaive)}/{len(rows)} series{missed}",
        f"- {'PASS' if 2 * ets >= len(rows) else 'FAIL'}: LSTM beats ETS (MASE) on "
        f"{ets}/{len(rows)} series (target: at least half)",
        f"- for scale, the baselines that beat seasonal naive (MASE): {'; '.join(others)}",
    ]


if __name__ == "__main__":
    main()
