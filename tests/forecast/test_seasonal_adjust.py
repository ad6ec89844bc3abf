"""Seasonal adjustment before the network (``Forecaster(season_adjust=True)``): the indices are R
decompose()'s, written out here; a history is adjusted by its timestamps wherever it starts; a
network that outputs nothing forecasts the M4's Naive2 of the training part."""

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.data.series import Series
from lstmkit.errors import UserError
from lstmkit.forecast import Forecaster
from lstmkit.forecast.seasonal import SeasonalIndices, season_removed

M = 12


def classical_figure(y: np.ndarray, m: int, multiplicative: bool) -> np.ndarray:
    """R's decompose(): centred 2×m moving average (m even), per-position mean of the detrended
    values, normalised to mean 1 (sum 0); (m,) the index of positions 0..m-1."""
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.full(y.size, np.nan)
    trend[m // 2 : y.size - m // 2] = np.convolve(y, weights, mode="valid")
    detrended = y / trend if multiplicative else y - trend
    figure = np.array([np.nanmean(detrended[i::m]) for i in range(m)])
    return figure / figure.mean() if multiplicative else figure - figure.mean()


def monthly(n: int = 96, shift: float = 0.0, seed: int = 1) -> Series:
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 0.02, n)
    y = (20 + 0.1 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / M) + noise) + shift
    return Series("s", pd.date_range("2001-04", periods=n, freq="MS"), y)


@pytest.mark.parametrize(("shift", "kind"), [(0.0, "multiplicative"), (-30.0, "additive")])
def test_indices_are_classical_decomposition_of_the_training_part(shift, kind):
    s = monthly(shift=shift)
    found = SeasonalIndices.fit(s, 72, M)  # the last 24 values are not looked at
    assert found.kind == kind
    expected = classical_figure(s.values[:72], M, kind == "multiplicative")
    np.testing.assert_allclose(found.indices, expected, rtol=1e-10, atol=1e-10)
    removed = season_removed(s, found).values
    by_hand = (
        s.values / expected[np.arange(96) % M]
        if shift == 0
        else s.values - expected[np.arange(96) % M]
    )
    np.testing.assert_allclose(removed, by_hand, rtol=1e-12)


def test_not_seasonal_is_none():
    # no season (the M4 test is on the values: a random walk would pass it)
    noise = np.random.default_rng(0).normal(size=120) + 100
    s = Series("w", pd.date_range("2000-01", periods=120, freq="MS"), noise)
    assert SeasonalIndices.fit(s, 120, M) is None
    assert SeasonalIndices.fit(monthly(), 30, M) is None  # under three seasons: not tested
    assert season_removed(s, None) is s


@pytest.mark.parametrize("start", [-17, 0, 5, 40])
def test_a_history_is_adjusted_by_its_timestamps(start):
    s = monthly()
    found = SeasonalIndices.fit(s, 96, M)
    index = pd.date_range(s.index[0], periods=30, freq="MS").shift(start)
    positions = (start + np.arange(30)) % M  # months after the anchor, modulo the season
    np.testing.assert_array_equal(found.at(index), np.asarray(found.indices)[positions])
    values = np.linspace(1, 2, 30)
    np.testing.assert_allclose(found.restore(found.remove(values, index), index), values)
    quantiles = np.stack([values, 2 * values], 1)  # (T, Q): every column gets the same index
    restored = found.restore(quantiles, index)
    np.testing.assert_allclose(restored[:, 1], 2 * found.restore(values, index))


def test_weekly_and_business_days_count_steps_on_their_grid():
    weeks = pd.date_range("2020-01-05", periods=10, freq="W-SUN")
    found = SeasonalIndices("additive", tuple(float(i) for i in range(7)), weeks[0].isoformat())
    np.testing.assert_array_equal(found.at(weeks[3:]), [3, 4, 5, 6, 0, 1, 2])
    days = pd.bdate_range("2024-01-01", periods=12)  # a Monday; weekends are not steps
    found = SeasonalIndices("additive", tuple(float(i) for i in range(5)), days[0].isoformat())
    np.testing.assert_array_equal(found.at(days[5:9]), [0, 1, 2, 3])


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "cubic", "indices": [1.0], "anchor": "2000-01-01"},
        {"kind": "multiplicative", "indices": [1.0, -1.0], "anchor": "2000-01-01"},
        {"kind": "additive", "indices": [1.0, float("nan")], "anchor": "2000-01-01"},
        {"kind": "additive", "indices": [], "anchor": "2000-01-01"},
        {"kind": "additive", "indices": [1.0], "anchor": "not a date"},
        {"kind": "additive", "indices": "abc"},
    ],
)
def test_a_damaged_config_is_refused(data):
    with pytest.raises(UserError, match="seasonal adjustment"):
        SeasonalIndices.from_dict(data)


