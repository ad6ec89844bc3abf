"""The PNG figures beside an HTML report: gate heatmaps, attention, forecast, spectrogram and CTC
posteriors, an image with each word's attention over it.

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
ORDER_STEPS = 400  # time steps the unit order looks at, evenly spaced: enough to tell units apart
OPTIMAL_ORDER_UNITS = 512  # scipy's optimal leaf ordering grows as H^3: beyond this, plain order
MEMORY_COLOUR = "#d0309a"  # the page's colour for a memory unit
GATE_NAMES = {"f": "forget f", "i": "input i", "o": "output o", "g": "candidate g", "c": "cell c"}
MAX_TICKS = 60  # token labels on an axis; more would overlap
DPI = 110


def write_figures(trace: dict, stem: Path) -> list[Path]:
    """Writes ``<stem>-gates.png`` and, when the trace has them, ``<stem>-attention.png``,
    ``<stem>-forecast.png``, ``<stem>-spectrogram.png`` and ``<stem>-posteriors.png`` (a speech
    trace with ``log_probs``) and ``<stem>-caption.png`` (a caption trace: the image, and each
    word's attention over it); returns their paths. ``trace`` was checked by
    :func:`lstmkit.inspect.report.check_trace`."""
    paths = [Path(f"{stem}-gates.png")]
    _save_gates(trace["panels"][0], trace["memory"], paths[0])
    if trace["attention"] is not None:
        paths.append(Path(f"{stem}-attention.png"))
        _save_attention(trace["attention"], paths[-1])
    if trace["forecast"] is not None:
        paths.append(Path(f"{stem}-forecast.png"))
        _save_forecast(trace["forecast"], paths[-1])
    if trace.get("speech") is not None:
        paths.append(Path(f"{stem}-spectrogram.png"))
        _save_spectrogram(trace["speech"], paths[-1])
        if trace["speech"]["log_probs"] is not None:  # None: attention without a CTC head
            paths.append(Path(f"{stem}-posteriors.png"))
            _save_posteriors(trace["speech"], paths[-1])
    if trace.get("caption") is not None:
        paths.append(Path(f"{stem}-caption.png"))
        _save_caption(trace["caption"], paths[-1])
    return paths


def unit_order(quantities: dict, row: int) -> list[int]:
    """The units of one layer and direction (``row`` of the ``(L*D, T, H)`` quantities) in the
    order the heatmaps show them: units that behave alike over the text side by side.

    Agglomerative (Ward) clustering of each unit's f, i, o, g and tanh(c) over time
    (scipy's ``linkage`` with optimal leaf ordering up to :data:`OPTIMAL_ORDER_UNITS` units),
    turned so that the units whose forget gate is open longest come first.

    Example:
        >>> keep = np.tile([[0.9, 0.1, 0.95, 0.2]], (3, 1))  # units 0 and 2 keep, 1 and 3 wipe
        >>> q = {k: keep[None] for k in "fiog"} | {"c": np.zeros((1, 3, 4))}
        >>> order = unit_order(q, 0)
        >>> sorted(order[:2]), sorted(order[2:])
        ([0, 2], [1, 3])
    """
    from scipy.cluster.hierarchy import leaves_list, linkage

    f = np.asarray(quantities["f"][row], dtype=np.float64)  # (T, H)
    steps, hidden = f.shape
    if hidden < 3:
        return list(range(hidden))
    keep = np.unique(np.linspace(0, steps - 1, min(steps, ORDER_STEPS)).round().astype(int))
    parts = [np.asarray(quantities[q][row], dtype=np.float64)[keep] for q in "fiog"]
    parts.append(np.tanh(np.asarray(quantities["c"][row], dtype=np.float64)[keep]))
    features = np.nan_to_num(np.concatenate(parts).T)  # (H, 5 * T')
    tree = linkage(features, method="ward", optimal_ordering=hidden <= OPTIMAL_ORDER_UNITS)
    order = leaves_list(tree)
    mean_f = np.nan_to_num(f.mean(axis=0))[order]  # (H,) in that order
    half = hidden // 2
    if mean_f[:half].mean() < mean_f[-half:].mean():
        order = order[::-1]
    return [int(u) for u in order]


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


def _save_gates(panel: dict, memory: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    layers, directions = panel["layers"], panel["directions"]
    row = (layers - 1) * directions  # top layer, forward: the one closest to the output
    order = unit_order(panel["quantities"], row)
    position = {u: k for k, u in enumerate(order)}
    marked: dict[int, list[str]] = {}  # unit: its labels, best-ranked first
    for m in memory:
        if m["panel"] == panel["name"] and m["layer"] * directions + m["direction"] == row:
            marked.setdefault(m["unit"], []).append(str(m["label"]))
    steps = len(panel["tokens"])
    fig = Figure(figsize=(11, 1.9 * len(GATES) + 1.4), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(GATES), 1, sharex=True)
    for ax, q in zip(axes, GATES, strict=True):
        values = np.asarray(panel["quantities"][q][row], dtype=np.float64).T[order]  # (H, T)
        extend = "neither"
        if q in ("f", "i", "o"):
            limits, cmap = (0.0, 1.0), "viridis"
        elif q == "g":
            limits, cmap = (-1.0, 1.0), "RdBu_r"
        else:  # c: a few large units would wash the others out; clip at the 99th percentile
            size = np.abs(values[np.isfinite(values)])
            bound = float(np.percentile(size, 99)) if size.size else 0.0
            limits, cmap = (-(bound or 1.0), bound or 1.0), "RdBu_r"
            extend = "both" if size.size and size.max() > bound else "neither"
        image = ax.imshow(
            values,
            aspect="auto",
            interpolation="nearest",
            cmap=cmap,
            vmin=limits[0],
            vmax=limits[1],
        )
        ax.set_title(f"{GATE_NAMES[q]} (rows: units)", loc="left", fontsize=8, pad=2)
        fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03, extend=extend)
        ax.set_yticks([])
        _mark_units(
            ax, [(position[u], f"unit {u} ({', '.join(marked[u])})") for u in marked], steps
        )
    _token_ticks(axes[-1], panel["tokens"])
    axes[-1].set_xlabel("time step (token)")
    title = f"{panel['name']}: layer {layers - 1}" + (", forward" if directions > 1 else "")
    fig.suptitle(
        f"{title} — {len(order)} units, alike ones together (clustered), open forget gates first"
        + ("; memory units marked" if marked else "")
    )
    fig.savefig(path)


def _mark_units(ax: Axes, marks: list[tuple[int, str]], steps: int) -> None:
    """Points at the rows ``marks`` names (sorted position, label) from both sides and labels
    them left of the axes, labels pushed apart where rows lie close together."""
    rows = ax.get_ylim()[0] + 0.5  # imshow: row 0 at the top
    gap = rows * 0.09  # about one label's height in an axes of a fifth of the figure
    placed: list[float] = []
    for position, text in sorted(marks):
        for x, marker in ((-0.5, ">"), (steps - 0.5, "<")):  # beside the row, not over it
            ax.plot([x], [position], marker, color=MEMORY_COLOUR, markersize=5, clip_on=False)
        y = max(position, placed[-1] + gap) if placed else position
        placed.append(y)
        ax.annotate(
            text,
            xy=(0, position),
            xycoords=("axes fraction", "data"),
            xytext=(-0.01, y),
            textcoords=("axes fraction", "data"),
            ha="right",
            va="center",
            fontsize=7,
            color=MEMORY_COLOUR,
            arrowprops={"arrowstyle": "-", "color": MEMORY_COLOUR, "lw": 0.6, "relpos": (1, 0.5)},
            annotation_clip=False,
        )


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


def _save_spectrogram(speech: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    features = np.asarray(speech["features"], dtype=np.float64)  # (T, F)
    frames, bands = features.shape
    fig = Figure(figsize=(11, 3.6), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(
        features.T,  # (F, T), band 0 at the bottom
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        cmap="viridis",
        extent=(0, frames * speech["frame_seconds"], -0.5, bands - 0.5),
    )
    fig.colorbar(image, ax=ax, pad=0.01, label="normalised log-mel")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band")
    ax.set_title(
        f"The log-mel features the model reads: {frames} frames x {bands} bands",
        loc="left",
        fontsize=9,
        pad=20 if speech["words"] else 4,  # room for the words above the axes
    )
    _mark_words(ax, speech["words"])
    fig.savefig(path)


def _save_posteriors(speech: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    from lstmkit.inspect.report_speech import shown_tokens

    log_probs = np.asarray(speech["log_probs"], dtype=np.float64)  # (T', V)
    frames, vocabulary = log_probs.shape
    ids = shown_tokens(log_probs, speech["blank"])
    probs = np.exp(log_probs[:, ids]).T  # (K, T')
    fig = Figure(figsize=(11, min(2.2 + 0.2 * len(ids), 10)), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(
        probs,
        aspect="auto",
        interpolation="nearest",
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
        extent=(0, frames * speech["output_seconds"], len(ids) - 0.5, -0.5),
    )
    fig.colorbar(image, ax=ax, pad=0.01, label="probability")
    ax.set_yticks(range(len(ids)), [_label(speech["labels"][i], 8) for i in ids], fontsize=7)
    ax.set_xlabel("time (s)")
    shown = f"{len(ids)} of {vocabulary} tokens" if len(ids) < vocabulary else "each token"
    ax.set_title(
        f"CTC posteriors of the {frames} output frames, {shown} (∅ the blank)",
        loc="left",
        fontsize=9,
        pad=20 if speech["words"] else 4,  # room for the words above the axes
    )
    _mark_words(ax, speech["words"])
    fig.savefig(path)


def _mark_words(ax: Axes, words: list[dict]) -> None:
    """Each word's start (solid) and end (dashed) as lines across ``ax``, its text above."""
    top = ax.get_xaxis_transform()  # x in data (seconds), y in axes fractions
    for k, w in enumerate(words):
        ax.axvline(w["start"], color=MEMORY_COLOUR, lw=0.8)
        ax.axvline(w["end"], color=MEMORY_COLOUR, lw=0.8, ls="--")
        ax.text(
            w["start"],
            1.005 + 0.045 * (k % 2),  # alternate heights so that close words stay apart
            _label(w["word"], 16),
            transform=top,
            fontsize=7,
            color=MEMORY_COLOUR,
            va="bottom",
        )


def _save_caption(caption: dict, path: Path) -> None:
    """The image, then each step's attention laid over it (as the page's maps, on one scale),
    titled with its word, highest weight and β; without attention, the image alone under its
    caption."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.figure import Figure

    from lstmkit.inspect.report_caption import colour, overlay

    pixels = np.asarray(caption["pixels"], dtype=np.uint8)  # (H, W, 3)
    attention, gate = caption["attention"], caption["gate"]
    top = 0.0 if attention is None else float(np.max(attention, initial=0.0))
    panels = [(pixels, "the image")]
    for k, word in enumerate(caption["words"] if attention is not None else []):
        title = f"{_label(word, 14)}\nmax {np.max(attention[k]):.2f}"
        title += "" if gate is None else f", β {gate[k]:.2f}"
        panels.append((overlay(pixels, attention[k], top), title))
    cols = min(len(panels), 6)
    rows = math.ceil(len(panels) / cols)
    tall = 2 * pixels.shape[0] / pixels.shape[1] + 0.5  # inches a row: a 2-inch-wide image, title
    fig = Figure(figsize=(2 * cols, tall * rows + 0.6), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for k, ax in enumerate(axes):
        ax.set_axis_off()
        if k < len(panels):
            ax.imshow(panels[k][0], interpolation="bilinear")
            ax.set_title(panels[k][1], fontsize=8)
    what = "each word's attention over the image" if attention is not None else "no attention"
    if attention is not None:
        ramp = ListedColormap(colour(np.linspace(0, 1, 256)) / 255)  # the page's viridis
        label = f"attention weight (uniform: {1 / attention[0].size:.3g})"
        fig.colorbar(ScalarMappable(Normalize(0, top), ramp), ax=axes, shrink=0.4, label=label)
    text = str(caption["caption"]).replace("$", r"\$")
    fig.suptitle(f"“{text[:80]}” — {what}", fontsize=10)
    fig.savefig(path)
