"""Latency per step on CPU: the exported ONNX graphs in onnxruntime against PyTorch.

What it measures
----------------
Two models with random weights, in eval mode, exported with :mod:`lstmkit.export` (the graphs
``lstmkit export`` writes):

1. language model: ``LSTMLanguageModel`` with embedding 256 → 2 LSTM layers of 512 → output
   layer over 10,000 words. One step reads one token per stream (B of them) with the carried
   state and returns the next-token logits. PyTorch: the model's ``forward`` on (B, 1) under
   ``torch.no_grad()`` (lstmkit's LSTM runs torch's LSTM cell per layer at T = 1);
   onnxruntime: ``lm_step.onnx`` (one ONNX ``LSTM`` node per layer).
2. seq2seq decoder step with Luong attention (general score, input feeding off): vocabularies
   10,000, embedding 256, 2x512 decoder, bidirectional 2x512 encoder, a source of 20 tokens
   encoded once (not timed). One step: previous tokens (B,) → logits (B, V), new state and the
   attention weights. PyTorch: ``Seq2Seq.decode_step``; onnxruntime: ``decoder_step.onnx``.

Both sides use the same number of threads (``--threads``, default 1: torch.set_num_threads and
onnxruntime's intra-op threads; inter-op 1). Before timing, each pair is stepped 10 times from
the same state and their outputs must agree within 1e-4 or the run aborts.

Timing: every step is timed on its own with ``time.perf_counter``; ``--rounds`` rounds of
``--steps`` steps, the two implementations alternating by rounds (the first one rotating),
after ``--warmup`` untimed steps each. Reported: median and 90th-percentile step latency,
steps/s and the ratio onnxruntime / PyTorch of the medians (below 1: onnxruntime is faster).
Other processes on the cores distort the timings; the 1-minute load average at start and end is
in the header.

Run from the repository root::

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/onnx_latency.py
    .venv/bin/python benchmarks/onnx_latency.py --steps 50 --rounds 2 --json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from _common import emit, fmt_load, load_average, run_meta

VOCAB, EMBEDDING, HIDDEN, LAYERS, SOURCE = 10_000, 256, 512, 2, 20
CHECK_STEPS, ATOL = 10, 1e-4

Stepper = Callable[[np.ndarray], np.ndarray]  # ids (B,) → logits (B, V); keeps its own state


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32], metavar="B")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per implementation")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=1, help="threads of both runtimes")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and tokens")
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    args = parser.parse_args(argv)
    if min(args.batches) < 1 or min(args.steps, args.rounds, args.threads) < 1 or args.warmup < 0:
        parser.error("--batches, --steps, --rounds and --threads must be >= 1, --warmup >= 0")
    return args


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def lm_steppers(folder: Path, threads: int, batch: int) -> Callable[[], dict[str, Stepper]]:
    """Factories of fresh PyTorch and onnxruntime steppers of the language model."""
    from lstmkit.export import graphs
    from lstmkit.export.onnx import export_graph
    from lstmkit.models import LMConfig, LSTMLanguageModel

    model = LSTMLanguageModel(LMConfig(VOCAB, EMBEDDING, HIDDEN, LAYERS)).eval()
    graph = graphs.LMGraph(model, step=True)
    spec = export_graph(graph, graph.example(), folder / "lm_step.onnx", 17)
    sess = session(folder / "lm_step.onnx", threads)
    names = [v["name"] for v in spec["inputs"][1:]]

    def make() -> dict[str, Stepper]:
        state, feeds = None, {n: np.zeros((1, batch, HIDDEN), np.float32) for n in names}

        def torch_step(ids: np.ndarray) -> np.ndarray:
            nonlocal state
            with torch.no_grad():
                logits, state = model(torch.from_numpy(ids)[:, None], state)  # (B, 1, V)
            return logits[:, 0].numpy()

        def onnx_step(ids: np.ndarray) -> np.ndarray:
            nonlocal feeds
            out = sess.run(None, {"ids": ids, **feeds})
            feeds = dict(zip(names, out[1:], strict=True))
            return out[0]

        return {"torch": torch_step, "onnx": onnx_step}

    return make


def decoder_steppers(folder: Path, threads: int, batch: int) -> Callable[[], dict[str, Stepper]]:
    """Factories of fresh PyTorch and onnxruntime steppers of the Luong decoder."""
    from lstmkit.export import graphs
    from lstmkit.export.onnx import export_graph
    from lstmkit.models.seq2seq import Seq2SeqConfig, build_seq2seq

    config = Seq2SeqConfig(VOCAB, VOCAB, EMBEDDING, HIDDEN, LAYERS, dropout=0.0, attention="luong")
    model = build_seq2seq(config).eval()
    encoder, decoder = graphs.EncoderGraph(model), graphs.DecoderStepGraph(model)
    spec = export_graph(decoder, decoder.example(encoder), folder / "decoder_step.onnx", 17)
    sess = session(folder / "decoder_step.onnx", threads)
    names = [v["name"] for v in spec["inputs"]]
    gen = torch.Generator().manual_seed(1)
    src = torch.randint(4, VOCAB, (batch, SOURCE), generator=gen)
    with torch.no_grad():
        memory0, state0 = model.encode(src, torch.full((batch,), SOURCE))
    fixed = {
        "memory_states": memory0.states.numpy(),
        "memory_keys": memory0.keys.numpy(),
        "memory_mask": memory0.mask.numpy(),
    }

    def make() -> dict[str, Stepper]:
        state = state0
        feeds = {"h": state0.h.numpy(), "c": state0.c.numpy()}

        def torch_step(ids: np.ndarray) -> np.ndarray:
            nonlocal state
            with torch.no_grad():
                logits, state = model.decode_step(torch.from_numpy(ids), state, memory0)
            return logits.numpy()

        def onnx_step(ids: np.ndarray) -> np.ndarray:
            nonlocal feeds
            out = sess.run(
                None, {k: v for k, v in {"tokens": ids, **feeds, **fixed}.items() if k in names}
            )
            feeds = {"h": out[1], "c": out[2]}
            return out[0]

        return {"torch": torch_step, "onnx": onnx_step}

    return make


def check_agreement(make: Callable[[], dict[str, Stepper]], batch: int, name: str) -> float:
    """The largest |onnx - torch| of the logits over the check steps; aborts above ATOL."""
    runs = make()
    ids = np.random.default_rng(2).integers(4, VOCAB, (CHECK_STEPS, batch))
    worst = 0.0
    for t in range(CHECK_STEPS):
        worst = max(worst, float(np.abs(runs["onnx"](ids[t]) - runs["torch"](ids[t])).max()))
    if not worst <= ATOL:
        sys.exit(f"{name}, batch {batch}: onnxruntime differs from PyTorch by {worst:.2e}")
    return worst


def time_steps(make: Callable[[], dict[str, Stepper]], batch: int, args) -> dict:
    """Per-step latencies (s) per implementation, alternating by rounds."""
    ids = np.random.default_rng(args.seed + 3).integers(4, VOCAB, (args.warmup + args.steps, batch))
    samples: dict[str, list[float]] = {}
    for round_index in range(args.rounds):
        runs = make()
        keys = list(runs)[::-1] if round_index % 2 else list(runs)
        for key in keys:
            run = runs[key]
            for t in range(args.warmup):
                run(ids[t])
            times = samples.setdefault(key, [])
            for t in range(args.warmup, args.warmup + args.steps):
                start = time.perf_counter()
                run(ids[t])
                times.append(time.perf_counter() - start)
    return samples


def summarise(model: str, batch: int, samples: dict, max_diff: float) -> list[dict]:
    """Median and p90 latency, steps/s and the ratio to PyTorch."""
    ref = statistics.median(samples["torch"])
    records = []
    for key, times in samples.items():
        median = statistics.median(times)
        records.append(
            {
                "model": model,
                "batch": batch,
                "impl": key,
                "label": "onnxruntime" if key == "onnx" else "PyTorch",
                "steps": len(times),
                "median_s": median,
                "p90_s": statistics.quantiles(times, n=10)[-1],
                "steps_per_s": 1 / median,
                "ratio": median / ref,
                "max_abs_diff": max_diff,
            }
        )
    return records


def render_markdown(meta: dict, records: list[dict]) -> str:
    """The header line, the models and the table."""
    lines = [
        f"torch {meta['torch']} | onnxruntime {meta['onnxruntime']} | threads {meta['threads']} "
        f"(OMP_WAIT_POLICY {meta['omp_wait_policy'] or 'default'}) | CPU: {meta['cpu']} | "
        f"{meta['rounds']} rounds x {meta['steps']} steps (warm-up {meta['warmup']}) | "
        f"1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
        f"{fmt_load(meta['load_avg_end'])} at end",
        "",
        f"LM: embedding {EMBEDDING}, {LAYERS}x{HIDDEN} LSTM, vocabulary {VOCAB:,}. Decoder: "
        f"seq2seq {LAYERS}x{HIDDEN}, Luong general attention over {SOURCE} source states "
        f"(bidirectional encoder). Random weights, eval mode; step = one token per stream → "
        f"logits (and state).",
        "",
        "| model | B | runtime | median ms | p90 ms | steps/s | ratio to PyTorch | max abs diff |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['label']} | {r['median_s'] * 1e3:.3f} "
            f"| {r['p90_s'] * 1e3:.3f} | {r['steps_per_s']:,.0f} | {r['ratio']:.2f}x "
            f"| {r['max_abs_diff']:.1e} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints the markdown report (or JSON with ``--json``)."""
    args = parse_args(argv)
    try:
        import onnxruntime

        import lstmkit.export.onnx  # noqa: F401  (fail fast, before the timing)
    except ImportError as exc:
        sys.exit(
            f"cannot import lstmkit's exporter or onnxruntime ({exc}); run "
            "`.venv/bin/pip install -e '.[export]'`"
        )
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    meta = run_meta(
        onnxruntime=onnxruntime.__version__,
        rounds=args.rounds,
        steps=args.steps,
        warmup=args.warmup,
        seed=args.seed,
    )
    records: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="lstmkit-onnx-") as tmp:
        for name, build in (
            ("LM 2x512 step", lm_steppers),
            ("Luong decoder step", decoder_steppers),
        ):
            for batch in args.batches:
                make = build(Path(tmp), args.threads, batch)
                worst = check_agreement(make, batch, name)
                records += summarise(name, batch, time_steps(make, batch, args), worst)
                ms = [f"{r['label']} {r['median_s'] * 1e3:.2f} ms" for r in records[-2:]]
                print(f"{name}, batch {batch}: " + ", ".join(ms), file=sys.stderr, flush=True)
    meta["load_avg_end"] = load_average()
    emit(args.json, render_markdown(meta, records), meta=meta, results=records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
