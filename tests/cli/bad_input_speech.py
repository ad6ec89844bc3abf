"""The bad-input sweep's cases for `lstmkit speech`: manifests and audio files a recogniser cannot
use, and decoding and feature options out of range.

The workspace gets ``speech/``: a manifest of twelve tone-language utterances (each letter a pure
tone, ``tests/speech/conftest.py``), broken manifests and audio files, an ARPA word model, and
``asr``, a tiny recogniser trained on them.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

from bad_input_case import Case

SPEECH = "speech train --data {ws}/speech/train.tsv --out {ws}/new"
# Every utterance of the manifest trained on, in its order, features computed first to last (no
# progress bar: an error found while computing features is printed after the bar's text).
ALL_TRAINED = "--valid {ws}/speech/train.tsv --test-fraction 0 --out {ws}/new --no-progress"
PATH_COLUMNS = "path, audio, file, filename, audio_filepath, wav"
TEXT_COLUMNS = "sentence, text, transcript, transcription"

CASES: list[Case] = [
    # speech train: manifests
    Case(
        "speech-train-missing-audio",
        "a manifest row naming a missing audio file",
        "speech train --data {ws}/speech/missing-audio.tsv --out {ws}/new",
        "<tmp>/speech/missing-audio.tsv:2: audio file gone.wav not found (looked for "
        "<tmp>/speech/gone.wav or <tmp>/speech/clips/gone.wav)",
        file="speech/missing-audio.tsv",
        line=2,
    ),
    Case(
        "speech-train-columns",
        "a manifest without a path and a text column",
        "speech train --data {ws}/speech/columns.tsv --out {ws}/new",
        f"<tmp>/speech/columns.tsv:1: expected a header naming a path column ({PATH_COLUMNS}) "
        f"and a text column ({TEXT_COLUMNS}), or 2 columns (path, text); got 3 columns: "
        "client_id, file_name, words",
        file="speech/columns.tsv",
        line=1,
    ),
    Case(
        "speech-train-jsonl-keys",
        "JSON lines without a path and a text key",
        "speech train --data {ws}/speech/keys.jsonl --out {ws}/new",
        f"<tmp>/speech/keys.jsonl:1: expected a path key ({PATH_COLUMNS}) and a text key "
        f"({TEXT_COLUMNS}), got keys: audio_path, words",
        file="speech/keys.jsonl",
        line=1,
    ),
    Case(
        "speech-train-no-letters",
        "a transcript that normalises to nothing",
        f"speech train --data {{ws}}/speech/punct.tsv {ALL_TRAINED}",
        "<tmp>/speech/punct.tsv:3: expected a transcript with letters or digits, got none left "
        "after normalisation",
        file="speech/punct.tsv",
        line=3,
    ),
    Case(
        "speech-train-valid-missing",
        "a missing --valid manifest",
        "speech train --data {ws}/speech/train.tsv --valid {ws}/speech/missing.tsv --out {ws}/new",
        "<tmp>/speech/missing.tsv: no such manifest or folder",
        file="speech/missing.tsv",
    ),
    # speech train: audio
    Case(
        "speech-train-corrupt-audio",
        "an audio file libsndfile cannot read",
        f"speech train --data {{ws}}/speech/corrupt.tsv {ALL_TRAINED}",
        "<tmp>/speech/corrupt.wav: expected audio that libsndfile can read, got an error:",
        file="speech/corrupt.wav",
    ),
    Case(
        "speech-train-empty-audio",
        "an audio file of 0 samples",
        f"speech train --data {{ws}}/speech/empty.tsv {ALL_TRAINED}",
        "<tmp>/speech/empty.wav: expected audio samples, got none (an empty file)",
        file="speech/empty.wav",
    ),
    Case(
        "speech-train-max-seconds",
        "audio longer than --max-seconds",
        f"speech train --data {{ws}}/speech/train.tsv {ALL_TRAINED} --max-seconds 0.1",
        "<tmp>/speech/train-000.wav: expected at most 0.1 s of audio",
        file="speech/train-000.wav",
    ),
    # speech train: options
    Case(
        "speech-train-n-mels-flag",
        "--n-mels 0",
        f"{SPEECH} --n-mels 0",
        "argument --n-mels: expected a positive integer, got '0'",
        usage=True,
        option="--n-mels",
    ),
    Case(
        "speech-train-n-mels-fft",
        "--n-mels more than the FFT's bins can fill",
        f"{SPEECH} --n-mels 300",
        "--n-mels: expected mel bands that each hold an FFT bin, got 300",
        option="--n-mels",
    ),
    Case(
        "speech-train-n-mels-config",
        "n_mels 0 (config)",
        f"{SPEECH} --config {{ws}}/speech/n-mels.yaml",
        "n_mels: expected a positive integer, got 0",
        file="speech/n-mels.yaml",
    ),
    Case(
        "speech-train-vtlp-flag",
        "--vtlp 0.5 (a factor of 0.5 would halve every frequency)",
        f"{SPEECH} --vtlp 0.5",
        "argument --vtlp: expected a number in [0, 0.5), got '0.5'",
        usage=True,
        option="--vtlp",
    ),
    Case(
        "speech-train-tokenizer-flag",
        "--tokenizer word",
        f"{SPEECH} --tokenizer word",
        "argument --tokenizer: invalid choice: 'word' (choose from 'char', 'bpe', 'unigram')",
        usage=True,
        option="--tokenizer",
    ),
    Case(
        "speech-train-tokenizer-config",
        "tokenizer word (config)",
        f"{SPEECH} --config {{ws}}/speech/tokenizer.yaml",
        "tokenizer: expected one of char, bpe, unigram, got 'word'",
        file="speech/tokenizer.yaml",
    ),
    Case(
        "speech-train-hop-ms",
        "--hop-ms longer than --win-ms",
        f"{SPEECH} --hop-ms 30",
        "--hop-ms: expected a step of at least 1 sample and at most win_ms",
        option="--hop-ms",
    ),
    Case(
        "speech-train-builtin-valid",
        "--valid with a built-in corpus",
        "speech train --data digits --valid {ws}/speech/train.tsv --out {ws}/new",
        "a built-in corpus brings its own splits; give --data a manifest to use your own",
        option="--valid",
    ),
    Case(
        "speech-train-out-run",
        "--out holds another run",
        "speech train --data {ws}/speech/train.tsv --out {ws}/asr",
        "--out <tmp>/asr: is not empty",
        option="--out",
        file="asr",
    ),
    # speech transcribe
    Case(
        "speech-transcribe-missing",
        "a missing audio file",
        "speech transcribe {ws}/asr {ws}/speech/train-000.wav {ws}/speech/missing.wav",
        "<tmp>/speech/missing.wav: no such audio file",
        file="speech/missing.wav",
    ),
    Case(
        "speech-transcribe-corrupt",
        "an audio file libsndfile cannot read",
        "speech transcribe {ws}/asr {ws}/speech/corrupt.wav",
        "<tmp>/speech/corrupt.wav: expected audio that libsndfile can read, got an error:",
        file="speech/corrupt.wav",
    ),
    Case(
        "speech-transcribe-empty",
        "an audio file of 0 samples",
        "speech transcribe {ws}/asr {ws}/speech/empty.wav",
        "<tmp>/speech/empty.wav: expected audio samples, got none (an empty file)",
        file="speech/empty.wav",
    ),
    Case(
        "speech-transcribe-lm-greedy",
        "--lm without --method beam",
        "speech transcribe {ws}/asr {ws}/speech/train-000.wav --lm {ws}/speech/lm.arpa",
        "--lm: needs --method beam, got --method greedy",
        option="--lm",
    ),
    Case(
        "speech-transcribe-beam-size",
        "--beam-size 0",
        "speech transcribe {ws}/asr {ws}/speech/train-000.wav --method beam --beam-size 0",
        "argument --beam-size: expected a positive integer, got '0'",
        usage=True,
        option="--beam-size",
    ),
    Case(
        "speech-transcribe-task",
        "checkpoint of the wrong task",
        "speech transcribe {ws}/lm {ws}/speech/train-000.wav",
        "checkpoint of task 'lm', expected 'speech'",
        file="lm/best/config.json",
    ),
    Case(
        "speech-transcribe-max-seconds",
        "a file longer than --max-seconds",
        "speech transcribe {ws}/asr {ws}/speech/train-000.wav --max-seconds 0.1",
        "<tmp>/speech/train-000.wav: expected at most 0.1 s of audio (--max-seconds), got ",
        file="speech/train-000.wav",
    ),
    Case(
        "speech-stream-bidirectional",
        "streaming a bidirectional model",
        "speech stream {ws}/asr {ws}/speech/train-000.wav",
        "<tmp>/asr: expected a model that can stream, got a bidirectional encoder and features "
        "normalised per utterance; train one with lstmkit speech train --unidirectional "
        "--feature-normalize causal",
        file="asr",
    ),
    Case(
        "speech-stream-missing",
        "streaming a missing audio file",
        "speech stream {ws}/asr {ws}/speech/missing.wav",
        "<tmp>/speech/missing.wav: no such audio file",
        file="speech/missing.wav",
    ),
    Case(
        "speech-train-las-flag",
        "a LAS option with the CTC architecture",
        "speech train --data {ws}/speech/train.tsv --out {ws}/new --ctc-weight 0.3",
        "--ctc-weight: expected with --architecture las only, got --architecture ctc",
        option="--ctc-weight",
    ),
    # speech lm
    Case(
        "speech-lm-nothing",
        "neither --text nor --data",
        "speech lm --out {ws}/new.arpa",
        "--text, --data: expected text or transcripts to learn from, got none",
        option="--text",
    ),
    Case(
        "speech-lm-order",
        "--order 6",
        "speech lm --data {ws}/speech/train.tsv --order 6 --out {ws}/new.arpa",
        "--order: expected an integer from 1 to 5, got 6",
        option="--order",
    ),
    Case(
        "speech-lm-exists",
        "an --out that exists, without --overwrite",
        "speech lm --data {ws}/speech/train.tsv --out {ws}/speech/lm.arpa",
        "--out <tmp>/speech/lm.arpa: already exists; choose a new file or pass --overwrite",
        option="--out",
    ),
    Case(
        "speech-lm-missing-text",
        "a missing --text file",
        "speech lm --text {ws}/speech/missing.txt --out {ws}/new.arpa",
        "<tmp>/speech/missing.txt",
        file="speech/missing.txt",
    ),
    # speech eval
    Case(
        "speech-eval-no-data",
        "eval without --data",
        "speech eval {ws}/asr",
        "--data: expected the utterances to score, got none",
        option="--data",
    ),
    Case(
        "speech-eval-lm-greedy",
        "--lm without --method beam",
        "speech eval {ws}/asr --data {ws}/speech/train.tsv --lm {ws}/speech/lm.arpa",
        "--lm: needs --method beam, got --method greedy",
        option="--lm",
    ),
    Case(
        "speech-eval-missing-audio",
        "a manifest row naming a missing audio file",
        "speech eval {ws}/asr --data {ws}/speech/missing-audio.tsv",
        "<tmp>/speech/missing-audio.tsv:2: audio file gone.wav not found",
        file="speech/missing-audio.tsv",
        line=2,
    ),
]


def _tones():
    """The tone language of ``tests/speech/conftest.py``, loaded under its own name."""
    path = Path(__file__).resolve().parents[1] / "speech" / "conftest.py"
    spec = importlib.util.spec_from_file_location("speech_tones", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(ws: Path) -> None:
    """Adds ``speech/`` and the tiny recogniser ``asr`` to the sweep's workspace."""
    import numpy as np
    import soundfile
    from bad_input_cases import run_main

    from lstmkit.decode.ngram import NGramLM

    folder = ws / "speech"
    manifest = _tones().write_corpus(folder, 12, seed=0, name="train.tsv")
    rows = manifest.read_text().splitlines(keepends=True)
    texts = [row.rstrip("\n").split("\t")[1] for row in rows]
    files = {
        "missing-audio.tsv": [rows[0], "gone.wav\tab\n", *rows[1:]],
        "columns.tsv": ["client_id\tfile_name\twords\n", *(f"c1\t{r}" for r in rows)],
        "keys.jsonl": ['{"audio_path": "train-000.wav", "words": "ab"}\n'],
        # Dashes separate words: nothing is left, and nothing is counted as removed (a note).
        "punct.tsv": [*rows[:2], "train-002.wav\t- -\n", *rows[3:]],
        "corrupt.tsv": ["corrupt.wav\tab\n", *rows],
        "empty.tsv": ["empty.wav\tab\n", *rows],
        "n-mels.yaml": ["n_mels: 0\n"],
        "tokenizer.yaml": ["tokenizer: word\n"],
    }
    for name, lines in files.items():
        (folder / name).write_text("".join(lines))
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt not a wave file at all")
    soundfile.write(folder / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    NGramLM.train(texts, order=2).write_arpa(folder / "lm.arpa")
    train = (
        "speech train --data {ws}/speech/train.tsv --out {ws}/asr --hidden-size 4 --num-layers 1 "
        "--n-mels 20 --batch-size 4 --epochs 1 --no-progress"
    )
    saved = os.environ.get("LSTMKIT_CACHE")
    with tempfile.TemporaryDirectory() as cache:  # the features, never in the user's cache
        os.environ["LSTMKIT_CACHE"] = cache
        try:
            code, err = run_main(train, ws)
        finally:
            if saved is None:
                del os.environ["LSTMKIT_CACHE"]
            else:
                os.environ["LSTMKIT_CACHE"] = saved
    assert code == 0, err
