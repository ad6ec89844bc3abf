"""The Forecaster estimator: fit/predict, dates, save/load, covariates, long format, errors."""

import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.series import Series
from lstmkit.data.series_tools import fingerprint, future_values, read_frame
from lstmkit.errors import UserError
from lstmkit.forecast import Forecaster
from lstmkit.forecast.windows import WINDOW_SCALE_FLOOR

H, N = 4, 60
TINY = {
    "horizon": H,
    "model": {"hidden_size": 8, "num_layers": 1},
    "batch_size": 8,
    "batches_per_epoch": 3,
    "train": {"epochs": 2},
    "season_adjust": False,  # one network (the default ensemble: test_forecast_views.py)
}


def legacy(config: dict, residual: bool = True) -> dict:
    """A run's config as before views: the one view's scaler, residual and adjustment in
    ``data`` (and no residual, before the seasonality test, unless ``residual``)."""
    data = config["data"]
    config["estimator"].pop("season_adjust")  # the setting came with the views
    (view,) = data.pop("views")
    data.update(scaler=view["scaler"], adjustment=view["adjustment"])
    if residual:
        data["residual"] = view["residual"]
    return config


def monthly(n=N, start="2000-01-01", seed=0) -> pd.DataFrame:
    k = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 0.1, n)
    y = 5 + 0.05 * k + np.sin(2 * np.pi * k / 12) + noise
    return pd.DataFrame({"month": pd.date_range(start, periods=n, freq="MS"), "y": y})


def months_after(last, steps) -> list[pd.Timestamp]:
    return [pd.Timestamp(last) + pd.DateOffset(months=k) for k in range(1, steps + 1)]


@pytest.fixture(scope="module")
def df():
    return monthly()


@pytest.fixture(scope="module")
def fitted(df):
    return Forecaster(**TINY).fit(df, progress=False)


def test_predict_rows_dates_and_ordered_quantiles(fitted, df):
    out = fitted.predict()
    assert list(out.columns) == ["series", "time", "forecast", "q0.1", "q0.5", "q0.9"]
    assert len(out) == H
    assert (out["series"] == "y").all()
    assert list(out["time"]) == months_after(df["month"].iloc[-1], H)
    q = out[["q0.1", "q0.5", "q0.9"]].to_numpy()
    assert np.isfinite(q).all()
    assert (np.diff(q, axis=1) > 0).all()  # q0.1 < q0.5 < q0.9 on every row
    np.testing.assert_array_equal(out["forecast"], out["q0.5"])
    # The model's own settings, derived from the data: monthly, a 12-month season.
    assert (fitted.freq_, fitted.season_, fitted.lookback_) == ("MS", 12, 24)


