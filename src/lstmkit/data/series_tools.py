"""Series as the forecaster handles them: read from anything, cut, fingerprinted, stored.

:func:`read_frame` turns a pandas DataFrame, a CSV path or a built-in name into a
:class:`~lstmkit.data.series.SeriesFrame`; :func:`series_tail`/:func:`from_tail` keep a series'
last window as JSON in a checkpoint (so a loaded model forecasts without data);
:func:`future_values` picks the future covariates of a horizon out of a user's table.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from lstmkit.data.series import Series, SeriesFrame, from_table
from lstmkit.data.series_builtin import load_series
from lstmkit.errors import UserError

# read_series' options: how a table's columns and steps are read
READ_OPTIONS = ("time", "target", "id_col", "past_covariates", "future_covariates", "freq", "fill")


def read_frame(data, **options) -> SeriesFrame:
    """A :class:`SeriesFrame` from a frame, a pandas DataFrame, a CSV path or a built-in name.

    ``options`` are :func:`~lstmkit.data.series.read_series`'s (:data:`READ_OPTIONS`); None
    values are dropped; another name is refused (``UserError``), naming the ones there are.
    """
    unknown = [k for k in options if k not in READ_OPTIONS]
    if unknown:
        raise UserError(
            f"{unknown[0]}: not a read option; expected one of {', '.join(READ_OPTIONS)}"
        )
    options = {k: v for k, v in options.items() if v is not None}
    if isinstance(data, SeriesFrame):
        return data
    if isinstance(data, pd.DataFrame):
        if isinstance(data.index, pd.DatetimeIndex):  # the times as the index: a column again
            name = data.index.name or next(n for n in ("time", "time_") if n not in data.columns)
            table = data.rename_axis(name).reset_index()
        elif any(n is not None for n in data.index.names):
            table = data.reset_index()
        else:  # a plain row index (sorted, sampled or filtered rows) carries nothing
            table = data.reset_index(drop=True)
        frame = from_table(table, "data", lambda row: f"data row {row}", **options)
        frame.source = {"dataframe": True, **frame.source}
        return frame
    return load_series(data, **options)


def fingerprint(series: list[Series]) -> str:
    """sha256 of the series' names and values: a resumed run must train on the same data."""
    digest = hashlib.sha256()
    for s in series:
        digest.update(s.name.encode())
        digest.update(np.ascontiguousarray(s.values, dtype=np.float64).tobytes())
    return digest.hexdigest()


def truncate(series: Series, end: int) -> Series:
    """The first ``end`` steps of a series."""

    def cut(x):
        return None if x is None else x[:end]

    return Series(
        series.name, series.index[:end], series.values[:end], cut(series.past), cut(series.future)
    )


def series_tail(series: Series, length: int) -> dict:
    """The last ``length`` steps of a series as JSON: what ``predict()`` reads without data."""

    def rows(x):
        return None if x is None else x[-length:].tolist()

    return {
        "end": str(series.index[-1]),
        "values": series.values[-length:].tolist(),
        "past": rows(series.past),
        "future": rows(series.future),
    }


def from_tail(name: str, tail: dict, freq: str) -> Series:
    index = pd.date_range(end=pd.Timestamp(tail["end"]), periods=len(tail["values"]), freq=freq)

    def array(x):
        return None if x is None else np.asarray(x, dtype=np.float64)

    return Series(name, index, array(tail["values"]), array(tail["past"]), array(tail["future"]))


def future_values(
    table: pd.DataFrame, series: Series, horizon: int, names: list[str], options: dict
) -> np.ndarray:
    """The future covariates ``names`` of ``series`` over the ``horizon`` steps after its end,
    from ``table`` (a time column named as at training, an id column in long format).

    Raises:
        UserError: a missing column or a missing step, named.
    """
    time, id_col = options.get("time"), options.get("id_col")
    needed = [c for c in [time, id_col, *names] if c]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise UserError(f"future: expected columns {needed}, missing {missing}")
    rows = table if id_col is None else table[table[id_col].astype(str) == series.name]
    stamps = pd.to_datetime(rows[time], errors="coerce")
    wanted = pd.date_range(series.index[-1], periods=horizon + 1, freq=series.index.freq)[1:]
    found = rows.assign(_t=stamps.values).drop_duplicates("_t").set_index("_t")
    lacking = [t for t in wanted if t not in found.index]
    if lacking:
        raise UserError(
            f"future: series {series.name!r}: expected covariates at {lacking[0]} "
            f"(the {horizon} steps after {series.index[-1]}), got none"
        )
    values = found.loc[wanted, names].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise UserError(f"future: series {series.name!r}: expected numbers, got missing values")
    return values


__all__ = [
    "READ_OPTIONS",
    "fingerprint",
    "from_tail",
    "future_values",
    "read_frame",
    "series_tail",
    "truncate",
]
