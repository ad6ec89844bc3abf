"""lstmkit's side of the peer comparisons; run with lstmkit's own venv python.

``seq2seq``: :class:`lstmkit.Seq2Seq` with JoeyNMT's architecture in ``run_joeynmt.py``: word
tokenizers, a 1-layer bidirectional LSTM encoder (embedding 128, hidden 256), a 1-layer LSTM
decoder (hidden 256) with Luong "general" attention and input feeding, embeddings started small
as JoeyNMT's (``embedding_init="scaled"``, N(0, 1/E); with torch's N(0, 1), lstmkit's default,
test BLEU was 97.5 against JoeyNMT's 99.6), no dropout, Adam 2e-3
(AdamW without weight decay) at a constant rate, no gradient clipping (as JoeyNMT's default;
``--clip`` sets a norm), batches of 64
sentences, greedy validation BLEU on the dev set after every epoch; then beam 5
(length penalty 0.6, as JoeyNMT's ``beam_alpha``) over the test set, 64 sentences a batch.

``forecast``: :class:`lstmkit.Forecaster` with a 1-layer LSTM of 64 units, look-back 48 and
horizon 12 (60 steps a window, as Darts' ``training_length=60`` and neuralforecast's
``input_size=48, h=12``), batches of 64 windows, Adam 1e-3 constant, every step of the
budget (no early stopping), the median alone (quantile 0.5: an MAE loss, as neuralforecast's
default), no calendar features, no seasonal residual, no shrinkage or calibration, so that the
network matches the peers'. The training
signal follows each peer's: with the autoregressive head (beside Darts, which trains on the
one-step error at every position of its windows) the encoder's one-step-ahead loss over the
look-back joins the horizon's (``one_step_loss=1``; of 0, 0.3, 0.5, 1 and 2 the best mean
validation MASE over seeds 0-4: 0.729, 0.713, 0.698, 0.698, 0.718); with the direct head (beside
neuralforecast, whose LSTM trains on the horizon alone) it is off. So do the inputs: beside
Darts, whose ``RNNModel`` reads the series as given, the windows are not normalised
(``window_norm=False``; mean validation MASE over seeds 0-4 with the one-step loss at 1: 0.645
against 0.698 normalised, and at weights 0 / 0.5: 0.661 / 0.656); beside neuralforecast, whose
LSTM scales each window (``scaler_type="robust"``), they are. It trains
once per budget of the ladder (from scratch each time) and scores each on the validation tail;
the largest budget is scored on the test tail too.

What is timed (the same definitions as the peers' runners):

* seq2seq throughput: per epoch, the target tokens (eos included) over the seconds of the
  trainer's epoch loop (batching included; validation and checkpoints excluded), the median
  over epochs after the first; the dev curve's seconds are the cumulative epoch-loop seconds;
* forecast throughput: windows per second over blocks of 10 optimiser steps (the trainer's own
  ``tokens_per_s`` records, batching included, validation excluded), the median after the
  first block; a budget's seconds are the wall-clock of ``fit``;
* beam decoding: the wall-clock of ``translate`` over the test set.

``--precision bf16`` trains in bfloat16 mixed precision (the trainer's ``precision="bf16"``,
``torch.autocast``); validation, scoring and beam search stay float32.

Prints one JSON line. Timing the epoch loop wraps the trainer's ``_train_epoch`` and the
metrics log's ``write`` (instrumentation only; nothing else changes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data
from lstmkit import Forecaster, Seq2Seq
from lstmkit.data import Pairs
from lstmkit.train import metrics, trainer

SEQ2SEQ_MODEL = {
    "embedding_size": 128,
    "hidden_size": 256,
    "num_layers": 1,
    "dropout": 0.0,
    "bidirectional": True,
    "attention": "luong",
    "luong_score": "general",
    "input_feeding": True,
    "embedding_init": "scaled",
}


class EpochClock:
    """Records the seconds of each training epoch loop and every metrics record."""

    def __init__(self) -> None:
        self.reset()
        train_epoch, write = trainer.Trainer._train_epoch, metrics.MetricsLog.write
        clock = self

        def timed_epoch(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return train_epoch(self, *args, **kwargs)
            finally:
                clock.epoch_seconds.append(time.perf_counter() - start)

        def recorded_write(self, split, step, **values):
            record = write(self, split, step, **values)
            clock.records.append({**record, "train_s": sum(clock.epoch_seconds)})
            return record

        trainer.Trainer._train_epoch = timed_epoch
        metrics.MetricsLog.write = recorded_write

    def reset(self) -> None:
        """Forgets what was recorded (before each training run)."""
        self.epoch_seconds: list[float] = []
        self.records: list[dict] = []


def run_seq2seq(args: argparse.Namespace) -> dict:
    splits = data.reverse_pairs(args.seed)
    train, dev, test = (Pairs([s for s, _ in p], [t for _, t in p]) for p in splits.values())
    clock = EpochClock()
    s2s = Seq2Seq(
        "word",
        "word",
        model=SEQ2SEQ_MODEL,
        batch_size=64,
        optim={"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.0, "schedule": "constant"},
        train={
            "epochs": args.epochs,
            "clip": args.clip,
            "monitor": "bleu",
            "seed": args.seed,
            "log_every": 10,
            "precision": args.precision,
        },
    )
    load_start = data.load_now()
    s2s.fit(train, valid=dev, progress=False)
    load_mid = data.load_now()
    tokens = sum(len(t.split()) + 1 for t in train.tgt)  # + eos, as JoeyNMT counts
    rates = [tokens / s for s in clock.epoch_seconds]
    valid = [r for r in clock.records if r["split"] == "valid"]
    curve = [
        {"epoch": k, "train_s": r["train_s"], "bleu": r["bleu"]} for k, r in enumerate(valid, 1)
    ]
    start = time.perf_counter()
    hyps = s2s.translate(test.src, method="beam", beam_size=5, length_penalty=0.6, batch_size=64)
    seconds = time.perf_counter() - start
    return {
        "side": "lstmkit",
        "task": "seq2seq",
        "clip": args.clip,
        "precision": args.precision,
        "train_tokens_per_s": data.median(rates[1:]),
        "train_epochs": rates,
        "dev_curve": curve,
        "test_bleu": data.bleu(hyps, list(test.tgt)),
        "beam_sentences_per_s": len(test) / seconds,
        "beam_seconds": seconds,
        "load": [load_start, load_mid, data.load_now()],
    }


def fit_forecaster(
    steps: int,
    seed: int,
    head: str,
    one_step_loss: float,
    window_norm: bool,
    precision: str = "fp32",
) -> tuple[Forecaster, float]:
    """Trains on the training part for ``steps`` optimiser steps; returns it and the seconds."""
    train_end, _ = data.split_points("test")
    epochs = max(1, steps // FORECAST_EPOCH)
    fc = Forecaster(
        horizon=data.HORIZON,
        lookback=48,
        calendar=False,
        model={
            "hidden_size": 64,
            "num_layers": 1,
            "dropout": 0.0,
            "quantiles": (0.5,),
            "head": head,
            "one_step_loss": one_step_loss,
        },
        window_norm=window_norm,
        residual=False,
        season=data.SEASON,
        batch_size=64,
        batches_per_epoch=FORECAST_EPOCH,
        valid_windows=1,
        shrink=False,
        calibrate=False,
        optim={"lr": 1e-3, "schedule": "constant", "weight_decay": 0.0},
        train={
            "epochs": epochs,
            "seed": seed,
            "log_every": 10,
            "patience": None,
            "precision": precision,
        },
    )
    frame = data.series_frame(seed, train_end)
    start = time.perf_counter()
    fc.fit(frame, time="ds", target="y", id_col="unique_id", progress=False)
    return fc, time.perf_counter() - start


ONE_STEP_LOSS = {"autoregressive": 1.0, "direct": 0.0}  # as Darts' / neuralforecast's signal
# Darts' RNNModel reads the series as given (the runner scales nothing); neuralforecast's LSTM
# normalises each window (its default scaler_type="robust").
WINDOW_NORM = {"autoregressive": False, "direct": True}
FORECAST_EPOCH = 68  # steps: one pass of Darts' over the training part's 60-step windows


def score_forecaster(fc: Forecaster, split: str, seed: int) -> float:
    """MASE of the rolling 12-step forecasts from the true history over a tail."""
    origins = data.origins(split)
    series = fc.history(data.series_frame(seed))
    table = fc.forecast_at(series * len(origins), origins, adjusted=False)
    values = table["forecast"].to_numpy().reshape(len(origins), data.HORIZON)
    return data.mase(dict(zip(origins, values, strict=True)), seed)


def run_forecast(args: argparse.Namespace) -> dict:
    load_start = data.load_now()
    ladder = []
    clock = EpochClock()
    for steps in args.ladder:
        clock.reset()
        fc, seconds = fit_forecaster(
            steps, args.seed, args.head, args.one_step_loss, args.window_norm, args.precision
        )
        ladder.append(
            {
                "steps": steps,
                "fit_s": seconds,
                "valid_mase": score_forecaster(fc, "valid", args.seed),
            }
        )
    rates = [r["tokens_per_s"] for r in clock.records if r["split"] == "train"]
    return {
        "side": "lstmkit",
        "task": "forecast",
        "head": args.head,
        "precision": args.precision,
        "one_step_loss": args.one_step_loss,
        "window_norm": args.window_norm,
        "train_windows_per_s": data.median(rates[1:]),
        "train_blocks": rates,
        "ladder": ladder,
        "test_mase": score_forecaster(fc, "test", args.seed),
        "load": [load_start, data.load_now()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=("seq2seq", "forecast"))
    parser.add_argument("--epochs", type=int, default=8, help="seq2seq epochs")
    parser.add_argument(
        "--clip",
        type=float,
        default=0.0,
        help="seq2seq gradient-norm clipping (0: none, JoeyNMT's default). With N(0, 1/E) "
        "embeddings, 2 threads, test BLEU of the best dev epoch: none 99.72 (but dev swung "
        "99.7 -> 56.5 -> 95.4 in the last epochs), 5: 99.23, 1: 99.05",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="training arithmetic (bf16: mixed precision, torch.autocast)",
    )
    parser.add_argument(
        "--ladder",
        type=int,
        nargs="+",
        default=[68, 136, 272, 544, 1088],
        help="forecast: optimiser steps of each training run",
    )
    parser.add_argument(
        "--head",
        default="autoregressive",
        choices=("autoregressive", "direct"),
        help="forecast: the decoder (direct: one linear layer, as neuralforecast's "
        "MLP decoder; autoregressive: an LSTM fed its own forecasts, as Darts')",
    )
    parser.add_argument(
        "--one-step-loss",
        type=float,
        help="forecast: weight of the encoder's one-step-ahead loss (default: 1 "
        "with the autoregressive head, 0 with the direct one)",
    )
    parser.add_argument(
        "--window-norm",
        action=argparse.BooleanOptionalAction,
        help="forecast: normalise each window by its look-back (default: off "
        "with the autoregressive head, on with the direct one)",
    )
    args = parser.parse_args()
    if args.one_step_loss is None:
        args.one_step_loss = ONE_STEP_LOSS[args.head]
    if args.window_norm is None:
        args.window_norm = WINDOW_NORM[args.head]
    torch.manual_seed(args.seed)
    result = run_seq2seq(args) if args.task == "seq2seq" else run_forecast(args)
    data.emit({**result, "threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
