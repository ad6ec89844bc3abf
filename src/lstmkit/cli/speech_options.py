"""The options of `lstmkit speech train`, `transcribe` and `eval`: data, output units, features,
model, batching and decoding, and reading them."""

from __future__ import annotations

import argparse
import inspect

from lstmkit.cli.options import (
    group,
    nonnegative_float,
    option,
    positive_float,
    positive_int,
    preset,
    printable,
    probability,
    restrict,
    settings,
    warp_spread,
)
from lstmkit.cli.training import add_training_options, dataclass_options
from lstmkit.data.speech_builtin import SPEECH_BUILTIN
from lstmkit.errors import UserError
from lstmkit.models.speech import SpeechConfig
from lstmkit.models.speech_las import LAS_ATTENTIONS, LASConfig
from lstmkit.speech.task import METRICS

ARCHITECTURES = {"ctc": SpeechConfig, "las": LASConfig}
# Both networks' settings; their defaults are the --architecture's config's.
MODEL_HELP = {
    "stack": (positive_int, "feature frames stacked into one LSTM step (time subsampling)"),
    "hidden_size": (positive_int, "width of each LSTM layer (per direction)"),
    "num_layers": (positive_int, "stacked LSTM layers (las: each after the first halves time)"),
    "dropout": (probability, "dropout between LSTM layers and before the output layer"),
}
# Listen, Attend and Spell's own settings, refused with --architecture ctc.
LAS_HELP = {
    "ctc_weight": (
        probability,
        "las: weight of the CTC loss in the joint CTC-attention loss (0: attention alone)",
    ),
    "speller_hidden_size": (positive_int, "las: width of the speller's LSTM"),
    "embedding_size": (positive_int, "las: width of the speller's token embeddings"),
    "attention": (str, "las: the speller's attention over the listener's frames"),
    "input_feeding": (
        bool,
        "las: the speller reads its last attentional state (Luong only: off with bahdanau)",
    ),
}
FEATURE_HELP = {
    "sample_rate": (positive_int, "audio is resampled to this rate (Hz)"),
    "n_mels": (positive_int, "log-mel bands per frame"),
    "win_ms": (positive_float, "analysis window (milliseconds)"),
    "hop_ms": (positive_float, "hop between frames (milliseconds)"),
}
DATA_OPTIONS = ("data", "valid", "test", "valid_fraction", "test_fraction")
ESTIMATOR_KEYS = ("tokenizer", "vocab_size", "batch_size", "max_seconds", "normalize")
DECODE_KEYS = ("method", "beam_size", "lm", "lm_weight", "word_bonus", "max_seconds")


def estimator_defaults() -> dict:
    """The Python API's defaults, so that the command line has the same."""
    from lstmkit.speech import SpeechRecognizer

    own = {
        name: parameter.default
        for name, parameter in inspect.signature(SpeechRecognizer).parameters.items()
    }
    return {**own, **SpeechRecognizer.default_optim, **SpeechRecognizer.default_train}


def train_options(p) -> None:
    """The options of `lstmkit speech train`, in the order its --help shows them."""
    from lstmkit.speech.estimator import BY_ARCHITECTURE

    own = estimator_defaults()
    _data_options(p, own)
    _unit_options(p, own)
    _feature_options(p, own)
    _model_options(p, own)
    option(
        group(p, "batching"),
        "--batch-size",
        type=positive_int,
        default=own["batch_size"],
        help="utterances per batch",
    )
    add_training_options(p)
    preset(p, {k: own[k] for k in ("lr", "warmup_steps", "monitor", "clip")})
    preset(p, dict.fromkeys(BY_ARCHITECTURE["ctc"]))  # the --architecture's (speech_settings)
    for action in p._actions:
        if action.dest in BY_ARCHITECTURE["ctc"]:
            own_values = (f"{v[action.dest]} with {a}" for a, v in BY_ARCHITECTURE.items())
            action.help += f" (default: {', '.join(own_values)})"
    restrict(p, "monitor", METRICS)
    printable(p, speech_settings)


def _data_options(p, own: dict) -> None:
    data = group(p, "data")
    option(
        data,
        "--data",
        help=f"manifest, folder of audio + .txt, or built-in corpus ({', '.join(SPEECH_BUILTIN)};"
        " default: the first)",
    )
    option(data, "--valid", help="validation manifest or folder (default: split from --data)")
    option(data, "--test", help="test manifest or folder (default: split from --data)")
    option(data, "--valid-fraction", type=probability, default=0.05, help="share split off")
    option(data, "--test-fraction", type=probability, default=0.05, help="share split off")
    option(
        data,
        "--max-seconds",
        type=positive_float,
        default=own["max_seconds"],
        help="refuse utterances longer than this",
    )
    option(
        data,
        "--no-normalize",
        dest="normalize",
        action="store_false",
        default=True,
        help="train on the transcripts as written (default: lowercase, letters, digits and "
        "in-word apostrophes)",
    )


