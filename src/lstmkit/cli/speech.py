"""`lstmkit speech train|transcribe|eval`: speech recognition from the command line."""

from __future__ import annotations

import argparse
import inspect
import json

from lstmkit.cli import output
from lstmkit.cli.options import (
    command_parser,
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
)
from lstmkit.cli.training import (
    add_training_options,
    check_new_run,
    dataclass_options,
    optim_settings,
    resume_target,
    train_result,
    train_settings,
)
from lstmkit.data.speech_builtin import SPEECH_BUILTIN
from lstmkit.errors import UserError
from lstmkit.models.speech import SpeechConfig
from lstmkit.speech.task import METRICS

MODEL_HELP = {
    "stack": (positive_int, "feature frames stacked into one LSTM step (time subsampling)"),
    "hidden_size": (positive_int, "width of each LSTM layer (per direction)"),
    "num_layers": (positive_int, "stacked LSTM layers"),
    "dropout": (probability, "dropout between LSTM layers and before the output layer"),
}
SKIP = {"vocab_size", "n_mels", "blank_id", "suppress_ids", "bidirectional"}
FEATURE_HELP = {
    "sample_rate": (positive_int, "audio is resampled to this rate (Hz)"),
    "n_mels": (positive_int, "log-mel bands per frame"),
    "win_ms": (positive_float, "analysis window (milliseconds)"),
    "hop_ms": (positive_float, "hop between frames (milliseconds)"),
}
DATA_OPTIONS = ("data", "valid", "test", "valid_fraction", "test_fraction")
ESTIMATOR_KEYS = ("tokenizer", "vocab_size", "batch_size", "max_seconds", "normalize")
DECODE_KEYS = ("method", "beam_size", "lm", "lm_weight", "word_bonus")


def register(commands) -> None:
    parser = commands.add_parser("speech", help="speech recognition: train, transcribe, eval")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    _register_train(verbs)
    _register_transcribe(verbs)
    _register_eval(verbs)


# ---------------------------------------------------------------------- train
TRAIN_DOC = """Train a speech recogniser: log-mel features, frame stacking, a stacked
bidirectional LSTM and CTC. --data is a manifest (TSV or CSV: path and transcript, Common
Voice's path/sentence columns; or JSON lines), a folder of audio files each with a same-named
.txt transcript, or a built-in corpus synthesised with espeak-ng on first use. The model kept is
the one with the best validation WER (greedy). Every option can also come from --config FILE;
flags override it; --print-config shows the settings a run would use."""


def _estimator_defaults() -> dict:
    """The Python API's defaults, so that the command line has the same."""
    from lstmkit.speech import SpeechRecognizer

    own = {
        name: parameter.default
        for name, parameter in inspect.signature(SpeechRecognizer).parameters.items()
    }
    return {**own, **SpeechRecognizer.default_optim, **SpeechRecognizer.default_train}


def _register_train(verbs) -> None:
    from lstmkit.speech.features import FeatureConfig

    p = command_parser(
        verbs, "train", run_train, help="train a speech recogniser", description=TRAIN_DOC
    )
    own = _estimator_defaults()
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
    tok = group(p, "output units")
    option(
        tok,
        "--tokenizer",
        choices=("char", "bpe", "unigram"),
        default=own["tokenizer"],
        help="what the model spells with",
    )
    option(tok, "--vocab-size", type=positive_int, help="units (default: every character)")
    feats = group(p, "features")
    dataclass_options(
        feats,
        FeatureConfig,
        FEATURE_HELP,
        skip={f for f in _fields(FeatureConfig)} - set(FEATURE_HELP),
    )
    option(
        feats,
        "--no-spec-augment",
        dest="spec_augment",
        action="store_false",
        default=True,
        help="train without SpecAugment's time and frequency masks",
    )
    model = group(p, "model")
    dataclass_options(model, SpeechConfig, MODEL_HELP, skip=SKIP)
    option(
        model,
        "--unidirectional",
        dest="bidirectional",
        action="store_false",
        default=True,
        help="read the audio in one direction only (for streaming; bidirectional without it)",
    )
    option(
        group(p, "batching"),
        "--batch-size",
        type=positive_int,
        default=own["batch_size"],
        help="utterances per batch",
    )
    add_training_options(p)
    preset(p, {k: own[k] for k in ("lr", "warmup_steps", "monitor", "clip")})
    restrict(p, "monitor", METRICS)
    printable(p)


def _fields(cls) -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(cls)]