@pytest.mark.parametrize(
    ("window_norm", "residual"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_a_network_that_outputs_zero_forecasts_the_baseline_it_is_built_on(
    df, window_norm, residual
):
    fc = Forecaster(
        **{**TINY, "batches_per_epoch": 1, "train": {"epochs": 1}},
        window_norm=window_norm,
        residual=residual,
        shrink=False,
        calibrate=False,
    ).fit(df, progress=False)
    for p in fc.model_.parameters():
        p.data.zero_()  # every raw output 0: median 0, other levels at softplus(0) = log 2
    out = fc.predict()
    y, lookback, season = df["y"].to_numpy(), 24, 12
    mean, std = y[: N - H].mean(), y[: N - H].std()  # the training part's statistics
    look = (y[N - lookback :] - mean) / std  # standardised look-back
    base = np.zeros(H)
    if residual:
        look = look - (y[N - lookback - season : N - season] - mean) / std
        base = (y[N - season : N - season + H] - mean) / std  # seasonal naive
    if window_norm and residual:  # differences are scaled by their root mean square, not centred
        loc, scale = 0.0, max(np.sqrt(np.mean(look**2)), WINDOW_SCALE_FLOOR)
    elif window_norm:
        loc, scale = look.mean(), max(look.std(), WINDOW_SCALE_FLOOR)
    else:
        loc, scale = 0.0, 1.0
    np.testing.assert_allclose(out["forecast"], (loc + base) * std + mean, rtol=1e-5)
    spread = np.log(2) * scale * std
    np.testing.assert_allclose(out["q0.9"] - out["forecast"], spread, rtol=1e-4)
    np.testing.assert_allclose(out["forecast"] - out["q0.1"], spread, rtol=1e-4)


def test_scaler_is_fitted_before_the_validation_window(fitted, df):
    train = df["y"].to_numpy()[: N - H]  # valid_windows=1 holds out the last horizon
    assert fitted.scaler_.target["y"] == pytest.approx((train.mean(), train.std()))


def test_shorter_horizon_and_explicit_data_agree_with_predict(fitted, df):
    full = fitted.predict()
    pd.testing.assert_frame_equal(fitted.predict(horizon=3), full.iloc[:3])
    pd.testing.assert_frame_equal(fitted.predict(data=df), full)
    earlier = fitted.predict(data=df.iloc[:50])
    assert list(earlier["time"]) == months_after(df["month"].iloc[49], H)


@pytest.mark.parametrize("residual", [True, False])
def test_save_load_and_run_folder_give_identical_predictions(df, tmp_path, residual):
    fc = Forecaster(**TINY, residual=residual).fit(df, out=tmp_path / "run", progress=False)
    want = fc.predict()
    loaded = Forecaster.load(fc.save(tmp_path / "saved"))
    pd.testing.assert_frame_equal(loaded.predict(), want)
    pd.testing.assert_frame_equal(loaded.predict(data=df), want)
    from_run = Forecaster.load(tmp_path / "run")  # its best/ checkpoint
    assert from_run.checkpoint_ == tmp_path / "run" / "best"
    pd.testing.assert_frame_equal(from_run.predict(), want)
    assert from_run.horizon == H
    assert from_run.model["hidden_size"] == 8
    assert from_run.residual is residual


def test_one_step_loss_is_kept_and_a_checkpoint_from_before_it_loads(
    write_config, df, fitted, tmp_path
):
    fc = Forecaster(**{**TINY, "model": {**TINY["model"], "one_step_loss": 0.5}})
    fc.fit(df, progress=False)
    assert fc.model_.one_step is not None
    loaded = Forecaster.load(fc.save(tmp_path / "with"))
    assert loaded.model["one_step_loss"] == 0.5
    assert loaded.model_.one_step is not None
    pd.testing.assert_frame_equal(loaded.predict(), fc.predict())
    # A checkpoint written before the option existed has no such key: it means off. (It also
    # spelt the network's settings as flat arguments, before the estimator's `model`.)
    old = fitted.save(tmp_path / "old")
    config = json.loads((old / "config.json").read_text())
    recorded = config["estimator"]
    config["estimator"] = {
        **{k: v for k, v in recorded.items() if k != "model"},
        **recorded["model"],
    }
    del config["model"]["one_step_loss"]
    write_config(old, config)
    loaded = Forecaster.load(old)
    assert "one_step_loss" not in loaded.model
    assert loaded.model_.one_step is None
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())


def daily(weekly_cycle: float, n=200, seed=0) -> pd.DataFrame:
    """A random walk, plus a weekly cycle of the given amplitude."""
    k = np.arange(n)
    walk = np.random.default_rng(seed).normal(0, 1, n).cumsum()
    y = 50 + walk + weekly_cycle * np.sin(2 * np.pi * k / 7)
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"), "y": y})


@pytest.mark.parametrize(("cycle", "lag"), [(0.0, 1), (5.0, 7)])
def test_residual_lag_is_the_season_only_where_the_data_has_one(cycle, lag, tmp_path):
    fc = Forecaster(
        **{**TINY, "batches_per_epoch": 1, "train": {"epochs": 1}},
        lookback=14,
        shrink=False,
        calibrate=False,
    ).fit(daily(cycle), progress=False)
    assert fc.season_ == 7
    assert fc.residual_ == {"lag": lag, "seasonal_series": int(lag == 7), "series": 1}
    for p in fc.model_.parameters():
        p.data.zero_()  # the network forecasts no correction: its baseline alone
    y = daily(cycle)["y"].to_numpy()
    naive = np.full(H, y[-1])
    want = naive if lag == 1 else y[len(y) - 7 : len(y) - 7 + H]  # naive, seasonal naive
    # (the differences a window reads are scaled, not centred: nothing is added back)
    np.testing.assert_allclose(fc.predict()["forecast"], want, rtol=1e-5)
    loaded = Forecaster.load(fc.save(tmp_path / "saved"))
    assert loaded.residual_ == fc.residual_
    pd.testing.assert_frame_equal(loaded.predict(), fc.predict())


def test_a_season_given_is_the_residual_lag_untested():
    fc = Forecaster(
        **{**TINY, "batches_per_epoch": 1, "train": {"epochs": 1}}, lookback=14, season=7
    ).fit(daily(0.0), progress=False)
    assert fc.residual_ == {"lag": 7, "seasonal_series": None, "series": None}


def test_a_checkpoint_from_before_the_seasonality_test_takes_the_season(
    write_config, fitted, tmp_path
):
    old = fitted.save(tmp_path / "old")
    config = legacy(json.loads((old / "config.json").read_text()), residual=False)
    write_config(old, config)
    loaded = Forecaster.load(old)
    assert loaded.residual_["lag"] == 12 == fitted.residual_["lag"]
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())


