"""Training throughput and model FLOP utilisation of a character LSTM language model on the CPU.

What it measures
----------------
The model is lstmkit's ``LSTMLanguageModel``: embedding 128 → 2 LSTM layers of 512 → output
layer over a 65-symbol vocabulary (Tiny Shakespeare's characters), with the Shakespeare recipe's
locked dropout (0.2 between the layers and on the output). One training step is what the trainer
does per batch: forward over a (B, T) window with the carried state, cross-entropy, backward,
gradient-norm clipping (0.25), an AdamW step (lstmkit's ``build_optimizer``: decay on matrices
only), and the state detached for the next window. Token ids are random (uniform over the 65
symbols): the speed does not depend on the text.

Three implementations of the recurrent layers, in the same model with the same weights:

1. ``torch.nn.LSTM`` (the reference every ratio is taken against),
2. ``lstmkit.nn.LSTM(..., backend="fused")`` (torch's kernel, called by lstmkit),
3. ``lstmkit.nn.LSTM(..., backend="explicit")`` (lstmkit's recurrence and its C++ cell kernel).

Before timing, the three are checked against each other (logits within 1e-4, gradients within
1e-3 of their scale); a mismatch aborts the run.

FLOPs (matrix products only; elementwise work, the embedding and the softmax are ignored): per
token, a layer with input I and hidden H costs 2·4H·(I+H) forward, the output layer 2·H·V; the
backward costs 2x the forward, so a training step is 3x forward. For E=128, H=512, V=65 that is
2·4·512·640 + 2·4·512·1024 + 2·512·65 = 6.88 MFLOP per token forward, 20.6 MFLOP training.
MFU = achieved model FLOP/s / the float32 matmul peak measured in the same run (square 2048
matmul, best of 10, at start and end; the better one is the peak).

Timing: ``--warmup`` untimed rounds, then ``--repeat`` timed rounds, the implementations run
round-robin within each round; the median step is reported, with the fastest and slowest round.
Another process on the cores hurts these timings badly, not proportionally: with torch's default
OpenMP waiting (spinning), each of the thousand small matrix products of a step can wait a whole
scheduler slice for a descheduled thread. A wide min-max spread and a load average above the
thread count mark such a run; ``OMP_WAIT_POLICY=PASSIVE`` in the environment makes it degrade
gracefully (the header says which policy ran).

Run from the repository root::

    .venv/bin/python benchmarks/lm_throughput.py                    # default shapes
    .venv/bin/python benchmarks/lm_throughput.py --shapes 64x100 --profile
    .venv/bin/python benchmarks/lm_throughput.py --quick --json
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
from torch import Tensor, nn

from _common import emit, fmt_load, load_average, measure_matmul_peak, run_meta

Shape = tuple[int, int]  # (batch, bptt)

DEFAULT_SHAPES: list[Shape] = [(32, 100), (64, 100), (128, 100), (64, 200)]
VOCAB = 65  # Tiny Shakespeare's distinct characters
EMBEDDING, HIDDEN, LAYERS = 128, 512, 2
DROPOUT = 0.2
CLIP = 0.25
MFU_TARGET = 50.0  # percent, for the 2x512 model's best configuration with lstmkit
LOGIT_ATOL, GRAD_RTOL = 1e-4, 1e-3

IMPL_LABELS = {
    "torch": "torch.nn.LSTM",
    "fused": "lstmkit fused",
    "explicit": "lstmkit explicit",
}


@dataclass
class Runner:
    """One model under test, with its optimiser and the state carried between steps."""

    key: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    carry: list | None = None


def parse_shape(text: str) -> Shape:
    """Parses ``BxT`` (e.g. ``64x100``) into (batch, bptt).

    Raises:
        argparse.ArgumentTypeError: If the text is not two positive integers joined by ``x``.
    """
    try:
        values = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        values = ()
    if len(values) != 2 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"shape must look like BxT, got {text!r}")
    return values[0], values[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--shapes", nargs="+", type=parse_shape, default=DEFAULT_SHAPES, metavar="BxT"
    )
    parser.add_argument("--repeat", type=int, default=4, help="timed rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds before timing")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads value")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and data")
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    parser.add_argument("--quick", action="store_true", help="smoke run: repeat 2, 32x50 only")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one step per implementation on the first shape (torch.profiler)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.warmup, args.shapes = 2, 1, [(32, 50)]
    if args.repeat < 1 or args.warmup < 0:
        parser.error("--repeat must be >= 1 and --warmup >= 0")
    return args


def forward_flops_per_token(
    embedding: int = EMBEDDING, hidden: int = HIDDEN, layers: int = LAYERS, vocab: int = VOCAB
) -> float:
    """Matrix-product FLOPs of one token's forward pass: Σ 2·4H(I+H) + 2·H·V."""
    widths = [embedding] + [hidden] * layers
    recurrent = sum(2 * 4 * hidden * (widths[k] + hidden) for k in range(layers))
    return float(recurrent + 2 * hidden * vocab)


