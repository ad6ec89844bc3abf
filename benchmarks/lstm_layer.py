"""Benchmark lstmkit's LSTM layer against ``torch.nn.LSTM`` on the CPU.

What it measures
----------------
For each shape (B, T, input, hidden) it times a single-layer, unidirectional, float32 LSTM
with ``batch_first=True``, on identical weights and inputs, in five implementations:

1. ``torch.nn.LSTM`` (the reference every ratio is taken against),
2. ``lstmkit.nn.LSTM(..., backend="fused")``,
3. ``lstmkit.nn.LSTM(..., backend="explicit")``,
4. the explicit backend with its gate trace: ``lstm(x, return_gates=True)``,
5. a naive autograd loop over ``torch.nn.LSTMCell`` (Python loop over time, outputs stacked).

Two timings per implementation:

* training step: forward, then ``output.backward(grad)`` with a fixed random upstream gradient.
  The input requires grad, as it would below a stacked layer, so the backward computes dX as
  well as dW and the work matches the 3x-forward FLOP count used below;
* inference: forward under ``torch.inference_mode()``.

How
---
Before timing, every implementation is checked against ``torch.nn.LSTM`` (outputs and final
states within 1e-4, gradients within 1e-3 of the gradient's scale); a mismatch aborts the run,
since the timing of a wrong implementation means nothing. Then ``--warmup`` untimed rounds and
``--repeat`` timed rounds with ``time.perf_counter``; within each round the implementations
run one after another (round-robin), so machine noise hits all of them alike, and the median
of the rounds is reported.

The machine's float32 matrix-multiply peak is measured in the same run (square 2048 matmul,
best of several) and each implementation's achieved GFLOP/s is given as a share of it, with
forward FLOPs = 2·B·T·4H·(I+H) (the matrix products; elementwise work ignored) and a training
step = 3x forward FLOPs.

The output is a markdown table (ready for its page, docs/benchmarks/lstm-layer.md) and a
"targets" section with PASS/FAIL per performance target; the targets are informational, the exit
status is 0 either way.

Run from the repository root::

    .venv/bin/python benchmarks/lstm_layer.py                  # default shapes
    .venv/bin/python benchmarks/lstm_layer.py --quick          # smoke run (repeat 2, warm-up 1)
    .venv/bin/python benchmarks/lstm_layer.py --shapes 32x50x128x256 --threads 2 --json
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from _common import cpu_model, emit, fmt_load, load_average, measure_matmul_peak

Shape = tuple[int, int, int, int]  # (batch, time, input_size, hidden_size)

DEFAULT_SHAPES: list[Shape] = [(32, 50, 128, 256), (64, 100, 256, 512), (16, 200, 64, 128)]
# The shape the tight explicit-training target (1.5x) is set for; smaller ones get 3x, because
# per-step Python and kernel-launch overhead weighs more when the matrix products are small.
LARGE_SHAPE: Shape = (64, 100, 256, 512)

OUTPUT_ATOL = 1e-4
GRAD_RTOL = 1e-3  # gradients sum over B·T terms, so float32 rounding differs more than outputs

IMPL_LABELS = {
    "torch": "torch.nn.LSTM",
    "fused": "lstmkit fused",
    "explicit": "lstmkit explicit",
    "explicit_trace": "lstmkit explicit + gates",
    "cell_loop": "LSTMCell loop",
}


@dataclass
class Impl:
    """One implementation under test.

    Attributes:
        key: Short identifier (a key of ``IMPL_LABELS``).
        forward: Maps the input ``(B, T, I)`` to ``(output, h_n, c_n)``.
        params: The trainable tensors by nn.LSTMCell-style name (``weight_ih`` ...): their
            gradients are reset before each training step and compared by the check.
    """

    key: str
    forward: Callable[[Tensor], tuple[Tensor, Tensor, Tensor]]
    params: dict[str, Tensor]


@dataclass
class Timings:
    """Raw timings of one implementation on one shape, in seconds."""

    train: list[float] = field(default_factory=list)
    infer: list[float] = field(default_factory=list)


def parse_shape(text: str) -> Shape:
    """Parses ``BxTxIxH`` (e.g. ``32x50x128x256``) into a shape tuple.

    Args:
        text: The shape as given on the command line.

    Returns:
        The (batch, time, input_size, hidden_size) tuple.

    Raises:
        argparse.ArgumentTypeError: If the text is not four positive integers joined by ``x``.
    """
    parts = text.lower().split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"shape must look like BxTxIxH, got {text!r}")
    batch, steps, inputs, hidden = values
    return batch, steps, inputs, hidden


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The parsed options, with ``--quick`` already applied to repeat and warm-up.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--shapes", nargs="+", type=parse_shape, default=DEFAULT_SHAPES, metavar="BxTxIxH"
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds before timing")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads value")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and inputs")
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    parser.add_argument("--quick", action="store_true", help="smoke run: repeat 2, warm-up 1")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.warmup = 2, 1
    if args.repeat < 1 or args.warmup < 0:
        parser.error("--repeat must be >= 1 and --warmup >= 0")
    return args


def forward_flops(shape: Shape) -> float:
    """FLOPs of one forward pass: the input and recurrent matrix products, 2·B·T·4H·(I+H)."""
    batch, steps, inputs, hidden = shape
    return 2.0 * batch * steps * 4 * hidden * (inputs + hidden)


def import_lstmkit_lstm() -> type[nn.LSTM]:
    """Imports ``lstmkit.nn.LSTM`` or exits with a message saying how to make it importable."""
    try:
        from lstmkit.nn import LSTM
    except ImportError as exc:
        sys.exit(
            f"cannot import lstmkit.nn.LSTM ({exc}); install the package into the venv with "
            "`.venv/bin/pip install -e . --no-deps` from the repository root"
        )
    return LSTM


def _module_impl(key: str, lstm: nn.Module, **kwargs: bool) -> Impl:
    """Wraps an ``nn.LSTM``-like module whose forward returns ``(out, (h, c), ...)``."""

    def forward(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # The trace (when asked for) is computed and dropped: its cost is what is measured.
        out, (h_n, c_n), *_ = lstm(x, **kwargs)
        return out, h_n, c_n

    # Names lose the layer suffix (weight_ih_l0 -> weight_ih) to line up with nn.LSTMCell's.
    params = {name.removesuffix("_l0"): p for name, p in lstm.named_parameters()}
    return Impl(key, forward, params)


def _cell_loop_impl(ref: nn.LSTM) -> Impl:
    """Builds the naive baseline: ``nn.LSTMCell`` stepped over time in Python."""
    cell = nn.LSTMCell(ref.input_size, ref.hidden_size)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(ref, f"{name}_l0"))

    def forward(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h = x.new_zeros(x.shape[0], cell.hidden_size)
        c = torch.zeros_like(h)
        outputs = []
        for t in range(x.shape[1]):
            h, c = cell(x[:, t], (h, c))
            outputs.append(h)
        # Final states get nn.LSTM's (num_layers, B, H) layout so the check can compare them.
        return torch.stack(outputs, dim=1), h.unsqueeze(0), c.unsqueeze(0)

    return Impl("cell_loop", forward, dict(cell.named_parameters()))


def build_impls(shape: Shape, lstm_cls: type[nn.LSTM], seed: int) -> list[Impl]:
    """Builds the five implementations with the reference's weights.

    Args:
        shape: The benchmark shape; only input and hidden sizes matter here.
        lstm_cls: ``lstmkit.nn.LSTM``.
        seed: Seed for the reference's weight initialisation.

    Returns:
        The implementations, reference first.
    """
    _, _, inputs, hidden = shape
    torch.manual_seed(seed)
    ref = nn.LSTM(inputs, hidden, batch_first=True)
    fused = lstm_cls(inputs, hidden, batch_first=True, backend="fused")
    explicit = lstm_cls(inputs, hidden, batch_first=True, backend="explicit")
    fused.load_state_dict(ref.state_dict())
    explicit.load_state_dict(ref.state_dict())
    return [
        _module_impl("torch", ref),
        _module_impl("fused", fused),
        _module_impl("explicit", explicit),
        _module_impl("explicit_trace", explicit, return_gates=True),
        _cell_loop_impl(ref),
    ]


def make_inputs(shape: Shape, seed: int) -> tuple[Tensor, Tensor]:
    """Makes the input (requiring grad) and the fixed upstream gradient for one shape."""
    batch, steps, inputs, hidden = shape
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, steps, inputs, generator=gen).requires_grad_(True)
    grad = torch.randn(batch, steps, hidden, generator=gen)
    return x, grad


def _reset_grads(impl: Impl, x: Tensor) -> None:
    # Like optimizer.zero_grad(set_to_none=True): no accumulation cost in the timed backward.
    for p in impl.params.values():
        p.grad = None
    x.grad = None


def _max_err(got: Tensor, want: Tensor, relative: bool) -> float:
    """Largest absolute difference, optionally divided by the reference's scale (at least 1)."""
    err = (got.detach() - want.detach()).abs().max().item()
    return err / max(1.0, want.abs().max().item()) if relative else err


