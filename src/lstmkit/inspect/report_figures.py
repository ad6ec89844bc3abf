"""The PNG figures beside an HTML report: gate heatmaps, attention, forecast.

They hold the same pictures as the page for places that show no HTML (a paper, an issue, a
terminal image viewer), from the full trace with nothing capped. Figures are plain
:class:`matplotlib.figure.Figure` objects rendered by Agg, as in :mod:`lstmkit.forecast.plot`: no
display, no global pyplot state.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

GATES = ("f", "i", "o", "g", "c")
GATE_NAMES = {"f": "forget f", "i": "input i", "o": "output o", "g": "candidate g", "c": "cell c"}
MAX_TICKS = 60  # token labels on an axis; more would overlap
DPI = 110


def write_figures(trace: dict, stem: Path) -> list[Path]:
    """Writes ``<stem>-gates.png`` and, when the trace has them, ``<stem>-attention.png`` and
    ``<stem>-forecast.png``; returns their paths. ``trace`` was checked by
    :func:`lstmkit.inspect.report.check_trace`."""
    paths = [Path(f"{stem}-gates.png")]
    _save_gates(trace["panels"][0], paths[0])
    if trace["attention"] is not None:
        paths.append(Path(f"{stem}-attention.png"))
        _save_attention(trace["attention"], paths[-1])
    if trace["forecast"] is not None:
        paths.append(Path(f"{stem}-forecast.png"))
        _save_forecast(trace["forecast"], paths[-1])
    return paths


def _label(token, width: int) -> str:
    # Mathtext would parse a token with two '$'; the symbols match the page's.
    text = str(token).replace("$", r"\$").replace("\n", "↵").replace("\t", "⇥").replace(" ", "␣")
    return text if len(text) <= width else text[: width - 1] + "…"


def _token_ticks(ax: Axes, tokens, axis="x", most=MAX_TICKS, width=12) -> None:
    step = max(1, math.ceil(len(tokens) / most))
    ticks = list(range(0, len(tokens), step))
    labels = [_label(tokens[t], width) for t in ticks]
    if axis == "x":
        ax.set_xticks(ticks, labels, rotation=90, fontsize=7)
    else:
        ax.set_yticks(ticks, labels, fontsize=7)


def _save_gates(panel: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    layers, directions = panel["layers"], panel["directions"]
    row = (layers - 1) * directions  # top layer, forward: the one closest to the output
    fig = Figure(figsize=(11, 1.9 * len(GATES) + 1.2), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(GATES), 1, sharex=True)
    for ax, q in zip(axes, GATES, strict=True):
        values = np.asarray(panel["quantities"][q][row], dtype=np.float64).T  # (H, T)
        if q in ("f", "i", "o"):
            limits, cmap = (0.0, 1.0), "viridis"
        else:
            bound = 1.0 if q == "g" else float(np.nanmax(np.abs(values), initial=0.0)) or 1.0
            limits, cmap = (-bound, bound), "RdBu_r"
        image = ax.imshow(
            values,
            aspect="auto",
            interpolation="nearest",
            cmap=cmap,
            vmin=limits[0],
            vmax=limits[1],
        )
        ax.set_ylabel(f"{GATE_NAMES[q]}\nunit", fontsize=8)
        fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
    _token_ticks(axes[-1], panel["tokens"])
    axes[-1].set_xlabel("time step (token)")
    fig.suptitle(f"{panel['name']}: layer {layers - 1}" + (", forward" if directions > 1 else ""))
    fig.savefig(path)


def _save_attention(attention: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    weights = np.asarray(attention["weights"], dtype=np.float64)  # (T_tgt, T_src)
    height, width = weights.shape
    fig = Figure(
        figsize=(min(4 + 0.22 * width, 16), min(3 + 0.22 * height, 16)),
        dpi=DPI,
        layout="constrained",
    )
    ax = fig.add_subplot()
    image = ax.imshow(weights, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0)
    _token_ticks(ax, attention["src"], "x")
    _token_ticks(ax, attention["tgt"], "y")
    ax.set_xlabel("source")
    ax.set_ylabel("target")
    fig.colorbar(image, ax=ax, label="attention weight")
    fig.savefig(path)


def _save_forecast(forecast: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    history = len(forecast["history"])
    future = np.arange(history, history + len(forecast["forecast"]))
    fig = Figure(figsize=(10, 3.4), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(np.arange(history), forecast["history"], color="black", lw=1.2, label="history")
    ax.fill_between(
        future,
        forecast["lower"],
        forecast["upper"],
        color="tab:blue",
        alpha=0.22,
        lw=0,
        label="interval",
    )
    ax.plot(future, forecast["forecast"], color="tab:blue", lw=1.6, label="forecast")
    _token_ticks(ax, [*forecast["history_time"], *forecast["time"]], most=16, width=24)
    ax.set_title(str(forecast["series"]).replace("$", r"\$"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.savefig(path)
