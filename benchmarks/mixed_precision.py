"""Mixed precision: lstmkit's training steps in float32 against bfloat16 (``precision="bf16"``).

For each of the product's models, at the sizes the other benchmarks use, it times one training
step as the trainer takes it (forward and loss, under ``torch.autocast(bfloat16)`` for bf16;
backward; torch's fused AdamW on float32 weights) in both precisions, round-robin on the same
weights and batch, and prints the median step time, the speed-up, and the difference between
the two losses at the starting weights (bfloat16 keeps 8 bits of mantissa: about 1%). For the
2x512 language model, whose matrix-product FLOPs are known, it also gives GFLOP/s as a share of
the matrix-multiply peak of the same precision, measured in the same run (square 2048, best of
several).

The models:

* ``lm 2x512``: the character language model of ``lm_throughput.py`` (embedding 128, 2x512
  LSTM, vocabulary 65), batch 64 x 100 steps;
* ``seq2seq``: the peer comparison's network (bidirectional 1x256 encoder, embedding 128, 1x256
  decoder with Luong attention and input feeding), 64 pairs of 5-20 tokens, vocabulary 54;
* ``forecast ar`` / ``forecast direct``: the peer comparison's forecasters (1x64 LSTM, look-back
  48, horizon 12; autoregressive head with the one-step loss, or direct head), 64 windows;
* ``speech``: the default CTC recogniser (80 mel bands stacked by 4, bidirectional 3x256 LSTM,
  dropout 0.1, 30 characters and the blank), 16 utterances of 2-3 s (200-300 frames), a
  padded batch: the explicit backend, whose input projections autocast runs in bfloat16.

bfloat16 pays where the CPU computes it (AVX512-BF16 or AMX: AMD Zen 4, Intel Sapphire Rapids
and later); elsewhere torch emulates it and the bf16 column is slower. The bf16 matmul peak in
the header says which case a machine is.

Run from the repository root::

    .venv/bin/python benchmarks/mixed_precision.py             # every core
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mixed_precision.py --json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from _common import emit, fmt_load, load_average, measure_matmul_peak, run_meta
from lstmkit.models import (
    ForecastConfig,
    LMConfig,
    LSTMLanguageModel,
    Seq2SeqConfig,
    build_forecaster,
    build_seq2seq,
)
from lstmkit.models.speech import CTCRecognizer, SpeechConfig
from lstmkit.train.optim import OptimConfig, build_optimizer, parameter_groups

LM_FLOPS_PER_TOKEN = 3 * (2 * 4 * 512 * (128 + 512) + 2 * 4 * 512 * (512 + 512) + 2 * 512 * 65)
LOSS_RTOL = 0.03  # bfloat16's rounding through a whole network; beyond it, something is wrong


@dataclass
class Case:
    name: str
    model: nn.Module
    loss: Callable[[], torch.Tensor]  # the step's forward pass and loss on a fixed batch
    tokens: int  # what the step trains on: tokens, target tokens or windows
    unit: str
    flops: float | None = None  # matrix-product FLOPs of one training step, where known


def lm_case(gen: torch.Generator) -> Case:
    model = LSTMLanguageModel(
        LMConfig(
            vocab_size=65,
            embedding_size=128,
            hidden_size=512,
            num_layers=2,
            dropout=0.2,
            layer_dropout=0.2,
        )
    )
    ids = torch.randint(0, 65, (64, 101), generator=gen)
    x, y = ids[:, :-1], ids[:, 1:]

    def loss():
        torch.manual_seed(0)  # the same dropout masks in both precisions
        logits, _ = model(x)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())

    return Case("lm 2x512", model, loss, x.numel(), "tokens", LM_FLOPS_PER_TOKEN * x.numel())


def seq2seq_case(gen: torch.Generator) -> Case:
    model = build_seq2seq(
        Seq2SeqConfig(
            54,
            54,
            embedding_size=128,
            hidden_size=256,
            num_layers=1,
            dropout=0.0,
            bidirectional=True,
            attention="luong",
            input_feeding=True,
            embedding_init="scaled",
        )
    )
    lengths = torch.randint(5, 21, (64,), generator=gen)
    S = int(lengths.max())
    src = torch.randint(4, 54, (64, S), generator=gen)
    src[torch.arange(S) >= lengths[:, None]] = 0
    tgt_in = torch.zeros(64, S + 1, dtype=torch.long)  # bos + the reversed source
    tgt_out = torch.zeros(64, S + 1, dtype=torch.long)  # the reversed source + eos
    for b, n in enumerate(lengths.tolist()):
        words = src[b, :n].flip(0)
        tgt_in[b, : n + 1] = torch.cat([torch.tensor([2]), words])
        tgt_out[b, : n + 1] = torch.cat([words, torch.tensor([3])])

    def loss():
        return model.loss(src, lengths, tgt_in, tgt_out)[0]

    return Case("seq2seq", model, loss, int((tgt_out != 0).sum()), "target tokens")


def forecast_case(gen: torch.Generator, head: str) -> Case:
    config = ForecastConfig(
        horizon=12,
        hidden_size=64,
        num_layers=1,
        dropout=0.0,
        quantiles=(0.5,),
        head=head,
        one_step_loss=1.0 if head == "autoregressive" else 0.0,
    )
    model = build_forecaster(config)
    y, target = torch.randn(64, 48, generator=gen), torch.randn(64, 12, generator=gen)
    short = "ar" if head == "autoregressive" else head
    return Case(f"forecast {short}", model, lambda: model.loss(y, target=target), 64, "windows")


def speech_case(gen: torch.Generator) -> Case:
    model = CTCRecognizer(SpeechConfig(vocab_size=31, n_mels=80))
    lengths = torch.randint(200, 301, (16,), generator=gen)
    features = torch.randn(16, int(lengths.max()), 80, generator=gen)
    target_lengths = torch.randint(20, 41, (16,), generator=gen)
    targets = torch.randint(1, 31, (16, 40), generator=gen)

    def loss():
        torch.manual_seed(0)  # the same dropout masks in both precisions
        return model.loss(features, lengths, targets, target_lengths)[0]

    seconds = int(lengths.sum()) // 100  # 10 ms frames
    return Case("speech", model, loss, seconds, "audio seconds")


def step(case: Case, optimizer, precision: str) -> float:
    """One training step as the trainer takes it; returns the loss."""
    with torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
        loss = case.loss().float()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def time_case(case: Case, repeat: int, warmup: int) -> dict:
    """Both precisions from the same weights, each with its own AdamW, alternating."""
    start = {k: v.clone() for k, v in case.model.state_dict().items()}
    case.model.train()
    losses = {}
    for precision in ("fp32", "bf16"):  # the losses at the starting weights, no update
        case.model.load_state_dict(start)
        with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, precision == "bf16"):
            losses[precision] = case.loss().float().item()
    rel = abs(losses["bf16"] - losses["fp32"]) / abs(losses["fp32"])
    if not rel <= LOSS_RTOL:
        sys.exit(
            f"{case.name}: bf16 loss {losses['bf16']:.5g} against fp32 "
            f"{losses['fp32']:.5g}, relative difference {rel:.3g} > {LOSS_RTOL}"
        )
    optimizers = {
        p: build_optimizer(parameter_groups(case.model), OptimConfig(lr=1e-4))
        for p in ("fp32", "bf16")
    }
    samples = {"fp32": [], "bf16": []}
    for k in range(warmup + repeat):
        order = ("fp32", "bf16") if k % 2 == 0 else ("bf16", "fp32")
        for precision in order:
            case.model.load_state_dict(start)  # every step from the same weights
            began = time.perf_counter()
            step(case, optimizers[precision], precision)
            if k >= warmup:
                samples[precision].append(time.perf_counter() - began)
    ms = {p: 1e3 * statistics.median(s) for p, s in samples.items()}
    return {
        "case": case.name,
        "unit": case.unit,
        "per_step": case.tokens,
        "fp32_ms": ms["fp32"],
        "bf16_ms": ms["bf16"],
        "speedup": ms["fp32"] / ms["bf16"],
        "loss_fp32": losses["fp32"],
        "loss_bf16": losses["bf16"],
        "loss_rel_diff": rel,
        "flops": case.flops,
    }


def markdown(meta: dict, rows: list[dict]) -> str:
    head = (
        f"torch {meta['torch']} | threads {meta['threads']} | CPU: {meta['cpu']} | matmul "
        f"peak fp32 {meta['peak_fp32']:.1f}, bf16 {meta['peak_bf16']:.1f} GFLOP/s | "
        f"median of {meta['repeat']} | 1-min load avg {fmt_load(meta['load_avg_start'])} at "
        f"start, {fmt_load(meta['load_avg_end'])} at end"
    )
    lines = [
        head,
        "",
        "| model | per step | fp32 ms | bf16 ms | speed-up | fp32 units/s | "
        "bf16 units/s | MFU fp32 / bf16 | loss difference |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mfu = ""
        if r["flops"]:
            fp32 = r["flops"] / r["fp32_ms"] / 1e6 / meta["peak_fp32"] * 100
            bf16 = r["flops"] / r["bf16_ms"] / 1e6 / meta["peak_bf16"] * 100
            mfu = f"{fp32:.0f}% / {bf16:.0f}%"
        lines.append(
            f"| {r['case']} | {r['per_step']:,} {r['unit']} | {r['fp32_ms']:.1f} | "
            f"{r['bf16_ms']:.1f} | {r['speedup']:.2f}x | {r['per_step'] / r['fp32_ms'] * 1e3:,.0f} "
            f"| {r['per_step'] / r['bf16_ms'] * 1e3:,.0f} | {mfu} | "
            f"{100 * r['loss_rel_diff']:.2g}% |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed steps per precision")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per precision")
    parser.add_argument(
        "--only", nargs="+", help="models by name prefix (lm, seq2seq, forecast, speech)"
    )
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    meta = run_meta(repeat=args.repeat, warmup=args.warmup)
    meta["peak_fp32"] = measure_matmul_peak(tries=10)
    meta["peak_bf16"] = measure_matmul_peak(tries=10, dtype=torch.bfloat16)
    gen = torch.Generator().manual_seed(0)
    builders = [
        lm_case,
        seq2seq_case,
        lambda g: forecast_case(g, "autoregressive"),
        lambda g: forecast_case(g, "direct"),
        speech_case,
    ]
    rows = []
    for build in builders:
        case = build(gen)
        if args.only and not any(case.name.startswith(p) for p in args.only):
            continue
        print(f"timing {case.name} ...", file=sys.stderr, flush=True)
        rows.append(time_case(case, args.repeat, args.warmup))
    meta["load_avg_end"] = load_average()
    emit(args.json, markdown(meta, rows), meta=meta, results=rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
