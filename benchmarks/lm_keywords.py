"""Keyword memory by distance: LSTM vs GRU vs plain RNN word-level language models.

What it measures
----------------
The notes' keyword task (``lstmkit.data.keywords``): a passage says what a person eats, then 0 to
60 filler words, then ``his favourite cuisine is X``; predicting X needs the food remembered
across the filler. For each recurrent cell (``lstm``, ``gru``, ``rnn``) the script trains a
word-level language model with ``lstmkit.lm.LanguageModel`` on the built-in ``keywords`` corpus
(5000 training passages, one per line; 500 validation) under the same settings and the same
budget, then asks 1000 fresh test passages (``generate_passages(1000, seed="bench-test",
max_filler=60)``) and scores the model's most likely next word (over the whole vocabulary) at
every question, bucketed by the filler distance between the food and the question.

Each test passage is run through the model once, from a zero state after an ``<eos>`` (as a
passage follows a line end in training); the prediction at each question's "is" is read from
those logits, which is what ``predict_next`` on the prefix computes, without recomputing the
prefix for every question. The validation perplexity is evaluated on the validation passages
(10 contiguous streams, state carried) with the best checkpoint, the one ``fit`` keeps.

Settings, the same for the three cells, those of ``examples/keywords.yaml`` (the quickstart's
tested recipe) but for bptt: embedding 64, one recurrent layer of 256, dropout 0.1 on its output,
AdamW lr 1e-2 with 100 warm-up steps (then cosine to 1e-4 over the step budget, or constant with
a time budget), clip 0.25, batch 32, bptt 150 (long enough for the whole 66-word span to fall
inside most training windows, so the gradient can reach the keyword). A first try with 1x128 and
lr 3e-3 had not learned the task after 1500 steps (LSTM ~30% in every bucket). The budget is
``--steps`` optimiser steps (default 2000, about 12 epochs: deterministic, whatever else runs on
the machine) or, with ``--minutes``, wall-clock minutes.

Target: the LSTM answers >= 98% correctly in every distance bucket (0-10 ... 51-60). The plain
RNN is expected to fail at long distances: the vanishing gradient the notes describe.

Run from the repository root::

    .venv/bin/python benchmarks/lm_keywords.py                  # 2000 steps per cell
    .venv/bin/python benchmarks/lm_keywords.py --minutes 3      # 3 minutes per cell instead
    .venv/bin/python benchmarks/lm_keywords.py --steps 200 --cells lstm --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

# Set before torch starts its OpenMP pool (see lm_shakespeare.py): spinning threads collapse
# when another process takes one of the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from _common import emit, fmt_load, load_average, run_meta

CELLS = ("lstm", "gru", "rnn")
TARGET = 0.98
TEST_PASSAGES, TEST_SEED, MAX_FILLER = 1000, "bench-test", 60
MODEL = {
    "embedding_size": 64,
    "hidden_size": 256,
    "num_layers": 1,
    "dropout": 0.1,
    "layer_dropout": 0.0,
}
BATCH_SIZE, BPTT = 32, 150
WARMUP = 100


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="optimiser steps per cell")
    budget.add_argument("--minutes", type=float, default=None, help="minutes per cell")
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument("--hidden-size", type=int, default=MODEL["hidden_size"])
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0, help="corpus and training seed")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench/keywords"))
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads value")
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    args = parser.parse_args(argv)
    if args.steps is None and args.minutes is None:
        args.steps = 2000
    if (args.steps is not None and args.steps < 1) or (
        args.minutes is not None and args.minutes <= 0
    ):
        parser.error("--steps must be >= 1 and --minutes > 0")
    return args


@torch.no_grad()
def predictions(lm, passages) -> dict[tuple[str, ...], str]:
    """The model's top next word at every question: prefix words → predicted word."""
    tokenizer, model = lm.tokenizer_, lm.model_
    model.eval()
    eos = tokenizer.eos_id
    encoded = [[eos, *tokenizer.encode(p.text)] for p in passages]
    longest = max(len(ids) for ids in encoded)
    # Padding after a passage cannot change the logits before it: the model reads left to right.
    ids = torch.full((len(encoded), longest), eos, dtype=torch.long)
    for row, seq in enumerate(encoded):
        ids[row, : len(seq)] = torch.tensor(seq)
    logits, _ = model(ids)  # (B, T, V)
    table = {}
    for row, passage in enumerate(passages):
        for answer in passage.answers:
            # Input position p holds word p-1 (after the <eos>): the logits there predict word p.
            best = int(logits[row, answer.position].argmax())
            table[passage.words[: answer.position]] = tokenizer.id_to_token(best)
    return table


def validation_ppl(lm, valid_text: str) -> float:
    """Perplexity of the fitted (best) model on the validation passages."""
    from lstmkit.data import batchify
    from lstmkit.lm.task import evaluate_streams

    ids = torch.tensor(lm.tokenizer_.encode(valid_text))
    lm.model_.eval()
    with torch.no_grad():
        return evaluate_streams(lm.model_, batchify(ids, 10), BPTT)["ppl"]


