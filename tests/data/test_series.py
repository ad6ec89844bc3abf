"""Time series: reading CSVs (wide, long), their errors, fill, frequency, calendar features,
season lengths, built-ins, and cutting in time."""

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.seasonal import STL

from lstmkit.data.calendar import (
    calendar_feature_names,
    calendar_features,
    season_length,
    seasonality_test,
)
from lstmkit.data.series import read_series
from lstmkit.data.series_builtin import BUILTIN_SERIES, builtin_series, load_series
from lstmkit.data.series_split import Split, rolling_origins, split_series
from lstmkit.errors import Notice, UserError

TIMESERIES = Path(__file__).resolve().parents[3] / "shared" / "data" / "timeseries"


def write(path, text):
    path.write_text(text)
    return path


MONTHLY = "month,sales,price\n2020-01,3,1.5\n2020-02,5,1.5\n2020-03,4,1.6\n2020-04,6,1.7\n"


# ---------------------------------------------------------------- reading


def test_single_target_guessed_with_time_column(tmp_path):
    path = write(tmp_path / "s.csv", "month,sales\n2020-01,3\n2020-02,5\n2020-03,4\n")
    frame = read_series(path)
    (series,) = frame.series
    assert frame.freq == "MS"
    assert frame.target == ["sales"]
    assert series.name == "sales"
    assert series.values.tolist() == [3.0, 5.0, 4.0]
    assert list(series.index.strftime("%Y-%m-%d")) == ["2020-01-01", "2020-02-01", "2020-03-01"]
    assert series.past is None
    assert series.future is None
    assert frame.source["path"] == str(path)
    assert frame.source["time"] == "month"


def test_wide_several_targets_and_covariates(tmp_path):
    path = write(tmp_path / "w.csv", MONTHLY)
    frame = read_series(path, target=["sales", "price"])
    assert [s.name for s in frame] == ["sales", "price"]
    assert frame["price"].values.tolist() == [1.5, 1.5, 1.6, 1.7]
    frame = read_series(path, target="sales", past_covariates=["price"])
    assert frame[0].past.shape == (4, 1)
    assert frame[0].past[:, 0].tolist() == [1.5, 1.5, 1.6, 1.7]


def test_long_format_by_id_unsorted_rows_and_gz(tmp_path):
    text = (
        "unique_id,ds,y\nb,2021-01-03,7\na,2021-01-02,2\na,2021-01-01,1\na,2021-01-03,4\n"
        "b,2021-01-02,8\nb,2021-01-04,9\n"
    )
    path = tmp_path / "long.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    frame = read_series(path, id_col="unique_id")
    assert frame.freq == "D"
    assert [s.name for s in frame] == ["b", "a"]
    assert frame["a"].values.tolist() == [1.0, 2.0, 4.0]
    assert frame["b"].values.tolist() == [8.0, 7.0, 9.0]
    assert str(frame["b"].index[0].date()) == "2021-01-02"


def test_to_pandas_carries_the_frequency(tmp_path):
    series = read_series(write(tmp_path / "s.csv", MONTHLY), target="sales")[0].to_pandas()
    assert series.index.freqstr == "MS"
    assert series.name == "sales"


def test_time_column_guessed_by_content(tmp_path):
    path = write(
        tmp_path / "s.csv", "when,y\n2020-01-01 00:00,1\n2020-01-01 01:00,3\n2020-01-01 02:00,2\n"
    )
    frame = read_series(path)
    assert frame.source["time"] == "when"
    assert frame.freq == "h"


def test_ambiguous_time_column_lists_columns(tmp_path):
    path = write(tmp_path / "s.csv", "start,end,y\n2020-01,2020-02,1\n2020-02,2020-03,2\n")
    with pytest.raises(UserError) as info:
        read_series(path)
    assert str(info.value) == (
        f"{path}: time: expected one column of dates to guess from the columns 'start', 'end', "
        "'y', got 2 candidates ('start', 'end'); pass time"
    )


def test_ambiguous_target_names_the_candidates(tmp_path):
    with pytest.raises(
        UserError,
        match=r"s\.csv: target: expected one numeric column .* "
        r"got 2 \('sales', 'price'\); pass target$",
    ):
        read_series(write(tmp_path / "s.csv", MONTHLY))


