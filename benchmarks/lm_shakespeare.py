"""Tiny Shakespeare character LSTM: validation loss after a fixed wall-clock training time.

What it measures
----------------
A character-level ``LSTMLanguageModel`` trained with lstmkit's ``Trainer`` on Tiny Shakespeare
(``../shared/data/tinyshakespeare/input.txt``, 1,115,394 characters), on this machine's CPU
cores. The split is nanoGPT's, which the published reference figures use: the first 90% of the
characters train, the last 10% validate. The vocabulary is the training text's characters.

Training runs in chunks of the trainer's own time budget (``max_time``): after each chunk the
script evaluates the whole validation text (32 contiguous streams, the LSTM state carried across
windows, so almost every character is predicted with its full context) and the trainer continues
exactly where it stopped (same object: model, optimiser, schedule, carried state). The
checkpoint evaluations are outside the clock; everything the trainer does is inside it (its
epoch-end validation on the first 20,000 validation characters, which only decides ``best/``,
and the checkpoint writes). The cosine schedule needs a step count: it decays over the number
of steps the training rate measured so far predicts for the budget, re-estimated after every
chunk (the first chunk ends after one minute for this).

The train-loss column is the mean training loss (nats/char, dropout on) over the last logged
windows before the checkpoint, about the last 100 steps.

Default recipe (chosen by short trial runs, see ``--help`` for every knob): embedding 128,
2x512 LSTM, locked dropout 0.2 between layers and on the output, AdamW lr 2e-3 (weight decay
0.01 on matrices), cosine to 1e-4 after 100 warm-up steps, clip 0.25, batch 32, bptt 128.

Run from the repository root::

    .venv/bin/python benchmarks/lm_shakespeare.py                              # 30 minutes
    .venv/bin/python benchmarks/lm_shakespeare.py --minutes 4 --checkpoints 2,4  # a trial
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

# Set before torch starts its OpenMP pool: threads that spin while waiting collapse when another
# process takes a core (each of the ~1000 small matrix products per step waits a scheduler slice):
# measured 6-10 s per step instead of 1.6 s with a busy core; passive waiting costs ~10% alone.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from _common import emit, fmt_load, load_average, measure_matmul_peak, run_meta

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tinyshakespeare"
TRAIN_FRACTION = 0.9  # nanoGPT's split of input.txt
TARGET = 1.55  # nats/char within 30 minutes
TARGET_MINUTES = 30.0
EVAL_STREAMS = 32
TRAINER_VALID_CHARS = 20_000
LOG_EVERY = 10
# Published figures, from ../shared/data/README.md (nanoGPT README).
REFERENCES = (
    ("small Transformer, CPU (nanoGPT baby)", "~3", 1.88),
    ("6-layer Transformer, one A100 (nanoGPT)", "n/a", 1.47),
)


def parse_minutes(text: str) -> list[float]:
    """Parses ``10,30`` into sorted, distinct positive minutes."""
    try:
        values = sorted({float(v) for v in text.split(",") if v.strip()})
    except ValueError:
        values = []
    if not values or values[0] <= 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated minutes > 0, got {text!r}")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA / "input.txt", help="input.txt")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time budget")
    parser.add_argument(
        "--checkpoints",
        type=parse_minutes,
        default=[5.0, 10.0, 15.0, 20.0, 25.0, 30.0],
        help="minutes at which to evaluate, comma-separated (default 5,10,...,30)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench/shakespeare"))
    parser.add_argument("--embedding-size", type=int, default=128)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.2, help="output and between layers")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--min-lr", type=float, default=1e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads value")
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f"--minutes: expected a number > 0, got {args.minutes}")
    args.checkpoints = [m for m in args.checkpoints if m < args.minutes] + [args.minutes]
    return args


def load_split(path: Path) -> tuple[str, str]:
    """The train and validation texts (first 90% / last 10% of the characters), or exit."""
    if not path.is_file():
        sys.exit(
            f"{path}: Tiny Shakespeare not found; expected ../shared/data/tinyshakespeare/"
            "input.txt next to the repository (see ../shared/data/README.md), or pass --data"
        )
    text = path.read_text(encoding="utf-8")
    cut = int(len(text) * TRAIN_FRACTION)
    return text[:cut], text[cut:]


def build_trainer(args: argparse.Namespace, train_text: str, valid_text: str):
    """The tokenizer, the model, the task and lstmkit's Trainer for this run."""
    from lstmkit.lm.task import LMTask
    from lstmkit.models import LMConfig, LSTMLanguageModel
    from lstmkit.tokenizers import train_tokenizer
    from lstmkit.train.optim import OptimConfig
    from lstmkit.train.trainer import TrainConfig, Trainer

    tokenizer = train_tokenizer("char", train_text)
    valid_ids, unknown = tokenizer.encode_with_unknowns(valid_text)
    config = LMConfig(
        vocab_size=tokenizer.vocab_size,
        embedding_size=args.embedding_size,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        dropout=args.dropout,
        layer_dropout=args.dropout,
    )
    torch.manual_seed(args.seed)
    model = LSTMLanguageModel(config)
    train_ids = torch.tensor(tokenizer.encode(train_text))
    valid_ids = torch.tensor(valid_ids)
    run_config = {
        "model": config.to_dict(),
        "data": {"batch_size": args.batch_size, "bptt": args.bptt},
        "tokenizer": {"kind": "char", "vocab_size": None},
    }
    task = LMTask(
        train_ids,
        valid_ids[:TRAINER_VALID_CHARS],
        args.batch_size,
        args.bptt,
        {"config": run_config, "tokenizer": tokenizer},
    )
    optim = OptimConfig(
        lr=args.lr,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        warmup_steps=args.warmup_steps,
        min_lr=min(args.min_lr, args.lr),
    )
    train = TrainConfig(epochs=10_000, clip=args.clip, log_every=LOG_EVERY, seed=args.seed)
    trainer = Trainer(model, task, optim, train, args.out, device="cpu", progress=False)
    return trainer, valid_ids, unknown, model.num_parameters()


