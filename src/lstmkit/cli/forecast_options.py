"""The options of `lstmkit forecast`: data, model, test and training, and reading them."""

from __future__ import annotations

import argparse
import dataclasses
import inspect

from lstmkit.cli.options import (
    group,
    nonnegative_float,
    option,
    positive_int,
    preset,
    printable,
    probability,
    restrict,
    settings,
)
from lstmkit.cli.training import add_training_options
from lstmkit.data.series import FILLS
from lstmkit.data.series_builtin import BUILTIN_SERIES
from lstmkit.data.series_tools import READ_OPTIONS
from lstmkit.forecast import Forecaster
from lstmkit.forecast.baselines import BASELINES
from lstmkit.forecast.estimator import DEFAULT_OPTIM, DEFAULT_TRAIN, NETWORK_FIELDS
from lstmkit.forecast.task import METRICS
from lstmkit.models.forecaster import HEADS, ForecastConfig

SOURCES = {"data": "--data", "csv": "--csv", "dataset": "--dataset"}
DATA_OPTIONS = (*SOURCES, *READ_OPTIONS)
ESTIMATOR_KEYS = (
    "horizon",
    "lookback",
    "calendar",
    "window_norm",
    "residual",
    "season",
    "season_adjust",
    "batch_size",
    "batches_per_epoch",
    "teacher_forcing",
    "valid_windows",
    "shrink",
    "calibrate",
)
DEFAULT = {
    **{k: p.default for k, p in inspect.signature(Forecaster).parameters.items()},
    **{f.name: f.default for f in dataclasses.fields(ForecastConfig) if f.name in NETWORK_FIELDS},
}
# The forecaster's own optimiser and budget defaults replace OptimConfig's and TrainConfig's.
PRESET = {**DEFAULT_OPTIM, **DEFAULT_TRAIN}
SEVERAL = "several: COL COL, or COL,COL as in a config file"


def season_adjust_choice(text: str) -> bool | str:
    """``--season-adjust``'s words: yes (true), no (false) or both."""
    word = text.strip().lower()
    found = {"yes": True, "true": True, "no": False, "false": False, "both": "both"}
    if word not in found:
        raise argparse.ArgumentTypeError(f"expected yes, no or both, got {text!r}")
    return found[word]


season_adjust_choice.kind = "yes, no or both"
season_adjust_choice.accepts_bool = True


def _listing(item, kind: str):
    """A converter of comma-separated values; a flag's words each give a list (see _flat)."""

    def convert(text: str) -> list:
        return [item(part.strip()) for part in text.split(",") if part.strip()]

    convert.kind = convert.__name__ = kind
    return convert


def _level(text: str) -> float:
    try:
        level = float(text)
    except ValueError:
        level = float("nan")
    if not 0 < level < 1:
        raise argparse.ArgumentTypeError(f"expected levels in (0, 1), got {text!r}")
    return level


