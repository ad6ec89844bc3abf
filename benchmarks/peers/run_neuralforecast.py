"""neuralforecast's side of the forecasting comparison; run with its venv's python.

neuralforecast 3.3 ``LSTM(h=12, input_size=48, encoder_hidden_size=64, decoder_hidden_size=64,
windows_batch_size=64)`` (the issue's settings) with ``encoder_n_layers=1`` (its default is 2;
1 matches the lstmkit model), Adam 1e-3 (its default), MAE loss (its default), no validation,
on the training part of :mod:`data`'s series as a ``unique_id, ds, y`` frame (its weights and
windows are float32 whatever the frame's dtype; ``--precision bf16``: Lightning's
``bf16-mixed``). It trains once
per budget of the ladder (``max_steps``, from scratch) and scores each on the validation tail;
the largest budget is scored on the test tail too. The rolling origins are predicted in one
call, each origin's history a series of its own.

Timed: windows per second over blocks of 10 steps (:class:`lightning_clock.StepClock`; 64
windows a step; with one series each Lightning epoch is one step, so blocks span epochs), the
median after the first block; a budget's seconds are the wall-clock of
``fit``. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lightning_clock import StepClock
from neuralforecast import NeuralForecast
from neuralforecast.models import LSTM

import data

LIGHTNING_PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}  # lstmkit's names, Lightning's


def fit(
    frame: pd.DataFrame, steps: int, seed: int, precision: str = "fp32"
) -> tuple[NeuralForecast, StepClock, float]:
    clock = StepClock()
    model = LSTM(
        h=data.HORIZON,
        input_size=48,
        encoder_n_layers=1,
        encoder_hidden_size=64,
        decoder_hidden_size=64,
        windows_batch_size=64,
        max_steps=steps,
        learning_rate=1e-3,
        random_seed=seed,
        accelerator="cpu",
        callbacks=[clock],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        precision=LIGHTNING_PRECISION[precision],
    )
    nf = NeuralForecast(models=[model], freq="h")
    start = time.perf_counter()
    nf.fit(df=frame)
    return nf, clock, time.perf_counter() - start


def score(nf: NeuralForecast, full: pd.DataFrame, split: str, seed: int) -> float:
    origins = data.origins(split)
    histories = pd.concat([full.iloc[:o].assign(unique_id=f"o{o}") for o in origins])
    found = nf.predict(df=histories)
    values = {o: found[found["unique_id"] == f"o{o}"]["LSTM"].to_numpy() for o in origins}
    return data.mase(values, seed)


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
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    load_start = data.load_now()
    full = data.series_frame(args.seed)
    train_end, _ = data.split_points("test")
    ladder = []
    for steps in args.ladder:
        nf, clock, seconds = fit(full.iloc[:train_end], steps, args.seed, args.precision)
        ladder.append(
            {"steps": steps, "fit_s": seconds, "valid_mase": score(nf, full, "valid", args.seed)}
        )
    rates = clock.rates(64, by_epoch=False)  # one step an epoch
    import torch

    data.emit(
        {
            "side": "neuralforecast",
            "task": "forecast",
            "precision": args.precision,
            "train_windows_per_s": data.median(rates[1:]),
            "train_blocks": rates,
            "ladder": ladder,
            "test_mase": score(nf, full, "test", args.seed),
            "load": [load_start, data.load_now()],
            "threads": torch.get_num_threads(),
        }
    )


if __name__ == "__main__":
    main()
