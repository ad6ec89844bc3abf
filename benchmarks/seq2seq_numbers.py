"""Seq2seq on the built-in numbers task: attention against the notes' pure context vector.

Trains the same small model on ``numbers-de`` (English number words → German number words, one
word per number, so the target is read as characters and must be reordered: "forty-two" →
"zweiundvierzig") with ``--attention luong`` and with ``--attention none`` (the notes' model: the
decoder sees the source only through the context vector W), under the same time budget, and
prints exact match on the 2000 held-out test numbers, overall and by the source's length in
words — the notes' claim that quality falls with length, and attention holding it up.

Target (issue 4): with attention, >= 97% exact match in <= 10 minutes on 2 CPU cores.

Run::

    .venv/bin/python benchmarks/seq2seq_numbers.py --minutes 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import torch

from lstmkit.cli.seq2seq import TASK_PRESETS
from lstmkit.data import load_pairs
from lstmkit.seq2seq import Seq2Seq
from lstmkit.seq2seq.scores import translation_scores

SETTINGS = {  # the CLI's numbers preset (lstmkit/cli/seq2seq.py), with a time budget
    "batch_size": 64,
    "optim": {"lr": 0.003, "schedule": "cosine", "warmup_steps": 100},
}
MODEL = {"embedding_size": 64, "hidden_size": 256, "num_layers": 1, "dropout": 0.1}
BUCKETS = ((1, 5), (6, 6), (7, 7), (8, 8), (9, None))


def run(task: str, attention: str, minutes: float, epochs: int, seed: int) -> dict:
    corpus = load_pairs(task, seed=seed)
    s2s = Seq2Seq(
        **SETTINGS,
        **TASK_PRESETS[task],
        model={**MODEL, "attention": attention},
        train={"epochs": epochs, "max_time": minutes, "seed": seed, "monitor": "exact"},
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        s2s.fit(corpus, out=out)
    seconds = time.monotonic() - started
    row = {"attention": attention, "minutes": seconds / 60, "steps": s2s.progress_.step}
    for method in ("greedy", "beam"):
        hyps = s2s.translate(corpus.test.src, method=method)
        scores = translation_scores(hyps, corpus.test.tgt, corpus.test.src, BUCKETS)
        row[method] = scores
    return row


def table(rows: list[dict]) -> str:
    labels = list(rows[0]["greedy"]["by_length"])
    head = ["attention", "train min", "steps", "exact greedy", "exact beam 5", "chrF"]
    head += [f"exact, {label} words" for label in labels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        g, b = r["greedy"], r["beam"]
        cells = [
            r["attention"],
            f"{r['minutes']:.1f}",
            str(r["steps"]),
            f"{g['exact']:.1f}%",
            f"{b['exact']:.1f}%",
            f"{b['chrf']:.1f}",
        ]
        cells += [
            f"{b['by_length'][label]['exact']:.1f}% ({b['by_length'][label]['sentences']})"
            for label in labels
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="numbers-de", choices=("numbers-de", "numbers-fr"))
    parser.add_argument("--minutes", type=float, default=10.0, help="budget per model")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--attention", nargs="+", default=["luong", "none"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = [run(args.task, a, args.minutes, args.epochs, args.seed) for a in args.attention]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"torch {torch.__version__} | threads {torch.get_num_threads()} | "
        f"{platform.processor() or platform.machine()} | task {args.task}, seed {args.seed} | "
        f"budget {args.minutes} min or {args.epochs} epochs | 1-min load avg {load:.2f} at "
        f"start, {os.getloadavg()[0]:.2f} at end\n"
    )
    tokens = TASK_PRESETS[args.task]
    print(
        f"Model: {tokens['src_tokenizer']} source, {tokens['tgt_tokenizer']} target, "
        f"embedding {MODEL['embedding_size']}, "
        f"{MODEL['num_layers']}x{MODEL['hidden_size']} bidirectional LSTM encoder, LSTM decoder; "
        "test: 2000 held-out numbers, exact match in %, (sentences) per length bucket.\n"
    )
    print(table(rows))
    best = next((r for r in rows if r["attention"] != "none"), None)
    if best is not None:
        ok = best["beam"]["exact"] >= 97 and best["minutes"] <= 10.5
        print(
            f"\n- {'PASS' if ok else 'FAIL'}: {best['attention']} attention "
            f"{best['beam']['exact']:.1f}% exact in {best['minutes']:.1f} min "
            "(target >= 97% in <= 10 min)"
        )


if __name__ == "__main__":
    main()
