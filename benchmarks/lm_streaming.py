"""Streaming latency of the 2x512 LSTM language model: one token per step, batch 1 and batch 32.

What it measures
----------------
The model is lstmkit's ``LSTMLanguageModel`` with random weights: embedding 256 → 2 LSTM layers
of 512 → output layer over a 10,000-word vocabulary, in eval mode. One step reads one token per
stream (B of them) with the carried state and returns the next token's probabilities (softmax
included in every implementation, so that each does the same work). Four implementations, with
the same weights:

1. reference: ``torch.nn.Embedding`` → ``torch.nn.LSTM(256, 512, num_layers=2)`` →
   ``torch.nn.Linear`` → softmax, stepped on (B, 1) under ``torch.inference_mode()``; every ratio
   is taken against it;
2. lstmkit forward: the network's ``forward`` on (B, 1) with the carried state → softmax, under
   ``torch.no_grad()`` (one lstmkit LSTM module per layer; ``lstmkit.nn.LSTM`` runs a one-step
   call as torch's LSTM *cell* per layer, because torch's fused sequence kernel is slow at T = 1);
3. ``LanguageModel.step``: the estimator's step (2 plus input checks, the eval-mode switch,
   no-grad and the immutable state; an id per stream in, probabilities out);

and, at batch 1, ``Stream.push`` (``LanguageModel.stream()``), which also keeps the probabilities.

Before timing, all are stepped over the same 20 tokens; their probabilities must agree
within 1e-5 or the run aborts.

FLOPs (matrix products only): per token Σ 2·4H(I+H) + 2·H·V = 17.6 MFLOP for E=256, H=512,
V=10,000 (the output layer is 58% of it). GFLOP/s = B x that / the median step time, reported as
a share of the float32 matmul peak measured in the same run (square 2048, best of 10, at start
and end; the better one). At batch 1 each step is matrix-vector products that read all the
weights (about 35 MB, the output layer's 20 MB among them): bandwidth, not the matmul peak,
bounds it.

Timing: every step is timed on its own with ``time.perf_counter``; ``--rounds`` rounds of
``--steps`` steps per implementation, the implementations round-robin within each round (the
starting one rotating), after ``--warmup`` untimed steps each. Reported: the median and the 90th
percentile step latency and tokens/s = B / median. Other processes on the cores distort the
timings; the 1-minute load average at start and end is in the header.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lm_streaming.py
    .venv/bin/python benchmarks/lm_streaming.py --batches 1 --steps 50 --json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from _common import emit, fmt_load, load_average, measure_matmul_peak, run_meta

VOCAB, EMBEDDING, HIDDEN, LAYERS = 10_000, 256, 512, 2
CHECK_STEPS, PROBS_ATOL = 20, 1e-5
LABELS = {
    "torch": "torch.nn.LSTM reference",
    "forward": "lstmkit forward (B, 1)",
    "step": "LanguageModel.step",
    "push": "Stream.push",
}

Stepper = Callable[[Tensor], Tensor]  # ids (B,) → probabilities (B, V); keeps its own state


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32], metavar="B")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per implementation")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads value")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and tokens")
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    args = parser.parse_args(argv)
    if min(args.batches) < 1 or args.steps < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--batches, --steps and --rounds must be >= 1 and --warmup >= 0")
    return args


def flops_per_token() -> float:
    """Matrix-product FLOPs of one token's step: Σ 2·4H(I+H) + 2·H·V."""
    widths = [EMBEDDING] + [HIDDEN] * LAYERS
    recurrent = sum(2 * 4 * HIDDEN * (widths[k] + HIDDEN) for k in range(LAYERS))
    return float(recurrent + 2 * HIDDEN * VOCAB)


