"""A bidirectional layer's two directions at once against one after the other, on the CPU.

What it measures
----------------
For each shape (B, T, input, hidden) a three-layer bidirectional ``lstmkit.nn.LSTM`` (explicit
backend, plain cell, training mode, padded batch with lengths from 60% to 100% of T) runs a
training step (forward, then backward of the output's sum) two ways:

* ``apart``: each direction's time loop after the other, each step's matrix product split
  across torch's threads (``recurrence.PAIR_MAX_WORK = 0``);
* ``paired``: both directions' loops at once through ``PairedRecurrence``, one thread each
  (the threshold lifted, whatever the shape).

Before timing, the two are checked against each other (outputs and gradients within 1e-5). The
rounds alternate the two ways so that machine noise hits both alike; the median of
``--repeat`` rounds is reported, and the ratio apart / paired (above 1: pairing is faster).
``PAIR_MAX_WORK`` (the multiply-adds of a step's recurrent product, B·H·4H) is set from these
numbers: lstmkit pairs at or below it.

Run from the repository root::

    .venv/bin/python benchmarks/bidirectional.py
    .venv/bin/python benchmarks/bidirectional.py --shapes 32x63x320x256 --threads 2 --json
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from _common import emit, fmt_load, load_average, run_meta

SHAPES = ["32x40x64x64", "16x100x80x128", "64x30x128x128", "32x63x320x256", "128x30x256x256"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=SHAPES, help="BxTxINPUTxHIDDEN")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=12)
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    return parser.parse_args(argv)


def measure(shape: str, repeat: int) -> dict:
    """The median milliseconds of a training step each way, and their ratio."""
    from lstmkit.nn import LSTM, recurrence

    B, T, I, H = (int(v) for v in shape.split("x"))
    torch.manual_seed(0)
    lstm = LSTM(I, H, 3, batch_first=True, bidirectional=True, backend="explicit").train()
    x = torch.randn(B, T, I, requires_grad=True)
    lengths = torch.randint(int(T * 0.6), T + 1, (B,))
    lengths[0] = T
    ways = {"apart": 0, "paired": 1 << 62}

    def step(way: str) -> list[torch.Tensor]:
        recurrence.PAIR_MAX_WORK = ways[way]
        out, _ = lstm(x, lengths=lengths)
        return [out, *torch.autograd.grad(out.sum(), [x, *lstm.parameters()])]

    default = recurrence.PAIR_MAX_WORK
    try:
        for a, b in zip(step("apart"), step("paired"), strict=True):
            scale = max(1.0, a.abs().max().item())
            if (a - b).abs().max().item() > 1e-5 * scale:
                raise SystemExit(f"{shape}: paired and apart disagree")
        times = {way: [] for way in ways}
        for _ in range(2):
            for way in ways:
                step(way)
        for _ in range(repeat):
            for way in ways:
                started = time.perf_counter()
                step(way)
                times[way].append(1000 * (time.perf_counter() - started))
    finally:
        recurrence.PAIR_MAX_WORK = default
    ms = {way: statistics.median(t) for way, t in times.items()}
    work = B * H * 4 * H
    return {"shape": shape, "work": work, **ms, "ratio": ms["apart"] / ms["paired"]} | {
        "paired_by_default": work <= default
    }


def render_markdown(meta: dict, records: list[dict]) -> str:
    lines = [
        f"```\ntorch {meta['torch']} | threads {meta['threads']} | CPU: {meta['cpu']} | "
        f"1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
        f"{fmt_load(meta['load_avg_end'])} at end\n```",
        "",
        "| B x T x input x hidden | B·H·4H | apart (ms) | paired (ms) | apart / paired "
        "| paired by default |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['shape']} | {r['work']:,} | {r['apart']:.1f} | {r['paired']:.1f} "
            f"| {r['ratio']:.2f} | {'yes' if r['paired_by_default'] else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    meta = run_meta(repeat=args.repeat)
    records = [measure(shape, args.repeat) for shape in args.shapes]
    meta["load_avg_end"] = load_average()
    emit(args.json, render_markdown(meta, records), meta=meta, results=records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
