"""Checks of a time series table's columns, each failure a :class:`~lstmkit.errors.UserError`
naming the file, line and column (:func:`lstmkit.data.series.read_series` reads through them):
timestamps and numbers that parse, ids present, no duplicate or off-grid timestamps, a regular
frequency given or inferred, no missing values unless a fill was chosen.

``locate(row)`` gives a row's place in the file (``file:line``); ``label`` names a series.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from lstmkit.data.calendar import stamp_text
from lstmkit.errors import UserError


def as_dates(column: pd.Series) -> pd.Series:
    """The column as timestamps, NaT where a value does not parse (pandas quiet)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' "could not infer format" on every guess
        return pd.to_datetime(column, errors="coerce")


def parse_times(column: pd.Series, where: str, locate) -> np.ndarray:
    """The column as naive timestamps (a time zone dropped); the first that does not parse is
    an error at its line."""
    dates = as_dates(column)
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        row = bad[0]
        value = column.iloc[row]
        what = "a missing timestamp" if pd.isna(value) else repr(value)
        raise UserError(
            f"{locate(row)}: column {column.name!r}: expected a date or time, got {what}"
        )
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return dates.to_numpy()


def parse_numbers(column: pd.Series, where: str, locate) -> np.ndarray:
    """The column as floats (empty cells NaN); the first value that is not a number is an error
    at its line."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(values) & column.notna().to_numpy())
    if len(bad):
        raise UserError(
            f"{locate(bad[0])}: column {column.name!r}: expected a number, "
            f"got {column.iloc[bad[0]]!r}"
        )
    return values


def id_groups(column: pd.Series, where: str, locate, id_col: str):
    """``[(id, row numbers)]`` in order of first appearance; an empty id is an error."""
    missing = np.flatnonzero(column.isna().to_numpy())
    if len(missing):
        raise UserError(f"{locate(missing[0])}: column {id_col!r}: expected an id, got nothing")
    keys = column.astype(str).to_numpy()
    return [(key, np.flatnonzero(keys == key)) for key in pd.unique(keys)]


def check_duplicates(
    index: pd.DatetimeIndex, order: np.ndarray, label: str, locate, several: bool = False
) -> None:
    """A timestamp twice in a series is an error naming both lines (``order``: the sorted
    index's rows in the file); ``several``: the table was read as one series, so the message
    says how to read several (``id_col``)."""
    dup = np.flatnonzero(index.duplicated())
    if len(dup):
        first = np.flatnonzero(index == index[dup[0]])[0]
        hint = (
            " (a table of several series, one row per series and time? pass `id_col`, the "
            "column naming each row's series)"
            if several
            else ""
        )
        raise UserError(
            f"{label}: duplicate timestamp {stamp_text(index[dup[0]])} at "
            f"{locate(order[first])} and {locate(order[dup[0]])}; expected each time once{hint}"
        )


def grid_frequency(index: pd.DatetimeIndex, order, label: str, locate, offset):
    """The series' frequency (``offset`` if given, else inferred); a timestamp off its grid is
    an error at its line."""
    if offset is None:
        if len(index) < 3:
            raise UserError(
                f"{label}: expected at least 3 timestamps to infer the frequency, got "
                f"{len(index)}; pass freq"
            )
        offset = infer_frequency(index)
        if offset is None:
            raise UserError(
                f"{label}: irregular time index (no pandas frequency fits); expected regular "
                "timestamps, or pass freq (e.g. 'D', 'MS', 'h')"
            )
    grid = pd.date_range(index[0], index[-1], freq=offset)
    off = np.flatnonzero(~index.isin(grid))
    if len(off):
        raise UserError(
            f"{locate(order[off[0]])}: timestamp {stamp_text(index[off[0]])} is not on the "
            f"{offset.freqstr!r} grid starting at {stamp_text(index[0])}; "
            "expected regular timestamps"
        )
    return offset


def infer_frequency(index: pd.DatetimeIndex):
    """The frequency of a whole index, or the commonest among its short regular stretches (which
    a series with gaps still has); the caller checks that every timestamp lies on its grid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces infer_freq returning offsets
        found = pd.infer_freq(index)
        if found is not None:
            return _canonical(to_offset(found))
        starts = np.linspace(0, len(index) - 3, min(300, len(index) - 2)).astype(int)
        guesses = Counter(pd.infer_freq(index[s : s + 3]) for s in np.unique(starts))
    guesses.pop(None, None)
    if not guesses:
        return None
    return _canonical(to_offset(guesses.most_common(1)[0][0]))


def _canonical(offset):
    """Quarter starts named by their first month of the year, as pandas 3 names them (pandas 2
    calls January-April-July-October quarters ``QS-OCT``, pandas 3 ``QS-JAN``)."""
    if isinstance(offset, pd.offsets.QuarterBegin | pd.offsets.BQuarterBegin):
        return type(offset)(n=offset.n, startingMonth=(offset.startingMonth - 1) % 3 + 1)
    return offset


def check_missing(cols, grid, index, order, label, locate, fill) -> None:
    """Missing timestamps or values (``cols`` reindexed on ``grid``) are an error naming the
    first, unless ``fill`` is chosen."""
    if fill is not None:
        return
    gaps = len(grid) - len(index)
    nan = {c: int(s.isna().sum()) - gaps for c, s in cols.items()}
    if not gaps and not any(nan.values()):
        return
    parts = []
    if gaps:
        first = grid[~grid.isin(index)][0]
        parts.append(f"{gaps} missing timestamps (first {stamp_text(first)})")
    holes = [c for c, n in nan.items() if n]
    if holes:
        c = holes[0]
        row = order[np.flatnonzero(cols[c].reindex(index).isna().to_numpy())[0]]
        parts.append(f"{nan[c]} missing values in column {c!r} (first at {locate(row)})")
    raise UserError(
        f"{label}: {' and '.join(parts)}; expected none, or pass fill='interpolate' or fill='ffill'"
    )
