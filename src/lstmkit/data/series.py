"""Time series for forecasting: read a CSV, check it, and cut it in time.

A forecaster sees each series as one array of values on a regular time grid, with optional
covariates: *past* ones are observed only up to the forecast origin (e.g. another sensor), *future*
ones are known ahead (calendar, holidays; :func:`calendar_features`). Reading is strict at the
boundary: unknown columns, unparseable dates or numbers, duplicate or missing timestamps raise
:class:`~lstmkit.errors.UserError` naming the file, line and column, before any model is fit
(the column checks are in :mod:`lstmkit.data.series_checks`).

Legend: T time steps of a series, P past covariates, F future covariates, C calendar features.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.calendar import check_freq
from lstmkit.data.series_checks import (
    as_dates,
    check_duplicates,
    check_missing,
    grid_frequency,
    id_groups,
    parse_numbers,
    parse_times,
)
from lstmkit.errors import Notice, UserError

FILLS = ("interpolate", "ffill")
# Nixtla's long format (neuralforecast, statsforecast, also what Darts users export): one row per
# series and time, read with id_col "unique_id" when no column names another role.
LONG_LAYOUT = ("unique_id", "ds", "y")
_TIME_NAMES = re.compile(r"(time|date|ds|month|timestamp|datetime|week|year|quarter)s?", re.I)


@dataclass
class Series:
    """One series on a regular grid; every array has one row per timestamp of ``index``.

    Attributes:
        name: the target column (wide format) or the id (long format).
        index: (T,) timestamps, ``index.freq`` set, no gaps.
        values: (T,) float64 target values, no NaN.
        past: (T, P) float64 past covariates, or None.
        future: (T, F) float64 future covariates, or None.
    """

    name: str
    index: pd.DatetimeIndex
    values: np.ndarray
    past: np.ndarray | None = None
    future: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.values)

    def to_pandas(self) -> pd.Series:
        """The values as a ``pd.Series`` with a frequency-carrying index, as statsmodels wants."""
        return pd.Series(self.values, index=self.index, name=self.name)


@dataclass
class SeriesFrame:
    """The series read from one source, all at one frequency.

    A list of plain arrays rather than a long DataFrame: a model cuts look-back and horizon windows
    from ``values``/``past``/``future`` by position, and a baseline takes
    :meth:`Series.to_pandas`. Index by position or by name: ``frame["OT"]``.

    Attributes:
        series: the series, in the file's column order (wide) or order of first appearance (long).
        freq: the pandas frequency string, e.g. ``"MS"``, ``"h"``, ``"W-SAT"``.
        target, past_covariates, future_covariates: the column names read.
        source: how the frame was made; :func:`~lstmkit.data.series_builtin.load_series`
            ``(**source)`` reads it again.
        filled: how many target values each series had filled (``fill``), by series name.
    """

    series: list[Series]
    freq: str
    target: list[str]
    past_covariates: list[str] = field(default_factory=list)
    future_covariates: list[str] = field(default_factory=list)
    source: dict = field(default_factory=dict)
    filled: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.series)

    def __iter__(self) -> Iterator[Series]:
        return iter(self.series)

    def __getitem__(self, key: int | str) -> Series:
        if isinstance(key, str):
            for series in self.series:
                if series.name == key:
                    return series
            names = ", ".join(s.name for s in self.series[:10])
            raise KeyError(f"no series {key!r}; expected one of {names}")
        return self.series[key]

    def spec(self) -> dict:
        """The source as plain data, for a checkpoint to record."""
        return dict(self.source)


def read_series(
    path: str | os.PathLike,
    *,
    time: str | None = None,
    target: str | Sequence[str] | None = None,
    id_col: str | None = None,
    past_covariates: Sequence[str] = (),
    future_covariates: Sequence[str] = (),
    freq: str | None = None,
    fill: str | None = None,
) -> SeriesFrame:
    """Read series from a CSV file: wide (a column per series) or long (``id_col``).

    Rows may come in any order; each series is sorted by time. Columns not named are ignored.

    Args:
        path: a CSV file (``.gz`` too) with a header row.
        time: the timestamp column; None guesses it: the one column named like a time
            (``date``, ``ds``, ``month``, ``timestamp``, ...), else the one text column whose every
            value parses as a date.
        target: the value column, or a list of them (wide format: each a series). None takes the
            one numeric column that is not time, id or covariate.
        id_col: long format: the column naming the series; one target. None reads a table
            with the columns ``unique_id, ds, y`` (neuralforecast's and statsforecast's long
            format) with ``id_col="unique_id"``, ``time="ds"`` and ``target="y"``.
        past_covariates, future_covariates: numeric columns read alongside the target.
        freq: a pandas frequency (``"MS"``, ``"W-SUN"``, ``"h"``); None infers it per series with
            ``pd.infer_freq`` (series with gaps too, from their regular stretches).
        fill: ``"interpolate"`` (linear) or ``"ffill"`` fills missing values and missing timestamps
            (reported with a :class:`~lstmkit.errors.Notice`); None makes them an error. Values
            before the first observation take the first observed one.

    Returns:
        A :class:`SeriesFrame`.

    Raises:
        UserError: a missing, empty or non-CSV file; an unknown column (the message lists them);
            no or several candidate time/target columns; an unparseable date or number, a missing
            or duplicate timestamp (file:line); a constant target; missing values or gaps without
            ``fill``; an irregular time index without ``freq``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     file = Path(folder) / "sales.csv"
        ...     _ = file.write_text("month,sales\\n2020-01,3\\n2020-02,5\\n2020-03,4\\n")
        ...     frame = read_series(file)
        >>> frame.freq, frame.target, frame[0].values.tolist()
        ('MS', ['sales'], [3.0, 5.0, 4.0])
    """
    where = str(path)
    table = _read_csv(Path(path))
    frame = from_table(
        table,
        where,
        lambda row: f"{where}:{row + 2}",
        time=time,
        target=target,
        id_col=id_col,
        past_covariates=past_covariates,
        future_covariates=future_covariates,
        freq=freq,
        fill=fill,
    )
    frame.source = {"path": where, **frame.source}
    return frame


def _read_csv(file: Path) -> pd.DataFrame:
    if not file.exists():
        raise UserError(f"{file}: no such file; expected a CSV file with a header row")
    if file.is_dir():
        raise UserError(f"{file}: is a folder; expected a CSV file")
    with gzip.open(file) if file.suffix == ".gz" else open(file, "rb") as stream:
        try:
            head = stream.read(65536)
        except (OSError, EOFError) as error:
            raise UserError(f"{file}: not a valid gzip file ({error})") from None
    if b"\x00" in head:
        raise UserError(f"{file}: binary file (NUL byte); expected CSV text")
    try:
        # Strings throughout so that the first bad value can be reported as written; blank lines
        # kept (and dropped below) so that row i stays on line i + 2.
        table = pd.read_csv(file, dtype=str, skip_blank_lines=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise UserError(f"{file}: empty file; expected a CSV file with a header row") from None
    except UnicodeDecodeError:
        raise _not_utf8(file) from None
    except pd.errors.ParserError as error:
        reason = str(error).strip().splitlines()[-1]
        raise UserError(f"{file}: not a CSV file ({reason})") from None
    table.columns = [str(c).strip() for c in table.columns]
    table = table[table.notna().any(axis=1)]
    if table.empty:
        raise UserError(f"{file}: no data rows; expected a header row and then one row per time")
    return table


def _not_utf8(file: Path) -> UserError:
    """The error for a file that is not UTF-8, naming line and column as the text readers do
    (pandas' own message counts bytes from the start of a buffer, not of the file)."""
    with gzip.open(file) if file.suffix == ".gz" else open(file, "rb") as stream:
        data = stream.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        start = error.start
        line, column = data.count(b"\n", 0, start) + 1, start - data.rfind(b"\n", 0, start)
        return UserError(
            f"{file}:{line}:{column}: not UTF-8 (byte 0x{data[start]:02x}); expected UTF-8 text"
        )
    return UserError(f"{file}: not UTF-8; expected UTF-8 text")


def from_table(
    table: pd.DataFrame,
    where: str,
    locate,
    *,
    time: str | None = None,
    target: str | Sequence[str] | None = None,
    id_col: str | None = None,
    past_covariates: Sequence[str] = (),
    future_covariates: Sequence[str] = (),
    freq: str | None = None,
    fill: str | None = None,
) -> SeriesFrame:
    """:func:`read_series` on a table already read; ``locate(row)`` names row ``row`` (0-based)
    in messages, e.g. ``"file.csv:7"``. Cells may be text, numbers or timestamps."""
    if fill is not None and fill not in FILLS:
        raise UserError(f"fill: expected one of {', '.join(FILLS)} or None, got {fill!r}")
    offset = None if freq is None else check_freq(freq)
    targets = [target] if isinstance(target, str) else None if target is None else list(target)
    past, future = list(past_covariates), list(future_covariates)
    if id_col is None and _long_layout(list(table.columns), time, targets, past + future):
        id_col, time, targets = LONG_LAYOUT[0], time or LONG_LAYOUT[1], targets or [LONG_LAYOUT[2]]
    named = {"time": [time] if time else [], "target": targets or [], "past_covariates": past}
    named |= {"future_covariates": future, "id_col": [id_col] if id_col else []}
    taken = _check_columns(list(table.columns), where, named)
    time = time or _guess_time(table, where, taken)
    if targets is None:
        targets = _guess_target(table, where, taken | {time})
    if id_col is not None and len(targets) != 1:
        raise UserError(f"{where}: target: expected one column with id_col, got {_list(targets)}")
    stamps = parse_times(table[time], where, locate)
    numbers = {c: parse_numbers(table[c], where, locate) for c in targets + past + future}
    rows = np.arange(len(table))
    groups = [("", rows)] if id_col is None else id_groups(table[id_col], where, locate, id_col)
    series, filled, freqs = [], {}, {}
    for group, members in groups:
        label = f"{where} ({id_col} {group!r})" if id_col else where
        order = members[np.argsort(stamps[members], kind="stable")]
        index = pd.DatetimeIndex(stamps[order])
        check_duplicates(index, order, label, locate, several=id_col is None)
        step = grid_frequency(index, order, label, locate, offset)
        freqs[group] = step.freqstr
        grid = pd.date_range(index[0], index[-1], freq=step)
        cols = {c: pd.Series(v[order], index=index).reindex(grid) for c, v in numbers.items()}
        check_missing(cols, grid, index, order, label, locate, fill)
        for name in targets:
            key = group if id_col else name
            filled[key] = int(cols[name].isna().sum())
            series.append(_series(key, name, grid, cols, past, future, fill, label))
    first_group, first_freq = next(iter(freqs.items()))
    for group, step_str in freqs.items():
        if step_str != first_freq:
            raise UserError(
                f"{where}: series {group!r} has frequency {step_str} but {first_group!r} has "
                f"{first_freq}; expected one frequency, or pass freq"
            )
    total = sum(filled.values())
    if total:
        warnings.warn(f"{where}: filled {total} missing values ({fill})", Notice, stacklevel=3)
    source = {"time": time, "target": targets, "id_col": id_col, "past_covariates": past}
    source |= {"future_covariates": future, "freq": freq, "fill": fill}
    return SeriesFrame(series, first_freq, targets, past, future, source, filled)


def _long_layout(columns: list[str], time, targets, covariates: list[str]) -> bool:
    """Whether the table is in :data:`LONG_LAYOUT` and nothing given says otherwise."""
    if not set(LONG_LAYOUT) <= set(columns) or LONG_LAYOUT[0] in covariates:
        return False
    return time in (None, LONG_LAYOUT[1]) and targets in (None, [LONG_LAYOUT[2]])


def _check_columns(columns: list[str], where: str, named: dict[str, list[str]]) -> set[str]:
    """The columns given a role, checked to exist and to have one role each."""
    for option, names in named.items():
        for name in names:
            if name not in columns:
                raise UserError(
                    f"{where}: {option}: no column {name!r}; expected one of {_list(columns)}"
                )
    taken = [n for names in named.values() for n in names]
    repeated = [n for n, count in Counter(taken).items() if count > 1]
    if repeated:
        raise UserError(f"{where}: column {repeated[0]!r}: expected one role, got several")
    return set(taken)


def _series(key, name, grid, cols, past, future, fill, label) -> Series:
    values = _filled(cols[name], fill)
    if np.ptp(values) == 0:
        raise UserError(
            f"{label}: column {name!r} is constant ({values[0]:g} at every time); "
            "expected a varying series"
        )
    return Series(key, grid, values, _stack(cols, past, fill), _stack(cols, future, fill))


def _list(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _guess_time(table: pd.DataFrame, where: str, taken: set[str]) -> str:
    free = [c for c in table.columns if c not in taken]
    named = [c for c in free if _TIME_NAMES.fullmatch(c)]
    if len(named) == 1:
        return named[0]
    if not named:
        text = [c for c in free if pd.to_numeric(table[c], errors="coerce").isna().all()]
        named = [c for c in text if as_dates(table[c]).notna().all()]
        if len(named) == 1:
            return named[0]
    found = f"{len(named)} candidates ({_list(named)})" if named else "none"
    raise UserError(
        f"{where}: time: expected one column of dates to guess from the columns "
        f"{_list(list(table.columns))}, got {found}; pass time"
    )


def _guess_target(table: pd.DataFrame, where: str, taken: set[str]) -> list[str]:
    free = [c for c in table.columns if c not in taken]
    numeric = [c for c in free if pd.to_numeric(table[c], errors="coerce").notna().any()]
    if len(numeric) != 1:
        raise UserError(
            f"{where}: target: expected one numeric column to guess from {_list(free)}, "
            f"got {len(numeric)}{' (' + _list(numeric) + ')' if numeric else ''}; pass target"
        )
    return numeric


def _filled(column: pd.Series, fill: str | None) -> np.ndarray:
    if fill == "interpolate":
        column = column.interpolate(method="linear", limit_direction="both")
    elif fill == "ffill":
        column = column.ffill().bfill()
    return column.to_numpy(dtype=float)


def _stack(cols: dict, names: list[str], fill: str | None) -> np.ndarray | None:
    if not names:
        return None
    return np.stack([_filled(cols[n], fill) for n in names], axis=1)  # (T, P)
