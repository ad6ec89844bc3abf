"""`lstmkit forecast train|predict|backtest`: an LSTM forecaster scored beside the baselines."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd

from lstmkit.cli import output
from lstmkit.cli.forecast_options import (
    DATA_OPTIONS,
    ESTIMATOR_KEYS,
    NETWORK_FIELDS,
    READ_OPTIONS,
    SOURCES,
    baselines_option,
    data_options,
    forecast_settings,
    model_options,
    training_options,
)
from lstmkit.cli.options import command_parser, group, nonnegative_int, option, positive_int
from lstmkit.cli.training import (
    check_new_run,
    optim_settings,
    resume_target,
    train_result,
    train_settings,
)
from lstmkit.data.calendar import stamp_text
from lstmkit.data.series import read_series
from lstmkit.data.series_builtin import BUILTIN_SERIES, builtin_series, load_series
from lstmkit.errors import Notice, UserError
from lstmkit.forecast import Forecaster
from lstmkit.forecast.backtest import backtest
from lstmkit.forecast.plot import plot_forecast
from lstmkit.models.quantiles import check_quantiles

VALID_METRICS = ("loss", "mase", "mae")  # what ForecastTask.evaluate reports


def register(commands) -> None:
    parser = commands.add_parser("forecast", help="time-series forecasts: train, predict, backtest")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    _register_train(verbs)
    _register_predict(verbs)
    _register_backtest(verbs)


# ---------------------------------------------------------------------- train
def _register_train(verbs) -> None:
    p = command_parser(
        verbs, "train", run_train, help="train and test a forecaster", description=TRAIN_DOC
    )
    data_options(p, "exactly one of --data, --csv, --dataset")
    model_options(p)
    t = group(p, "test")
    option(
        t,
        "--test-windows",
        type=nonnegative_int,
        default=1,
        help="horizons at each series' end held out and scored (0: train on all)",
    )
    baselines_option(t)
    training_options(p)


TRAIN_DOC = """Train one global LSTM encoder-decoder over every series of a CSV file (wide, or long
with --id) or a built-in series, forecasting --horizon steps as quantiles. The last --test-windows
horizons of each series are held out: the model trains on the rest and is scored on them beside
the baselines, and --out gets metrics.json, forecast.csv and forecast.png (the last window) with
the run's checkpoints. With --test-windows 0 it trains on everything and forecasts the horizon
after the data's end. Every option can also come from --config FILE (YAML or TOML); flags override
the file. --resume RUN continues a run with its data and settings (budgets may change)."""


def run_train(args: argparse.Namespace) -> int:
    s = forecast_settings(args)
    resume = None
    if s["resume"] is not None:
        fc, frame, resume = _resumed(s)
    else:
        fc, frame = _new_run(s, s["test_windows"], s["horizon"], out_required=True)
    out, folds = Path(s["out"]), s["test_windows"]
    if folds:
        bt = backtest(
            fc,
            frame,
            folds=folds,
            step=fc.horizon,
            baselines=s["baselines"],
            out=out,
            progress=s["progress"],
            resume=resume,
        )
        extra = {"metrics": bt.scores}
        files = _write_backtest(out, bt, frame, ("metrics.json", "forecast.csv", "forecast.png"))
    else:
        fc.fit(frame, out=out, progress=s["progress"], resume=resume)
        extra, files = {}, _write_forecast(out, fc, frame)
    result = {
        **train_result(fc, out),
        "model": model_facts(fc),
        "test_windows": folds,
        **extra,
        "files": files,
    }
    output.emit(result, s["json"], output.forecast_train_table)
    return 0


def model_facts(fc: Forecaster) -> dict:
    """What fit chose from the data: look-back, season, and per view (ensemble member) the
    residual's lag and its test, and how many series had their season taken out."""
    views = []
    for view in fc.views_:
        adjusted = sum(found is not None for found in view.seasonal.values())
        seasonal = {"series": len(view.seasonal), "adjusted": adjusted} if view.adjust else None
        views.append({"residual": view.residual, "season_adjusted": seasonal})
    return {"lookback": fc.lookback_, "season": fc.season_, "views": views}


