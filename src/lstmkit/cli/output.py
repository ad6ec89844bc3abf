"""Printing a command's result: a table for people, or JSON (``--json``) for programs."""

from __future__ import annotations

import json
import math
from collections.abc import Callable


def emit(result: dict, as_json: bool, table: Callable[[dict], str]) -> None:
    """Prints ``result`` as JSON (non-finite numbers as strings) or as ``table(result)``."""
    if as_json:
        print(json.dumps(_finite(result), indent=2, ensure_ascii=False))
    else:
        print(table(result))


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def format_table(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A plain-text table; ``align`` has one ``<`` or ``>`` per column (default: text left,
    numbers right).

    Example:
        >>> print(format_table(["token", "prob"], [["INDIAN", "0.981"], ["ITALIAN", "0.012"]]))
        token     prob
        -------  -----
        INDIAN   0.981
        ITALIAN  0.012
    """
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    if align is None:
        align = "".join(">" if cells and _numeric(cells[0][i]) else "<" for i in range(len(header)))
    lines = [
        "  ".join(f"{h:{a}{w}}" for h, a, w in zip(header, align, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    for row in cells:
        lines.append(
            "  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths, strict=True)).rstrip()
        )
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True


def keyword_table(scores: dict) -> str:
    """Accuracy on the cuisine word by the keyword's distance (words of filler)."""
    rows = [
        [label, f"{s['accuracy']:.1%}" if s["total"] else "-", f"{s['correct']}/{s['total']}"]
        for label, s in scores.items()
    ]
    return format_table(["distance", "accuracy", "correct"], rows, "<>>")


def run_line(r: dict) -> str:
    """The first line of a train command's summary: where, why it stopped, the best epoch.

    Example:
        >>> run_line({"out": "runs/a", "stopped": "early-stopping", "epochs": 9, "best_epoch": 4,
        ...           "steps": 450, "minutes": 0.13})
        'run: runs/a  (stopped: early-stopping, best epoch 4 of 9, 450 steps, 0.13 min)'
    """
    best = f"best epoch {r['best_epoch']} of {r['epochs']}, " if r.get("best_epoch") else ""
    why = f"stopped: {r['stopped']}, {best}{r['steps']} steps, {r['minutes']} min"
    return f"run: {r['out']}  ({why})"


def train_table(r: dict) -> str:
    lines = [run_line(r)]
    if r["history"]:
        rows = [
            [h["epoch"], h["step"], f"{h['loss']:.4f}", f"{h['ppl']:.2f}"] for h in r["history"]
        ]
        lines += ["", format_table(["epoch", "step", "valid loss", "valid ppl"], rows)]
    if "test" in r:
        t = r["test"]
        lines += [
            "",
            f"test: loss {t['loss']:.4f} nats/token, perplexity {t['ppl']:.2f}, "
            f"{t['bpc']:.4f} bits/char ({t['tokens']:,} tokens)",
        ]
    if "keywords" in r:
        lines += ["", "cuisine accuracy by distance (test passages):", keyword_table(r["keywords"])]
    return "\n".join(lines)


def eval_table(r: dict) -> str:
    rows = [
        ["loss (nats/token)", f"{r['loss']:.4f}"],
        ["perplexity", f"{r['ppl']:.2f}"],
        ["bits per character", f"{r['bpc']:.4f}"],
        ["tokens", r["tokens"]],
        ["characters", r["chars"]],
    ]
    lines = [f"{r['model']} on {r['data']}", format_table(["metric", "value"], rows, "<>")]
    if "keywords" in r:
        lines += ["", "cuisine accuracy by distance:", keyword_table(r["keywords"])]
    return "\n".join(lines)


def predict_table(r: dict) -> str:
    rows = [[i, _show(n["token"]), f"{n['prob']:.4f}"] for i, n in enumerate(r["next"], 1)]
    return format_table(["rank", "next token", "prob"], rows, "><>")


def _show(token: str) -> str:
    """A token as printable text: spaces and newlines made visible."""
    return repr(token)[1:-1] if token.isspace() or not token.isprintable() else token


def write_json(result: dict, path) -> None:
    """Writes ``result`` to a file as :func:`emit` prints it with ``--json``."""
    with open(path, "w", encoding="utf-8") as file:
        json.dump(_finite(result), file, indent=2, ensure_ascii=False)
        file.write("\n")


def forecast_scores_table(overall: dict) -> str:
    """One row per model (the LSTM first): MAE, RMSE, sMAPE (%), MASE and the coverage of the
    outer quantiles' interval; a model skipped on every series shows dashes."""
    rows = []
    for model, s in overall.items():
        if s is None:
            rows.append([model, "-", "-", "-", "-", "-"])
            continue
        cover = f"{s['coverage']:.0%}" if "coverage" in s else "-"
        rows.append(
            [
                model,
                f"{s['mae']:.4g}",
                f"{s['rmse']:.4g}",
                f"{s['smape']:.2f}",
                f"{s['mase']:.3f}",
                cover,
            ]
        )
    return format_table(["model", "MAE", "RMSE", "sMAPE", "MASE", "coverage"], rows, "<>>>>>")


def forecast_model_line(m: dict) -> str:
    """The trained forecaster's look-back and what each of its networks forecasts a residual to.

    Example:
        >>> plain = {"lag": 1, "seasonal_series": 1, "series": 8}
        >>> forecast_model_line({"lookback": 60, "season": 7, "views": [{"residual": plain,
        ...                      "season_adjusted": None}]})
        'fit: look-back 60, residual to naive (season 7 shows in 1 of 8 series)'
        >>> adjusted = {"residual": {"lag": 1, "seasonal_series": None, "series": None},
        ...             "season_adjusted": {"series": 8, "adjusted": 5}}
        >>> forecast_model_line({"lookback": 36, "season": 12, "views": [adjusted]})
        'fit: look-back 36, residual to Naive2 (season 12 taken out of 5 of 8 series)'
    """
    kinds = [_residual_kind(view, m["season"]) for view in m["views"]]
    if len(kinds) == 1:
        return f"fit: look-back {m['lookback']}, {kinds[0]}"
    return f"fit: look-back {m['lookback']}, {len(kinds)} networks averaged: " + "; ".join(kinds)


def _residual_kind(view: dict, season: int) -> str:
    r, adjusted = view["residual"], view.get("season_adjusted")
    found = (
        ""
        if r["series"] is None
        else f" (season {season} shows in {r['seasonal_series']} of {r['series']} series)"
    )
    if adjusted and r["lag"]:
        return (
            f"residual to Naive2 (season {season} taken out of {adjusted['adjusted']} of "
            f"{adjusted['series']} series)"
        )
    if r["lag"] == 0:
        return "no residual" + (" (season adjusted)" if adjusted else "")
    if r["lag"] > 1:
        return f"residual to seasonal naive, lag {r['lag']}{found}"
    return "residual to naive" + (found if season > 1 else "")


def forecast_train_table(r: dict) -> str:
    lines = [run_line(r), forecast_model_line(r["model"])]
    metrics = [k for k in ("loss", "mase", "mae") if r["history"] and k in r["history"][-1]]
    rows = [[h["epoch"], h["step"], *(f"{h[k]:.4g}" for k in metrics)] for h in r["history"]]
    if rows:
        lines += ["", format_table(["epoch", "step", *(f"valid {k}" for k in metrics)], rows)]
    if "metrics" in r:
        m = r["metrics"]
        lines += [
            "",
            f"test: the last {m['folds']} window(s) of {m['horizon']} steps of each series",
            forecast_scores_table(m["overall"]),
        ]
    if r["files"]:
        lines += ["", "wrote " + ", ".join(r["files"])]
    return "\n".join(lines)


def forecast_backtest_table(r: dict) -> str:
    t = r["training"]
    lines = [
        f"backtest: {r['folds']} folds of {r['horizon']} steps, {r['step']} apart, over "
        f"{len(r['series'])} series; the LSTM trained once before the first ({t['steps']} steps, "
        f"{t['minutes']} min)",
        forecast_model_line(t["model"]),
        "",
        forecast_scores_table(r["overall"]),
    ]
    rows = []
    for model in r["overall"]:
        cells = []
        for fold in range(r["folds"]):
            found = [s["models"][model]["folds"][fold] for s in r["series"].values()]
            maes = [f["mae"] for f in found if f is not None]
            cells.append(f"{sum(maes) / len(maes):.4g}" if maes else "-")
        rows.append([model, *cells])
    header = ["model", *(f"fold {k + 1}" for k in range(r["folds"]))]
    lines += ["", "MAE by fold (mean over series):", format_table(header, rows)]
    if r.get("files"):
        lines += ["", "wrote " + ", ".join(r["files"])]
    return "\n".join(lines)


def forecast_table(r: dict) -> str:
    """The forecast, one row per series and step."""
    rows = r["forecast"]
    if not rows:
        return ""
    values = [k for k in rows[0] if k not in ("series", "time")]
    cells = [[row["series"], row["time"], *(f"{row[k]:.6g}" for k in values)] for row in rows]
    lines = [format_table(["series", "time", *values], cells, "<<" + ">" * len(values))]
    if r.get("files"):
        lines += ["", "wrote " + ", ".join(r["files"])]
    return "\n".join(lines)