def run_train(args: argparse.Namespace) -> int:
    from lstmkit.speech import SpeechRecognizer
    from lstmkit.speech.data import load_speech

    s = settings(args)
    if s["resume"] is not None:
        resume, spec = resume_target(s, "speech", DATA_OPTIONS)
        estimator = SpeechRecognizer(train=train_settings(s, s["given_"]))
    else:
        estimator, resume, spec = _estimator(s), None, None
    data_spec = spec or {**{k: s[k] for k in DATA_OPTIONS}, "seed": s["seed"]}
    data = load_speech(**data_spec, progress=s["progress"])
    if resume is None:  # after the data is read: bad data leaves no empty --out behind
        check_new_run(s)
    recognizer = estimator.fit(data, out=s["out"], progress=s["progress"], resume=resume)
    result = train_result(recognizer, s["out"])
    if data.test is not None and len(data.test):
        scores = recognizer.evaluate(data.test)
        result["test"] = {k: v for k, v in scores.items() if k not in ("hypotheses", "references")}
    output.emit(result, s["json"], train_table)
    return 0


def _estimator(s: dict):
    from lstmkit.speech import SpeechRecognizer
    from lstmkit.speech.features import FeatureConfig

    features = {k: s[k] for k in FEATURE_HELP}
    defaults = {f: getattr(FeatureConfig(), f) for f in FEATURE_HELP}
    return SpeechRecognizer(
        **{k: s[k] for k in ESTIMATOR_KEYS},
        features={k: v for k, v in features.items() if v != defaults[k]} or None,
        spec_augment=s["spec_augment"],
        model={**{k: s[k] for k in MODEL_HELP}, "bidirectional": s["bidirectional"]},
        optim=optim_settings(s),
        train=train_settings(s),
    )


def train_table(r: dict) -> str:
    lines = [output.run_line(r)]
    metrics = [k for k in METRICS if r["history"] and k in r["history"][-1]]
    rows = [[h["epoch"], h["step"], *(f"{h[k]:.4g}" for k in metrics)] for h in r["history"]]
    if rows:
        lines += [
            "",
            output.format_table(["epoch", "step", *(f"valid {k}" for k in metrics)], rows),
        ]
    if "test" in r:
        lines += ["", "test (greedy):", scores_table(r["test"])]
    return "\n".join(lines)


def scores_table(r: dict) -> str:
    """WER, CER and the word errors, overall and by utterance length."""

    def row(label: str, s: dict) -> list:
        return [
            label,
            f"{s['wer']:.2f}",
            f"{s['cer']:.2f}",
            s["substitutions"],
            s["deletions"],
            s["insertions"],
            s["words"],
            s["utterances"],
        ]

    rows = [row("all", r)]
    rows += [row(f"{label} words", s) for label, s in r.get("by_length", {}).items()]
    header = ["utterances", "WER %", "CER %", "sub", "del", "ins", "words", "count"]
    return output.format_table(header, rows)


# ---------------------------------------------------------------------- transcribe / eval
def _decode_options(p) -> None:
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


def _decoding(s: dict) -> dict:
    if s["lm"] is not None and s["method"] != "beam":
        raise UserError(f"--lm: needs --method beam, got --method {s['method']}")
    return {k: s[k] for k in DECODE_KEYS}


def _register_transcribe(verbs) -> None:
    p = command_parser(
        verbs, "transcribe", run_transcribe, help="print one transcript per audio file"
    )
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    p.add_argument("audio", metavar="AUDIO", nargs="+", help="audio files (WAV, FLAC, OGG, MP3)")
    option(
        p,
        "--json",
        action="store_true",
        default=False,
        help="one JSON object per file, with each word's start and end in seconds",
    )
    _decode_options(p)


def run_transcribe(args: argparse.Namespace) -> int:
    from lstmkit.data.audio import audio_info
    from lstmkit.speech import SpeechRecognizer

    s = settings(args)
    decoding = _decoding(s)
    for path in args.audio:  # every file checked before any work
        audio_info(path)
    recognizer = SpeechRecognizer.load(args.model)
    found = recognizer.transcribe(list(args.audio), timestamps=True, **decoding)
    for path, result in zip(args.audio, found, strict=True):
        if s["json"]:
            line = {"audio": path, "text": result["text"], "words": result["words"]}
            print(json.dumps(line, ensure_ascii=False))
        else:
            print(result["text"])
    return 0


def _register_eval(verbs) -> None:
    p = command_parser(verbs, "eval", run_eval, help="WER and CER, by utterance length")
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    option(
        p,
        "--data",
        help="manifest or folder of audio + .txt, or a built-in corpus "
        f"({', '.join(SPEECH_BUILTIN)}; its test voices)",
    )
    option(p, "--json", action="store_true", default=False, help="print JSON")
    _decode_options(p)


def run_eval(args: argparse.Namespace) -> int:
    from lstmkit.speech import SpeechRecognizer
    from lstmkit.speech.data import is_builtin, load_speech

    s = settings(args)
    if s["data"] is None:
        raise UserError("--data: expected the utterances to score, got none")
    decoding = _decoding(s)
    data = load_speech(s["data"]).test if is_builtin(s["data"]) else s["data"]
    recognizer = SpeechRecognizer.load(args.model)
    scores = recognizer.evaluate(data, **decoding)
    del scores["hypotheses"], scores["references"]
    result = {"model": str(recognizer.checkpoint_), **decoding, **scores}
    output.emit(result, s["json"], scores_table)
    return 0
