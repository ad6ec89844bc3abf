"""The LSTM-against-baselines backtest: origins, no look-ahead, baseline scores, averages."""

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.series_tools import read_frame
from lstmkit.errors import UserError
from lstmkit.forecast import Forecaster
from lstmkit.forecast.backtest import backtest
from lstmkit.forecast.baselines import forecast_baseline

H, N, FOLDS, SEASON = 4, 60, 3, 12
TINY = {
    "horizon": H,
    "model": {"hidden_size": 8, "num_layers": 1},
    "batch_size": 8,
    "batches_per_epoch": 3,
    "train": {"epochs": 2},
}
BASELINES = ("naive", "seasonal_naive")
TIMES = pd.date_range("2000-01-01", periods=N, freq="MS")
ORIGINS = [N - H - (FOLDS - 1 - k) * H for k in range(FOLDS)]  # 48, 52, 56


def rows(forecasts: pd.DataFrame, model: str, name: str, fold: int) -> pd.DataFrame:
    """One model's forecast of one series in one fold."""
    keep = (forecasts["model"] == model) & (forecasts["series"] == name)
    return forecasts[keep & (forecasts["fold"] == fold)]


def table(values: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({"month": TIMES, **values})


@pytest.fixture(scope="module")
def values():
    k = np.arange(N)
    noise = np.random.default_rng(0).normal(0, 0.1, (2, N))
    return {
        "a": 5 + 0.05 * k + np.sin(2 * np.pi * k / 12) + noise[0],
        "b": 1 + 2 * np.cos(2 * np.pi * k / 12) + noise[1],
    }


@pytest.fixture(scope="module")
def run(values):
    forecaster = Forecaster(**TINY)
    frame = read_frame(table(values), target=["a", "b"])
    return forecaster, backtest(forecaster, frame, FOLDS, baselines=BASELINES, progress=False)


def test_origins_and_forecast_table(run, values):
    _, result = run
    assert ORIGINS == [48, 52, 56]
    for name, series in values.items():
        assert result.scores["series"][name]["origins"] == [str(TIMES[o]) for o in ORIGINS]
        for fold, origin in enumerate(ORIGINS):
            for model in ("lstm", *BASELINES):
                got = rows(result.forecasts, model, name, fold)
                assert list(got["time"]) == list(TIMES[origin : origin + H])
                np.testing.assert_array_equal(got["actual"], series[origin : origin + H])
    assert list(result.forecasts.columns[:5]) == ["model", "series", "fold", "time", "forecast"]
    assert len(result.forecasts) == 3 * 2 * FOLDS * H
    assert result.scores["horizon"] == H
    assert result.scores["season"] == SEASON


def test_lstm_never_sees_data_from_the_first_origin_on(run, values):
    forecaster, result = run
    # Trained on each series up to the first origin: its stored history ends just before it.
    assert forecaster.history_["a"]["end"] == str(TIMES[ORIGINS[0] - 1])
    wild = {k: v.copy() for k, v in values.items()}
    rng = np.random.default_rng(1)
    for v in wild.values():
        v[ORIGINS[0] :] = rng.normal(0, 1e4, N - ORIGINS[0])
    frame = read_frame(table(wild), target=["a", "b"])
    again = backtest(Forecaster(**TINY), frame, FOLDS, baselines=(), progress=False)

    def lstm(res, name, fold):
        return rows(res.forecasts, "lstm", name, fold)[["forecast", "q0.1", "q0.9"]].to_numpy()

    for name in values:
        np.testing.assert_array_equal(lstm(again, name, 0), lstm(result, name, 0))
        # Later folds read the wild values in their look-back, so they do change.
        assert np.abs(lstm(again, name, 2) - lstm(result, name, 2)).max() > 1.0


def test_baseline_fold_scores_by_hand(run, values):
    _, result = run
    for name, series in values.items():
        for fold, origin in enumerate(ORIGINS):
            history = pd.Series(series[:origin], index=TIMES[:origin])
            truth = series[origin : origin + H]
            for model in BASELINES:
                fc = forecast_baseline(model, history, H, SEASON, (0.1, 0.5, 0.9))
                got = result.scores["series"][name]["models"][model]["folds"][fold]
                assert got["mae"] == pytest.approx(np.mean(np.abs(truth - fc.mean)))
                scale = np.mean(np.abs(series[SEASON:origin] - series[: origin - SEASON]))
                assert got["mase"] == pytest.approx(np.mean(np.abs(truth - fc.mean)) / scale)
            # The two baselines written out: the last value, and the value a season ago.
            naive = result.scores["series"][name]["models"]["naive"]["folds"][fold]["mae"]
            assert naive == pytest.approx(np.mean(np.abs(truth - series[origin - 1])))
            seasonal = series[origin - SEASON : origin - SEASON + H]
            snaive = result.scores["series"][name]["models"]["seasonal_naive"]["folds"][fold]
            assert snaive["mae"] == pytest.approx(np.mean(np.abs(truth - seasonal)))


def test_lstm_fold_scores_match_its_forecasts(run, values):
    _, result = run
    for name, series in values.items():
        for fold, origin in enumerate(ORIGINS):
            lstm = rows(result.forecasts, "lstm", name, fold)
            truth = series[origin : origin + H]
            got = result.scores["series"][name]["models"]["lstm"]["folds"][fold]
            assert got["mae"] == pytest.approx(np.mean(np.abs(truth - lstm["forecast"])))
            inside = (lstm["q0.1"] <= truth) & (truth <= lstm["q0.9"])
            assert got["coverage"] == pytest.approx(inside.mean())


def test_overall_is_the_mean_over_series_of_series_means(run):
    _, result = run
    per_series = result.scores["series"]
    for model in ("lstm", *BASELINES):
        for metric in ("mae", "mase", "rmse"):
            means = []
            for name in ("a", "b"):
                folds = per_series[name]["models"][model]["folds"]
                mean = np.mean([f[metric] for f in folds])
                assert per_series[name]["models"][model]["mean"][metric] == pytest.approx(mean)
                means.append(mean)
            assert result.scores["overall"][model][metric] == pytest.approx(np.mean(means))


def test_unknown_baseline_is_refused_before_training(values):
    forecaster = Forecaster(**TINY)
    frame = read_frame(table(values), target=["a", "b"])
    with pytest.raises(UserError, match=r"baselines: expected names from naive, .*got 'prophet'"):
        backtest(forecaster, frame, FOLDS, baselines=("naive", "prophet"), progress=False)
    assert not hasattr(forecaster, "model_")


def test_unadjusted_scores_are_the_network_alone(run, values):
    forecaster, result = run
    assert result.scores["adjustment"] == forecaster.adjustment_
    series = read_frame(table(values), target=["a", "b"]).series
    maes = []
    for s in series:
        raw = [forecaster.forecast_at([s], [o], adjusted=False)["forecast"] for o in ORIGINS]
        by_hand = [
            np.mean(np.abs(f.to_numpy() - s.values[o : o + H]))
            for f, o in zip(raw, ORIGINS, strict=True)
        ]
        entry = result.scores["series"][s.name]["models"]["lstm"]["unadjusted"]
        assert [f["mae"] for f in entry["folds"]] == pytest.approx(by_hand, rel=1e-9)
        maes.append(np.mean(by_hand))
    assert result.scores["lstm_unadjusted"]["mae"] == pytest.approx(np.mean(maes), rel=1e-9)
    # The scored LSTM is the adjusted one: its interval differs from the network's alone.
    scored = rows(result.forecasts, "lstm", "a", 0)
    alone = forecaster.forecast_at([series[0]], [ORIGINS[0]], adjusted=False)
    assert np.abs(scored["q0.9"].to_numpy() - alone["q0.9"].to_numpy()).min() > 1e-6


def test_the_estimators_method_is_the_backtest(run, values):
    _, result = run
    again = Forecaster(**TINY).backtest(
        table(values), FOLDS, baselines=BASELINES, progress=False, target=["a", "b"]
    )
    pd.testing.assert_frame_equal(again.forecasts, result.forecasts)
    assert again.scores["overall"] == result.scores["overall"]
