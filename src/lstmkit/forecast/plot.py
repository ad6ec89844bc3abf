"""Plots of a forecaster's predictions: history, forecast median, quantile band, truth, baselines.

The forecast is a long table with one row per series and time step: columns ``series`` (str),
``time`` (Timestamp), ``forecast`` (the median) and one column per quantile level named
``q{level}`` (``q0.1``, ``q0.5``, ``q0.9``). Baselines use the same table shape; their
``forecast`` column is drawn. Each series gets one panel, stacked vertically.

Figures are built as plain :class:`matplotlib.figure.Figure` objects, not through ``pyplot``:
they need no display or GUI backend (PNG output renders with Agg), change no global matplotlib
state, and are freed by the garbage collector like any object, so nothing has to be closed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from lstmkit.errors import UserError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REQUIRED_COLUMNS = ("series", "time", "forecast")
MIN_TAIL = 24  # fewest history points shown by default, so short horizons still show a season
TAIL_PER_STEP = 4  # default history shown: this many times the horizon
PANEL_SIZE = (9.0, 2.6)  # inches per panel (width, height)
DPI = 110
_QUANTILE_COLUMN = re.compile(r"q(\d*\.?\d+)")
_BASELINE_COLORS = ("tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")


def quantile_columns(forecast: pd.DataFrame) -> list[tuple[float, str]]:
    """The ``q{level}`` columns of a forecast table as ``(level, column)``, by increasing level.

    Example:
        >>> quantile_columns(pd.DataFrame(columns=["series", "q0.9", "forecast", "q0.1"]))
        [(0.1, 'q0.1'), (0.9, 'q0.9')]
    """
    found = []
    for column in forecast.columns:
        match = _QUANTILE_COLUMN.fullmatch(str(column))
        if match:
            found.append((float(match.group(1)), str(column)))
    return sorted(found)


def _check_table(table, name: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise UserError(f"{name}: expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise UserError(
            f"{name}: expected columns {', '.join(REQUIRED_COLUMNS)}, got {list(table.columns)}"
        )
    if table.empty:
        raise UserError(f"{name}: expected at least one row, got none")
    return table


def _check_inputs(history, forecast, truth, baselines, tail, max_panels) -> list[str]:
    """Validates the arguments of :func:`forecast_figure`; returns the series names in order."""
    _check_table(forecast, "forecast")
    for key, table in (baselines or {}).items():
        _check_table(table, f"baselines[{key!r}]")
    if tail is not None and (isinstance(tail, bool) or not isinstance(tail, int) or tail < 1):
        raise UserError(f"tail: expected a positive integer or None, got {tail!r}")
    if isinstance(max_panels, bool) or not isinstance(max_panels, int) or max_panels < 1:
        raise UserError(f"max_panels: expected a positive integer, got {max_panels!r}")
    names = [str(s) for s in pd.unique(forecast["series"])]
    for mapping, label in ((history, "history"), (truth or {}, "truth")):
        for key, values in mapping.items():
            if not isinstance(values, pd.Series):
                raise UserError(
                    f"{label}[{key!r}]: expected a pandas Series, got {type(values).__name__}"
                )
    for name in names:
        if name not in history:
            raise UserError(
                f"history: expected a series named {name!r} (one per series in forecast), "
                f"got {sorted(map(str, history))}"
            )
    return names


def _rows(table: pd.DataFrame, name: str) -> pd.DataFrame:
    rows = table[table["series"].astype(str) == name]
    return rows.sort_values("time", kind="stable")


def _history_tail(values: pd.Series, horizon: int, tail: int | None) -> pd.Series:
    if tail is None:
        tail = max(TAIL_PER_STEP * horizon, MIN_TAIL)
    return values.iloc[-min(tail, len(values)) :]


def _draw_panel(ax: Axes, name: str, history, rows, truth, baselines, tail) -> None:
    """Draws one series: history tail, truth, quantile band, median, baselines."""
    shown = _history_tail(history, len(rows), tail)
    times = pd.DatetimeIndex(rows["time"])
    ax.plot(shown.index, shown.to_numpy(dtype=float), color="0.3", lw=1.2, label="history")
    if truth is not None:
        window = truth[(truth.index >= times.min()) & (truth.index <= times.max())]
        if len(window):
            ax.plot(window.index, window.to_numpy(dtype=float), "k--", lw=1.2, label="actual")
    levels = quantile_columns(rows)
    if len(levels) >= 2:
        (lo, lo_col), (hi, hi_col) = levels[0], levels[-1]
        ax.fill_between(
            times,
            rows[lo_col].to_numpy(dtype=float),
            rows[hi_col].to_numpy(dtype=float),
            color="tab:blue",
            alpha=0.25,
            lw=0,
            label=f"{round(100 * (hi - lo))}% interval",
        )
    ax.plot(times, rows["forecast"].to_numpy(dtype=float), color="tab:blue", lw=1.8, label="LSTM")
    for i, (key, table) in enumerate(baselines.items()):
        base = _rows(table, name)
        if len(base):
            color = _BASELINE_COLORS[i % len(_BASELINE_COLORS)]
            ax.plot(
                pd.DatetimeIndex(base["time"]),
                base["forecast"].to_numpy(dtype=float),
                color=color,
                lw=0.9,
                label=str(key),
            )
    ax.set_title(name, fontsize=10, loc="left")
    ax.grid(alpha=0.3)


def forecast_figure(
    history: dict[str, pd.Series],
    forecast: pd.DataFrame,
    truth: dict[str, pd.Series] | None = None,
    baselines: dict[str, pd.DataFrame] | None = None,
    tail: int | None = None,
    title: str = "",
    max_panels: int = 6,
) -> Figure:
    """Draws each series' history and forecast into one panel of a vertically stacked figure.

    Panels follow the order in which series first appear in ``forecast``, at most ``max_panels``
    of them; when there are more, the figure title says "first N of M series". Each panel shows
    the last ``tail`` history points, the truth over the forecast window (dashed, "actual"), the
    median (``forecast`` column, "LSTM"), a band between the lowest and highest quantile columns
    labelled with its nominal coverage ("80% interval" for ``q0.1``–``q0.9``) when there are at
    least two levels, and each baseline's ``forecast`` column labelled with its key. The legend
    is on the first panel.

    Args:
        history: the observed values per series name, each a Series with a DatetimeIndex.
        forecast: the long table with columns ``series``, ``time``, ``forecast`` and
            optional ``q{level}`` columns.
        truth: the actual values per series name (Series with a DatetimeIndex), or None; series
            without one are drawn without it.
        baselines: tables shaped like ``forecast`` by baseline name, e.g. ``"seasonal_naive"``.
        tail: history points to show; default 4 × the series' horizon, at least 24, never more
            than the history holds.
        title: the figure title.
        max_panels: the most series to draw.

    Returns:
        The figure, not attached to ``pyplot``; save it with ``fig.savefig``.

    Raises:
        UserError: ``forecast`` or a baseline without the columns ``series``, ``time``,
            ``forecast`` or without rows; a series without history; a history or truth that is
            not a Series; ``tail`` or ``max_panels`` below 1.
    """
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure

    names = _check_inputs(history, forecast, truth, baselines, tail, max_panels)
    shown = names[:max_panels]
    width, height = PANEL_SIZE
    fig = Figure(figsize=(width, height * len(shown) + 0.4), layout="constrained")
    axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
    for ax, name in zip(axes, shown, strict=True):
        series_truth = (truth or {}).get(name)
        _draw_panel(
            ax, name, history[name], _rows(forecast, name), series_truth, baselines or {}, tail
        )
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes[0].legend(fontsize=8, loc="best", ncols=3)
    if len(names) > len(shown):
        note = f"first {len(shown)} of {len(names)} series"
        title = f"{title} ({note})" if title else note
    if title:
        fig.suptitle(title)
    return fig


def plot_forecast(
    out: str | os.PathLike,
    history: dict[str, pd.Series],
    forecast: pd.DataFrame,
    **kwargs,
) -> Path:
    """Draws :func:`forecast_figure` into a PNG file; returns its path.

    Args:
        out: the PNG file to write.
        history: as in :func:`forecast_figure`.
        forecast: as in :func:`forecast_figure`.
        **kwargs: the other arguments of :func:`forecast_figure` (``truth``, ``baselines``,
            ``tail``, ``title``, ``max_panels``); an unknown name raises ``TypeError``.

    Returns:
        ``out`` as a Path.
    """
    fig = forecast_figure(history, forecast, **kwargs)
    out = Path(out)
    fig.savefig(out, dpi=DPI, format="png")
    return out