def run_cell(cell: str, args: argparse.Namespace, corpus, test) -> dict:
    """Trains one cell and scores it; returns the record for the table."""
    from lstmkit.data import cuisine_accuracy_by_distance
    from lstmkit.lm import LanguageModel

    train_text, valid_text, _ = corpus
    budget = (
        {"max_steps": args.steps, "epochs": 1000}
        if args.steps
        else {"max_time": args.minutes, "epochs": 1000}
    )
    optim = {"optimizer": "adamw", "lr": args.lr, "warmup_steps": WARMUP}
    if args.steps:
        optim.update(schedule="cosine", min_lr=min(1e-4, args.lr))
    lm = LanguageModel(
        tokenizer="word",
        model={**MODEL, "hidden_size": args.hidden_size, "cell": cell},
        batch_size=BATCH_SIZE,
        bptt=BPTT,
        optim=optim,
        train={**budget, "clip": 0.25, "seed": args.seed, "log_every": 100},
    )
    out = args.out / cell
    if out.exists():
        shutil.rmtree(out)
    start = time.monotonic()
    lm.fit(train_text, valid=valid_text, out=out, progress=False)
    seconds = time.monotonic() - start
    table = predictions(lm, test)
    scores = cuisine_accuracy_by_distance(lambda prefix: table[tuple(prefix)], test)
    steps = max(
        (json.loads(line).get("step", 0) for line in (out / "metrics.jsonl").open()), default=0
    )
    return {
        "cell": cell,
        "train_s": seconds,
        "steps": steps,
        "val_ppl": validation_ppl(lm, valid_text),
        "parameters": sum(p.numel() for p in lm.model_.parameters()),
        "buckets": {k: {"correct": s.correct, "total": s.total} for k, s in scores.items()},
    }


def _acc(score: dict) -> float:
    return score["correct"] / score["total"] if score["total"] else float("nan")


def render_markdown(meta: dict, records: list[dict]) -> str:
    """The header line, the settings, the table and the target lines."""
    labels = list(records[0]["buckets"])
    budget = f"{meta['steps']} steps" if meta["steps"] else f"{meta['minutes']:g} minutes"
    lines = [
        f"torch {meta['torch']} | threads {meta['threads']} (OMP_WAIT_POLICY "
        f"{meta['omp_wait_policy']}) | CPU: {meta['cpu']} | seed {meta['seed']} | "
        f"1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
        f"{fmt_load(meta['load_avg_end'])} at end",
        "",
        f"Word LM on the keywords corpus (5000 train passages), per cell: embedding "
        f"{MODEL['embedding_size']}, 1 layer of {meta['hidden_size']}, output dropout "
        f"{MODEL['dropout']}, AdamW lr {meta['lr']:g} ({meta['schedule']}, warm-up {WARMUP}), "
        f"clip 0.25, batch {BATCH_SIZE}, bptt {BPTT}, "
        f"budget {budget}. Test: {TEST_PASSAGES} fresh passages (seed {TEST_SEED!r}, filler "
        f"0-{MAX_FILLER}); accuracy of the top next word at each question, by filler distance.",
        "",
        "| cell | " + " | ".join(labels) + " | val ppl | train s | steps | params |",
        "|---|" + "---:|" * (len(labels) + 4),
    ]
    for r in records:
        cells = " | ".join(f"{100 * _acc(r['buckets'][k]):.1f}%" for k in labels)
        lines.append(
            f"| {r['cell']} | {cells} | {r['val_ppl']:.3f} | {r['train_s']:.0f} | {r['steps']} "
            f"| {r['parameters']:,} |"
        )
    totals = " | ".join(str(records[0]["buckets"][k]["total"]) for k in labels)
    lines.append(f"| (questions) | {totals} | | | | |")
    lines += ["", f"Target (informational): LSTM >= {100 * TARGET:.0f}% in every bucket", ""]
    for r in records:
        worst_label = min(labels, key=lambda k: _acc(r["buckets"][k]))
        worst = _acc(r["buckets"][worst_label])
        if r["cell"] == "lstm":
            verdict = "PASS" if worst >= TARGET else "FAIL"
            lines.append(
                f"- {verdict}: lstm, worst bucket {worst_label}: {100 * worst:.1f}% "
                f"(target >= {100 * TARGET:.0f}%)"
            )
        else:
            lines.append(
                f"- for comparison, {r['cell']}: worst bucket {worst_label}: {100 * worst:.1f}%"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Trains and scores every cell; prints the markdown report (or JSON with ``--json``)."""
    args = parse_args(argv)
    from lstmkit.data import builtin_corpus, generate_passages

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    meta = run_meta(
        seed=args.seed,
        steps=args.steps,
        minutes=args.minutes,
        lr=args.lr,
        schedule="cosine" if args.steps else "constant",
        hidden_size=args.hidden_size,
    )
    corpus = builtin_corpus("keywords", seed=args.seed)
    test = generate_passages(TEST_PASSAGES, seed=TEST_SEED, max_filler=MAX_FILLER)
    records = []
    for cell in args.cells:
        record = run_cell(cell, args, corpus, test)
        records.append(record)
        accs = ", ".join(f"{k} {100 * _acc(v):.1f}%" for k, v in record["buckets"].items())
        print(
            f"{cell}: {record['train_s']:.0f} s, {record['steps']} steps, val ppl "
            f"{record['val_ppl']:.3f}; {accs} (load {fmt_load(load_average())})",
            file=sys.stderr,
            flush=True,
        )
    meta["load_avg_end"] = load_average()
    emit(args.json, render_markdown(meta, records), meta=meta, results=records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