def test_long_format_takes_one_target(tmp_path):
    path = write(tmp_path / "s.csv", "id,month,a,b\nx,2020-01,1,2\n")
    with pytest.raises(
        UserError,
        match=r"s\.csv: target: expected one column with id_col, "
        r"got 'a', 'b'$",
    ):
        read_series(path, id_col="id", target=["a", "b"])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "empty file"),
        ("month,y\n", "no data rows"),
        (b"\x00\x01binary", "binary file"),
        ('month,y\n"2020-01,1\n', "not a CSV file"),
    ],
)
def test_bad_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(UserError) as info:
        read_series(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_unknown_column_lists_the_available_ones(tmp_path):
    path = write(tmp_path / "s.csv", MONTHLY)
    with pytest.raises(UserError) as info:
        read_series(path, target="Sales")
    assert str(info.value) == (
        f"{path}: target: no column 'Sales'; expected one of 'month', 'sales', 'price'"
    )
    with pytest.raises(UserError, match="past_covariates: no column 'cost'"):
        read_series(path, target="sales", past_covariates=["cost"])


def test_bad_date_names_line_and_column(tmp_path):
    path = write(tmp_path / "s.csv", "month,y\n2020-01,1\n2020-02,2\n2020-13,3\n")
    with pytest.raises(UserError) as info:
        read_series(path, time="month")
    assert str(info.value) == f"{path}:4: column 'month': expected a date or time, got '2020-13'"


def test_missing_timestamp_names_the_line(tmp_path):
    path = write(tmp_path / "s.csv", "month,y\n2020-01,1\n,2\n2020-03,3\n")
    with pytest.raises(UserError, match=r"s\.csv:3: column 'month': .* got a missing timestamp"):
        read_series(path, time="month")


def test_non_numeric_target_names_line(tmp_path):
    path = write(tmp_path / "s.csv", "month,y\n2020-01,1\n2020-02,2\n2020-03,n/a!\n")
    with pytest.raises(UserError) as info:
        read_series(path, target="y")
    assert str(info.value) == f"{path}:4: column 'y': expected a number, got 'n/a!'"


def test_constant_target(tmp_path):
    path = write(tmp_path / "s.csv", "month,y\n2020-01,2\n2020-02,2\n2020-03,2\n")
    with pytest.raises(UserError) as info:
        read_series(path)
    assert str(info.value) == (
        f"{path}: column 'y' is constant (2 at every time); expected a varying series"
    )


def test_duplicate_timestamp_in_one_series(tmp_path):
    path = write(tmp_path / "s.csv", "id,ds,y\na,2020-01-01,1\nb,2020-01-01,1\na,2020-01-01,2\n")
    with pytest.raises(UserError) as info:
        read_series(path, id_col="id")
    assert str(info.value) == (
        f"{path} (id 'a'): duplicate timestamp 2020-01-01 at {path}:2 and {path}:4; "
        "expected each time once"
    )


def test_gaps_and_missing_values_without_fill(tmp_path):
    path = write(
        tmp_path / "s.csv", "month,y\n2020-01,1\n2020-02,\n2020-03,3\n2020-05,5\n2020-06,4\n"
    )
    with pytest.raises(UserError) as info:
        read_series(path)
    assert str(info.value) == (
        f"{path}: 1 missing timestamps (first 2020-04-01) and 1 missing values in column 'y' "
        f"(first at {path}:3); expected none, or pass fill='interpolate' or fill='ffill'"
    )


@pytest.mark.parametrize(
    ("fill", "expected"),
    [("interpolate", [1, 2, 3, 4, 5, 4]), ("ffill", [1, 1, 3, 3, 5, 4])],
)
def test_fill_reports_how_many(tmp_path, fill, expected):
    path = write(
        tmp_path / "s.csv", "month,y\n2020-01,1\n2020-02,\n2020-03,3\n2020-05,5\n2020-06,4\n"
    )
    with pytest.warns(Notice, match=rf"s\.csv: filled 2 missing values \({fill}\)"):
        frame = read_series(path, fill=fill)
    assert frame[0].values.tolist() == expected
    assert frame.filled == {"y": 2}
    assert frame[0].index.freqstr == "MS"


def test_bad_fill_option(tmp_path):
    with pytest.raises(
        UserError,
        match=r"fill: expected one of interpolate, ffill or None, "
        r"got 'zero'",
    ):
        read_series(write(tmp_path / "s.csv", MONTHLY), target="sales", fill="zero")


# ---------------------------------------------------------------- frequency


def test_frequency_inferred_despite_gaps_with_fill(tmp_path):
    days = pd.date_range("2021-03-01", periods=12, freq="D").delete([4, 8])
    text = "date,y\n" + "".join(f"{d.date()},{i % 5}\n" for i, d in enumerate(days))
    with pytest.warns(Notice):
        frame = read_series(write(tmp_path / "s.csv", text), fill="ffill")
    assert frame.freq == "D"
    assert len(frame[0]) == 12


def test_irregular_index_names_the_file(tmp_path):
    path = write(
        tmp_path / "s.csv",
        "date,y\n2020-01-01,1\n2020-01-02,2\n2020-01-05,3\n2020-01-13,1\n2020-02-11,4\n",
    )
    with pytest.raises(UserError) as info:
        read_series(path)
    assert str(info.value).startswith(f"{path}: irregular time index")
    with pytest.warns(Notice, match="filled 37 missing values"):
        assert read_series(path, freq="D", fill="interpolate")[0].values.shape == (42,)


def test_given_freq_off_grid_and_bad_name(tmp_path):
    path = write(tmp_path / "s.csv", "date,y\n2020-01-01,1\n2020-02-01,2\n2020-03-15,3\n")
    with pytest.raises(UserError) as info:
        read_series(path, freq="MS")
    assert str(info.value) == (
        f"{path}:4: timestamp 2020-03-15 is not on the 'MS' grid starting at 2020-01-01; "
        "expected regular timestamps"
    )
    with pytest.raises(UserError, match=r"^freq: expected a pandas frequency .* got 'monthly'$"):
        read_series(path, freq="monthly")


def test_series_of_different_frequencies(tmp_path):
    text = "id,ds,y\na,2020-01-01,1\na,2020-01-02,2\na,2020-01-03,1\n"
    text += "b,2020-01-01,1\nb,2020-02-01,2\nb,2020-03-01,1\n"
    with pytest.raises(UserError, match="series 'b' has frequency MS but 'a' has D"):
        read_series(write(tmp_path / "s.csv", text), id_col="id")


# ---------------------------------------------------------------- calendar and seasons


def test_calendar_month_sin_cos_by_formula():
    index = pd.DatetimeIndex(["2020-01-01", "2020-07-01", "2020-04-01"])
    features = calendar_features(index, "MS")
    assert calendar_feature_names("MS") == ["month_sin", "month_cos"]
    expected = [[math.sin(2 * math.pi * k / 12), math.cos(2 * math.pi * k / 12)] for k in (0, 6, 3)]
    np.testing.assert_allclose(features, expected, atol=1e-12)
    np.testing.assert_allclose(features[1], [0.0, -1.0], atol=1e-12)


def test_calendar_hourly_shape_and_values():
    index = pd.date_range("2024-01-01 00:00", periods=30, freq="h")  # a Monday
    features = calendar_features(index, "h")
    assert features.shape == (30, 4)
    np.testing.assert_allclose(features[6, :2], [1.0, 0.0], atol=1e-12)  # 06:00 is 1/4 of a day
    np.testing.assert_allclose(features[0, 2:], [0.0, 1.0], atol=1e-12)  # Monday
    assert calendar_features(pd.date_range("2000", periods=3, freq="YS"), "YS").shape == (3, 0)


@pytest.mark.parametrize(
    ("freq", "length"),
    [
        ("YS", 1),
        ("QS", 4),
        ("MS", 12),
        ("ME", 12),
        ("W-SUN", 52),
        ("D", 7),
        ("h", 24),
        ("30min", 48),
        ("2h", 12),
        ("3MS", 4),
    ],
)
def test_season_length(freq, length):
    assert season_length(freq) == length


def test_seasonality_test_by_the_formula_written_out():
    rng = np.random.default_rng(3)
    t = np.arange(200)
    values = 0.3 * np.sin(2 * np.pi * t / 7) + rng.normal(size=200).cumsum()
    d = np.diff(values)
    dev = d - d.mean()
    r = np.array([np.sum(dev[: len(d) - k] * dev[k:]) for k in range(8)]) / np.sum(dev**2)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[1:7] ** 2)) / len(d))
    got = seasonality_test(values, 7)
    assert got.acf == pytest.approx(r[7])
    assert got.limit == pytest.approx(limit)
    assert r[7] < limit  # so the seasonal strength was asked, and it says no too
    assert got.strength < 0.64
    assert got.seasonal is False
    # The strength is measured over the last 50 seasons at most.
    longer = np.concatenate([rng.normal(size=800).cumsum(), values])
    stl = STL(longer[-350:], period=7).fit()
    tail = 1 - np.var(stl.resid) / np.var(stl.seasonal + stl.resid)
    assert seasonality_test(longer, 7).strength == pytest.approx(tail)