def _new_run(s: dict, folds: int, step: int | None, out_required: bool):
    """Every check that needs no training, in an order that writes nothing before the last."""
    if s["horizon"] is None:
        raise UserError("--horizon: expected the steps to forecast, a positive integer, got none")
    try:
        check_quantiles(s["quantiles"])
    except UserError as error:
        raise UserError(f"--{error}") from None
    if s["teacher_forcing"] > 1:
        raise UserError(
            f"--teacher-forcing: expected a probability in [0, 1], got {s['teacher_forcing']}"
        )
    if s["monitor"] not in VALID_METRICS:
        raise UserError(
            f"--monitor: expected one of {', '.join(VALID_METRICS)}, got {s['monitor']!r}"
        )
    frame = _read(s)
    fc = Forecaster(
        **{k: s[k] for k in ESTIMATOR_KEYS},
        model={k: s[k] for k in NETWORK_FIELDS},
        optim=optim_settings(s),
        train=train_settings(s),
    )
    _check_lengths(fc, frame, folds, step or s["horizon"])
    if out_required or s["out"] is not None:
        check_new_run(s)
    return fc, frame


def _check_lengths(fc: Forecaster, frame, folds: int, step: int) -> None:
    """Each series holds what fit() will ask (:meth:`Forecaster.min_length`) and the folds."""
    tested = fc.horizon + (folds - 1) * step if folds else 0
    needed = fc.min_length(frame.freq, tested)
    for series in frame:
        if len(series) < needed:
            raise UserError(
                f"series {series.name!r}: expected at least {needed} steps ({tested} to test, "
                f"the rest to train and validate), got {len(series)}; lower --horizon, "
                "--valid-windows, --lookback or the test windows/folds, or pass --no-residual"
            )


def _read(s: dict, required: bool = True, base: dict | None = None):
    """The series the data options name; ``base``: read options a file starts from (predict:
    the training's). None when no source is given and none is required."""
    given = [k for k in SOURCES if s[k] is not None]
    options = {k: s[k] for k in READ_OPTIONS if s[k] is not None}
    flags = [("--id" if k == "id_col" else "--" + k.replace("_", "-")) for k in options]
    if len(given) > 1:
        raise UserError(
            f"{' and '.join(SOURCES[k] for k in given)}: expected one of --data, "
            "--csv, --dataset, got several"
        )
    if not given:
        if required:
            raise UserError("--data, --csv or --dataset: expected the series to read, got none")
        if options:
            raise UserError(f"{flags[0]}: expected --data, --csv or --dataset with it")
        return None
    key = given[0]
    name = str(s[key])
    if key == "dataset" or (key == "data" and name in BUILTIN_SERIES and not Path(name).exists()):
        if options:
            raise UserError(
                f"{SOURCES[key]} {name}: a built-in series takes no read options, "
                f"got {', '.join(flags)}"
            )
        return builtin_series(name)
    options = {k: v for k, v in {**(base or {}), **options}.items() if v is not None}
    return read_series(name, **options) if key == "csv" else load_series(name, **options)


# ---------------------------------------------------------------------- resume
def _resumed(s: dict):
    """--resume RUN: the run's settings, its data (or the data options') and its test windows,
    which follow from where its training data ended."""
    from lstmkit.checkpoint import load_checkpoint

    path, _ = resume_target(s, "forecast", (*DATA_OPTIONS, "baselines"))
    config = load_checkpoint(path, task="forecast").config
    sources = config["data"].get("sources", {})
    if s["given_"] & set(DATA_OPTIONS):
        frame = _read(s)
    elif sources.get("dataframe"):
        raise UserError(f"--resume {path}: the run was trained on a DataFrame; give --data")
    else:
        frame = load_series(**sources)
    H, ends = config["estimator"]["horizon"], config["data"]["history"]
    names = {x.name for x in frame}
    held = {
        int((x.index > pd.Timestamp(ends[x.name]["end"])).sum()) for x in frame if x.name in ends
    }
    if set(ends) != names or len(held) != 1 or next(iter(held)) % H:
        raise UserError(
            f"--resume {path}: the series differ from those the run started with; "
            "resume with the same data, or start a new run"
        )
    s["test_windows"] = next(iter(held)) // H
    params = {**Forecaster.params_from_config(config), "train": train_settings(s, s["given_"])}
    return Forecaster(**params), frame, path


