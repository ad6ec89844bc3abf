"""The default forecaster: two networks, one per view of the series (``season_adjust="both"``),
their forecasts averaged in the series' units. Checked against forecasts written out here: with
every output zeroed, the members forecast seasonal naive and the M4's Naive2, and the ensemble
their mean."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.errors import UserError
from lstmkit.export import onnx as export
from lstmkit.export.runtime import OnnxForecaster
from lstmkit.forecast import Forecaster
from lstmkit.forecast.seasonal import SeasonalIndices
from lstmkit.models.forecaster import ForecastEnsemble, members_of

H, M, N = 4, 12, 96
SMALL = {
    "horizon": H,
    "model": {"hidden_size": 8, "num_layers": 1},
    "batch_size": 8,
    "batches_per_epoch": 2,
    "train": {"epochs": 1},
}


def monthly(n: int = N) -> pd.DataFrame:
    t = np.arange(n)
    noise = np.random.default_rng(2).normal(0, 0.02, n)
    y = (20 + 0.1 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / M) + noise)
    return pd.DataFrame({"month": pd.date_range("2001-01", periods=n, freq="MS"), "y": y})


def classical_figure(y: np.ndarray, m: int) -> np.ndarray:
    """R decompose()'s multiplicative indices of positions 0..m-1 (m even)."""
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.full(y.size, np.nan)
    trend[m // 2 : y.size - m // 2] = np.convolve(y, weights, mode="valid")
    figure = np.array([np.nanmean((y / trend)[i::m]) for i in range(m)])
    return figure / figure.mean()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("views") / "run"
    return Forecaster(**SMALL).fit(monthly(), out=out, progress=False), out


def test_the_default_is_two_networks_one_per_view(fitted):
    fc, _ = fitted
    assert isinstance(fc.model_, ForecastEnsemble)
    assert [(v.adjust, v.lag) for v in fc.views_] == [(False, M), (True, 1)]
    assert fc.views_[0].seasonal == {"y": None}
    assert fc.views_[1].seasonal["y"].kind == "multiplicative"
    first, second = members_of(fc.model_)
    assert first.encoder.lstm.weight_ih_l0.shape == second.encoder.lstm.weight_ih_l0.shape
    assert not torch.equal(first.encoder.lstm.weight_ih_l0, second.encoder.lstm.weight_ih_l0)
    assert fc.reach_ == fc.lookback_ + M  # the windows read the longer of the two lags


def test_silent_members_forecast_the_mean_of_seasonal_naive_and_naive2():
    fc = Forecaster(**SMALL, calibrate=False).fit(monthly(), progress=False)
    for p in fc.model_.parameters():
        p.data.zero_()  # each member's median is its residual's base
    y = monthly()["y"].to_numpy()
    seasonal_naive = y[N - M : N - M + H]
    figure = classical_figure(y[: N - H], M)  # the training part: one validation window out
    index = figure[np.arange(N + H) % M]
    naive2 = y[-1] / index[N - 1] * index[N:]
    got = fc.predict()["forecast"].to_numpy()
    np.testing.assert_allclose(got, (seasonal_naive + naive2) / 2, rtol=1e-5)


def test_saved_loaded_and_streamed_as_fitted(fitted, tmp_path):
    fc, _ = fitted
    back = Forecaster.load(fc.save(tmp_path / "saved"))
    assert isinstance(back.model_, ForecastEnsemble)
    assert [v.to_dict() for v in back.views_] == [v.to_dict() for v in fc.views_]
    pd.testing.assert_frame_equal(back.predict(), fc.predict())
    stepped, _ = back.step(float(monthly()["y"].iloc[-1]))
    assert len(stepped) == H
    assert np.isfinite(stepped[["forecast", "q0.1", "q0.9"]].to_numpy()).all()


def test_quantiles_stay_ordered_and_each_view_is_calibrated(fitted):
    fc, _ = fitted
    table = fc.predict()
    q = table[["q0.1", "q0.5", "q0.9"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    assert all(view.adjustment is not None for view in fc.views_)
    assert fc.adjustment_ == [view.adjustment for view in fc.views_]


def test_the_onnx_export_has_each_member_and_the_recipe_gives_predict(tmp_path):
    data = monthly()
    fc = Forecaster(**SMALL, calendar=False, calibrate=False).fit(
        data, out=tmp_path / "run", progress=False
    )
    pre = export.export_onnx(tmp_path / "run", tmp_path / "onnx")["preprocessing"]
    runner = OnnxForecaster(tmp_path / "onnx", threads=1)
    assert runner.members == 2
    index = pd.DatetimeIndex(data["month"], freq="MS")
    times = pd.date_range(index[-1], periods=H + 1, freq="MS")[1:]
    y = data["y"].to_numpy()
    found = []
    for i, member in enumerate(pre["members"]):  # the runtime docstring's recipe, by hand
        seasonal = member["seasonal"]["y"] and SeasonalIndices.from_dict(member["seasonal"]["y"])
        values = y if seasonal is None else seasonal.remove(y, index)
        mean, std = member["scaler"]["target"]["y"]
        reach = pre["lookback"] + member["lag"]
        history = ((values - mean) / std)[None, -reach:]
        q, _ = runner.forecast_window(history, member=i)
        q = q[0] * std + mean  # (K, Q)
        found.append(q if seasonal is None else seasonal.restore(q, times))
    expected = fc.predict()[["q0.1", "q0.5", "q0.9"]].to_numpy()
    np.testing.assert_allclose(np.mean(found, 0), expected, rtol=1e-4)
    with pytest.raises(ValueError, match="member"):
        runner.forecast_window(history, member=2)


@pytest.mark.parametrize("value", ["sometimes", "yes", 1, None])
def test_season_adjust_is_true_false_or_both(value):
    with pytest.raises(UserError, match="season_adjust"):
        Forecaster(**{**SMALL, "season_adjust": value}).fit(monthly(), progress=False)


def test_members_is_the_forecasters_to_set():
    with pytest.raises(UserError, match="members"):
        Forecaster(**{**SMALL, "model": {"members": 3}}).fit(monthly(), progress=False)


def test_a_crafted_checkpoint_is_refused_before_it_is_built(fitted, write_config, tmp_path):
    fc, _ = fitted
    saved = fc.save(tmp_path / "saved")
    config = json.loads((saved / "config.json").read_text())
    write_config(saved, {**config, "model": {**config["model"], "members": 10**6}})
    with pytest.raises(UserError, match=r"data\.views: expected one per network \(1000000\)"):
        Forecaster.load(saved)  # before a network is built
    data = {**config["data"], "views": config["data"]["views"][:1]}
    write_config(saved, {**config, "data": data})
    with pytest.raises(UserError, match=r"data.views: expected one per network \(2\), got 1"):
        Forecaster.load(saved)
    views = [{**config["data"]["views"][0], "scaler": "none"}, config["data"]["views"][1]]
    write_config(saved, {**config, "data": {**config["data"], "views": views}})
    with pytest.raises(UserError, match=r"config\.json: data\.views: expected adjust, residual"):
        Forecaster.load(saved)