def _baselines(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return []
    if not names or any(n not in BASELINES for n in names):
        raise argparse.ArgumentTypeError(
            f"expected names from {', '.join(BASELINES)}, or none, got {text!r}"
        )
    return names


_baselines.kind = f"baseline names ({', '.join(BASELINES)}), comma-separated, or none"
COLUMNS = "column names, comma-separated"
LISTS = {
    "target": _listing(str, COLUMNS),
    "past_covariates": _listing(str, COLUMNS),
    "future_covariates": _listing(str, COLUMNS),
    "baselines": _baselines,
    "quantiles": _listing(_level, "levels in (0, 1), comma-separated"),
}


def _flat(value) -> list | None:
    """A list option's value as one list: argparse gives a list per flag word."""
    if value is None:
        return None
    return [x for part in value for x in (part if isinstance(part, list) else [part])]


def forecast_settings(args: argparse.Namespace) -> dict:
    s = settings(args)
    for key, convert in LISTS.items():
        if key in s:
            s[key] = _flat(convert(s[key]) if isinstance(s[key], str) else s[key])
    if "baselines" in s and s["baselines"] is None:
        s["baselines"] = []  # a config file's "baselines: null"
    return s


def data_options(p, what: str) -> None:
    d = group(p, f"data ({what})")
    names = ", ".join(BUILTIN_SERIES)
    option(d, "--data", metavar="FILE|NAME", help=f"a CSV file or a built-in series ({names})")
    option(d, "--csv", metavar="FILE", help="a CSV file (instead of --data)")
    option(d, "--dataset", choices=BUILTIN_SERIES, help="a built-in series (instead of --data)")
    option(d, "--time", metavar="COL", help="the timestamp column (default: guessed)")
    option(
        d,
        "--target",
        metavar="COL",
        nargs="+",
        type=LISTS["target"],
        help=f"value columns, a series each ({SEVERAL}) (default: the numeric one)",
    )
    option(d, "--id", dest="id_col", metavar="COL", help="long format: the column naming series")
    option(
        d,
        "--past-covariates",
        metavar="COL",
        nargs="+",
        type=LISTS["past_covariates"],
        help=f"columns known up to the forecast origin ({SEVERAL})",
    )
    option(
        d,
        "--future-covariates",
        metavar="COL",
        nargs="+",
        type=LISTS["future_covariates"],
        help=f"columns known ahead too ({SEVERAL})",
    )
    option(d, "--freq", help="pandas frequency, e.g. MS, W-SUN, h (default: inferred)")
    option(d, "--fill", choices=FILLS, help="fill missing values and timestamps (default: error)")


MODEL_HELP = {
    "lookback": (
        positive_int,
        "steps the encoder reads (default: twice the horizon or season, "
        "shortened to fit the shortest series)",
    ),
    "hidden_size": (positive_int, "width of each LSTM layer"),
    "num_layers": (positive_int, "LSTM layers of the encoder and of the decoder"),
    "dropout": (probability, "dropout between LSTM layers and before the output"),
    "head": (str, "autoregressive: a decoder fed its own median; direct: all steps at once"),
    "season": (
        positive_int,
        "seasonal period of MASE, the seasonal baselines and the residual, "
        "used as given (default: the frequency's, whose residual must pass a seasonality "
        "test)",
    ),
    "batch_size": (positive_int, "windows per batch"),
    "batches_per_epoch": (positive_int, "batches of random windows per epoch"),
    "teacher_forcing": (
        nonnegative_float,
        "probability in [0, 1] of feeding the decoder the truth in training",
    ),
    "one_step_loss": (
        nonnegative_float,
        "weight of the encoder's one-step-ahead loss over the "
        "look-back, added to the horizon's (0: off)",
    ),
    "valid_windows": (
        positive_int,
        "horizons at each series' end that pick the best epoch and fit --shrink and --calibrate",
    ),
}


def model_options(p) -> None:
    m = group(p, "model")
    # No default: a forecast's horizon is the user's question, not ours.
    option(m, "--horizon", type=positive_int, help="steps forecast at once (required)")
    for name, (kind, text) in MODEL_HELP.items():
        kind, choices = (None, HEADS) if kind is str else (kind, None)
        option(
            m,
            "--" + name.replace("_", "-"),
            type=kind,
            choices=choices,
            default=DEFAULT[name],
            help=text,
        )
    option(
        m,
        "--quantiles",
        metavar="Q",
        nargs="+",
        type=LISTS["quantiles"],
        default=",".join(f"{q:g}" for q in DEFAULT["quantiles"]),
        help="levels forecast, 0.5 among them (several: Q Q or Q,Q)",
    )
    option(
        m,
        "--no-calendar",
        dest="calendar",
        action="store_false",
        default=True,
        help="leave out the frequency's calendar features (future covariates)",
    )
    option(
        m,
        "--no-window-norm",
        dest="window_norm",
        action="store_false",
        default=True,
        help="do not normalise each window by its look-back's mean and spread (RevIN)",
    )
    option(
        m,
        "--no-residual",
        dest="residual",
        action="store_false",
        default=True,
        help="forecast the values, not their deviation from the seasonal naive forecast "
        "(naive where the training data fails the seasonality test)",
    )
    option(
        m,
        "--season-adjust",
        type=season_adjust_choice,
        default=DEFAULT["season_adjust"],
        metavar="{yes,no,both}",
        help="yes: take each seasonal series' season out before the network (the M4's "
        "classical decomposition of its training part) and put it back into the forecast, the "
        "residual then to the M4's Naive2; no: the values as they are; both: one network "
        "each way, their forecasts averaged",
    )
    option(
        m,
        "--shrink",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT["shrink"],
        help="shrink the forecast toward seasonal naive by per-step weights in [0, 1] fitted "
        "on the validation windows (residual models)",
    )
    option(
        m,
        "--calibrate",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT["calibrate"],
        help="widen or narrow the intervals by split-conformal calibration on the validation "
        "windows",
    )


def baselines_option(g) -> None:
    option(
        g,
        "--baselines",
        metavar="NAME",
        nargs="*",
        type=_baselines,
        default=",".join(BASELINES),
        help=f"scored beside the LSTM: {', '.join(BASELINES)} "
        "(several: NAME NAME or NAME,NAME; none: the LSTM alone)",
    )


def training_options(p) -> None:
    """add_training_options, with the forecaster's defaults (:data:`PRESET`) in the table of
    defaults and the help: an option not given then cannot override them."""
    add_training_options(p)
    restrict(p, "monitor", METRICS)
    printable(p, forecast_settings)
    preset(p, PRESET)