def build_runners(seed: int) -> list[Runner]:
    """Builds the three models with identical weights, each with its own AdamW."""
    from lstmkit.models import LMConfig, LSTMLanguageModel
    from lstmkit.nn import LSTM
    from lstmkit.train.optim import OptimConfig, build_optimizer, parameter_groups

    config = LMConfig(
        vocab_size=VOCAB,
        embedding_size=EMBEDDING,
        hidden_size=HIDDEN,
        num_layers=LAYERS,
        dropout=DROPOUT,
        layer_dropout=DROPOUT,
    )
    runners = []
    reference_state = None
    for key in IMPL_LABELS:
        torch.manual_seed(seed)
        model = LSTMLanguageModel(config)
        widths = [EMBEDDING] + [HIDDEN] * LAYERS
        for k in range(LAYERS):
            if key == "torch":
                layer = nn.LSTM(widths[k], HIDDEN, batch_first=True)
            else:
                layer = LSTM(widths[k], HIDDEN, batch_first=True, backend=key)
            model.layers[k] = layer
        if reference_state is None:
            reference_state = model.state_dict()
        else:
            model.load_state_dict(reference_state)
        optimizer = build_optimizer(parameter_groups(model), OptimConfig(lr=2e-3))
        runners.append(Runner(key, model.train(), optimizer))
    return runners


def make_batch(shape: Shape, seed: int) -> tuple[Tensor, Tensor]:
    """Random input ids and their targets, each (B, T)."""
    batch, steps = shape
    gen = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, VOCAB, (batch, steps + 1), generator=gen)
    return ids[:, :-1].contiguous(), ids[:, 1:].contiguous()


def train_step(runner: Runner, x: Tensor, y: Tensor) -> float:
    """One step as the trainer takes it; returns the loss."""
    logits, state = runner.model(x, runner.carry)  # (B, T, V)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    runner.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(runner.model.parameters(), CLIP)
    runner.optimizer.step()
    runner.carry = [tuple(t.detach() for t in s) for s in state]
    return loss.item()


def check_correctness(runners: list[Runner], x: Tensor, y: Tensor) -> None:
    """Aborts if the lstmkit models' logits or gradients differ from the reference's."""
    results = {}
    for runner in runners:
        model = runner.model
        model.eval()
        with torch.no_grad():
            logits, _ = model(x)
        model.train()
        torch.manual_seed(123)  # the same dropout masks for every implementation
        out, _ = model(x)
        model.zero_grad(set_to_none=True)
        F.cross_entropy(out.flatten(0, 1), y.flatten()).backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        model.zero_grad(set_to_none=True)
        results[runner.key] = (logits, grads)
    ref_logits, ref_grads = results["torch"]
    for key, (logits, grads) in results.items():
        problems = []
        err = (logits - ref_logits).abs().max().item()
        if not err <= LOGIT_ATOL:
            problems.append(f"logits: max error {err:.3g}")
        for name, grad in grads.items():
            want = ref_grads[name]
            rel = (grad - want).abs().max().item() / max(1e-12, want.abs().max().item())
            if not rel <= GRAD_RTOL:
                problems.append(f"grad {name}: relative error {rel:.3g}")
        if problems:
            details = "\n  ".join(problems)
            sys.exit(f"correctness check failed for {IMPL_LABELS[key]}:\n  {details}")


def time_runners(
    runners: list[Runner], x: Tensor, y: Tensor, repeat: int, warmup: int
) -> dict[str, list[float]]:
    """Times training steps round-robin; the starting implementation rotates between rounds."""
    samples: dict[str, list[float]] = {r.key: [] for r in runners}
    for round_index in range(warmup + repeat):
        shift = round_index % len(runners)
        for runner in runners[shift:] + runners[:shift]:
            start = time.perf_counter()
            train_step(runner, x, y)
            elapsed = time.perf_counter() - start
            if round_index >= warmup:
                samples[runner.key].append(elapsed)
    return samples


def summarise(shape: Shape, samples: dict[str, list[float]], peak: float) -> list[dict]:
    """Median step time, tokens/s, GFLOP/s, MFU and ratio to the reference, per implementation."""
    tokens = shape[0] * shape[1]
    flops = 3 * forward_flops_per_token() * tokens
    ref = statistics.median(samples["torch"])
    records = []
    for key, times in samples.items():
        median = statistics.median(times)
        gflops = flops / median / 1e9
        records.append(
            {
                "shape": list(shape),
                "impl": key,
                "label": IMPL_LABELS[key],
                "samples_s": times,
                "step_s": median,
                "tokens_per_s": tokens / median,
                "gflops": gflops,
                "mfu": 100 * gflops / peak,
                "ratio": median / ref,
            }
        )
    return records


