"""Forecasting a collection: runs of the LSTM and the mean of their forecasts, beside the baselines.

What it measures
----------------
``forecast_collection.py --keep-forecasts`` keeps each LSTM run's point forecasts per series and
origin, with the truth and MASE's scale, in its cache (and each baseline's, in a baselines' run
with the flag). This script scores runs and *combinations* of runs from those caches — the mean
(or median) of their point forecasts, series by series and origin by origin — and summarises
them per frequency group and overall as ``forecast_collection.py`` does (mean MASE, OWA against
Naive2), beside every baseline found in the baselines' cache. It measures what an ensemble of
differently trained members would score before the library trains one, at the price of the runs
alone. A member ``CACHE@MODEL`` is that cache's baseline ``MODEL`` rather than its LSTM: the
combination of a network with a statistical model (the M4's hybrids); where the baseline skipped
a series (AutoARIMA over 5,000 values) the combination has no score there either.

Run from the repository root, after the runs (``--split valid``: choosing on validation windows)::

    B="--split valid --models lstm --jobs 2 --keep-forecasts"
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_collection.py $B --cache build/c0.jsonl
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_collection.py $B \\
        --set season_adjust=true --cache build/c1.jsonl
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_collection.py --split valid \\
        --models naive seasonal_naive ets arima theta comb --jobs 2 --cache build/cb.jsonl
    .venv/bin/python benchmarks/forecast_combine.py --baselines build/cb.jsonl \\
        residual=build/c0.jsonl adjusted=build/c1.jsonl both=build/c0.jsonl+build/c1.jsonl
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecast_collection.py --split valid \\
        --models ets theta --jobs 2 --keep-forecasts --cache build/kept.jsonl
    .venv/bin/python benchmarks/forecast_combine.py --baselines build/cb.jsonl \\
        both+ets=build/c0.jsonl+build/c1.jsonl+build/kept.jsonl@ets
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import _collection_summary as summary_module
from _collection_summary import summarise
from lstmkit.forecast.metrics import smape

KEPT = ("forecast", "actual", "scale")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="NAME=CACHE[@MODEL][+CACHE...][:median]",
        help="a name and the caches whose LSTM forecasts (or MODEL's) it combines (the mean, "
        "or the median)",
    )
    parser.add_argument(
        "--baselines", type=Path, required=True, help="a cache holding naive2 and the baselines"
    )
    parser.add_argument(
        "--scored-by",
        metavar="MODEL",
        help="only the series MODEL scored (AutoARIMA skips series over 5,000 values): every "
        "model compared on the same series",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.scored_by is not None and args.scored_by not in summary_module.MODELS:
        parser.error(f"--scored-by: expected one of {', '.join(summary_module.MODELS)}")
    args.specs = []
    for item in args.runs:
        name, sep, rest = item.partition("=")
        how = "mean"
        if rest.endswith(":median"):
            rest, how = rest[: -len(":median")], "median"
        if not sep or not name or not rest:
            parser.error(f"runs: expected NAME=CACHE[@MODEL][+CACHE...][:median], got {item!r}")
        members = []
        for part in rest.split("+"):
            path, _, model = part.partition("@")
            if model and model not in summary_module.MODELS:
                parser.error(f"{item}: {model!r} is not a model of the collection's cache")
            members.append((Path(path), model or "lstm"))
        missing = [str(p) for p in [*(p for p, _ in members), args.baselines] if not p.is_file()]
        if missing:
            parser.error(f"expected cache files, missing {', '.join(missing)}")
        args.specs.append((name, members, how))
    return args


def read_rows(path: Path) -> dict[tuple[str, str], dict]:
    """A cache's rows by (series id, model); a line cut short is skipped."""
    rows = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows[row["id"], row["model"]] = row
    return rows


def combined(name: str, runs: list[dict], how: str, models: list[str] | None = None) -> list[dict]:
    """Rows of the model ``name``: per series, the runs' forecasts combined and scored, run
    ``i``'s of ``models[i]`` (default the LSTM's). A member that skipped the series (its kept
    forecast None) leaves the combination unscored there."""
    models = models or ["lstm"] * len(runs)
    first = {sid: row for (sid, model), row in runs[0].items() if model == models[0]}
    out = []
    for sid, row in first.items():
        found = [run.get((sid, model)) for run, model in zip(runs, models, strict=True)]
        if any(r is None or any(k not in r for k in KEPT) for r in found):
            raise SystemExit(
                f"{name}: series {sid} lacks kept forecasts in one of the caches "
                "(made without --keep-forecasts?)"
            )
        keep = ("id", "source", "group", "horizon", "season")
        seconds = sum(r["seconds"] for r in found)
        mases = smapes = None
        if all(r["forecast"] is not None for r in found):
            stacked = np.array([r["forecast"] for r in found])  # (runs, origins, K)
            forecast = np.median(stacked, 0) if how == "median" else stacked.mean(0)
            mases, smapes = [], []
            for f, truth, scale in zip(forecast, row["actual"], row["scale"], strict=True):
                truth = np.asarray(truth)
                mases.append(None if scale is None else float(np.mean(np.abs(f - truth)) / scale))
                smapes.append(float(smape(truth, f)))
        out.append(
            {**{k: row[k] for k in keep}, "model": name, "mase": mases, "smape": smapes}
            | {"seconds": seconds, "key": f"{sid}|{name}", "note": ""}
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    baselines = read_rows(args.baselines)
    rows = [row for (_, model), row in baselines.items() if model != "lstm"]
    found = {r["model"] for r in rows}
    models = [m for m in summary_module.MODELS if m != "lstm" and m in found]
    if "naive2" not in models:
        raise SystemExit(f"{args.baselines}: expected naive2's rows (OWA is relative to it)")
    names = []
    for name, members, how in args.specs:
        runs = [read_rows(p) for p, _ in members]
        rows += combined(name, runs, how, [m for _, m in members])
        names.append(name)
    if args.scored_by:
        kept = {r["id"] for r in rows if r["model"] == args.scored_by and r["mase"] is not None}
        if not kept:
            raise SystemExit(f"--scored-by {args.scored_by}: {args.baselines} has no score of it")
        rows = [r for r in rows if r["id"] in kept]
    summary = summarise(rows, names + models)
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    groups = list(dict.fromkeys(s["group"] for s in summary))
    print("OWA (mean MASE)")
    print("| model | " + " | ".join(groups) + " |")
    print("|---|" + "---:|" * len(groups))
    for model in names + models:
        cells = []
        for group in groups:
            s = next(x for x in summary if x["group"] == group and x["model"] == model)
            cells.append("-" if s["owa"] is None else f"{s['owa']:.3f} ({s['mase_mean']:.3f})")
        print(f"| {model} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
