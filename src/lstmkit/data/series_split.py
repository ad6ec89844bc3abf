"""Cutting a series in time: train/valid/test cut points, and the origins of a rolling backtest.

Legend: T time steps, K horizon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from lstmkit.errors import UserError

if TYPE_CHECKING:
    from lstmkit.data.series import Series


class Split(NamedTuple):
    """Cut points of a series of length T: train ``[0, train_end)``, valid targets
    ``[train_end, valid_end)``, test targets ``[valid_end, T)``."""

    train_end: int
    valid_end: int
    end: int


def split_series(
    series: Series | int,
    horizon: int,
    valid_windows: int = 1,
    test_windows: int = 1,
    *,
    lookback: int = 0,
) -> Split:
    """Cut a series at its end: the last ``test_windows * horizon`` steps test, the
    ``valid_windows * horizon`` before them validate, the rest trains.

    A model forecasting the valid or test part reads its look-back from the steps before it, so
    only the targets are held out.

    Args:
        series: a :class:`Series`, or its length T.
        horizon: steps forecast at once.
        valid_windows, test_windows: forecast windows of ``horizon`` steps in each part (>= 0).
        lookback: steps a model reads before forecasting; the training part must hold at least
            one window of ``lookback + horizon`` steps.

    Returns:
        A :class:`Split`.

    Raises:
        UserError: a non-positive horizon, negative counts, or a series too short.

    Example:
        >>> split_series(100, horizon=12, lookback=24)
        Split(train_end=76, valid_end=88, end=100)
    """
    _check_int("horizon", horizon, 1)
    for name, value in (("valid_windows", valid_windows), ("test_windows", test_windows)):
        _check_int(name, value, 0)
    _check_int("lookback", lookback, 0)
    length = series if isinstance(series, int) else len(series)
    name = "series" if isinstance(series, int) else f"series {series.name!r}"
    valid_end = length - test_windows * horizon
    train_end = valid_end - valid_windows * horizon
    if train_end < lookback + horizon:
        needed = length - train_end + lookback + horizon
        raise UserError(
            f"{name}: expected at least {needed} steps (lookback {lookback} + horizon {horizon} "
            f"to train, {valid_windows} valid and {test_windows} test windows of {horizon}), "
            f"got {length}"
        )
    return Split(train_end, valid_end, length)


def rolling_origins(
    length: int, horizon: int, folds: int, step: int | None = None, *, min_train: int = 1
) -> list[int]:
    """Forecast origins of a rolling-origin backtest with an expanding window.

    Fold ``k`` trains on ``[0, cut_k)`` and forecasts ``[cut_k, cut_k + horizon)``; the last fold
    ends at ``length`` and each earlier one ``step`` steps before.

    Args:
        length: T, the series length.
        horizon: steps forecast in each fold.
        folds: how many folds.
        step: steps between origins; default ``horizon`` (the forecast windows tile the end).
        min_train: the fewest training steps the first fold may have.

    Returns:
        The ``folds`` cut points, ascending.

    Raises:
        UserError: a non-positive argument, or a series too short for the first fold.

    Example:
        >>> rolling_origins(20, horizon=3, folds=3)
        [11, 14, 17]
    """
    for name, value in (("length", length), ("horizon", horizon), ("folds", folds)):
        _check_int(name, value, 1)
    step = horizon if step is None else step
    _check_int("step", step, 1)
    _check_int("min_train", min_train, 1)
    first = length - horizon - (folds - 1) * step
    if first < min_train:
        raise UserError(
            f"rolling_origins: expected a series of at least {length - first + min_train} steps "
            f"({folds} folds, horizon {horizon}, step {step}, min_train {min_train}), got {length}"
        )
    return [first + k * step for k in range(folds)]


def _check_int(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise UserError(f"{name}: expected {kind}, got {value!r}")