def build_models(seed: int):
    """The lstmkit estimator (a word vocabulary ``w0 …`` of the right size) and the torch
    reference holding the same weights."""
    from lstmkit.lm import LanguageModel
    from lstmkit.models import LMConfig, LSTMLanguageModel
    from lstmkit.tokenizers import WordTokenizer

    torch.manual_seed(seed)
    config = LMConfig(VOCAB, EMBEDDING, HIDDEN, LAYERS)
    lm = LanguageModel("word")
    lm.tokenizer_ = WordTokenizer(
        ["<pad>", "<unk>", "<bos>", "<eos>", *(f"w{k}" for k in range(VOCAB - 4))]
    )
    lm.model_ = LSTMLanguageModel(config).eval()
    ref = nn.ModuleDict(
        {
            "embed": nn.Embedding(VOCAB, EMBEDDING),
            "lstm": nn.LSTM(EMBEDDING, HIDDEN, LAYERS, batch_first=True),
            "output": nn.Linear(HIDDEN, VOCAB),
        }
    ).eval()
    with torch.no_grad():
        ref["embed"].weight.copy_(lm.model_.embed.weight)
        ref["output"].load_state_dict(lm.model_.output.state_dict())
        for k, layer in enumerate(lm.model_.layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref["lstm"], f"{name}_l{k}").copy_(getattr(layer, f"{name}_l0"))
    return lm, ref


def steppers(lm, ref: nn.Module, batch: int) -> dict[str, Stepper]:
    """A fresh stepper per implementation, each starting from the zero state."""

    def torch_step() -> Stepper:
        state = None

        def step(ids: Tensor) -> Tensor:
            nonlocal state
            with torch.inference_mode():
                out, state = ref["lstm"](ref["embed"](ids[:, None]), state)  # (B, 1, H)
                return ref["output"](out[:, 0]).softmax(-1)  # (B, V)

        return step

    def forward_step() -> Stepper:
        state = None

        def step(ids: Tensor) -> Tensor:
            nonlocal state
            with torch.no_grad():
                logits, state = lm.model_(ids[:, None], state)  # (B, 1, V)
                return logits[:, -1].softmax(-1)

        return step

    def estimator_step() -> Stepper:
        state = None

        def step(ids: Tensor) -> Tensor:
            nonlocal state
            token = ids if batch > 1 else int(ids[0])  # batch 1: one id in, (V,) out
            probs, state = lm.step(token, state)
            return probs.view(batch, -1)

        return step

    def push_step() -> Stepper:
        stream = lm.stream()
        return lambda ids: stream.push(int(ids[0])).view(1, -1)

    found = {"torch": torch_step(), "forward": forward_step(), "step": estimator_step()}
    if batch == 1:
        found["push"] = push_step()
    return found


def check_agreement(lm, ref: nn.Module, batch: int, seed: int) -> None:
    """Aborts unless every implementation's probabilities agree with the reference's."""
    gen = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(4, VOCAB, (CHECK_STEPS, batch), generator=gen)
    runs = steppers(lm, ref, batch)
    errors = {key: 0.0 for key in runs}
    for t in range(CHECK_STEPS):
        want = runs["torch"](ids[t])
        for key, run in runs.items():
            if key != "torch":
                errors[key] = max(errors[key], (run(ids[t]) - want).abs().max().item())
    bad = {key: err for key, err in errors.items() if not err <= PROBS_ATOL}
    if bad:
        sys.exit(f"batch {batch}: probabilities differ from the reference: {bad}")


def time_steps(lm, ref, batch: int, args) -> dict[str, list[float]]:
    """Per-step latencies (s) per implementation, round-robin by rounds."""
    gen = torch.Generator().manual_seed(args.seed + 2)
    ids = torch.randint(4, VOCAB, (args.warmup + args.steps, batch), generator=gen)
    samples: dict[str, list[float]] = {}
    for round_index in range(args.rounds):
        runs = steppers(lm, ref, batch)
        keys = list(runs)
        shift = round_index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            run = runs[key]
            for t in range(args.warmup):
                run(ids[t])
            times = samples.setdefault(key, [])
            for t in range(args.warmup, args.warmup + args.steps):
                start = time.perf_counter()
                run(ids[t])
                times.append(time.perf_counter() - start)
    return samples


