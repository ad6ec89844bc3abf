"""Speech recognition on the built-in synthesised voices: what the defaults reach in ten minutes.

What it measures
----------------
For each setting and seed the script runs exactly what a user runs::

    lstmkit speech train --max-time 10 --seed S --out DIR [options of the setting]

in this process (``lstmkit.cli.main.main``), on the built-in corpus (espeak-ng voices; its test
voices are never heard in training), then loads ``DIR/best`` as a user would
(``SpeechRecognizer.load``) and scores the test split: CER and WER (jiwer) with greedy decoding,
with the CTC prefix beam search (8 prefixes), and with the beam fused with a word trigram model
trained on the training transcripts alone (``NGramLM.train``). Besides:

* training speed: seconds of training audio per second of training (steps x batch x the mean
  training utterance's duration / the training time);
* transcription speed on one core (``torch.set_num_threads(1)``): seconds of test audio per
  second of ``transcribe`` (reading, features, network, greedy decoding), "x real time";
* real recordings: WER and CER on Debian's ``pocketsphinx-testdata`` sentences (read speech of
  other people, another vocabulary; reported, not tuned on).

The target (issue 24): CER <= 5% and WER <= 10%, greedy, on the test voices, with the defaults.

Run from the repository root::

    .venv/bin/python benchmarks/speech_builtin.py                       # defaults, seeds 0 1 2
    .venv/bin/python benchmarks/speech_builtin.py --settings default specaugment --seeds 0
    .venv/bin/python benchmarks/speech_builtin.py --minutes 2 --seeds 0 --json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

# OMP_WAIT_POLICY is left as the user has it: the recogniser is timed as `lstmkit` runs from a
# user's shell (PASSIVE, which other benchmarks set, slows the LSTM's many small parallel regions).
from _common import emit, fmt_load, load_average, run_meta

SETTINGS = {
    "default": [],
    "no-vtlp": ["--vtlp", "0"],
    "batch-32": ["--batch-size", "32"],  # the default before 2026-12-07's batches of 16
    "specaugment": ["--spec-augment"],
    "las": ["--architecture", "las"],
    # 40 ms listener frames (the default stack 2 gives 80 ms, too few for CTC on characters)
    "las+ctc": ["--architecture", "las", "--ctc-weight", "0.3", "--stack", "1"],
}
TARGET = {"cer": 5.0, "wer": 10.0}
SPEED_UTTERANCES = 100


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", nargs="+", default=["default"], choices=sorted(SETTINGS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=10.0, help="--max-time of each run")
    parser.add_argument(
        "--steps",
        type=int,
        help="train for this many steps (--max-steps) instead of --minutes: for comparisons on "
        "a machine that is not free (the speed columns then mean little)",
    )
    parser.add_argument("--corpus", default="mixed", help="the built-in corpus")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench/speech"))
    parser.add_argument(
        "--threads", type=int, help="torch threads while training (default: torch's, all cores)"
    )
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    return parser.parse_args(argv)


def run_one(setting: str, seed: int, args: argparse.Namespace) -> dict:
    """Trains one setting with one seed through the command line; returns its record."""
    import torch

    from lstmkit.cli.main import main
    from lstmkit.data.audio import audio_info
    from lstmkit.data.speech_builtin import builtin_speech, pocketsphinx_testdata, speech_texts
    from lstmkit.data.utterances import load_utterances
    from lstmkit.decode.ngram import NGramLM
    from lstmkit.speech import SpeechRecognizer
    from lstmkit.speech.text import normalize_transcript

    run = args.out / f"{setting}-s{seed}"
    budget = ["--max-time", f"{args.minutes:g}"]
    if args.steps is not None:
        budget = ["--max-steps", str(args.steps)]
    argv = ["speech", "train", "--data", args.corpus, *budget]
    argv += ["--seed", str(seed), "--out", str(run), "--overwrite", "--no-progress", "--json"]
    argv += SETTINGS[setting]
    stdout = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(stdout):
        code = main(argv)
    if code != 0:  # e.g. a diverged run (its message is on stderr): recorded, the others go on
        return {"setting": setting, "seed": seed, "failed": f"exit {code}"}
    result = json.loads(stdout.getvalue())

    corpus = builtin_speech(args.corpus)
    train, test = load_utterances(corpus.train), load_utterances(corpus.test)
    mean_seconds = sum(audio_info(p).seconds for p in train.paths[:500]) / min(500, len(train))
    train_seconds = result["minutes"] * 60
    batch = json.loads((run / "best" / "config.json").read_text())["data"]["batch_size"]

    asr = SpeechRecognizer.load(run / "best")
    lm_text = [normalize_transcript(t) for t in speech_texts(args.corpus)[0]]
    lm = NGramLM.train(lm_text, order=3)
    scores = {}
    for name, decoding in (
        ("greedy", {}),
        ("beam", {"method": "beam", "beam_size": 8}),
        ("beam+lm", {"method": "beam", "beam_size": 8, "lm": lm}),
    ):
        if name == "beam+lm" and getattr(asr, "architecture", "ctc") != "ctc":
            scores[name] = None  # the word LM fuses with CTC's prefix beam search only
            continue
        found = asr.evaluate(test, **decoding)
        scores[name] = {"cer": found["cer"], "wer": found["wer"]}

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        paths = list(test.paths[:SPEED_UTTERANCES])
        audio = sum(audio_info(p).seconds for p in paths)
        begin = time.perf_counter()
        asr.transcribe(paths)
        real_time = audio / (time.perf_counter() - begin)
    finally:
        torch.set_num_threads(threads)

    recordings = pocketsphinx_testdata()
    real = None
    if recordings is not None:
        found = asr.evaluate(recordings)
        real = {"cer": found["cer"], "wer": found["wer"], "utterances": found["utterances"]}
    return {
        "setting": setting,
        "seed": seed,
        "steps": result["steps"],
        "epochs": result["epochs"],
        "best_epoch": result["best_epoch"],
        "train_minutes": result["minutes"],
        "wall_minutes": (time.monotonic() - started) / 60,
        "audio_per_second": result["steps"] * batch * mean_seconds / max(train_seconds, 1e-9),
        "real_time_one_core": real_time,
        "test": scores,
        "test_utterances": len(test),
        "recordings": real,
    }


def render_markdown(meta: dict, records: list[dict]) -> str:
    """The table of the docs' speech page."""
    lines = [
        f"```\ntorch {meta['torch']} | threads {meta['threads']} | CPU: {meta['cpu']} | 1-min load "
        f"avg {fmt_load(meta['load_avg_start'])} at start, {fmt_load(meta['load_avg_end'])} at "
        "end\n```",
        "",
        "| setting | seed | steps | best epoch | CER greedy | WER greedy | CER beam | WER beam "
        "| CER beam+LM | WER beam+LM | audio s / s (train) | x real time (1 core) "
        "| WER real recordings |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def pair(scores: dict | None) -> str:
        return "— | —" if scores is None else f"{scores['cer']:.2f}% | {scores['wer']:.2f}%"

    for r in records:
        if "failed" in r:
            lines.append(f"| {r['setting']} | {r['seed']} | failed ({r['failed']}) |" + " |" * 10)
            continue
        t = r["test"]
        real = "—" if r["recordings"] is None else f"{r['recordings']['wer']:.1f}%"
        lines.append(
            f"| {r['setting']} | {r['seed']} | {r['steps']} | {r['best_epoch']} "
            f"| {pair(t['greedy'])} | {pair(t['beam'])} | {pair(t['beam+lm'])} "
            f"| {r['audio_per_second']:.0f} | {r['real_time_one_core']:.0f} | {real} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    meta = run_meta(minutes=args.minutes, steps=args.steps, corpus=args.corpus)
    records = []
    for setting in args.settings:
        for seed in args.seeds:
            record = run_one(setting, seed, args)
            records.append(record)
            if "failed" in record:
                print(f"{setting} seed {seed}: {record['failed']}", file=sys.stderr)
                continue
            t = record["test"]["greedy"]
            print(
                f"{setting} seed {seed}: {record['steps']} steps, CER {t['cer']:.2f}%, "
                f"WER {t['wer']:.2f}% (load {fmt_load(load_average())})",
                file=sys.stderr,
            )
    meta["load_avg_end"] = load_average()
    emit(args.json, render_markdown(meta, records), meta=meta, results=records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