def profile_step(runner: Runner, x: Tensor, y: Tensor, rows: int = 15) -> str:
    """The top operators of one training step by self CPU time (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    train_step(runner, x, y)  # warm
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_step(runner, x, y)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def render_markdown(meta: dict, records: list[dict], profiles: dict[str, str]) -> str:
    """The header line, the table, the FLOP formula, the target and any profiles."""
    fwd = forward_flops_per_token()
    lines = [
        f"torch {meta['torch']} | threads {meta['threads']} (OMP_WAIT_POLICY "
        f"{meta['omp_wait_policy'] or 'default'}) | CPU: {meta['cpu']} | "
        f"fp32 matmul peak {meta['peak_gflops']:.1f} GFLOP/s (2048x2048, best of 2x"
        f"{meta['peak_tries']}) | median of {meta['repeat']} (warm-up {meta['warmup']}) | "
        f"1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
        f"{fmt_load(meta['load_avg_end'])} at end",
        "",
        f"Model: char LSTM LM, embedding {EMBEDDING}, {LAYERS}x{HIDDEN} LSTM, vocabulary {VOCAB}, "
        f"locked dropout {DROPOUT}; step = forward + cross-entropy + backward + clip "
        f"{CLIP} + AdamW.",
        f"FLOPs per token (matrix products only): forward Σ 2·4H(I+H) + 2·H·V = "
        f"{fwd / 1e6:.2f} M; training = 3x forward = {3 * fwd / 1e6:.2f} M.",
        "",
        "| B x bptt | implementation | step ms (min-max) | ratio | tokens/s | GFLOP/s | MFU |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['shape'][0]}x{r['shape'][1]} | {r['label']} | {r['step_s'] * 1e3:.0f} "
            f"({min(r['samples_s']) * 1e3:.0f}-{max(r['samples_s']) * 1e3:.0f}) "
            f"| {r['ratio']:.2f}x | {r['tokens_per_s']:,.0f} | {r['gflops']:.1f} "
            f"| {r['mfu']:.1f}% |"
        )
    lines += ["", f"Targets (informational): MFU >= {MFU_TARGET:.0f}% for the 2x512 model", ""]
    for key in ("fused", "explicit"):
        best = max((r for r in records if r["impl"] == key), key=lambda r: r["mfu"])
        verdict = "PASS" if best["mfu"] >= MFU_TARGET else "FAIL"
        lines.append(
            f"- {verdict}: {IMPL_LABELS[key]}, best shape {best['shape'][0]}x{best['shape'][1]}: "
            f"{best['mfu']:.1f}% MFU (target {MFU_TARGET:.0f}%)"
        )
    ref = max((r for r in records if r["impl"] == "torch"), key=lambda r: r["mfu"])
    lines.append(
        f"- for reference, torch.nn.LSTM's best: {ref['mfu']:.1f}% MFU at "
        f"{ref['shape'][0]}x{ref['shape'][1]}"
    )
    for key, table in profiles.items():
        lines += ["", f"Profile of one step, {IMPL_LABELS[key]} (self CPU time):", "", "```"]
        lines += [table.rstrip(), "```"]
    return "\n".join(lines)


def _report() -> Callable[[str], None]:
    return lambda line: print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints the markdown report (or JSON with ``--json``)."""
    args = parse_args(argv)
    try:
        import lstmkit  # noqa: F401  (fail fast, before the timing)
    except ImportError as exc:
        sys.exit(f"cannot import lstmkit ({exc}); run `.venv/bin/pip install -e . --no-deps`")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    report = _report()
    peak_tries = 10
    meta = run_meta(
        repeat=args.repeat,
        warmup=args.warmup,
        seed=args.seed,
        peak_tries=peak_tries,
        embedding_size=EMBEDDING,
        hidden_size=HIDDEN,
        num_layers=LAYERS,
        vocab_size=VOCAB,
        forward_flops_per_token=forward_flops_per_token(),
    )
    meta["peak_gflops"] = measure_matmul_peak(tries=peak_tries)
    report(f"matmul peak {meta['peak_gflops']:.1f} GFLOP/s, {meta['threads']} threads")
    records: list[dict] = []
    profiles: dict[str, str] = {}
    for index, shape in enumerate(args.shapes, start=1):
        start = time.perf_counter()
        runners = build_runners(args.seed)
        x, y = make_batch(shape, args.seed)
        check_correctness(runners, x, y)
        samples = time_runners(runners, x, y, args.repeat, args.warmup)
        records += summarise(shape, samples, meta["peak_gflops"])
        report(
            f"[{index}/{len(args.shapes)}] {shape[0]}x{shape[1]}: "
            + ", ".join(f"{r['label']} {r['tokens_per_s']:,.0f} tok/s" for r in records[-3:])
            + f" ({time.perf_counter() - start:.0f} s)"
        )
        if args.profile and index == 1:
            profiles = {r.key: profile_step(r, x, y) for r in runners}
    meta["load_avg_end"] = load_average()
    end_peak = measure_matmul_peak(tries=peak_tries)
    if end_peak > meta["peak_gflops"]:
        meta["peak_gflops"] = end_peak
        for r in records:
            r["mfu"] = 100 * r["gflops"] / end_peak
    emit(args.json, render_markdown(meta, records, profiles), meta=meta, results=records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
