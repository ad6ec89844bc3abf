"""`lstmkit speech train|transcribe|eval|lm|stream`: speech recognition from the command line."""

from __future__ import annotations

import argparse
import json

from lstmkit.cli import output
from lstmkit.cli.options import (
    command_parser,
    option,
    positive_float,
    positive_int,
    settings,
)
from lstmkit.cli.speech_options import (
    DATA_OPTIONS,
    ESTIMATOR_KEYS,
    FEATURE_HELP,
    LAS_HELP,
    MODEL_HELP,
    decode_options,
    decoding_settings,
    speech_settings,
    train_options,
)
from lstmkit.cli.training import (
    check_new_run,
    optim_settings,
    resume_target,
    train_result,
    train_settings,
)
from lstmkit.data.speech_builtin import SPEECH_BUILTIN
from lstmkit.errors import UserError
from lstmkit.speech.task import METRICS


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


def _register_train(verbs) -> None:
    p = command_parser(
        verbs, "train", run_train, help="train a speech recogniser", description=TRAIN_DOC
    )
    train_options(p)


def run_train(args: argparse.Namespace) -> int:
    from lstmkit.speech import SpeechRecognizer
    from lstmkit.speech.data import load_speech

    s = speech_settings(args)
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
    decode_options(p)


def run_transcribe(args: argparse.Namespace) -> int:
    from lstmkit.data.audio import check_duration
    from lstmkit.speech import SpeechRecognizer

    s = settings(args)
    decoding = decoding_settings(s)
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
    decode_options(p)


def run_eval(args: argparse.Namespace) -> int:
    from lstmkit.speech import SpeechRecognizer
    from lstmkit.speech.data import is_builtin, load_speech

    s = settings(args)
    if s["data"] is None:
        raise UserError("--data: expected the utterances to score, got none")
    decoding = decoding_settings(s)
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
