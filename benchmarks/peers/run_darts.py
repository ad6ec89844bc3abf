"""Darts' side of the forecasting comparison; run with the Darts venv's python.

Darts 0.48 ``RNNModel(model="LSTM", hidden_dim=64, n_rnn_layers=1, input_chunk_length=59,
training_length=60, batch_size=64)`` (the issue's settings: one-step-ahead targets at every
position of 60-step windows, forecasts rolled out autoregressively), Adam 1e-3 (Darts' default),
MSE loss (Darts' default), no dropout, on the training part of :mod:`data`'s series, as float32
(Darts trains in the series' dtype: from pandas' float64 it trained in float64, off oneDNN's
LSTM kernel, at a quarter of the speed: 1,603 against 6,832 windows/s, two threads, 272 steps,
seed 0, 2026-11-25; earlier versions of this comparison did that); with ``--precision bf16``,
Lightning's ``bf16-mixed``. It trains
once per budget of the ladder (from scratch; a budget of S steps is S / 68 epochs, one epoch
being 68 batches of the training part's windows) and scores each on the validation tail; the
largest budget is scored on the test tail too.

Timed: windows per second over blocks of 10 steps (:class:`lightning_clock.StepClock`), the
median after the first block; a budget's seconds are the wall-clock of ``fit``. Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from darts import TimeSeries
from darts.models import RNNModel
from lightning_clock import StepClock

import data

LIGHTNING_PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}  # lstmkit's names, Lightning's

EPOCH = 68  # batches of 64 in one pass over the training part's 60-step windows


def fit(
    series: TimeSeries, steps: int, seed: int, precision: str = "fp32"
) -> tuple[RNNModel, StepClock, float]:
    clock = StepClock()
    model = RNNModel(
        model="LSTM",
        hidden_dim=64,
        n_rnn_layers=1,
        dropout=0.0,
        input_chunk_length=59,
        training_length=60,
        batch_size=64,
        n_epochs=max(1, steps // EPOCH),
        optimizer_kwargs={"lr": 1e-3},
        random_state=seed,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "callbacks": [clock],
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "precision": LIGHTNING_PRECISION[precision],
        },
    )
    start = time.perf_counter()
    model.fit(series, verbose=False)
    return model, clock, time.perf_counter() - start


def score(model: RNNModel, full: TimeSeries, split: str, seed: int) -> float:
    origins = data.origins(split)
    found = model.predict(n=data.HORIZON, series=[full[:o] for o in origins], verbose=False)
    values = [f.values()[:, 0] for f in found]
    return data.mase(dict(zip(origins, values, strict=True)), seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ladder", type=int, nargs="+", default=[68, 136, 272, 544, 1088])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=tuple(LIGHTNING_PRECISION),
        help="training arithmetic: Lightning's 32-true or bf16-mixed",
    )
    args = parser.parse_args()
    load_start = data.load_now()
    frame = data.series_frame(args.seed)
    # float32, as a Darts user training for speed has it: Darts trains in the series' dtype,
    # and a float64 series (pandas' default) trains in float64, off oneDNN's LSTM kernel.
    full = TimeSeries.from_dataframe(frame, time_col="ds", value_cols="y", freq="h")
    full = full.astype(np.float32)
    train_end, _ = data.split_points("test")
    ladder = []
    for steps in args.ladder:
        model, clock, seconds = fit(full[:train_end], steps, args.seed, args.precision)
        ladder.append(
            {"steps": steps, "fit_s": seconds, "valid_mase": score(model, full, "valid", args.seed)}
        )
    rates = clock.rates(64)
    import torch

    data.emit(
        {
            "side": "darts",
            "task": "forecast",
            "precision": args.precision,
            "train_windows_per_s": data.median(rates[1:]),
            "train_blocks": rates,
            "ladder": ladder,
            "test_mase": score(model, full, "test", args.seed),
            "load": [load_start, data.load_now()],
            "threads": torch.get_num_threads(),
        }
    )


if __name__ == "__main__":
    main()