def test_a_short_nearly_pure_cycle_is_seasonal_by_its_strength():
    t = np.arange(42)  # 41 differences, 3.4 seasons
    values = 5 + np.sin(t * np.pi / 6) + np.random.default_rng(1).normal(0, 0.1, 42)
    got = seasonality_test(values, 12)
    assert got.acf < got.limit  # large autocorrelations at every lag inflate the limit
    stl = STL(values, period=12).fit()
    strength = 1 - np.var(stl.resid) / np.var(stl.seasonal + stl.resid)
    assert got.strength == pytest.approx(strength)
    assert strength > 0.64
    assert got.seasonal is True


def test_seasonality_test_verdicts():
    rng = np.random.default_rng(0)
    t = np.arange(240)
    trend_and_season = 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(size=240)
    assert seasonality_test(trend_and_season, 12).seasonal is True
    # A random walk's values are autocorrelated at every lag; its differences at none.
    assert seasonality_test(rng.normal(size=2000).cumsum(), 7).seasonal is False
    assert seasonality_test(rng.normal(size=2000), 7).seasonal is False
    assert seasonality_test(0.5 * t, 12).seasonal is False  # constant differences
    assert seasonality_test(trend_and_season, 1).seasonal is False  # no season to test
    short = seasonality_test(trend_and_season[:36], 12)  # 35 differences < 3 seasons
    assert short.seasonal is None
    assert math.isnan(short.acf)