def test_same_seed_reproduces_and_another_seed_differs(df, fitted):
    again = Forecaster(**TINY).fit(df, progress=False).predict()
    pd.testing.assert_frame_equal(again, fitted.predict())
    other = Forecaster(**{**TINY, "train": {"epochs": 2, "seed": 1}}).fit(df, progress=False)
    assert np.abs(other.predict()["forecast"] - again["forecast"]).max() > 1e-4


def test_future_covariate_is_required_and_used(df):
    promo = (np.arange(N) % 5 == 0).astype(float)
    data = df.assign(y=df["y"] + promo, promo=promo)
    # Without shrinkage: a barely trained network may be shrunk to seasonal naive, blind to it.
    fc = Forecaster(**TINY, shrink=False).fit(data, future_covariates=["promo"], progress=False)
    assert fc.config_.n_future == 1 + 2  # promo, then month sin/cos
    with pytest.raises(UserError, match=r"future: the model uses future covariates \['promo'\]"):
        fc.predict()
    times = months_after(df["month"].iloc[-1], H)
    off = fc.predict(future=pd.DataFrame({"month": times, "promo": 0.0}))
    on = fc.predict(future=pd.DataFrame({"month": times, "promo": 1.0}))
    assert list(on["time"]) == times
    assert np.abs(on["forecast"] - off["forecast"]).max() > 1e-4
    with pytest.raises(UserError, match=r"expected covariates at 2005-04-01"):
        fc.predict(future=pd.DataFrame({"month": times[:3], "promo": 0.0}))


def test_long_format_gives_one_forecast_per_series():
    a = monthly(50, "2001-01-01", seed=1).assign(unique_id="a")
    b = monthly(40, "2002-03-01", seed=2).assign(unique_id="b", y=lambda d: 3 * d["y"])
    table = pd.concat([a, b], ignore_index=True).rename(columns={"month": "ds"})
    fc = Forecaster(**TINY).fit(table, id_col="unique_id", progress=False)
    out = fc.predict()
    assert list(out["series"]) == ["a"] * H + ["b"] * H
    assert list(out.loc[out["series"] == "a", "time"]) == months_after(a["month"].iloc[-1], H)
    assert list(out.loc[out["series"] == "b", "time"]) == months_after(b["month"].iloc[-1], H)
    # Each series keeps its own level: b is three times as large.
    assert (
        out.loc[out["series"] == "b", "forecast"].mean()
        > out.loc[out["series"] == "a", "forecast"].mean() + 5
    )
    pd.testing.assert_frame_equal(fc.predict(data=table), out)


def test_errors(fitted, df):
    with pytest.raises(UserError, match="horizon: expected at most the trained horizon 4, got 5"):
        fitted.predict(horizon=5)
    with pytest.raises(UserError, match="horizon: expected a positive integer, got 0"):
        fitted.predict(horizon=0)
    # The look-back of 24, and one season of 12 before it for the seasonal differences.
    with pytest.raises(UserError, match=r"series 'y': expected at least 36 steps .* got 10"):
        fitted.predict(data=df.iloc[:10])
    with pytest.raises(UserError, match="Forecaster: not fitted yet"):
        Forecaster().predict()
    # At least a look-back of 1, a season of 12, a horizon to train on and one to validate.
    with pytest.raises(UserError, match=r"series 'y': expected at least 21 steps .* got 20"):
        Forecaster(**TINY).fit(df.iloc[:20], progress=False)
    Forecaster(**TINY).fit(df.iloc[:21], progress=False)  # just enough
    # Without residuals there is no season to read first.
    with pytest.raises(UserError, match=r"series 'y': expected at least 9 steps .* got 8"):
        Forecaster(**TINY, residual=False).fit(df.iloc[:8], progress=False)
    with pytest.raises(UserError, match="batch_size: expected a positive integer, got 0"):
        Forecaster(**{**TINY, "batch_size": 0}).fit(df, progress=False)


def test_a_read_option_misnamed_is_refused_with_the_names_there_are(df):
    with pytest.raises(
        UserError, match=r"^id: not a read option; expected one of time, target, id_col, "
    ):
        Forecaster(**TINY).fit(df, id="y", progress=False)