# ---------------------------------------------------------------------- files
# What the commands write beside the training run; a new run replaces every one of them, as the
# trainer replaces the old run's checkpoints and logs, so that none of an old run is left over.
OUTPUTS = (
    "metrics.json",
    "forecast.csv",
    "forecast.png",
    "backtest.json",
    "forecasts.csv",
    "backtest.png",
)


def _write_backtest(out: Path, bt, frame, names: tuple[str, str, str]) -> list[str]:
    """The scores (JSON), every forecast (CSV) and a plot of the last fold."""
    _clear_outputs(out)
    scores, table, png = (out / n for n in names)
    output.write_json(bt.scores, scores)
    bt.forecasts.to_csv(table, index=False)
    rows = bt.forecasts[bt.forecasts["fold"] == bt.scores["folds"] - 1]
    starts = {name: pd.Timestamp(r["origins"][-1]) for name, r in bt.scores["series"].items()}
    history = {s.name: s.to_pandas()[s.index < starts[s.name]] for s in frame}
    baselines = {m: rows[rows["model"] == m] for m in bt.scores["overall"] if m != "lstm"}
    plot_forecast(
        png,
        history,
        rows[rows["model"] == "lstm"],
        truth={s.name: s.to_pandas() for s in frame},
        baselines={m: t for m, t in baselines.items() if len(t)},
        title=_fold_title(bt.scores["folds"]),
    )
    return [str(p) for p in (scores, table, png)]


def _fold_title(folds: int) -> str:
    return "the test window" if folds == 1 else f"the last of {folds} test windows"


def _write_forecast(out: Path, fc: Forecaster, frame) -> list[str]:
    """The forecast after the data's end (CSV) and its plot."""
    _clear_outputs(out)
    if fc.covariates_["future"]:
        warnings.warn(
            "no forecast.csv: the model reads future covariates, unknown after the "
            "data's end; use lstmkit forecast predict --future-csv",
            Notice,
            stacklevel=2,
        )
        return []
    table = fc.predict()
    table.to_csv(out / "forecast.csv", index=False)
    history = {s.name: s.to_pandas() for s in frame}
    plot_forecast(out / "forecast.png", history, table, title=f"forecast, {fc.horizon} steps")
    return [str(out / "forecast.csv"), str(out / "forecast.png")]


def _clear_outputs(out: Path) -> None:
    for name in OUTPUTS:
        (out / name).unlink(missing_ok=True)


# ---------------------------------------------------------------------- predict
def _register_predict(verbs) -> None:
    p = command_parser(
        verbs,
        "predict",
        run_predict,
        help="forecast after the series' end",
        description=PREDICT_DOC,
    )
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    data_options(p, "optional; a file is read with the training's column names")
    f = group(p, "forecast")
    option(
        f,
        "--future-csv",
        metavar="FILE",
        help="future covariates over the horizon (time, id and covariate columns)",
    )
    option(
        f,
        "--horizon",
        type=positive_int,
        help="steps, at most the trained horizon (default: the trained horizon)",
    )
    option(f, "--output", metavar="FILE", help="also write the forecast as CSV")
    option(f, "--plot", metavar="FILE", help="also draw it as PNG")
    option(
        f,
        "--overwrite",
        action="store_true",
        default=False,
        help="replace existing --output and --plot files",
    )
    option(f, "--json", action="store_true", default=False, help="print JSON")


PREDICT_DOC = """Forecast with a trained model. Without data options it forecasts after the
history stored with the model: the end of the data it trained on (for a run with test windows,
the start of the first one). With them it reads that data and forecasts after its end."""


