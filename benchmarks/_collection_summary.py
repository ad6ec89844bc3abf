"""The forecasting collection's summary (``forecast_collection.py``): per frequency group and
overall, each model's mean and median MASE and sMAPE, its OWA against Naive2 and how often the
LSTM beats it.

A row is one model on one series: ``{"id", "group", "model", "mase": [per origin],
"smape": [per origin], "seconds"}``, the lists None where the model skipped the series. A
series' score is the mean over its origins (MASE over the origins where the history was not
exactly periodic, which leaves its scale 0). OWA follows the M4 competition: the mean sMAPE and
the mean MASE over the series both the model and Naive2 scored, each divided by Naive2's
(:func:`lstmkit.forecast.m4.owa`). "LSTM wins": the share of the series both scored where the
LSTM's MASE is the lower.
"""

from __future__ import annotations

import math

import numpy as np

from lstmkit.forecast.m4 import owa

MODELS = ("lstm", "naive2", "naive", "seasonal_naive", "ets", "arima", "theta", "comb")
NAMES = {
    "lstm": "LSTM",
    "naive2": "Naive2",
    "naive": "naive",
    "seasonal_naive": "s.naive",
    "ets": "ETS",
    "arima": "ARIMA",
    "theta": "Theta",
    "comb": "Comb",
}


def series_scores(rows: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """``{model: {series id: (MASE, sMAPE)}}``, the means over origins of the scored series."""
    found: dict[str, dict[str, tuple[float, float]]] = {}
    for row in rows:
        if row["mase"] is None:
            continue
        mase = [m for m in row["mase"] if m is not None and math.isfinite(m)]
        if mase:
            pair = (float(np.mean(mase)), float(np.mean(row["smape"])))
            found.setdefault(row["model"], {})[row["id"]] = pair
    return found


def summarise(rows: list[dict], models: list[str]) -> list[dict]:
    """One summary per (group, model), the groups in order of appearance, then "overall"."""
    groups = list(dict.fromkeys(r["group"] for r in rows))
    out = []
    for group in [*groups, "overall"]:
        part = [r for r in rows if group in ("overall", r["group"])]
        scores = series_scores(part)
        for model in models:
            out.append(_summary(group, model, scores, part))
    return out


def _summary(group: str, model: str, scores: dict, rows: list[dict]) -> dict:
    mine = scores.get(model, {})
    mase = np.array([v[0] for v in mine.values()])
    smape = np.array([v[1] for v in mine.values()])
    found = {
        "group": group,
        "model": model,
        "series": len(mine),
        "mase_mean": _stat(np.mean, mase),
        "mase_median": _stat(np.median, mase),
        "smape_mean": _stat(np.mean, smape),
        "smape_median": _stat(np.median, smape),
        "owa": None,
        "lstm_wins": None,
        "seconds": sum(r["seconds"] for r in rows if r["model"] == model),
    }
    reference = scores.get("naive2", {})
    common = [k for k in mine if k in reference]
    if common:

        def mean(table: dict, i: int) -> float:  # i: 0 MASE, 1 sMAPE
            return float(np.mean([table[k][i] for k in common]))

        found["owa"] = owa(mean(mine, 1), mean(mine, 0), mean(reference, 1), mean(reference, 0))
    lstm = scores.get("lstm", {})
    both = [k for k in mine if k in lstm]
    if model != "lstm" and both:
        found["lstm_wins"] = float(np.mean([lstm[k][0] < mine[k][0] for k in both]))
        found["lstm_wins_of"] = len(both)
    return found


def _stat(fn, values: np.ndarray) -> float | None:
    return float(fn(values)) if values.size else None


def table(summary: list[dict]) -> str:
    """The summary as one markdown table, the best mean and OWA of each group in bold."""
    head = (
        "| group | model | series | MASE mean | MASE median | sMAPE mean | sMAPE median | OWA "
        "| LSTM wins | fit s |"
    )
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        peers = [p for p in summary if p["group"] == s["group"]]
        cells = [_cell(s, k, peers) for k in ("mase_mean", "mase_median", "smape_mean")]
        cells += [_cell(s, k, peers) for k in ("smape_median", "owa")]
        wins = "-" if s["lstm_wins"] is None else f"{s['lstm_wins']:.0%}"
        if s["lstm_wins"] is not None and s["lstm_wins_of"] != s["series"]:
            wins += f" of {s['lstm_wins_of']}"
        lines.append(
            f"| {s['group']} | {NAMES[s['model']]} | {s['series']} | "
            + " | ".join(cells)
            + f" | {wins} | {s['seconds']:.0f} |"
        )
    return "\n".join(lines)


def _cell(s: dict, key: str, peers: list[dict]) -> str:
    value = s[key]
    if value is None:
        return "-"
    best = min(p[key] for p in peers if p[key] is not None)
    digits = 2 if key.startswith("smape") else 3
    text = f"{value:.{digits}f}"
    return f"**{text}**" if value == best else text
