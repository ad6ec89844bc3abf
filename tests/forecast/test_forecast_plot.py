"""Forecast plots: the drawn lines and band carry the input values; panels, labels, PNG, errors."""

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import UserError
from lstmkit.forecast.plot import forecast_figure, plot_forecast, quantile_columns

HORIZON = 3


def _history(n: int, offset: float = 0.0) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=n, freq="D")
    return pd.Series(offset + np.arange(n, dtype=float) ** 1.5, index=index)


def _forecast(histories: dict[str, pd.Series], levels=(0.1, 0.5, 0.9)) -> pd.DataFrame:
    """Per series: median last + 1, 2, 3; quantile q at median + 10·(q − 0.5)·step."""
    rows = []
    for name, h in histories.items():
        times = pd.date_range(h.index[-1] + pd.Timedelta(days=1), periods=HORIZON, freq="D")
        for step, t in enumerate(times, start=1):
            row = {"series": name, "time": t, "forecast": h.iloc[-1] + step}
            row.update({f"q{q}": h.iloc[-1] + step + 10 * (q - 0.5) * step for q in levels})
            rows.append(row)
    return pd.DataFrame(rows)


def _line(ax, label: str):
    (line,) = [x for x in ax.get_lines() if x.get_label() == label]
    return line


def test_lines_carry_history_tail_median_baseline_and_truth():
    history = {"a": _history(40), "b": _history(10, offset=5.0)}
    forecast = _forecast(history)
    base = forecast[["series", "time"]].assign(forecast=np.arange(len(forecast), dtype=float))
    truth = {"a": pd.Series([7.0, 8.0, 9.0, 10.0], index=pd.date_range("2024-02-09", periods=4))}
    fig = forecast_figure(history, forecast, truth=truth, baselines={"seasonal_naive": base})
    ax_a, ax_b = fig.axes
    assert [ax_a.get_title(loc="left"), ax_b.get_title(loc="left")] == ["a", "b"]
    # default tail: max(4 * 3, 24) = 24 for 'a'; 'b' has only 10 points, all shown
    np.testing.assert_array_equal(_line(ax_a, "history").get_ydata(), history["a"].iloc[-24:])
    np.testing.assert_array_equal(_line(ax_b, "history").get_ydata(), history["b"])
    last_a = history["a"].iloc[-1]
    np.testing.assert_array_equal(_line(ax_a, "LSTM").get_ydata(), last_a + np.arange(1, 4))
    np.testing.assert_array_equal(_line(ax_b, "seasonal_naive").get_ydata(), [3.0, 4.0, 5.0])
    # the forecast window of 'a' is 2024-02-10..12; the truth point on 02-09 is outside it
    np.testing.assert_array_equal(_line(ax_a, "actual").get_ydata(), [8.0, 9.0, 10.0])
    assert _line(ax_a, "actual").get_linestyle() == "--"
    assert not [x for x in ax_b.get_lines() if x.get_label() == "actual"]
    legend = ax_a.get_legend()
    assert legend is not None
    assert ax_b.get_legend() is None
    labels = [t.get_text() for t in legend.get_texts()]
    assert set(labels) == {"history", "actual", "LSTM", "80% interval", "seasonal_naive"}


def test_explicit_tail_is_capped_by_the_history():
    history = {"a": _history(40), "b": _history(5)}
    fig = forecast_figure(history, _forecast(history), tail=7)
    ax_a, ax_b = fig.axes
    np.testing.assert_array_equal(_line(ax_a, "history").get_ydata(), history["a"].iloc[-7:])
    np.testing.assert_array_equal(_line(ax_b, "history").get_ydata(), history["b"])


def test_default_tail_is_four_horizons_when_above_24():
    history = {"a": _history(60)}
    index = pd.date_range("2024-03-01", periods=10, freq="D")
    forecast = pd.DataFrame({"series": "a", "time": index, "forecast": np.zeros(10)})
    (ax,) = forecast_figure(history, forecast).axes
    assert len(_line(ax, "history").get_ydata()) == 40
    assert not ax.collections  # no quantile columns: no band


def test_band_spans_lowest_and_highest_quantile():
    history = {"a": _history(30)}
    levels = (0.05, 0.25, 0.5, 0.75, 0.95)
    forecast = _forecast(history, levels)
    (ax,) = forecast_figure(history, forecast).axes
    (band,) = ax.collections
    assert band.get_label() == "90% interval"
    vertices = band.get_paths()[0].vertices
    x = mdates.date2num(pd.DatetimeIndex(forecast["time"]))
    lo, hi = forecast["q0.05"].to_numpy(), forecast["q0.95"].to_numpy()
    expected = np.round(np.c_[np.r_[x, x], np.r_[lo, hi]], 9)
    drawn = np.round(vertices, 9)
    # every (time, lowest) and (time, highest) point is a corner, and there is no other corner
    assert {tuple(p) for p in drawn} == {tuple(p) for p in expected}


def test_median_only_has_no_band():
    history = {"a": _history(30)}
    (ax,) = forecast_figure(history, _forecast(history, (0.5,))).axes
    assert not ax.collections


def test_panel_order_and_max_panels():
    names = ["z", "m", "a", "q"]
    history = {name: _history(30, offset=i) for i, name in enumerate(names)}
    forecast = _forecast(history)
    fig = forecast_figure(history, forecast, max_panels=2, title="demo")
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["z", "m"]
    assert fig.get_suptitle() == "demo (first 2 of 4 series)"
    fig = forecast_figure(history, forecast)
    assert len(fig.axes) == 4
    assert fig.get_suptitle() == ""


def test_plot_forecast_writes_a_png(tmp_path):
    history = {"a": _history(30)}
    out = plot_forecast(tmp_path / "fc.png", history, _forecast(history), title="t")
    assert out == tmp_path / "fc.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_forecast_columns():
    history = {"a": _history(30)}
    forecast = _forecast(history).drop(columns="forecast")
    with pytest.raises(UserError, match=r"forecast: expected columns series, time, forecast, got"):
        forecast_figure(history, forecast)


def test_series_without_history():
    history = {"a": _history(30), "x": _history(30)}
    forecast = _forecast(history)
    with pytest.raises(UserError, match=r"history: expected a series named 'x'.*got \['a'\]"):
        forecast_figure({"a": history["a"]}, forecast)


def test_quantile_columns_sorted_by_level():
    frame = pd.DataFrame(columns=["q0.95", "series", "q0.05", "q0.5", "quality"])
    assert quantile_columns(frame) == [(0.05, "q0.05"), (0.5, "q0.5"), (0.95, "q0.95")]
