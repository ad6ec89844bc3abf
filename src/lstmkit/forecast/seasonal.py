"""Seasonal adjustment before the network: the M4 competition's, fitted per series on its training
part, so the network's residual is taken to the M4's Naive2.

With ``Forecaster(season_adjust=True)`` each series whose training part passes the M4 test
(:func:`lstmkit.forecast.m4.m4_seasonal`) is divided by the seasonal indices of a classical
multiplicative decomposition of that part (additive, subtracted, when the part has a value
≤ 0), as the M4 benchmarks and ES-RNN deseasonalise before forecasting. The network then reads
and forecasts the adjusted series, its residual taken to the naive forecast (lag 1); a network
that has learnt nothing forecasts the adjusted series' last value with the season put back:
Naive2 exactly, which the M4 scores everything against. The forecast's quantiles get the same
indices back.

The indices belong to positions in the season, counted from the training part's first
timestamp (:attr:`SeasonalIndices.anchor`), so a history given later (``predict(data=...)``,
a stream, a request to ``serve``) is adjusted by the timestamps it holds, wherever it starts.

Legend: T time steps, m season, K horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmkit.data.series import Series
from lstmkit.errors import UserError
from lstmkit.forecast.m4 import classical_indices

KINDS = ("multiplicative", "additive")


@dataclass(frozen=True)
class SeasonalIndices:
    """One series' seasonal indices.

    Attributes:
        kind: "multiplicative" (values divided by them) or "additive" (subtracted).
        indices: (m,) the index of each position in the season, position 0 at ``anchor``.
        anchor: the timestamp of position 0 (the training part's first), ISO format.
    """

    kind: str
    indices: tuple[float, ...]
    anchor: str

    @classmethod
    def fit(cls, series: Series, end: int, season: int) -> SeasonalIndices | None:
        """The indices of ``series.values[:end]``, or None where it is not seasonal (too short,
        constant, or the M4 test fails at ``season``).

        Example:
            >>> t = pd.date_range("2000-01", periods=48, freq="MS")
            >>> s = Series("a", t, 10 + 5 * (np.arange(48) % 12 == 0))
            >>> found = SeasonalIndices.fit(s, 48, 12)
            >>> found.kind, round(found.indices[0], 3), found.anchor[:10]
            ('multiplicative', 1.44, '2000-01-01')
        """
        found = classical_indices(series.values[:end], season)
        if found is None:
            return None
        kind, indices = found
        return cls(kind, tuple(float(v) for v in indices[:season]), series.index[0].isoformat())

    def at(self, index: pd.DatetimeIndex) -> np.ndarray:
        """(T,) the index of each timestamp of a regular ``index`` (``index.freq`` set)."""
        anchor, first = pd.Timestamp(self.anchor), index[0]
        # steps from the anchor to the first timestamp, on the index's own grid
        if first >= anchor:
            offset = len(pd.date_range(anchor, first, freq=index.freq)) - 1
        else:
            offset = 1 - len(pd.date_range(first, anchor, freq=index.freq))
        m = len(self.indices)
        return np.asarray(self.indices)[(offset + np.arange(len(index))) % m]

    def remove(self, values: np.ndarray, index: pd.DatetimeIndex) -> np.ndarray:
        """``values`` (T,) at ``index`` with the season taken out."""
        s = self.at(index)
        return values / s if self.kind == "multiplicative" else values - s

    def restore(self, values: np.ndarray, index: pd.DatetimeIndex) -> np.ndarray:
        """``values`` (T[, Q]) of the adjusted series at ``index``, the season put back."""
        s = self.at(index).reshape((-1,) + (1,) * (np.ndim(values) - 1))
        return values * s if self.kind == "multiplicative" else values + s

    def to_dict(self) -> dict:
        return {"kind": self.kind, "indices": list(self.indices), "anchor": self.anchor}

    @classmethod
    def from_dict(cls, data: dict) -> SeasonalIndices:
        """Read from a run's config (untrusted): the kind, finite indices (positive for the
        multiplicative kind) and a timestamp are checked."""
        try:
            kind, anchor = data["kind"], str(pd.Timestamp(data["anchor"]).isoformat())
            indices = tuple(float(v) for v in data["indices"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"seasonal adjustment: expected kind, indices and anchor ({exc})"
            ) from None
        if kind not in KINDS or not indices or not all(np.isfinite(indices)):
            raise UserError(
                f"seasonal adjustment: expected {' or '.join(KINDS)} with finite indices"
            )
        if kind == "multiplicative" and min(indices) <= 0:
            raise UserError("seasonal adjustment: expected positive multiplicative indices")
        return cls(kind, indices, anchor)


def season_removed(series: Series, indices: SeasonalIndices | None) -> Series:
    """``series`` with its season taken out (itself where ``indices`` is None)."""
    if indices is None:
        return series
    values = indices.remove(series.values, series.index)
    return Series(series.name, series.index, values, series.past, series.future)


__all__ = ["KINDS", "SeasonalIndices", "season_removed"]