def test_future_values_and_fingerprint():
    index = pd.date_range("2000-01-01", periods=3, freq="D")
    s = Series("s", index, np.array([1.0, 2.0, 3.0]))
    table = pd.DataFrame(
        {"day": pd.date_range("2000-01-05", periods=2, freq="D")[::-1], "x": [7.0, 6.0]}
    )
    table.loc[len(table)] = [pd.Timestamp("2000-01-04"), 5.0]
    got = future_values(table, s, 3, ["x"], {"time": "day"})
    np.testing.assert_array_equal(got, [[5.0], [6.0], [7.0]])  # sorted by time, not by row
    missing = r"future: expected columns \['day', 'z'\], missing \['z'\]"
    with pytest.raises(UserError, match=missing):
        future_values(table, s, 3, ["z"], {"time": "day"})
    with pytest.raises(UserError, match="expected covariates at 2000-01-07"):
        future_values(table, s, 4, ["x"], {"time": "day"})
    other = Series("s", index, np.array([1.0, 2.0, 3.5]))
    assert fingerprint([s]) == fingerprint([Series("s", index, np.array([1.0, 2.0, 3.0]))])
    assert fingerprint([s]) != fingerprint([other])


def test_read_frame_accepts_rows_in_any_order(df):
    shuffled = df.sample(frac=1.0, random_state=0)  # an Index of ints, not a RangeIndex
    frame = read_frame(shuffled)
    assert frame.target == ["y"]
    np.testing.assert_array_equal(frame[0].values, df["y"].to_numpy())


def test_read_frame_accepts_an_unnamed_datetime_index(df):
    frame = read_frame(pd.DataFrame({"y": df["y"].to_numpy()}, index=df["month"].to_numpy()))
    assert frame.freq == "MS"
    assert frame.target == ["y"]


# One network (the values) learns it to a quarter of seasonal naive's error; the default pair
# to a third (0.158 against 0.150 for a quarter: its adjusted network starts from Naive2's flat
# line and has 300 steps to learn the trend).
@pytest.mark.parametrize(("season_adjust", "fraction"), [(False, 4), ("both", 3)])
def test_learns_a_seasonal_series_with_trend_better_than_naive(season_adjust, fraction):
    k = np.arange(150)
    y = 10 + 0.05 * k + 2 * np.sin(2 * np.pi * k / 12)
    data = pd.DataFrame({"month": pd.date_range("2000-01-01", periods=150, freq="MS"), "y": y})
    fc = Forecaster(
        horizon=12,
        model={"hidden_size": 8, "num_layers": 1, "dropout": 0.0},
        batch_size=32,
        batches_per_epoch=50,
        train={"epochs": 6},
        season_adjust=season_adjust,
    )
    out = fc.fit(data.iloc[:138], progress=False).predict()
    assert fc.progress_.step == 300
    lstm = np.mean(np.abs(out["forecast"].to_numpy() - y[138:]))
    naive = np.mean(np.abs(y[137] - y[138:]))  # about 1.5
    seasonal_naive = np.mean(np.abs(y[126:138] - y[138:]))  # the year's trend, 0.6
    assert lstm < naive / 4, (lstm, naive)
    assert lstm < seasonal_naive / fraction, (lstm, seasonal_naive)  # it learnt the trend


@pytest.mark.parametrize("residual", [True, False])
def test_min_length_is_exactly_what_fit_needs(residual):
    # look-back 6, season 12 (monthly) for residuals, one horizon to train, one to validate
    fc = Forecaster(**{**TINY, "train": {"epochs": 1}}, lookback=6, residual=residual)
    need = 6 + (12 if residual else 0) + 2 * H
    assert fc.min_length("MS") == need
    assert fc.min_length("MS", test_steps=5) == need + 5
    fc.fit(monthly(need), progress=False)  # exactly enough
    with pytest.raises(UserError, match="expected at least"):
        fc.fit(monthly(need - 1), progress=False)


def noisy_months(series: int, steps: int, sigma: float, seed: int) -> pd.DataFrame:
    """Long format: ``series`` monthly sines (phases apart) plus N(0, sigma²) noise."""
    rng, k = np.random.default_rng(seed), np.arange(steps)
    month = pd.date_range("2000-01-01", periods=steps, freq="MS")
    parts = []
    for i in range(series):
        y = 5 + np.sin(2 * np.pi * (k + i) / 12) + rng.normal(0, sigma, steps)
        parts.append(pd.DataFrame({"month": month, "id": f"s{i}", "y": y}))
    return pd.concat(parts)