def run_predict(args: argparse.Namespace) -> int:
    s = forecast_settings(args)
    for key in ("output", "plot"):
        _check_new_file(s, key)
    fc = Forecaster.load(args.model)
    if s["horizon"] is not None and s["horizon"] > fc.horizon:
        raise UserError(
            f"--horizon: expected at most the trained horizon {fc.horizon}, got {s['horizon']}"
        )
    frame = _read(s, required=False, base=fc.read_options_)
    table = fc.predict(horizon=s["horizon"], data=frame, future=_future(s, fc))
    files = []
    if s["output"] is not None:
        table.to_csv(s["output"], index=False)
        files.append(s["output"])
    if s["plot"] is not None:
        plot_forecast(s["plot"], _history(fc, frame), table, title=f"forecast from {args.model}")
        files.append(s["plot"])
    records = table.assign(time=[stamp_text(t) for t in table["time"]]).to_dict("records")
    result = {"model": str(fc.checkpoint_), "forecast": records, "files": files}
    output.emit(result, s["json"], output.forecast_table)
    return 0


def _check_new_file(s: dict, key: str) -> None:
    if s[key] is None:
        return
    path = Path(s[key])
    if path.is_dir():
        raise UserError(f"--{key} {path}: expected a file, got a folder")
    if path.exists() and not s["overwrite"]:
        raise UserError(f"--{key} {path}: exists; choose another file or pass --overwrite")
    if not path.parent.is_dir():
        raise UserError(f"--{key} {path}: no folder {path.parent}")


def _future(s: dict, fc: Forecaster) -> pd.DataFrame | None:
    names, file = fc.covariates_["future"], s["future_csv"]
    if file is None and names:
        raise UserError(
            f"--future-csv: the model reads future covariates {names}; expected a "
            "CSV of them over the horizon"
        )
    if file is None:
        return None
    if not names:
        raise UserError(f"--future-csv {file}: the model reads no future covariates")
    if not Path(file).is_file():
        raise UserError(f"--future-csv {file}: no such file; expected a CSV file")
    try:
        return pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[-1]
        raise UserError(f"--future-csv {file}: not a CSV file ({reason})") from None


def _history(fc: Forecaster, frame) -> dict[str, pd.Series]:
    return {s.name: s.to_pandas() for s in fc.history(frame)}


# ---------------------------------------------------------------------- backtest
def _register_backtest(verbs) -> None:
    p = command_parser(
        verbs, "backtest", run_backtest, help="rolling-origin backtest", description=BACKTEST_DOC
    )
    data_options(p, "exactly one of --data, --csv, --dataset")
    model_options(p)
    b = group(p, "backtest")
    option(b, "--folds", type=positive_int, default=3, help="forecast origins per series")
    option(b, "--step", type=positive_int, help="steps between origins (default: the horizon)")
    baselines_option(b)
    training_options(p)


BACKTEST_DOC = """A rolling-origin backtest: --folds forecast origins per series, --step apart, the
last window ending at the series' end. The LSTM trains once on each series up to its first origin
and forecasts every fold from the history before it; the baselines refit at every origin. --out
(default: a temporary folder) gets backtest.json, forecasts.csv and backtest.png (the last fold)
with the training run. --resume is not supported: a backtest trains anew."""


def run_backtest(args: argparse.Namespace) -> int:
    s = forecast_settings(args)
    if s["resume"] is not None:
        raise UserError(
            "--resume: expected none, a backtest trains anew; continue a training "
            "run with lstmkit forecast train --resume"
        )
    step = s["step"] or s["horizon"]
    fc, frame = _new_run(s, s["folds"], step, out_required=False)
    bt = backtest(
        fc,
        frame,
        folds=s["folds"],
        step=step,
        baselines=s["baselines"],
        out=s["out"],
        progress=s["progress"],
    )
    training = {k: v for k, v in train_result(fc, s["out"]).items() if k != "out"}
    training["model"] = model_facts(fc)
    result = {**bt.scores, "step": step, "training": training, "files": []}
    if s["out"] is not None:
        names = ("backtest.json", "forecasts.csv", "backtest.png")
        result["files"] = _write_backtest(Path(s["out"]), bt, frame, names)
    output.emit(result, s["json"], output.forecast_backtest_table)
    return 0