def _run_checked(impl: Impl, x: Tensor, grad: Tensor) -> dict[str, Tensor]:
    """Runs one inference and one training step, returning everything the check compares."""
    with torch.inference_mode():
        infer_out, _, _ = impl.forward(x)
    _reset_grads(impl, x)
    out, h_n, c_n = impl.forward(x)
    out.backward(grad)
    result = {"infer output": infer_out, "output": out, "h_n": h_n, "c_n": c_n, "dx": x.grad}
    for name, p in impl.params.items():
        result[f"grad {name}"] = p.grad
    return result


def check_correctness(impls: list[Impl], x: Tensor, grad: Tensor, shape: Shape) -> None:
    """Aborts the run if any implementation disagrees with ``torch.nn.LSTM``.

    Compares outputs (training and inference), final states, the input gradient and the
    gradients of weight_ih, weight_hh, bias_ih and bias_hh.

    Args:
        impls: The implementations, reference first.
        x: Input, requiring grad.
        grad: Upstream gradient of the output.
        shape: The shape, for the error message.
    """
    want = _run_checked(impls[0], x, grad)
    for impl in impls[1:]:
        got = _run_checked(impl, x, grad)
        problems = []
        for name, ref_value in want.items():
            value = got.get(name)
            if value is None or value.shape != ref_value.shape:
                problems.append(f"{name}: missing or shape {getattr(value, 'shape', None)}")
                continue
            is_grad = name.startswith(("grad", "dx"))
            err = _max_err(value, ref_value, relative=is_grad)
            if not err <= (GRAD_RTOL if is_grad else OUTPUT_ATOL):  # `not <=` also catches NaN
                problems.append(f"{name}: max error {err:.3g}")
        if problems:
            sys.exit(
                f"correctness check failed for {IMPL_LABELS[impl.key]} on shape "
                f"{format_shape(shape)} (vs torch.nn.LSTM, output atol {OUTPUT_ATOL}, "
                f"grad rtol {GRAD_RTOL}):\n  " + "\n  ".join(problems)
            )


