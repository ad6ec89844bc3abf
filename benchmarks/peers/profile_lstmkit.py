"""Where lstmkit's training time goes on the peer comparisons' models (torch.profiler).

Builds the networks of ``run_lstmkit.py`` (seq2seq: bidirectional 1x256 encoder, Luong
"general" attention with input feeding, batch 64 of the reverse-the-sequence pairs; forecast:
1x64 LSTM, look-back 48, horizon 12, batch 64) and profiles a few training steps (forward,
loss, backward, AdamW step) after warm-up, printing the operators by self CPU time and the
share of the decoder's per-position loop.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/peers/profile_lstmkit.py seq2seq
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_lstmkit import SEQ2SEQ_MODEL

import data
from lstmkit.models import Seq2SeqConfig, build_seq2seq
from lstmkit.models.forecaster import ForecastConfig, build_forecaster


def seq2seq_batch(seed: int):
    """A (src, lengths, tgt_in, tgt_out) batch of 64 pairs, ids over a 50-word vocabulary."""
    pairs = data.reverse_pairs(seed)["train"][:64]
    vocab = {w: k + 4 for k, w in enumerate(data.VOCAB)}  # 0 pad, 1 unk, 2 bos, 3 eos
    S = max(len(s.split()) for s, _ in pairs)
    src = torch.zeros(64, S, dtype=torch.long)
    tgt_in = torch.zeros(64, S + 1, dtype=torch.long)
    tgt_out = torch.zeros(64, S + 1, dtype=torch.long)
    lengths = torch.tensor([len(s.split()) for s, _ in pairs])
    for b, (s, t) in enumerate(pairs):
        ids, out = [vocab[w] for w in s.split()], [vocab[w] for w in t.split()]
        src[b, : len(ids)] = torch.tensor(ids)
        tgt_in[b, : len(out) + 1] = torch.tensor([2, *out])
        tgt_out[b, : len(out) + 1] = torch.tensor([*out, 3])
    return src, lengths, tgt_in, tgt_out


def seq2seq_step_fn(seed: int):
    model = build_seq2seq(Seq2SeqConfig(len(data.VOCAB) + 4, len(data.VOCAB) + 4, **SEQ2SEQ_MODEL))
    batch = seq2seq_batch(seed)
    return model, lambda: model.loss(*batch)[0], int((batch[3] != 0).sum())


def forecast_step_fn(seed: int, head: str = "autoregressive"):
    config = ForecastConfig(
        horizon=12,
        n_past=0,
        n_future=0,
        hidden_size=64,
        num_layers=1,
        dropout=0.0,
        quantiles=(0.5,),
        head=head,
    )
    model = build_forecaster(config)
    gen = torch.Generator().manual_seed(seed)
    y = torch.randn(64, 48, generator=gen)
    target = torch.randn(64, 12, generator=gen)
    return model, lambda: model.loss(y, target=target), 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=("seq2seq", "forecast"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--head", default="autoregressive", help="forecast head")
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="bf16: the forward pass and loss under torch.autocast, as the "
        "trainer's precision='bf16'",
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.task == "seq2seq":
        model, loss_fn, units = seq2seq_step_fn(0)
    else:
        model, loss_fn, units = forecast_step_fn(0, args.head)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    bf16 = args.precision == "bf16"

    def step():
        with record_function("forward+loss"), torch.autocast("cpu", torch.bfloat16, bf16):
            loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        with record_function("backward"):
            loss.backward()
        with record_function("optimizer"):
            optimizer.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = (time.perf_counter() - start) / args.steps
    print(
        f"{args.task}: {seconds * 1e3:.1f} ms a step, {units / seconds:,.0f} units/s "
        f"(threads {torch.get_num_threads()}, load {data.load_now():.2f})"
    )
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