# ---------------------------------------------------------------- built-in


@pytest.mark.parametrize(
    ("name", "freq", "length"),
    [
        ("co2", "W-SAT", 2284),
        ("elec_equip", "MS", 257),
        ("elnino", "MS", 732),
        ("macrodata", "QS-JAN", 203),
        ("sunspots", "YS-JAN", 309),
    ],
)
def test_builtin_series_load_offline(name, freq, length):
    frame = builtin_series(name)
    assert name in BUILTIN_SERIES
    assert frame.freq == freq
    assert len(frame[0]) == length
    assert not np.isnan(frame[0].values).any()
    assert frame.spec() == {"builtin": name}


def test_builtin_elec_equip_is_the_eurostat_index():
    # Eurostat STS.M.I7.W.TOVT.NS0016.4.000: January 1995 66.19, May 2016 the last.
    series = builtin_series("elec_equip")[0]
    assert series.name == "turnover"
    assert (series.index[0], series.values[0]) == (pd.Timestamp("1995-01-01"), 66.19)
    assert series.index[-1] == pd.Timestamp("2016-05-01")


def test_builtin_co2_fill_recorded_and_unknown_name():
    assert builtin_series("co2").filled == {"co2": 59}
    with pytest.raises(UserError, match=r"builtin series: expected one of co2, .* got 'nope'"):
        builtin_series("nope")


def test_load_series_reads_a_spec_again(tmp_path):
    frame = read_series(write(tmp_path / "s.csv", MONTHLY), target="sales")
    again = load_series(**frame.spec())
    assert again[0].values.tolist() == frame[0].values.tolist()


# ---------------------------------------------------------------- splitting


def test_split_series_cut_points():
    assert split_series(30, horizon=5) == Split(20, 25, 30)
    assert split_series(30, horizon=5, valid_windows=2, test_windows=0) == Split(20, 30, 30)
    assert split_series(30, horizon=5, lookback=15) == Split(20, 25, 30)


def test_split_series_too_short():
    with pytest.raises(UserError) as info:
        split_series(30, horizon=5, lookback=16)
    assert str(info.value) == (
        "series: expected at least 31 steps (lookback 16 + horizon 5 to train, 1 valid and 1 "
        "test windows of 5), got 30"
    )
    with pytest.raises(UserError, match="horizon: expected a positive integer, got 0"):
        split_series(30, horizon=0)


def test_rolling_origins_by_hand():
    assert rolling_origins(20, horizon=3, folds=3) == [11, 14, 17]
    assert rolling_origins(20, horizon=3, folds=3, step=1) == [15, 16, 17]
    with pytest.raises(UserError, match="at least 21 steps"):
        rolling_origins(20, horizon=5, folds=4, min_train=1)


# ---------------------------------------------------------------- shared files


@pytest.mark.skipif(not TIMESERIES.is_dir(), reason=f"no shared time series at {TIMESERIES}")
def test_shared_airpassengers_and_etth1():
    air = read_series(TIMESERIES / "AirPassengers.csv")
    assert air.target == ["#Passengers"]
    assert air.freq == "MS"
    assert len(air[0]) == 144
    assert air[0].values[0] == 112
    ett = read_series(TIMESERIES / "ETTh1.csv", target="OT", past_covariates=["HUFL", "MUFL"])
    assert ett.freq == "h"
    assert ett[0].past.shape == (len(ett[0]), 2)
    assert ett.source["time"] == "date"
