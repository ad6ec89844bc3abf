"""Data-parallel training: 2 CPU processes (gloo, loopback) end with the weights of 1 process
that trains on the same global batches with the same seed."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.checkpoint import load_checkpoint
from lstmkit.forecast.task import ForecastTask
from lstmkit.forecast.windows import Prepared
from lstmkit.lm.task import LMTask
from lstmkit.models import (
    ForecastConfig,
    LMConfig,
    LSTMLanguageModel,
    Seq2SeqConfig,
    build_forecaster,
    build_seq2seq,
)
from lstmkit.seq2seq.task import Seq2SeqTask
from lstmkit.train.distributed import gather_state, shard_rows, split_state, without_nproc
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import TrainConfig, Trainer

VOCAB, STREAMS, BPTT, WINDOWS, EPOCHS = 11, 4, 5, 100, 2  # 200 optimiser steps
WORKER_TIMEOUT = 120
ADAMW = OptimConfig(lr=0.01, warmup_steps=10)
# Two processes sum the gradient in another order than one: float32 rounding (~1e-8 a step).
# AdamW's division by sqrt(v) blows that up where a gradient is near zero (after 200 steps:
# seq2seq 4e-6, forecast 3e-5; seq2seq in float64: 3e-14, so the sums are the same), and SGD
# does not (7e-8, 6e-8): these two compare with SGD, to keep the check at 1e-6.
SGD = OptimConfig(optimizer="sgd", lr=0.01, momentum=0.9, warmup_steps=10)


class Tokenizer:
    def files(self):
        return {"tokenizer.json": b"{}"}


def lm_run():
    """A tiny language model over 4 TBPTT streams: 2 epochs of 100 windows."""
    gen = torch.Generator().manual_seed(3)
    ids = torch.randint(0, VOCAB, (STREAMS * (BPTT * WINDOWS + 1),), generator=gen)
    valid = torch.randint(0, VOCAB, (60,), generator=gen)
    meta = {"config": {"model": {"vocab_size": VOCAB}}, "tokenizer": Tokenizer()}
    torch.manual_seed(0)
    config = LMConfig(
        vocab_size=VOCAB,
        embedding_size=6,
        hidden_size=8,
        num_layers=2,
        dropout=0.0,
        layer_dropout=0.0,
    )
    return LSTMLanguageModel(config), LMTask(ids, valid, STREAMS, BPTT, meta), EPOCHS, ADAMW


def seq2seq_run():
    """Sentence pairs of different lengths (so the ranks' shares of tokens differ): 200 steps."""
    gen = torch.Generator().manual_seed(3)
    pairs = []
    for _ in range(400):
        n, m = torch.randint(1, 7, (2,), generator=gen).tolist()
        pairs.append((torch.randint(4, 9, (n,), generator=gen).tolist(), [4 + n % 5] * m))
    meta = {"config": {"model": {"pad_id": 0, "bos_id": 2, "eos_id": 3}}, "files": {}, "seed": 0}
    torch.manual_seed(0)
    config = Seq2SeqConfig(9, 9, embedding_size=4, hidden_size=8, num_layers=1, dropout=0.0)
    return build_seq2seq(config), Seq2SeqTask(pairs, pairs[:20], batch_size=4, meta=meta), 2, SGD


def forecast_run():
    """Sine windows with a quantile head: 2 epochs of 100 batches of 4 windows."""
    t = np.arange(120)
    prepared = [
        Prepared(
            name,
            pd.date_range("2001-01-01", periods=120, freq="D"),
            np.sin(t / (3 + k)),
            None,
            None,
            0.0,
            1.0,
        )
        for k, name in enumerate("ab")
    ]
    train = [(s, o) for s in range(2) for o in range(8, 100)]
    valid = [(s, o) for s in range(2) for o in range(100, 117)]
    meta = {"config": {"model": {}}, "files": {}, "seed": 0}
    task = ForecastTask(
        prepared, train, valid, 8, 3, batch_size=4, batches_per_epoch=WINDOWS, meta=meta
    )
    torch.manual_seed(0)
    config = ForecastConfig(horizon=3, hidden_size=8, num_layers=1, dropout=0.0)
    return build_forecaster(config), task, 2, SGD


RUNS = {"lm": lm_run, "seq2seq": seq2seq_run, "forecast": forecast_run}


def train(name: str, out: Path, max_steps: int | None = None) -> None:
    model, task, epochs, optim = RUNS[name]()
    config = TrainConfig(epochs=epochs, log_every=20, clip=0.25, max_steps=max_steps)
    Trainer(model, task, optim, config, out, device="cpu", progress=False).fit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_gloo_available() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_gloo_available()


@pytest.mark.skipif(not loopback_gloo_available(), reason="torch.distributed without gloo")
@pytest.mark.parametrize("name", list(RUNS))
def test_two_processes_end_with_the_weights_of_one(tmp_path, name):
    train(name, tmp_path / "one")
    train_two_processes(name, tmp_path / "two")
    one = load_checkpoint(tmp_path / "one" / "last", task=name)
    two = load_checkpoint(tmp_path / "two" / "last", task=name)
    steps = one.training_state["progress"]["step"]
    assert steps >= 200
    assert two.training_state["progress"]["step"] == steps
    diff = max((one.state_dict[k] - v).abs().max().item() for k, v in two.state_dict.items())
    assert diff <= 1e-6, f"{name}: max |w1 - w2| = {diff:.3g} after {steps} steps"
    # Rank 0 alone writes the metrics, the global batch's loss among them.
    lines = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len((tmp_path / "one" / "metrics.jsonl").read_text().splitlines())


@pytest.mark.skipif(not loopback_gloo_available(), reason="torch.distributed without gloo")
def test_a_checkpoint_of_two_processes_holds_every_streams_state(tmp_path):
    train("lm", tmp_path / "one", max_steps=50)  # stops mid-epoch: the state is carried
    train_two_processes("lm", tmp_path / "two", max_steps=50)
    one = load_checkpoint(tmp_path / "one" / "last", task="lm").training_state["carry"]
    two = load_checkpoint(tmp_path / "two" / "last", task="lm").training_state["carry"]
    for a, b in zip(one, two, strict=True):  # per layer (h, c), each (1, B, H)
        for x, y in zip(a, b, strict=True):
            assert x.shape == y.shape == (1, STREAMS, 8)
            assert (x - y).abs().max().item() <= 1e-6


def train_two_processes(name: str, out: Path, max_steps: int | None = None) -> None:
    """``train`` as 2 processes (gloo on loopback), each running this file as a script."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    env.update(MASTER_PORT=str(free_port()), WORLD_SIZE="2")
    args = [sys.executable, __file__, name, str(out), str(max_steps or "")]
    workers = [
        subprocess.Popen(
            args,
            env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    errors = [w.communicate(timeout=WORKER_TIMEOUT)[1] for w in workers]
    if any("Connection refused" in e or "Address" in e for e in errors):
        pytest.skip(f"no loopback process group: {errors[0][-300:]}")
    assert [w.returncode for w in workers] == [0, 0], errors


def test_shard_rows_splits_every_batch_first_tensor():
    x, y = torch.arange(8).view(4, 2), torch.arange(4)
    parts = [shard_rows((x, {"y": y, "none": None}), r, 2) for r in range(2)]
    assert parts[1][0].tolist() == [[4, 5], [6, 7]]
    assert parts[0][1]["y"].tolist() == [0, 1]
    assert parts[0][1]["none"] is None


def test_a_saved_state_splits_into_the_ranks_streams():
    h = torch.arange(24.0).view(2, 4, 3)  # (L, B, H)
    assert gather_state((h,)) is not None  # one process: nothing to gather
    halves = split_state((h, h), 1, 2)
    assert torch.equal(halves[0], h[:, 2:])


def test_the_launcher_drops_its_own_option():
    argv = ["lm", "train", "--nproc", "2", "--out", "r", "--nproc=3"]
    assert without_nproc(argv) == ["lm", "train", "--out", "r"]


if __name__ == "__main__":  # a worker of test_two_processes_end_with_the_weights_of_one
    torch.set_num_threads(1)
    train(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]) if sys.argv[3] else None)
    torch.distributed.destroy_process_group()
