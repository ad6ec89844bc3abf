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
    warp_spread,
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


def register(commands) -> None:
    parser = commands.add_parser("speech", help="speech recognition: train, transcribe, eval")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    _register_train(verbs)
    _register_transcribe(verbs)
    _register_eval(verbs)
    _register_lm(verbs)
    _register_stream(verbs)


# ---------------------------------------------------------------------- train
TRAIN_DOC = """Train a speech recogniser: log-mel features, frame stacking, a stacked
bidirectional LSTM and CTC, or with --architecture las Listen, Attend and Spell (a pyramidal
LSTM listener and an attention speller, optionally with --ctc-weight's joint CTC-attention
loss). --data is a manifest (TSV or CSV: path and transcript, Common
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
    model = group(p, "model")
    option(
        model,
        "--architecture",
        choices=tuple(ARCHITECTURES),
        default=own["architecture"],
        help="ctc: CTC over a stacked LSTM; las: Listen, Attend and Spell",
    )
    _model_options(model)
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
    preset(p, {k: own[k] for k in ("lr", "warmup_steps", "monitor", "clip", "ema")})
    restrict(p, "monitor", METRICS)
    printable(p, _settings)


def _model_options(g) -> None:
    """The network's options, defaults None: :func:`_settings` fills in the --architecture's
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


