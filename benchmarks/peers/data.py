"""The data both sides of every peer comparison train and score on, from fixed seeds.

Imported by the lstmkit runner (lstmkit's venv) and by each peer's runner (that peer's venv), so
it needs only the standard library, numpy and pandas — never lstmkit.

* Seq2seq: reverse-the-sequence pairs over 50 symbols ``s0`` … ``s49``, lengths 5–20, written
  space-separated (the detokenized form sacrebleu scores); 5,000 training pairs and 500 each of
  held-out dev and test pairs, each test source absent from the training sources.
* Forecasting: 5,000 hourly points of ``sin(2πt/24) + 0.3 sin(2πt/168) + N(0, 0.2²)``; the last
  300 points are the test tail and the 300 before them the validation tail. Each side forecasts
  12 steps from every 12th origin of a tail, from the true history (a rolling backtest), and the
  MASE scale is the in-sample seasonal-naive (m = 24) error on the training part.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

VOCAB = [f"s{k}" for k in range(50)]
MIN_LEN, MAX_LEN = 5, 20
N_TRAIN, N_HELD = 5000, 500
SERIES_LEN, TAIL, HORIZON, SEASON = 5000, 300, 12, 24
START = pd.Timestamp("2020-01-01")


def reverse_pairs(seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """The train/dev/test reverse-the-sequence pairs, ``(source, target)`` strings."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    splits: dict[str, list[tuple[str, str]]] = {}
    for name, size in (("train", N_TRAIN), ("dev", N_HELD), ("test", N_HELD)):
        pairs = []
        while len(pairs) < size:
            n = int(rng.integers(MIN_LEN, MAX_LEN + 1))
            words = [VOCAB[i] for i in rng.integers(0, len(VOCAB), n)]
            src = " ".join(words)
            if src in seen:  # held-out sources never occur in training (nor twice anywhere)
                continue
            seen.add(src)
            pairs.append((src, " ".join(reversed(words))))
        splits[name] = pairs
    return splits


def write_pairs(folder: str | Path, seed: int = 0) -> Path:
    """Writes ``{train,dev,test}.{src,tgt}`` (one sentence a line) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, pairs in reverse_pairs(seed).items():
        for side, k in (("src", 0), ("tgt", 1)):
            text = "".join(p[k] + "\n" for p in pairs)
            (folder / f"{name}.{side}").write_text(text, encoding="utf-8")
    return folder


def sine_series(seed: int = 0) -> np.ndarray:
    """The (SERIES_LEN,) sine-plus-noise values."""
    rng = np.random.default_rng(seed)
    t = np.arange(SERIES_LEN)
    clean = np.sin(2 * np.pi * t / SEASON) + 0.3 * np.sin(2 * np.pi * t / (7 * SEASON))
    return (clean + rng.normal(0.0, 0.2, SERIES_LEN)).astype(np.float64)


def series_frame(seed: int = 0, end: int | None = None) -> pd.DataFrame:
    """The series' first ``end`` points as a ``unique_id, ds, y`` frame (hourly)."""
    y = sine_series(seed)[:end]
    ds = pd.date_range(START, periods=len(y), freq="h")
    return pd.DataFrame({"unique_id": "sine", "ds": ds, "y": y})


def split_points(split: str) -> tuple[int, int]:
    """``(train_end, tail_end)``: train on ``[0, train_end)``, score ``[train_end, tail_end)``.

    ``"valid"`` trains on all but the last 600 points and scores the next 300; ``"test"`` trains
    on the same points (the validation tail is never trained on) and scores the last 300.
    """
    train_end = SERIES_LEN - 2 * TAIL
    if split == "valid":
        return train_end, train_end + TAIL
    if split == "test":
        return train_end, SERIES_LEN
    raise ValueError(f"split: expected 'valid' or 'test', got {split!r}")


def origins(split: str) -> list[int]:
    """The forecast origins of a tail: every HORIZONth point whose horizon fits in it."""
    _, end = split_points(split)
    first = end - TAIL
    return list(range(first, end - HORIZON + 1, HORIZON))


def mase(forecasts: dict[int, np.ndarray], seed: int = 0) -> float:
    """Mean over origins of MAE / in-sample seasonal-naive MAE.

    Args:
        forecasts: origin → (HORIZON,) forecast of the points ``[origin, origin + HORIZON)``.
    """
    y = sine_series(seed)
    train_end, _ = split_points("test")
    scale = np.abs(y[SEASON:train_end] - y[: train_end - SEASON]).mean()
    errors = [np.abs(np.asarray(f) - y[o : o + HORIZON]).mean() for o, f in forecasts.items()]
    return float(np.mean(errors) / scale)


def emit(result: dict) -> None:
    """Prints a runner's one JSON line (the last line of its output, which compare.py reads)."""
    print(json.dumps(result), flush=True)


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU of detokenized symbol strings (sacrebleu's defaults; in both venvs)."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def load_now() -> float:
    """The 1-minute load average (as benchmarks/_common.py, which needs torch to import)."""
    import os

    return os.getloadavg()[0]


def median(values: list[float]) -> float | None:
    """The median, or None of no values."""
    return float(np.median(values)) if values else None