def summarise(batch: int, samples: dict[str, list[float]], peak: float) -> list[dict]:
    """Median and p90 latency, tokens/s, GFLOP/s, share of peak and ratio to the reference."""
    ref = statistics.median(samples["torch"])
    records = []
    for key, times in samples.items():
        median = statistics.median(times)
        p90 = statistics.quantiles(times, n=10)[-1]
        gflops = batch * flops_per_token() / median / 1e9
        records.append(
            {
                "batch": batch,
                "impl": key,
                "label": LABELS[key],
                "steps": len(times),
                "median_s": median,
                "p90_s": p90,
                "tokens_per_s": batch / median,
                "gflops": gflops,
                "peak_share": 100 * gflops / peak,
                "ratio": median / ref,
            }
        )
    return records


def render_markdown(meta: dict, records: list[dict]) -> str:
    """The header line, the model and FLOPs, and the table."""
    lines = [
        f"torch {meta['torch']} | threads {meta['threads']} (OMP_WAIT_POLICY "
        f"{meta['omp_wait_policy'] or 'default'}) | CPU: {meta['cpu']} | "
        f"fp32 matmul peak {meta['peak_gflops']:.1f} GFLOP/s (2048x2048, best of 2x10) | "
        f"{meta['rounds']} rounds x {meta['steps']} steps (warm-up {meta['warmup']}) | "
        f"1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
        f"{fmt_load(meta['load_avg_end'])} at end",
        "",
        f"Model: LSTM LM, embedding {EMBEDDING}, {LAYERS}x{HIDDEN} LSTM, vocabulary {VOCAB:,}, "
        f"eval mode, random weights; step = one token per stream → next-token probabilities.",
        f"FLOPs per token (matrix products only): Σ 2·4H(I+H) + 2·H·V = "
        f"{flops_per_token() / 1e6:.2f} M.",
        "",
        "| B | implementation | median ms | p90 ms | ratio | tokens/s | GFLOP/s | % of peak |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['batch']} | {r['label']} | {r['median_s'] * 1e3:.3f} | {r['p90_s'] * 1e3:.3f} "
            f"| {r['ratio']:.2f}x | {r['tokens_per_s']:,.0f} | {r['gflops']:.1f} "
            f"| {r['peak_share']:.1f}% |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints the markdown report (or JSON with ``--json``)."""
    args = parse_args(argv)
    try:
        import lstmkit  # noqa: F401  (fail fast, before the timing)
    except ImportError as exc:
        sys.exit(f"cannot import lstmkit ({exc}); run `.venv/bin/pip install -e . --no-deps`")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    meta = run_meta(
        rounds=args.rounds,
        steps=args.steps,
        warmup=args.warmup,
        seed=args.seed,
        vocab_size=VOCAB,
        embedding_size=EMBEDDING,
        hidden_size=HIDDEN,
        num_layers=LAYERS,
        flops_per_token=flops_per_token(),
    )
    meta["peak_gflops"] = measure_matmul_peak(tries=10)
    print(f"matmul peak {meta['peak_gflops']:.1f} GFLOP/s", file=sys.stderr, flush=True)
    lm, ref = build_models(args.seed)
    records: list[dict] = []
    for batch in args.batches:
        check_agreement(lm, ref, batch, args.seed)
        records += summarise(batch, time_steps(lm, ref, batch, args), meta["peak_gflops"])
        speeds = [
            f"{r['label']} {r['tokens_per_s']:,.0f} tok/s" for r in records if r["batch"] == batch
        ]
        print(f"batch {batch}: " + ", ".join(speeds), file=sys.stderr, flush=True)
    meta["load_avg_end"] = load_average()
    end_peak = measure_matmul_peak(tries=10)
    if end_peak > meta["peak_gflops"]:
        meta["peak_gflops"] = end_peak
        for r in records:
            r["peak_share"] = 100 * r["gflops"] / end_peak
    emit(args.json, render_markdown(meta, records), meta=meta, results=records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