def fit_adjusted(frame: pd.DataFrame, horizon: int, out=None, **settings) -> Forecaster:
    """One tiny season-adjusted network, fitted."""
    fc = Forecaster(
        horizon=horizon,
        season_adjust=True,
        model={"hidden_size": 4, "num_layers": 1},
        batches_per_epoch=2,
        train={"epochs": 1},
        **settings,
    )
    return fc.fit(frame, out=out, progress=False)


def silent(fc: Forecaster) -> Forecaster:
    """The fitted network's raw output set to zero: the forecast is the residual's base."""
    with torch.no_grad():
        fc.model_.head.output.weight.zero_()
        fc.model_.head.output.bias.zero_()
    for view in fc.views_:
        view.adjustment = None  # no shrinkage or calibration on top
    return fc


def test_a_silent_network_forecasts_naive2_of_the_training_part():
    s = monthly()
    K = 6
    frame = pd.DataFrame({"month": s.index, "y": s.values})
    fc = fit_adjusted(frame, K)
    assert fc.lag_ == 1
    assert fc.get_params()["season_adjust"] is True
    forecast = silent(fc).predict()["forecast"].to_numpy()
    figure = classical_figure(s.values[: 96 - K], M, True)  # one validation window held out
    index = figure[np.arange(96 + K) % M]
    naive2 = s.values[-1] / index[95] * index[96:]
    np.testing.assert_allclose(forecast, naive2, rtol=1e-5)


def test_saved_and_loaded_with_its_indices(tmp_path):
    s = monthly()
    frame = pd.DataFrame({"month": s.index, "y": s.values})
    fc = fit_adjusted(frame, 4)
    fc.save(tmp_path / "run")
    back = Forecaster.load(tmp_path / "run")
    assert back.views_[0].seasonal == fc.views_[0].seasonal
    pd.testing.assert_frame_equal(back.predict(), fc.predict())
    # a history given later that starts elsewhere, and a stream, go through the same indices
    later = frame.iloc[7:]
    pd.testing.assert_frame_equal(back.predict(data=later), fc.predict())
    # a stream's next value gives the forecast of the history with that value appended
    value = float(s.values[-1]) * 1.01
    stepped, _ = back.step(value, back.start())
    longer = pd.concat([frame, pd.DataFrame({"month": [s.index[-1] + s.index.freq], "y": [value]})])
    pd.testing.assert_frame_equal(stepped, back.predict(data=longer))


def test_the_onnx_export_carries_the_indices_and_its_recipe_gives_predict(tmp_path):
    from lstmkit.export import onnx as export
    from lstmkit.export.runtime import OnnxForecaster

    s = monthly()
    frame = pd.DataFrame({"month": s.index, "y": s.values})
    fc = fit_adjusted(frame, 4, tmp_path / "run", calendar=False, calibrate=False)
    pre = export.export_onnx(tmp_path / "run", tmp_path / "onnx")["preprocessing"]
    found = SeasonalIndices.from_dict(pre["seasonal"]["y"])
    assert found == fc.views_[0].seasonal["y"]
    # the runtime docstring's recipe, by hand
    mean, std = pre["scaler"]["target"]["y"]
    history = (found.remove(s.values, s.index) - mean) / std
    reach = pre["lookback"] + pre["lag"]
    q, _ = OnnxForecaster(tmp_path / "onnx", threads=1).forecast_window(history[None, -reach:])
    times = pd.date_range(s.index[-1], periods=5, freq="MS")[1:]
    got = found.restore(q[0] * std + mean, times)  # (K, Q)
    expected = fc.predict()[["q0.1", "q0.5", "q0.9"]].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4)