def _time_train(impl: Impl, x: Tensor, grad: Tensor) -> float:
    _reset_grads(impl, x)
    start = time.perf_counter()
    out, _, _ = impl.forward(x)
    out.backward(grad)
    return time.perf_counter() - start


def _time_infer(impl: Impl, x: Tensor) -> float:
    with torch.inference_mode():
        start = time.perf_counter()
        impl.forward(x)
        return time.perf_counter() - start


def time_impls(
    impls: list[Impl], x: Tensor, grad: Tensor, repeat: int, warmup: int
) -> dict[str, Timings]:
    """Times training steps and inference of all implementations, interleaved.

    Each round runs every implementation once (training, then inference), so a burst of load
    from other processes slows all of them rather than one; the starting implementation
    rotates between rounds so none always runs right after the same neighbour.

    Args:
        impls: The implementations.
        x: Input, requiring grad.
        grad: Upstream gradient of the output.
        repeat: Timed rounds.
        warmup: Untimed rounds before them.

    Returns:
        Raw timings per implementation key.
    """
    timings = {impl.key: Timings() for impl in impls}
    for round_index in range(warmup + repeat):
        shift = round_index % len(impls)
        order = impls[shift:] + impls[:shift]
        for impl in order:
            train = _time_train(impl, x, grad)
            if round_index >= warmup:
                timings[impl.key].train.append(train)
        for impl in order:
            infer = _time_infer(impl, x)
            if round_index >= warmup:
                timings[impl.key].infer.append(infer)
    return timings