def evaluate(model: torch.nn.Module, valid_ids: torch.Tensor, bptt: int) -> float:
    """Mean validation loss in nats/char over the whole validation text."""
    from lstmkit.data import batchify
    from lstmkit.lm.task import evaluate_streams

    was_training = model.training
    model.eval()
    loss = evaluate_streams(model, batchify(valid_ids, EVAL_STREAMS), bptt)["loss"]
    model.train(was_training)
    return loss


def recent_train_loss(out: Path, since_step: int) -> float | None:
    """Mean of the logged training losses after ``since_step`` (the last ~100 steps)."""
    from lstmkit.train.metrics import read_metrics

    losses = [
        r["loss"]
        for r in read_metrics(out)
        if r.get("split") == "train" and r["step"] > since_step and isinstance(r["loss"], float)
    ]
    return statistics.fmean(losses) if losses else None


def train(args: argparse.Namespace, trainer, valid_ids: torch.Tensor) -> list[dict]:
    """Trains chunk by chunk up to ``args.minutes``; evaluates at each checkpoint."""
    rows = []
    clock = 0.0  # seconds inside trainer.fit
    cosine = args.schedule == "cosine"
    stops = sorted({1.0, *args.checkpoints}) if cosine else args.checkpoints
    stops = [m for m in stops if m <= args.minutes]
    for stop in stops:
        trainer.config.max_time = max(1e-3, stop - clock / 60)
        start = time.monotonic()
        state = trainer.fit()
        clock += time.monotonic() - start
        if cosine:  # decay over the steps the rate so far predicts for the whole budget
            rate = state.step / clock
            planned = round(rate * args.minutes * 60)
            trainer.schedule.total_steps = max(planned, state.step + 1)
        if stop not in args.checkpoints:
            continue
        eval_start = time.monotonic()
        loss = evaluate(trainer.model, valid_ids, args.bptt)
        tokens = state.step * args.batch_size * args.bptt
        rows.append(
            {
                "minutes": clock / 60,
                "step": state.step,
                "epoch": tokens / trainer.task.streams.numel(),
                "tokens_per_s": tokens / clock,
                "lr": trainer.optimizer.param_groups[0]["lr"],
                "train_loss": recent_train_loss(args.out, state.step - 100),
                "val_loss": loss,
                "eval_s": time.monotonic() - eval_start,
            }
        )
        print(
            f"{clock / 60:5.1f} min  step {state.step:5d}  val {loss:.4f} nats/char  "
            f"({rows[-1]['tokens_per_s']:,.0f} tok/s, lr {rows[-1]['lr']:.2e}, "
            f"load {fmt_load(load_average())})",
            file=sys.stderr,
            flush=True,
        )
    return rows


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def render_markdown(meta: dict, rows: list[dict]) -> str:
    """The header, the recipe, the table with the references, and the target line."""
    ln2 = 0.6931471805599453
    lines = [
        f"torch {meta['torch']} | threads {meta['threads']} (OMP_WAIT_POLICY "
        f"{meta['omp_wait_policy']}) | CPU: {meta['cpu']} | "
        f"fp32 matmul peak {meta['peak_gflops']:.1f} GFLOP/s | seed {meta['seed']} | "
        f"1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
        f"{fmt_load(meta['load_avg_end'])} at end",
        "",
        f"Tiny Shakespeare, char level: {meta['train_chars']:,} train / {meta['valid_chars']:,} "
        f"valid chars (first 90% / last 10%), vocabulary {meta['vocab_size']} "
        f"(incl. 4 special tokens; {meta['valid_unknown']} unseen valid chars).",
        f"Model: embedding {meta['embedding_size']}, {meta['num_layers']}x{meta['hidden_size']} "
        f"LSTM, dropout {meta['dropout']}, {meta['parameters'] / 1e6:.2f}M parameters. Recipe: "
        f"AdamW lr {meta['lr']:g} ({meta['schedule']}, warm-up {meta['warmup_steps']}, min "
        f"{meta['min_lr']:g}), weight decay {meta['weight_decay']}, clip {meta['clip']}, "
        f"batch {meta['batch_size']}, bptt {meta['bptt']}.",
        "",
        "| minutes | step | epochs | tokens/s (mean) | lr | train loss | val loss (nats/char) "
        "| val bits/char |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['minutes']:.1f} | {r['step']} | {r['epoch']:.2f} | {r['tokens_per_s']:,.0f} "
            f"| {r['lr']:.2e} | {_fmt(r['train_loss'])} | {r['val_loss']:.3f} "
            f"| {r['val_loss'] / ln2:.3f} |"
        )
    for name, minutes, loss in REFERENCES:
        lines.append(f"| {minutes} | | | | | | {loss:.2f} ({name}, published) | {loss / ln2:.2f} |")
    within = [r for r in rows if r["minutes"] <= TARGET_MINUTES + 0.25]
    lines += ["", "Target (informational):", ""]
    if within:
        best = min(r["val_loss"] for r in within)
        verdict = "PASS" if best <= TARGET else "FAIL"
        lines.append(
            f"- {verdict}: val loss {best:.3f} nats/char within {TARGET_MINUTES:.0f} minutes "
            f"(target <= {TARGET})"
        )
    else:
        lines.append("- not evaluated: no checkpoint within 30 minutes")
    if rows and rows[-1]["minutes"] < TARGET_MINUTES - 0.25:
        lines.append(f"- note: the run lasted {rows[-1]['minutes']:.1f} minutes, not 30")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints the markdown report (or JSON with ``--json``)."""
    args = parse_args(argv)
    train_text, valid_text = load_split(args.data)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    settings = {k: v for k, v in vars(args).items() if k not in ("data", "out", "json", "threads")}
    meta = {
        **run_meta(**settings),
        "peak_gflops": measure_matmul_peak(tries=10),
        "data": str(args.data),
        "train_chars": len(train_text),
        "valid_chars": len(valid_text),
    }
    if (args.out / "metrics.jsonl").exists():  # an earlier run of this script: start afresh
        shutil.rmtree(args.out)
    trainer, valid_ids, unknown, parameters = build_trainer(args, train_text, valid_text)
    meta.update(
        parameters=parameters,
        vocab_size=trainer.model.config.vocab_size,
        valid_unknown=len(unknown),
    )
    rows = train(args, trainer, valid_ids)
    meta["load_avg_end"] = load_average()
    emit(args.json, render_markdown(meta, rows), meta=meta, results=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