def test_calibrated_interval_covers_80_percent_of_fresh_windows():
    # 40 series: 40 validation windows, enough for a margin per step. The network trains on
    # the first 60 steps (the last 4 validate); every origin after them is a fresh window.
    data, cut = noisy_months(40, 100, 0.5, seed=0), 60
    fc = Forecaster(**TINY).fit(
        data[data["month"] < data["month"].iloc[cut]], id_col="id", progress=False
    )
    assert fc.adjustment_["per_step"]
    assert fc.adjustment_["independent"] == 40
    series, origins = read_frame(data, id_col="id").series, range(cut, 100 - H + 1)
    every = [(s, t) for t in origins for s in series]
    truth = np.concatenate([s.values[t : t + H] for s, t in every])
    covered = {}
    for adjusted in (True, False):
        out = fc.forecast_at(*map(list, zip(*every, strict=True)), adjusted=adjusted)
        covered[adjusted] = (out["q0.1"] <= truth) & (truth <= out["q0.9"])
    # 37 origins x 40 series x 4 steps, correlated; the calibration set's own error (sd about
    # sqrt(.8 * .2 / 40) = 0.06 per step) dominates.
    assert np.mean(covered[True]) == pytest.approx(0.8, abs=0.1)
    assert abs(np.mean(covered[False]) - 0.8) > 0.15, np.mean(covered[False])


def test_adjusted_forecast_is_shrunk_toward_seasonal_naive_and_widened_by_the_margins(df, tmp_path):
    fc = Forecaster(**TINY, shrink=True).fit(df, out=tmp_path / "run", progress=False)
    adj = fc.adjustment_
    assert adj["windows"] == 1
    assert not adj["per_step"]
    raw = fc.forecast_at(fc.history(), [len(s) for s in fc.history()], adjusted=False)
    out = fc.predict()
    # By hand, in the data's units: b + a_k (median - b), b the value a season (12) before.
    y, std = df["y"].to_numpy(), df["y"].to_numpy()[: N - H].std()
    b = y[N - 12 : N - 12 + H]
    a = np.array(adj["shrink"])
    shift = (1 - a) * (raw["forecast"].to_numpy() - b)
    np.testing.assert_allclose(out["forecast"], b + a * (raw["forecast"] - b), rtol=1e-6)
    margin = np.array(adj["calibration"][0]["margin"]) * std  # standardised units -> the data's
    low = np.minimum(raw["q0.1"] - shift - margin, out["forecast"])
    high = np.maximum(raw["q0.9"] - shift + margin, out["forecast"])
    np.testing.assert_allclose(out["q0.1"], low, rtol=1e-6)
    np.testing.assert_allclose(out["q0.9"], high, rtol=1e-6)
    # Kept in the checkpoints as JSON: a saved model and the run folder's best/ reproduce it.
    for loaded in (Forecaster.load(fc.save(tmp_path / "saved")), Forecaster.load(tmp_path / "run")):
        assert loaded.adjustment_ == adj
        pd.testing.assert_frame_equal(loaded.predict(), out)
    plain = Forecaster(**TINY, shrink=False, calibrate=False).fit(df, progress=False)
    assert plain.adjustment_ is None
    pd.testing.assert_frame_equal(plain.predict(), raw)  # same seed: the network alone
    with pytest.raises(UserError, match="calibrate: expected true or false, got 'yes'"):
        Forecaster(**TINY, calibrate="yes").fit(df, progress=False)


def test_a_resumed_run_keeps_the_residual_lag_it_started_with(write_config, tmp_path):
    df, settings = daily(0.0), {**TINY, "lookback": 14, "shrink": False, "calibrate": False}
    part = Forecaster(**{**settings, "train": {"epochs": 2, "max_steps": 4}})
    part.fit(df, out=tmp_path / "run", progress=False)
    assert part.residual_["lag"] == 1  # a random walk: the residual to naive
    last = tmp_path / "run" / "last"
    resumed = Forecaster(train={"epochs": 2}).fit(
        df, out=tmp_path / "run", resume=last, progress=False
    )
    assert resumed.residual_ == part.residual_
    # A run from before the seasonality test recorded no lag: it took the season untested.
    config = legacy(json.loads((last / "config.json").read_text()), residual=False)
    write_config(last, config)
    old = Forecaster(train={"epochs": 2}).fit(df, out=tmp_path / "run", resume=last, progress=False)
    assert old.residual_ == {"lag": 7, "seasonal_series": None, "series": None}