def _unit_options(p, own: dict) -> None:
    tok = group(p, "output units")
    option(
        tok,
        "--tokenizer",
        choices=("char", "bpe", "unigram"),
        default=own["tokenizer"],
        help="what the model spells with",
    )
    option(tok, "--vocab-size", type=positive_int, help="units (default: every character)")


def _feature_options(p, own: dict) -> None:
    from lstmkit.speech.features import FeatureConfig

    feats = group(p, "features")
    dataclass_options(
        feats,
        FeatureConfig,
        FEATURE_HELP,
        skip={f for f in _fields(FeatureConfig)} - set(FEATURE_HELP),
    )
    option(
        feats,
        "--spec-augment",
        action=argparse.BooleanOptionalAction,
        default=own["spec_augment"],
        help="SpecAugment's time and frequency masks while training (for long runs: in minutes "
        "on a CPU they slow learning)",
    )
    option(
        feats,
        "--vtlp",
        type=warp_spread,
        default=own["vtlp"],
        help="vocal tract length perturbation while training: frequencies scaled by a factor "
        "drawn from [1 - VTLP, 1 + VTLP] per utterance (0: off)",
    )
    option(
        feats,
        "--feature-normalize",
        choices=("utterance", "causal"),
        default="utterance",
        help="bands normalised over the whole utterance, or by the frames so far (causal: "
        "with --unidirectional, a model that can stream)",
    )


def _model_options(p, own: dict) -> None:
    model = group(p, "model")
    option(
        model,
        "--architecture",
        choices=tuple(ARCHITECTURES),
        default=own["architecture"],
        help="ctc: CTC over a stacked LSTM; las: Listen, Attend and Spell",
    )
    _network_options(model)
    option(
        model,
        "--unidirectional",
        dest="bidirectional",
        action="store_false",
        default=True,
        help="read the audio in one direction only (for streaming; bidirectional without it)",
    )


def _network_options(g) -> None:
    """The network's options, defaults None: :func:`speech_settings` fills in the --architecture's
    (both are in the help)."""
    ctc, las = (_field_defaults(config) for config in ARCHITECTURES.values())
    for name, (convert, text) in {**MODEL_HELP, **LAS_HELP}.items():
        flag = "--" + name.replace("_", "-")
        if convert is bool:  # input_feeding: on with Luong attention, which alone has it
            action = option(g, flag, action=argparse.BooleanOptionalAction, default=None)
            action.help = f"{text} (default: {flag})"
            continue
        default = las[name] if name in LAS_HELP or ctc[name] == las[name] else None
        shown = default if default is not None else f"{ctc[name]} with ctc, {las[name]} with las"
        option(
            g,
            flag,
            type=None if convert is str else convert,
            choices=LAS_ATTENTIONS if name == "attention" else None,
            default=None,
            help=f"{text} (default: {shown})",
        )


def _field_defaults(config) -> dict:
    from dataclasses import MISSING, fields

    return {f.name: f.default for f in fields(config) if f.default is not MISSING}


def speech_settings(args: argparse.Namespace) -> dict:
    """:func:`settings`, with the model options, the precision and the weight average not set
    filled in with the --architecture's defaults (what --print-config shows and a new run trains
    with).

    Raises:
        UserError: a Listen-Attend-Spell option given with --architecture ctc.
    """
    s = settings(args)
    if s["resume"] is not None:  # the run's own
        return s
    las = s["architecture"] == "las"
    given = [name for name in LAS_HELP if s[name] is not None]
    if given and not las:
        raise UserError(
            f"--{given[0].replace('_', '-')}: expected with --architecture las only, got "
            f"--architecture {s['architecture']}"
        )
    defaults = _field_defaults(ARCHITECTURES[s["architecture"]])
    for name in (*MODEL_HELP, *(LAS_HELP if las else ())):
        if s[name] is None and name != "input_feeding":
            s[name] = defaults[name]
    if las and s["input_feeding"] is None:
        s["input_feeding"] = s["attention"] == "luong"
    from lstmkit.speech.estimator import BY_ARCHITECTURE

    for name, value in BY_ARCHITECTURE[s["architecture"]].items():
        if s[name] is None:
            s[name] = value
    return s


def _fields(cls) -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(cls)]


def decode_options(p) -> None:
    d = group(p, "decoding")
    option(
        d,
        "--method",
        choices=("greedy", "beam"),
        default="greedy",
        help="greedy: the best path; beam: CTC prefix beam search",
    )
    option(d, "--beam-size", type=positive_int, default=8, help="beam search: prefixes kept")
    option(d, "--lm", metavar="ARPA", help="a word n-gram model fused into the beam search")
    option(d, "--lm-weight", type=nonnegative_float, default=0.5, help="weight of the LM")
    option(d, "--word-bonus", type=float, default=1.0, help="score added per word with --lm")
    option(
        d,
        "--max-seconds",
        type=positive_float,
        help="refuse audio longer than this (default: the model's training limit)",
    )


def decoding_settings(s: dict) -> dict:
    if s["lm"] is not None and s["method"] != "beam":
        raise UserError(f"--lm: needs --method beam, got --method {s['method']}")
    return {k: s[k] for k in DECODE_KEYS}
