"""`lstmkit forecast train|predict|backtest`: files, scores checked by hand, and bad input."""

import contextlib
import csv
import io
import json
import math

import numpy as np
import pytest

from lstmkit.cli.main import main

TINY = (
    "--hidden-size 8 --num-layers 1 --epochs 2 --batches-per-epoch 3 --baselines naive "
    "seasonal_naive --no-progress"
).split()
H = 6
HORIZON = ["--horizon", str(H)]
SALES = ["--csv", "{data}/sales.csv"]


def months(year: int, month: int, count: int) -> list[str]:
    """``count`` month starts from year-month, as the CSVs write them."""
    out = []
    for k in range(count):
        y, m = divmod(month - 1 + k, 12)
        out.append(f"{year + y}-{m + 1:02d}-01")
    return out


def write_sales(path, count: int = 96, header=("month", "sales")) -> list[float]:
    """A noisy monthly seasonal sine with a trend from 2010-01; returns the values written."""
    rng = np.random.default_rng(0)
    t = np.arange(count)
    y = np.round(10 + 0.05 * t + 2 * np.sin(t * np.pi / 6) + rng.normal(0, 0.2, count), 4)
    rows = [",".join(header)] + [f"{d},{v}" for d, v in zip(months(2010, 1, count), y, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return [float(v) for v in y]


def write_long(path) -> None:
    """Two noisy monthly series, a and b, 60 steps each from 2010-01, in long format."""
    rng = np.random.default_rng(1)
    lines = ["unique_id,ds,y"]
    for name, level in (("a", 5.0), ("b", 8.0)):
        for i, day in enumerate(months(2010, 1, 60)):
            lines.append(f"{name},{day},{level + np.sin(i * np.pi / 6) + rng.normal(0, 0.1):.4f}")
    path.write_text("\n".join(lines) + "\n")


def run_json(argv: list[str]) -> dict:
    """main(argv + --json) with its stdout read as JSON (module fixtures have no capsys)."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main([*argv, "--json"]) == 0
    return json.loads(stdout.getvalue())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forecast")
    values = write_sales(folder / "sales.csv")
    write_long(folder / "long.csv")
    return folder, values


@pytest.fixture(scope="module")
def tested(data):
    """A run with one test window, and what it printed with --json."""
    folder, _ = data
    argv = [
        "forecast",
        "train",
        "--csv",
        str(folder / "sales.csv"),
        "--horizon",
        str(H),
        "--out",
        str(folder / "tested"),
        "--shrink",
        *TINY,
    ]
    return folder / "tested", run_json(argv)


@pytest.fixture(scope="module")
def full(data):
    """A run on every step (--test-windows 0)."""
    folder, _ = data
    argv = [
        "forecast",
        "train",
        "--csv",
        str(folder / "sales.csv"),
        "--horizon",
        str(H),
        "--out",
        str(folder / "full"),
        "--test-windows",
        "0",
        *TINY,
    ]
    return folder / "full", run_json(argv)


def read_csv(path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_train_scores_the_last_window_beside_the_baselines(data, tested):
    _, y = data
    run, result = tested
    assert result["test_windows"] == 1
    assert result["epochs"] == 2
    best = min(result["history"], key=lambda h: h["loss"])["epoch"]
    assert result["best_epoch"] == best  # the epoch of the lowest validation loss: best/
    # A seasonal series, two networks: one forecasts the residual to seasonal naive, the other
    # the season-adjusted series' residual to naive (Naive2).
    residual = {"lag": 12, "seasonal_series": 1, "series": 1}
    adjusted = {"lag": 1, "seasonal_series": None, "series": None}
    assert result["model"] == {
        "lookback": 24,
        "season": 12,
        "views": [
            {"residual": residual, "season_adjusted": None},
            {"residual": adjusted, "season_adjusted": {"series": 1, "adjusted": 1}},
        ],
    }
    overall = result["metrics"]["overall"]
    assert list(overall) == ["lstm", "naive", "seasonal_naive"]
    assert result["metrics"] == json.loads((run / "metrics.json").read_text())
    # By hand: the last H values forecast from the 90 before them.
    truth, origin = y[-H:], len(y) - H
    naive = sum(abs(v - y[origin - 1]) for v in truth) / H
    seasonal = sum(abs(y[origin + k] - y[origin + k - 12]) for k in range(H)) / H
    assert overall["naive"]["mae"] == pytest.approx(naive, rel=1e-9)
    assert overall["seasonal_naive"]["mae"] == pytest.approx(seasonal, rel=1e-9)
    assert overall["lstm"]["mae"] >= 0
    assert 0 <= overall["lstm"]["coverage"] <= 1
    rows = read_csv(run / "forecast.csv")
    assert sorted({r["model"] for r in rows}) == ["lstm", "naive", "seasonal_naive"]
    lstm = [r for r in rows if r["model"] == "lstm"]
    assert [r["time"] for r in lstm] == months(2017, 7, H)
    assert [float(r["actual"]) for r in lstm] == pytest.approx(truth)
    assert (run / "forecast.png").stat().st_size > 0
    assert (run / "best").is_dir()


def test_train_table_has_a_row_per_model_lstm_first(data, tmp_path, capsys):
    folder, _ = data
    argv = [
        "forecast",
        "train",
        "--data",
        str(folder / "long.csv"),
        "--id",
        "unique_id",
        *HORIZON,
        "--test-windows",
        "2",
        "--out",
        str(tmp_path / "r"),
        *TINY,
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("model"))
    assert header.split() == ["model", "MAE", "RMSE", "sMAPE", "MASE", "coverage"]
    table = out[out.index(header) :].splitlines()[2:5]
    assert [line.split()[0] for line in table] == ["lstm", "naive", "seasonal_naive"]
    fit = (
        "fit: look-back 24, 2 networks averaged: residual to seasonal naive, lag 12 (season 12 "
        "shows in 2 of 2 series); residual to Naive2 (season 12 taken out of 0 of 2 series)"
    )
    assert fit in out.splitlines()
    scores = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert scores["folds"] == 2
    assert sorted(scores["series"]) == ["a", "b"]


def test_train_on_everything_forecasts_after_the_end(full):
    run, result = full
    assert "metrics" not in result
    assert not (run / "metrics.json").exists()
    rows = read_csv(run / "forecast.csv")
    assert [r["time"] for r in rows] == months(2018, 1, H)  # the CSV ends in 2017-12
    assert list(rows[0]) == ["series", "time", "forecast", "q0.1", "q0.5", "q0.9"]
    assert all(float(r["q0.1"]) <= float(r["forecast"]) <= float(r["q0.9"]) for r in rows)
    assert (run / "forecast.png").stat().st_size > 0


def test_predict_without_data_forecasts_after_the_stored_history(full, tested):
    run, _ = full
    found = run_json(["forecast", "predict", str(run)])["forecast"]
    assert [r["time"] for r in found] == months(2018, 1, H)
    assert [r["forecast"] for r in found] == pytest.approx(
        [float(r["forecast"]) for r in read_csv(run / "forecast.csv")]
    )
    # A run with a test window stored the history before it: the forecast covers that window.
    held_out = run_json(["forecast", "predict", str(tested[0]), "--horizon", "3"])["forecast"]
    assert [r["time"] for r in held_out] == months(2017, 7, 3)


def test_predict_reads_a_csv_with_the_training_columns_or_others(full, tmp_path):
    run, _ = full
    write_sales(tmp_path / "same.csv", count=90)
    found = run_json(["forecast", "predict", str(run), "--csv", str(tmp_path / "same.csv")])
    assert [r["time"] for r in found["forecast"]] == months(2017, 7, H)
    assert {r["series"] for r in found["forecast"]} == {"sales"}
    write_sales(tmp_path / "other.csv", count=80, header=("date", "value"))
    argv = [
        "forecast",
        "predict",
        str(run),
        "--data",
        str(tmp_path / "other.csv"),
        "--time",
        "date",
        "--target",
        "value",
    ]
    found = run_json(argv)["forecast"]
    assert [r["time"] for r in found] == months(2016, 9, H)  # 80 months from 2010-01
    assert {r["series"] for r in found} == {"value"}


def test_predict_output_file_is_not_overwritten_without_overwrite(full, tmp_path, capsys):
    run, _ = full
    file = tmp_path / "f.csv"
    argv = ["forecast", "predict", str(run), "--horizon", "3", "--output", str(file)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    rows = read_csv(file)
    assert [r["time"] for r in rows] == months(2018, 1, 3)
    assert all(r["time"] in printed for r in rows)
    file.write_text("mine\n")
    assert main(argv) == 2
    assert "exists; choose another file or pass --overwrite" in capsys.readouterr().err
    assert file.read_text() == "mine\n"
    assert main([*argv, "--overwrite"]) == 0
    assert len(read_csv(file)) == 3


def test_backtest_json_has_every_fold_of_every_model(data, capsys):
    folder, _ = data
    argv = [
        "forecast",
        "backtest",
        "--csv",
        str(folder / "long.csv"),
        "--id",
        "unique_id",
        "--horizon",
        str(H),
        "--folds",
        "2",
        *TINY,
        "--json",
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["folds"] == 2
    assert result["step"] == H
    assert list(result["overall"]) == ["lstm", "naive", "seasonal_naive"]
    for name in ("a", "b"):
        series = result["series"][name]
        assert series["origins"] == ["2014-01-01 00:00:00", "2014-07-01 00:00:00"]
        for model, entry in series["models"].items():
            assert len(entry["folds"]) == 2, model
            assert all(f is not None and math.isfinite(f["mae"]) for f in entry["folds"])
    a = [float(r["y"]) for r in read_csv(folder / "long.csv") if r["unique_id"] == "a"]
    naive = sum(abs(v - a[47]) for v in a[48:54]) / H  # fold 1: origin 48 (2014-01)
    assert result["series"]["a"]["models"]["naive"]["folds"][0]["mae"] == pytest.approx(naive)


def test_backtest_out_and_a_config_file(data, tmp_path, capsys):
    folder, _ = data
    config = tmp_path / "run.yaml"
    config.write_text(
        f"data:\n  csv: {folder / 'sales.csv'}\n"
        "model:\n  horizon: 4\n  hidden_size: 8\n  num_layers: 2\n  quantiles: 0.05,0.5,0.95\n"
        "training:\n  epochs: 1\n  batches_per_epoch: 2\n  baselines: naive\n"
    )
    argv = [
        "forecast",
        "backtest",
        "--config",
        str(config),
        "--num-layers",
        "1",
        "--folds",
        "2",
        "--out",
        str(tmp_path / "bt"),
        "--no-progress",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "MAE by fold" in out
    stored = json.loads((tmp_path / "bt" / "best" / "config.json").read_text())
    assert stored["estimator"]["horizon"] == 4
    assert stored["estimator"]["model"]["hidden_size"] == 8
    assert stored["estimator"]["model"]["num_layers"] == 1  # the flag over the file
    assert stored["estimator"]["model"]["quantiles"] == [0.05, 0.5, 0.95]
    # The forecaster's defaults, not OptimConfig's and TrainConfig's, where none was given.
    assert stored["optim"]["lr"] == 0.003
    assert stored["optim"]["schedule"] == "cosine"
    assert stored["training"]["clip"] == 1.0
    assert stored["training"]["patience"] == 5  # early stopping on by default
    assert stored["training"]["epochs"] == 1
    scores = json.loads((tmp_path / "bt" / "backtest.json").read_text())
    assert list(scores["overall"]) == ["lstm", "naive"]
    rows = read_csv(tmp_path / "bt" / "forecasts.csv")
    assert len(rows) == 2 * 2 * 4
    assert "q0.95" in rows[0]
    assert (tmp_path / "bt" / "backtest.png").stat().st_size > 0


def test_resume_continues_a_run_and_overwrite_replaces_it(data, tmp_path):
    folder, _ = data
    argv = [
        "forecast",
        "train",
        "--csv",
        str(folder / "sales.csv"),
        "--horizon",
        str(H),
        "--out",
        str(tmp_path / "r"),
        *TINY,
        "--epochs",
        "1",
    ]
    assert run_json(argv)["epochs"] == 1
    resumed = run_json(
        [
            "forecast",
            "train",
            "--resume",
            str(tmp_path / "r"),
            "--epochs",
            "2",
            "--baselines",
            "naive",
            "--no-progress",
        ]
    )
    assert resumed["epochs"] == 2
    assert resumed["test_windows"] == 1
    assert list(resumed["metrics"]["overall"]) == ["lstm", "naive"]
    # A new run in its folder: nothing of the old one (metrics.json) is left.
    argv = [
        "forecast",
        "train",
        "--csv",
        str(folder / "sales.csv"),
        *HORIZON,
        "--out",
        str(tmp_path / "r"),
        "--overwrite",
        "--test-windows",
        "0",
        *TINY,
    ]
    assert main(argv) == 0
    assert not (tmp_path / "r" / "metrics.json").exists()
    assert len(read_csv(tmp_path / "r" / "forecast.csv")) == H


# fmt: off
TRAIN_MISTAKES = [
    (["--csv", "{tmp}/nope.csv", *HORIZON], "nope.csv: no such file"),
    ([*SALES, *HORIZON, "--target", "price"],
     "no column 'price'; expected one of 'month', 'sales'"),
    ([*SALES, "--horizon", "0"], "--horizon: expected a positive integer, got '0'"),
    (SALES, "--horizon: expected the steps to forecast"),
    (["--csv", "{tmp}/gaps.csv", *HORIZON],
     "1 missing values in column 'sales' (first at {tmp}/gaps.csv:5)"),
    ([*SALES, "--dataset", "co2", *HORIZON],
     "--csv and --dataset: expected one of --data, --csv, --dataset"),
    (["--data", "{data}/sales.csv", "--horizon", "40"],
     "series 'sales': expected at least"),
    ([*SALES, *HORIZON, "--quantiles", "0.1", "0.9"],
     "--quantiles: expected 0.5 among the levels"),
    ([*SALES, *HORIZON, "--baselines", "prophet"], "expected names from naive"),
    (
        [*SALES, *HORIZON, "--monitor", "bleu"],
        "--monitor: invalid choice: 'bleu' (choose from 'loss', 'mase', 'mae')",
    ),
]
# fmt: on


@pytest.mark.parametrize(("argv", "message"), TRAIN_MISTAKES)
def test_bad_train_input_exits_2_before_writing(data, tmp_path, capsys, argv, message):
    folder, _ = data
    lines = (folder / "sales.csv").read_text().splitlines()
    lines[4] = lines[4].split(",")[0] + ","  # no value on line 5
    (tmp_path / "gaps.csv").write_text("\n".join(lines) + "\n")
    argv = [a.format(tmp=tmp_path, data=folder) for a in argv]
    out = tmp_path / "out"
    assert main(["forecast", "train", *argv, "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err
    assert "Traceback" not in err
    assert not out.exists()


def test_out_holding_a_run_is_refused_and_left_alone(data, full, capsys):
    folder, _ = data
    run, _ = full
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    argv = [
        "forecast",
        "train",
        "--csv",
        str(folder / "sales.csv"),
        "--horizon",
        str(H),
        "--out",
        str(run),
        *TINY,
    ]
    assert main(argv) == 2
    assert f"--out {run}: is not empty; choose a new folder or pass --overwrite" in (
        capsys.readouterr().err
    )
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_predict_on_a_folder_without_a_checkpoint_exits_2(data, tested, capsys):
    folder, _ = data
    assert main(["forecast", "predict", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "expected a checkpoint or a run folder" in err
    assert "Traceback" not in err
    assert main(["forecast", "predict", str(tested[0]), "--horizon", "7"]) == 2
    assert "--horizon: expected at most the trained horizon 6, got 7" in capsys.readouterr().err


def test_train_reports_the_adjustment_and_predict_reproduces_it(data, tested):
    run, result = tested
    metrics = result["metrics"]
    adjustments = metrics["adjustment"]  # one per view (network) of the default two
    assert len(adjustments) == 2
    for adjustment in adjustments:
        assert len(adjustment["shrink"]) == H
        assert adjustment["calibration"][0]["levels"] == [0.1, 0.9]
    assert set(metrics["lstm_unadjusted"]) == set(metrics["overall"]["lstm"])
    stored = json.loads((run / "best" / "config.json").read_text())
    assert [view["adjustment"] for view in stored["data"]["views"]] == adjustments
    # The model in best/ forecasts the test window as the run scored it, adjusted.
    found = run_json(["forecast", "predict", str(run)])["forecast"]
    lstm = [r for r in read_csv(run / "forecast.csv") if r["model"] == "lstm"]
    for key in ("forecast", "q0.1", "q0.9"):
        assert [r[key] for r in found] == pytest.approx([float(r[key]) for r in lstm], rel=1e-6)


def test_no_shrink_and_no_calibrate_from_flags_or_a_config_file(data, tmp_path, capsys):
    folder, _ = data
    config = tmp_path / "run.toml"
    config.write_text("calibrate = false\n")
    argv = [
        "forecast",
        "train",
        "--csv",
        str(folder / "sales.csv"),
        *HORIZON,
        "--no-shrink",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "r"),
        "--patience",
        "0",
        *TINY,
    ]
    metrics = run_json(argv)["metrics"]
    assert metrics["adjustment"] is None
    assert metrics["lstm_unadjusted"] == metrics["overall"]["lstm"]
    stored = json.loads((tmp_path / "r" / "best" / "config.json").read_text())
    assert (stored["estimator"]["shrink"], stored["estimator"]["calibrate"]) == (False, False)
    assert stored["training"]["patience"] is None  # --patience 0: no early stopping
    config.write_text("calibrate = 'no'\n")
    assert main(["forecast", "train", "--config", str(config), "--out", str(tmp_path / "s")]) == 2
    assert "run.toml: calibrate: expected true or false, got 'no'" in capsys.readouterr().err


def test_season_adjust_from_the_command_line(data):
    folder, _ = data
    argv = ["forecast", "train", "--csv", str(folder / "sales.csv"), "--horizon", str(H)]
    argv += ["--out", str(folder / "adjusted"), "--season-adjust", "yes", *TINY]
    result = run_json(argv)
    (view,) = result["model"]["views"]  # one network
    assert view["residual"]["lag"] == 1  # to Naive2: naive on the adjusted series
    assert view["season_adjusted"] == {"series": 1, "adjusted": 1}
    config = json.loads((folder / "adjusted" / "best" / "config.json").read_text())
    assert config["estimator"]["season_adjust"] is True
    assert config["data"]["views"][0]["seasonal"]["sales"]["kind"] == "multiplicative"


@pytest.mark.parametrize(("given", "expected"), [("no", False), ("both", "both"), ("YES", True)])
def test_season_adjust_words(given, expected):
    from lstmkit.cli.forecast_options import season_adjust_choice

    assert season_adjust_choice(given) == expected


def test_season_adjust_from_a_config_file_takes_true_false_and_both(data, tmp_path):
    folder, _ = data
    config = tmp_path / "run.yaml"
    config.write_text("season_adjust: false\n")
    argv = ["forecast", "train", "--csv", str(folder / "sales.csv"), "--horizon", str(H)]
    argv += ["--out", str(tmp_path / "run"), "--config", str(config), *TINY]
    (view,) = run_json(argv)["model"]["views"]
    assert view["residual"]["lag"] == 12
    config.write_text("season_adjust: sometimes\n")
    argv[argv.index("--out") + 1] = str(tmp_path / "other")
    assert main(argv) == 2