def _settings(args: argparse.Namespace) -> dict:
    """:func:`settings`, with the model options not set filled in with the --architecture's
    defaults (what --print-config shows and a new run trains with).

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
    return s


def _fields(cls) -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(cls)]


def run_train(args: argparse.Namespace) -> int:
    from lstmkit.speech import SpeechRecognizer
    from lstmkit.speech.data import load_speech

    s = _settings(args)
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

    features = {**{k: s[k] for k in FEATURE_HELP}, "normalize": s["feature_normalize"]}
    defaults = {f: getattr(FeatureConfig(), f) for f in features}
    model = {**{k: s[k] for k in MODEL_HELP}, "bidirectional": s["bidirectional"]}
    if s["architecture"] == "las":
        model.update({k: s[k] for k in LAS_HELP})
    return SpeechRecognizer(
        **{k: s[k] for k in ESTIMATOR_KEYS},
        features={k: v for k, v in features.items() if v != defaults[k]} or None,
        spec_augment=s["spec_augment"],
        vtlp=s["vtlp"],
        architecture=s["architecture"],
        model=model,
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
    option(
        d,
        "--max-seconds",
        type=positive_float,
        help="refuse audio longer than this (default: the model's training limit)",
    )


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
    from lstmkit.data.audio import check_duration
    from lstmkit.speech import SpeechRecognizer

    s = settings(args)
    decoding = _decoding(s)
    for path in args.audio:  # missing, unreadable or empty files: before loading the model
        check_duration(path)
    recognizer = SpeechRecognizer.load(args.model)
    limit = decoding["max_seconds"] or recognizer.max_seconds
    for path in args.audio:  # then the model's limit (`max_seconds` is named as the flag)
        check_duration(path, limit)
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


# ---------------------------------------------------------------------- lm
LM_DOC = """Train a word n-gram language model (interpolated modified Kneser-Ney) for the beam
search's --lm, from text (one sentence a line) and/or the transcripts of a manifest, folder or
built-in corpus (its training split). The text is normalised as transcripts are (lowercase,
letters, digits and in-word apostrophes) unless --no-normalize. Writes an ARPA file."""


def _register_lm(verbs) -> None:
    p = command_parser(
        verbs, "lm", run_lm, help="train a word n-gram LM (ARPA) for --lm", description=LM_DOC
    )
    option(p, "--text", nargs="+", metavar="FILE", help="text files or folders, a sentence a line")
    option(p, "--data", help="use the transcripts of this manifest, folder or built-in corpus")
    option(p, "--order", type=positive_int, default=3, help="longest n-gram, 1 to 5")
    option(p, "--out", required=True, metavar="ARPA", help="the ARPA file to write")
    option(p, "--overwrite", action="store_true", default=False, help="replace an existing --out")
    option(
        p,
        "--no-normalize",
        dest="normalize",
        action="store_false",
        default=True,
        help="take the words as written",
    )
    option(
        p,
        "--no-progress",
        dest="progress",
        action="store_false",
        default=True,
        help="no progress bar while a built-in corpus is synthesised",
    )
    option(p, "--json", action="store_true", default=False, help="print JSON")


def run_lm(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lstmkit.data.text_files import read_text
    from lstmkit.decode.ngram import NGramLM
    from lstmkit.speech.data import is_builtin, load_speech
    from lstmkit.speech.text import TranscriptNormalizer

    s = settings(args)
    if not s["text"] and s["data"] is None:
        raise UserError("--text, --data: expected text or transcripts to learn from, got none")
    if not 1 <= s["order"] <= 5:
        raise UserError(f"--order: expected an integer from 1 to 5, got {s['order']}")
    out = Path(s["out"])
    if out.is_dir():
        raise UserError(f"--out {out}: expected a file, got a folder")
    if out.exists() and not s["overwrite"]:
        raise UserError(f"--out {out}: already exists; choose a new file or pass --overwrite")
    sentences: list[str] = []
    for path in s["text"] or []:
        sentences += read_text(path, option="--text").splitlines()
    if s["data"] is not None:
        if is_builtin(s["data"]):
            sentences += list(load_speech(s["data"], progress=s["progress"]).train.texts)
        else:
            from lstmkit.data.utterances import load_utterances

            sentences += list(load_utterances(s["data"]).texts)
    if s["normalize"]:
        sentences, _ = TranscriptNormalizer().normalize_all(sentences)
    sentences = [line for line in sentences if line.strip()]
    if not sentences:
        raise UserError("--text, --data: expected some words, got only blank lines")
    lm = NGramLM.train(sentences, order=s["order"])
    tmp = out.with_name(f".{out.name}.tmp")
    lm.write_arpa(tmp)
    tmp.replace(out)  # a failed write leaves an earlier --out as it was
    counts = dict(zip((f"{n}-grams" for n in range(1, lm.order + 1)), lm.counts, strict=True))
    result = {"out": str(out), "order": lm.order, "sentences": len(sentences), **counts}
    output.emit(result, s["json"], _lm_table)
    return 0


def _lm_table(r: dict) -> str:
    grams = ", ".join(f"{r[k]} {k}" for k in r if k.endswith("-grams"))
    return f"wrote {r['out']}: order {r['order']} from {r['sentences']} sentences ({grams})"


# ---------------------------------------------------------------------- stream
STREAM_DOC = """Transcribe an audio file as a live stream would arrive: the file is read in chunks
of --chunk-ms and each chunk's new text is printed as soon as the model emits it (the same
text as greedy transcribe, whatever the chunk size). Needs a model trained to stream:
lstmkit speech train --unidirectional --feature-normalize causal."""


def _register_stream(verbs) -> None:
    p = command_parser(
        verbs, "stream", run_stream, help="transcribe audio chunk by chunk", description=STREAM_DOC
    )
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint (a streaming model)")
    p.add_argument("audio", metavar="AUDIO", help="an audio file (WAV, FLAC, OGG, MP3)")
    option(p, "--chunk-ms", type=positive_float, default=100.0, help="milliseconds a chunk")
    option(
        p,
        "--max-seconds",
        type=positive_float,
        help="refuse audio longer than this (default: the model's training limit)",
    )
    option(
        p,
        "--json",
        action="store_true",
        default=False,
        help="one JSON object per chunk that adds text: the audio's time (s) and the text",
    )


def run_stream(args: argparse.Namespace) -> int:
    import sys

    from lstmkit.data.audio import check_duration, read_audio
    from lstmkit.speech import SpeechRecognizer

    s = settings(args)
    check_duration(args.audio)  # a missing, unreadable or empty file: before loading
    recognizer = SpeechRecognizer.load(args.model)
    _check_streaming(recognizer, args.model)
    stream = recognizer.stream()
    limit = s["max_seconds"] or recognizer.max_seconds
    check_duration(args.audio, limit)
    rate = recognizer.feature_config_.sample_rate
    samples = read_audio(args.audio, rate, max_seconds=limit)
    step = max(1, round(s["chunk_ms"] / 1000 * rate))
    for start in range(0, len(samples) + 1, step):
        last = start + step >= len(samples)
        piece = stream.accept(samples[start : start + step])
        if last:
            piece += stream.finish()
        if s["json"] and piece:
            end = min(start + step, len(samples)) / rate
            print(json.dumps({"time": round(end, 3), "text": piece}, ensure_ascii=False))
        elif piece:
            print(piece, end="", flush=True)
        if last:
            break
    if not s["json"]:
        print()
    sys.stdout.flush()
    return 0


def _check_streaming(recognizer, model: str) -> None:
    """Names what keeps a model from streaming, with the training flags that make one that can."""
    problems = []
    if recognizer.architecture != "ctc":
        problems.append(f"architecture {recognizer.architecture}")
    elif recognizer.model_.config.bidirectional:
        problems.append("a bidirectional encoder")
    if recognizer.feature_config_.normalize != "causal":
        problems.append("features normalised per utterance")
    if problems:
        raise UserError(
            f"{model}: expected a model that can stream, got {' and '.join(problems)}; train one "
            "with lstmkit speech train --unidirectional --feature-normalize causal"
        )
