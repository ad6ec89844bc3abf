"""The forecasting collection benchmark's bookkeeping (``benchmarks/_collection_*.py``): which
series and horizons it keeps, the stratified subset, and the summary's OWA and wins, against
numbers worked out here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import _collection_data as data
from _collection_summary import summarise, table


def _series(n: int, freq: str = "QS-JAN", low: float = 1.0) -> pd.Series:
    return pd.Series(
        np.linspace(low, low + 10, n), index=pd.date_range("2000", periods=n, freq=freq)
    )


def test_horizons_are_m4s_halved_for_short_series_and_dropped_below(monkeypatch):
    # quarterly, season 4, 3 origins: 8 steps need 6*8 + 2*8 + 4 + 1 = 69, 4 steps need 37
    found = {"a/long": _series(69), "a/short": _series(68), "b/shorter": _series(36)}
    found["b/negative"] = _series(80, low=-1.0)
    monkeypatch.setitem(data.LOADERS, "quarterly", lambda shared: found)
    entries, dropped = data.collection(["quarterly"], 3)
    assert [(e.id, e.horizon, e.season) for e in entries] == [("a/long", 8, 4), ("a/short", 4, 4)]
    assert dropped == ["b/shorter (36 steps, 37 needed)", "b/negative (negative values)"]
    assert entries[0].source == "a"


def _entry(source: str, i: int, group: str = "monthly") -> data.Entry:
    return data.Entry(f"{source}/{i}", source, group, 12, 18, _series(10, "MS"))


def test_the_limit_spreads_over_sources_and_evenly_within_one():
    entries = [_entry("big", i) for i in range(9)] + [_entry("one", 0), _entry("two", 0)]
    entries.append(_entry("two", 1))
    chosen = data.stratified(entries, 6)
    # turns: big, one, two, big, two, big -> big 3 (0, 4, 8), one 1, two 2
    assert [e.id for e in chosen] == ["big/0", "big/4", "big/8", "one/0", "two/0", "two/1"]
    assert data.stratified(entries, None) == entries
    assert len(data.stratified(entries, 100)) == len(entries)


def _row(series: str, group: str, model: str, mase, smape, seconds=1.0) -> dict:
    return {"id": series, "group": group, "model": model, "mase": mase, "smape": smape,
            "seconds": seconds}  # fmt: skip


@pytest.fixture
def rows():
    return [
        # series a: two origins; its scores are the means, LSTM (1.0, 10), Naive2 (2.0, 20)
        _row("a", "monthly", "lstm", [0.5, 1.5], [5.0, 15.0], 4.0),
        _row("a", "monthly", "naive2", [2.0, 2.0], [20.0, 20.0]),
        _row("a", "monthly", "ets", [1.0, 1.0], [8.0, 8.0]),
        # series b: ETS skipped it, the LSTM's second origin has no MASE (a periodic history)
        _row("b", "monthly", "lstm", [3.0, None], [30.0, 40.0], 2.0),
        _row("b", "monthly", "naive2", [2.0, 2.0], [40.0, 40.0]),
        _row("b", "monthly", "ets", None, None),
        _row("c", "daily", "lstm", [1.0], [10.0], 6.0),
        _row("c", "daily", "naive2", [1.0], [5.0]),
        _row("c", "daily", "ets", [0.5], [5.0]),
    ]


def test_the_summary_by_hand(rows):
    found = {(s["group"], s["model"]): s for s in summarise(rows, ["lstm", "naive2", "ets"])}
    lstm = found["monthly", "lstm"]
    # MASE a 1.0, b 3.0 (the scored origin); sMAPE a 10, b 35
    assert (lstm["series"], lstm["mase_mean"], lstm["smape_mean"]) == (2, 2.0, 22.5)
    # OWA: sMAPE 22.5 against Naive2's 30, MASE 2.0 against 2.0: (0.75 + 1) / 2
    assert lstm["owa"] == pytest.approx(0.875)
    assert lstm["seconds"] == 6.0
    ets = found["monthly", "ets"]
    assert (ets["series"], ets["lstm_wins"], ets["lstm_wins_of"]) == (1, 0.0, 1)
    # OWA on series a alone: (8/20 + 1/2) / 2
    assert ets["owa"] == pytest.approx(0.45)
    assert found["monthly", "naive2"]["lstm_wins"] == 0.5  # a won (1 < 2), b lost (3 > 2)
    overall = found["overall", "lstm"]
    assert overall["series"] == 3
    assert overall["mase_median"] == 1.0
    # sMAPE (10 + 35 + 10) / 3 against (20 + 40 + 5) / 3, MASE 5/3 against 5/3
    assert overall["owa"] == pytest.approx(0.5 * (55 / 65 + 1))
    assert found["overall", "ets"]["lstm_wins"] == 0.0  # lost a (1.0 = 1.0 is no win) and c


def test_the_table_has_a_row_per_group_and_model(rows):
    lines = table(summarise(rows, ["lstm", "naive2", "ets"])).splitlines()
    assert len(lines) == 2 + 3 * 3
    assert lines[2].startswith("| monthly | LSTM | 2 | 2.000 |")
    assert lines[4].endswith("| **0.450** | 0% | 2 |")  # the one monthly series ETS scored
    assert lines[5].startswith("| daily | LSTM | 1 |")


def _kept(series: str, forecast, actual, scale, model: str = "lstm") -> dict:
    row = _row(series, "monthly", model, None, None)
    return row | {"source": "s", "horizon": 2, "season": 12, "forecast": forecast,
                  "actual": actual, "scale": scale}  # fmt: skip


def test_combining_runs_scores_the_mean_of_their_forecasts(tmp_path):
    import json

    import forecast_combine

    truth = [[10.0, 10.0]]  # one origin, two steps
    runs = {
        "r0": [_kept("a", [[8.0, 8.0]], truth, [2.0])],  # 2 under: MASE 1
        "r1": [_kept("a", [[14.0, 12.0]], truth, [2.0])],  # 4 and 2 over: MASE 1.5
    }
    for name, rows in runs.items():
        (tmp_path / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    naive2 = _row("a", "monthly", "naive2", [2.0], [20.0])
    (tmp_path / "b.jsonl").write_text(json.dumps(naive2) + "\n{cut short")
    mine = forecast_combine.combined(
        "both",
        [forecast_combine.read_rows(tmp_path / f"{n}.jsonl") for n in ("r0", "r1")],
        "mean",
    )
    (row,) = mine
    # the mean forecast (11, 10): errors 1 and 0, MASE 0.5 / 2 = 0.25
    assert row["mase"] == [pytest.approx(0.25)]
    # sMAPE of (11, 10) against (10, 10): 200 * mean(1 / 21, 0)
    assert row["smape"] == [pytest.approx(100 / 21)]
    args = [f"r0={tmp_path / 'r0.jsonl'}", f"both={tmp_path / 'r0.jsonl'}+{tmp_path / 'r1.jsonl'}"]
    assert forecast_combine.main([*args, "--baselines", str(tmp_path / "b.jsonl")]) == 0
    with pytest.raises(SystemExit):
        forecast_combine.parse_args(["r0=missing.jsonl", "--baselines", str(tmp_path / "b.jsonl")])


def test_settings_over_the_forecasters_defaults_are_part_of_the_cache_key():
    import forecast_collection as bench

    args = bench.parse_args(["--set", "season_adjust=true", "lookback=12", "head=direct"])
    assert args.settings == {"season_adjust": True, "lookback": 12, "head": "direct"}
    entry = _entry("src", 0)
    plain = bench.parse_args([])
    assert bench._key(entry, "lstm", args) != bench._key(entry, "lstm", plain)
    assert bench._key(entry, "ets", args) == bench._key(entry, "ets", plain)  # baselines: same
    with pytest.raises(SystemExit):
        bench.parse_args(["--set", "no-equals-sign"])


def test_pooling_by_frequency_makes_one_model_per_frequency_and_horizon():
    import forecast_collection as bench

    entries = [_entry("a", 0), _entry("a", 1), _entry("b", 0)]
    entries.append(data.Entry("c/0", "c", "monthly", 12, 18, _series(10, "ME")))  # month ends
    entries.append(data.Entry("d/0", "d", "monthly", 12, 9, _series(10, "MS")))  # halved horizon
    units = {}
    for pool in ("source", "frequency"):
        args = bench.parse_args(["--models", "lstm", "--pool", pool])
        tasks = [t for t in bench.plan(entries, {}, args) if t[0] == "lstm"]
        units[pool] = sorted(sorted(e.id for e in members) for _, members, _ in tasks)
    assert units["source"] == [["a/0", "a/1"], ["b/0"], ["c/0"], ["d/0"]]
    assert units["frequency"] == [["a/0", "a/1", "b/0"], ["c/0"], ["d/0"]]
    pooled, plain = bench.parse_args(["--pool", "frequency"]), bench.parse_args([])
    assert bench._key(entries[0], "lstm", pooled) != bench._key(entries[0], "lstm", plain)
    assert bench._key(entries[0], "ets", pooled) == bench._key(entries[0], "ets", plain)


def test_kept_forecasts_carry_the_truth_and_the_mase_scale_by_hand():
    import forecast_collection as bench

    values = pd.Series(np.arange(40.0) ** 1.5, index=pd.date_range("2000", periods=40, freq="MS"))
    entry = data.Entry("src/a", "src", "monthly", 12, 4, values)
    args = bench.parse_args(["--origins", "2"])
    rows = []
    for fold, origin in enumerate((32, 36)):  # the last two horizons of 4
        for k in range(4):
            rows.append({"model": "lstm", "series": "src/a", "fold": fold,
                         "forecast": float(k), "actual": values.iloc[origin + k]})  # fmt: skip
    kept = bench._kept(pd.DataFrame(rows), entry, args)
    assert kept["forecast"] == [[0.0, 1.0, 2.0, 3.0]] * 2
    assert kept["actual"][1] == values.iloc[36:].tolist()
    y = values.to_numpy()
    assert kept["scale"][0] == pytest.approx(np.mean(np.abs(y[12:32] - y[:20])))
    assert kept["scale"][1] == pytest.approx(np.mean(np.abs(y[12:36] - y[:24])))


def test_baselines_keep_their_forecasts_with_the_truth_by_hand():
    import forecast_collection as bench

    values = pd.Series(np.arange(40.0) ** 1.5, index=pd.date_range("2000", periods=40, freq="MS"))
    entry = data.Entry("src/a", "src", "monthly", 12, 4, values)
    args = bench.parse_args(["--origins", "2", "--keep-forecasts"])
    (row,) = bench.run_baselines(entry, ["naive"], args)
    y = values.to_numpy()
    # naive repeats the last value before each origin (32 and 36: the last two horizons of 4)
    assert row["forecast"] == [[y[31]] * 4, [y[35]] * 4]
    assert row["actual"] == [y[32:36].tolist(), y[36:].tolist()]
    assert row["scale"][1] == pytest.approx(np.mean(np.abs(y[12:36] - y[:24])))
    assert row["mase"][0] == pytest.approx(np.mean(np.abs(y[32:36] - y[31])) / row["scale"][0])
    (plain,) = bench.run_baselines(entry, ["naive"], bench.parse_args(["--origins", "2"]))
    assert "forecast" not in plain


def test_a_combination_may_take_a_baselines_forecasts(tmp_path):
    import json

    import forecast_combine

    truth = [[10.0, 10.0]]
    lstm = _kept("a", [[8.0, 8.0]], truth, [2.0])
    ets = _kept("a", [[12.0, 14.0]], truth, [2.0], model="ets")
    skipped = _kept("a", None, truth, [2.0], model="arima")  # a baseline that skipped the series
    (tmp_path / "r.jsonl").write_text(json.dumps(lstm))
    (tmp_path / "k.jsonl").write_text(json.dumps(ets) + "\n" + json.dumps(skipped))
    runs = [forecast_combine.read_rows(tmp_path / n) for n in ("r.jsonl", "k.jsonl")]
    (row,) = forecast_combine.combined("hybrid", runs, "mean", ["lstm", "ets"])
    # the mean forecast (10, 11): errors 0 and 1, MASE 0.5 / 2
    assert row["mase"] == [pytest.approx(0.25)]
    (row,) = forecast_combine.combined("with-arima", runs, "mean", ["lstm", "arima"])
    assert row["mase"] is None
    assert row["smape"] is None
    naive2 = _row("a", "monthly", "naive2", [2.0], [20.0])
    (tmp_path / "b.jsonl").write_text(json.dumps(naive2))
    spec = f"hybrid={tmp_path / 'r.jsonl'}+{tmp_path / 'k.jsonl'}@ets"
    args = forecast_combine.parse_args([spec, "--baselines", str(tmp_path / "b.jsonl")])
    assert args.specs[0][1] == [(tmp_path / "r.jsonl", "lstm"), (tmp_path / "k.jsonl", "ets")]
    assert forecast_combine.main([spec, "--baselines", str(tmp_path / "b.jsonl")]) == 0
    with pytest.raises(SystemExit):
        forecast_combine.parse_args([f"x={tmp_path / 'k.jsonl'}@prophet", "--baselines",
                                     str(tmp_path / "b.jsonl")])  # fmt: skip


def test_scored_by_compares_every_model_on_the_series_one_model_scored(tmp_path, capsys):
    import json

    import forecast_combine

    truth = [[10.0, 10.0]]
    rows = [_kept(s, [[8.0, 8.0]], truth, [2.0]) for s in ("a", "b")]
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    baselines = [_row(s, "monthly", "naive2", [2.0], [20.0]) for s in ("a", "b")]
    baselines += [
        _row("a", "monthly", "arima", [1.0], [10.0]),
        _row("b", "monthly", "arima", None, None),
    ]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in baselines))
    args = [f"run={tmp_path / 'r.jsonl'}", "--baselines", str(tmp_path / "b.jsonl"), "--json"]
    counts = {}
    for extra in ([], ["--scored-by", "arima"]):
        assert forecast_combine.main([*args, *extra]) == 0
        summary = json.loads(capsys.readouterr().out)
        counts[tuple(extra)] = {s["model"]: s["series"] for s in summary if s["group"] == "overall"}
    assert counts[()] == {"run": 2, "naive2": 2, "arima": 1}
    assert counts["--scored-by", "arima"] == {"run": 1, "naive2": 1, "arima": 1}
    with pytest.raises(SystemExit):
        forecast_combine.parse_args([*args, "--scored-by", "prophet"])
    with pytest.raises(SystemExit, match="has no score of it"):  # no ETS in the cache
        forecast_combine.main([*args, "--scored-by", "ets"])
