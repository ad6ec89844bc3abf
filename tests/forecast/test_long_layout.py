"""Nixtla's long format (``unique_id, ds, y``: neuralforecast, statsforecast) is read as one series
per id, by ``Forecaster.fit``, ``read_series`` and ``lstmkit forecast train --csv``; a table of
several series without an id column says to pass one."""

import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli.main import main
from lstmkit.data.series import read_series
from lstmkit.data.series_tools import read_frame
from lstmkit.errors import UserError
from lstmkit.forecast import Forecaster

DAYS = pd.date_range("2021-03-01", periods=40, freq="D")


def long_table(ids=("north", "south"), extra: dict | None = None) -> pd.DataFrame:
    """Rows of every series interleaved by time, as neuralforecast's examples build them."""
    rows = []
    for t, day in enumerate(DAYS):
        for k, uid in enumerate(ids):
            rows.append(
                {"unique_id": uid, "ds": day, "y": 10 * k + np.sin(t / 3 + k), **(extra or {})}
            )
    return pd.DataFrame(rows)


def test_the_long_layout_is_one_series_per_unique_id():
    table = long_table()
    frame = read_frame(table)
    assert [s.name for s in frame] == ["north", "south"]
    assert frame.freq == "D"
    for k, series in enumerate(frame):
        assert list(series.index) == list(DAYS)
        expected = 10 * k + np.sin(np.arange(40) / 3 + k)
        np.testing.assert_allclose(series.values, expected, rtol=1e-12)
    assert frame.spec()["id_col"] == "unique_id"


def test_the_long_layout_with_a_covariate_and_numeric_ids():
    table = long_table(ids=(1, 2), extra={"temp": 3.0})
    table["temp"] = np.arange(len(table), dtype=float)
    frame = read_frame(table, past_covariates=["temp"])
    assert [s.name for s in frame] == ["1", "2"]
    np.testing.assert_array_equal(frame[0].past[:, 0], np.arange(0, 80, 2))


def test_forecaster_fit_on_the_long_layout_learns_each_series(tmp_path):
    fc = Forecaster(
        horizon=3,
        lookback=8,
        model={"hidden_size": 8},
        batch_size=8,
        batches_per_epoch=2,
        train={"epochs": 1},
    )
    fc.fit(long_table(), progress=False)
    assert [s.name for s in fc.history()] == ["north", "south"]
    forecast = fc.predict()
    assert sorted(set(forecast["series"])) == ["north", "south"]


def test_several_series_without_an_id_say_to_pass_id_col():
    table = long_table().rename(columns={"unique_id": "store"})
    with pytest.raises(UserError, match=r"duplicate timestamp 2021-03-01 .*pass `id_col`"):
        read_frame(table)
    assert [s.name for s in read_frame(table, id_col="store")] == ["north", "south"]


def test_a_role_given_to_another_column_is_not_overridden():
    table = long_table()
    table["y2"] = table["y"] * 2
    frame = read_frame(table, target="y2", id_col="unique_id")
    np.testing.assert_allclose(frame[0].values, 2 * np.sin(np.arange(40) / 3))
    # target="y2" without id_col: not the long layout, so the repeated days are an error
    with pytest.raises(UserError, match="duplicate timestamp"):
        read_frame(table, target="y2")


def test_forecast_train_reads_a_long_csv(tmp_path, capsys):
    csv = tmp_path / "long.csv"
    long_table().to_csv(csv, index=False)
    assert [s.name for s in read_series(csv)] == ["north", "south"]
    out = tmp_path / "run"
    argv = ["forecast", "train", "--csv", str(csv), "--out", str(out), "--horizon", "3"]
    argv += "--hidden-size 8 --num-layers 1 --epochs 1 --batches-per-epoch 2".split()
    argv += "--baselines naive --no-progress --json".split()
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(result["metrics"]["series"]) == ["north", "south"]
    # the default two views: the residual's seasonality test ran over both series
    assert result["model"]["views"][0]["residual"]["series"] == 2
    assert result["model"]["views"][1]["season_adjusted"]["series"] == 2


def test_forecast_train_on_several_series_without_id_names_the_flag(tmp_path, capsys):
    csv = tmp_path / "stores.csv"
    long_table().rename(columns={"unique_id": "store"}).to_csv(csv, index=False)
    out = tmp_path / "run"
    argv = ["forecast", "train", "--csv", str(csv), "--out", str(out), "--horizon", "3"]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lstmkit forecast train: error: ")
    assert "duplicate timestamp" in err
    assert "pass --id, the column naming each row's series" in err
    assert "\n" not in err
    assert not out.exists()