def format_shape(shape: Shape) -> str:
    """Formats a shape as ``BxTxIxH``."""
    return "x".join(str(v) for v in shape)


def summarise(shape: Shape, timings: dict[str, Timings], peak: float) -> list[dict]:
    """Turns raw timings of one shape into medians, ratios and GFLOP/s.

    Args:
        shape: The benchmark shape.
        timings: Raw timings per implementation key.
        peak: Matmul peak in GFLOP/s.

    Returns:
        One record per implementation, reference first.
    """
    flops = {"train": 3 * forward_flops(shape), "infer": forward_flops(shape)}
    ref_ms = {mode: statistics.median(getattr(timings["torch"], mode)) * 1e3 for mode in flops}
    records = []
    for key, t in timings.items():
        record: dict = {"shape": list(shape), "impl": key, "label": IMPL_LABELS[key]}
        for mode, mode_flops in flops.items():
            samples = getattr(t, mode)
            ms = statistics.median(samples) * 1e3
            gflops = mode_flops / (ms / 1e3) / 1e9
            record[mode] = {
                "samples_ms": [s * 1e3 for s in samples],
                "median_ms": ms,
                "ratio": ms / ref_ms[mode],
                "gflops": gflops,
                "pct_peak": 100 * gflops / peak,
            }
        records.append(record)
    return records


def evaluate_targets(records: list[dict]) -> list[dict]:
    """Checks the performance targets against the summarised records.

    Targets: fused <= 1.05x torch (training and inference); explicit training <= 1.5x on
    the large shape (and any at least as much work) and <= 3x on smaller ones; explicit
    inference with the gate trace <= 1.5x.

    Args:
        records: Output of ``summarise`` for all shapes.

    Returns:
        One record per (shape, target) with the measured ratio, the limit and ``passed``.
    """
    results = []
    for rec in records:
        shape = tuple(rec["shape"])
        large = forward_flops(shape) >= forward_flops(LARGE_SHAPE)
        wanted = {
            ("fused", "train"): 1.05,
            ("fused", "infer"): 1.05,
            ("explicit", "train"): 1.5 if large else 3.0,
            ("explicit_trace", "infer"): 1.5,
        }
        for mode in ("train", "infer"):
            limit = wanted.get((rec["impl"], mode))
            if limit is not None:
                ratio = rec[mode]["ratio"]
                results.append(
                    {
                        "shape": rec["shape"],
                        "impl": rec["impl"],
                        "mode": mode,
                        "ratio": ratio,
                        "limit": limit,
                        "passed": ratio <= limit,
                    }
                )
    return results


def _gflops_cell(entry: dict) -> str:
    return f"{entry['gflops']:.1f} ({entry['pct_peak']:.0f}%)"


def render_markdown(meta: dict, records: list[dict], targets: list[dict]) -> str:
    """Renders the header line, the results table and the targets section as markdown.

    Args:
        meta: Run metadata (torch version, threads, CPU, peak, repeat, warm-up).
        records: Output of ``summarise`` for all shapes.
        targets: Output of ``evaluate_targets``.

    Returns:
        The markdown text.
    """
    lines = [
        f"torch {meta['torch']} | threads {meta['threads']} | CPU: {meta['cpu']} | "
        f"fp32 matmul peak {meta['peak_gflops']:.1f} GFLOP/s (2048x2048, best of 2x"
        f"{meta['peak_tries']}) | median of {meta['repeat']} (warm-up {meta['warmup']}) | "
        f"1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
        f"{fmt_load(meta['load_avg_end'])} at end",
        "",
        "| shape (BxTxIxH) | implementation | train ms | train ratio | train GFLOP/s (% peak) "
        "| infer ms | infer ratio | infer GFLOP/s (% peak) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for rec in records:
        tr, inf = rec["train"], rec["infer"]
        lines.append(
            f"| {format_shape(rec['shape'])} | {rec['label']} "
            f"| {tr['median_ms']:.2f} | {tr['ratio']:.2f}x | {_gflops_cell(tr)} "
            f"| {inf['median_ms']:.2f} | {inf['ratio']:.2f}x | {_gflops_cell(inf)} |"
        )
    lines += ["", "Targets (informational; ratio vs torch.nn.LSTM):", ""]
    for t in targets:
        verdict = "PASS" if t["passed"] else "FAIL"
        lines.append(
            f"- {verdict}: {IMPL_LABELS[t['impl']]} {t['mode']} on {format_shape(t['shape'])}: "
            f"{t['ratio']:.2f}x <= {t['limit']:.2f}x"
        )
    passed = sum(t["passed"] for t in targets)
    lines += ["", f"{passed}/{len(targets)} targets met."]
    return "\n".join(lines)


def _progress(shapes: list[Shape]) -> tuple[Iterable[Shape], Callable[[str], None]]:
    """Wraps the shape loop in tqdm when it is installed (it is not a dependency).

    Args:
        shapes: The shapes to loop over.

    Returns:
        The iterable to loop over and a function printing one line to stderr without
        breaking the progress bar.
    """
    try:
        from tqdm import tqdm
    except ImportError:
        return shapes, lambda line: print(line, file=sys.stderr, flush=True)
    return tqdm(shapes, desc="shapes", file=sys.stderr), lambda line: tqdm.write(
        line, file=sys.stderr
    )


def benchmark_shapes(
    args: argparse.Namespace, lstm_cls: type[nn.LSTM], peak: float
) -> Iterator[dict]:
    """Checks and times every shape, reporting progress on stderr.

    Args:
        args: The parsed command line.
        lstm_cls: ``lstmkit.nn.LSTM``.
        peak: Matmul peak in GFLOP/s.

    Yields:
        The summarised records, shape by shape.
    """
    shapes, report = _progress(args.shapes)
    for index, shape in enumerate(shapes, start=1):
        start = time.perf_counter()
        impls = build_impls(shape, lstm_cls, args.seed)
        x, grad = make_inputs(shape, args.seed)
        check_correctness(impls, x, grad, shape)
        timings = time_impls(impls, x, grad, args.repeat, args.warmup)
        records = summarise(shape, timings, peak)
        slowest = max(records, key=lambda r: r["train"]["ratio"])
        report(
            f"[{index}/{len(args.shapes)}] {format_shape(shape)}: checked and timed in "
            f"{time.perf_counter() - start:.1f} s (torch train "
            f"{records[0]['train']['median_ms']:.1f} ms; slowest train: {slowest['label']} "
            f"{slowest['train']['ratio']:.2f}x)"
        )
        yield from records


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints the markdown report (or JSON with ``--json``).

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0, whatever the targets say.
    """
    args = parse_args(argv)
    lstm_cls = import_lstmkit_lstm()  # before any timing: fail fast if it is not installed
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    # Many tries: the machine is shared, and only an undisturbed run shows the peak.
    peak_tries = 10
    meta = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "threads_set_by_flag": args.threads is not None,
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "repeat": args.repeat,
        "warmup": args.warmup,
        "seed": args.seed,
        "peak_tries": peak_tries,
        "load_avg_start": load_average(),
        "peak_gflops": measure_matmul_peak(tries=peak_tries),
    }
    print(
        f"torch {meta['torch']}, {meta['threads']} threads, matmul peak "
        f"{meta['peak_gflops']:.1f} GFLOP/s",
        file=sys.stderr,
        flush=True,
    )
    records = list(benchmark_shapes(args, lstm_cls, meta["peak_gflops"]))
    meta["load_avg_end"] = load_average()
    # Measured again at the end: a peak taken while the machine was busy would flatter every
    # percentage, so the better of the two measurements is the peak.
    end_peak = measure_matmul_peak(tries=peak_tries)
    if end_peak > meta["peak_gflops"]:
        for record in records:
            for mode in ("train", "infer"):
                record[mode]["pct_peak"] = 100 * record[mode]["gflops"] / end_peak
        meta["peak_gflops"] = end_peak
    targets = evaluate_targets(records)
    emit(
        args.json,
        render_markdown(meta, records, targets),
        meta=meta,
        results=records,
        targets=targets,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
