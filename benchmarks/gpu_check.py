"""The GPU path in one run: the CUDA tests, then the LSTM layer timed on the GPU; writes a summary.

``make gpu-check`` runs it on a machine with an NVIDIA GPU (it refuses to run without one):

1. the CUDA tests with pytest (they skip elsewhere): both LSTM backends against
   ``torch.nn.LSTM`` with gradients, bf16 autocast, the trainer in fp32 and bf16, a one-process
   NCCL group with DistributedDataParallel (:data:`CUDA_TESTS`);
2. the layer benchmark's shapes (``benchmarks/lstm_layer.py``'s ``DEFAULT_SHAPES``) on the GPU:
   forward+backward and inference of ``torch.nn.LSTM`` (cuDNN) and lstmkit's fused and explicit
   backends, median of ``--repeat`` rounds after ``--warmup``, timed with CUDA events;
3. a markdown summary (``--out``, default ``build/gpu-check.md``): the device, torch and CUDA
   versions, the test outcome and the timing table, for docs/development/testing.md.

Run: ``.venv/bin/python benchmarks/gpu_check.py [--quick] [--out FILE]``. The exit status is the
tests' (0 when they pass); the timings are informational.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from lstm_layer import DEFAULT_SHAPES  # noqa: E402
from lstmkit.nn import LSTM  # noqa: E402

CUDA_TESTS = ["tests/nn/test_lstm_cuda.py", "tests/train/test_trainer_cuda.py"]
IMPLEMENTATIONS = ("torch.nn.LSTM", "fused", "explicit")


def run_tests(junit: Path) -> tuple[int, str]:
    """pytest on :data:`CUDA_TESTS`; its exit code and its summary line."""
    command = [sys.executable, "-m", "pytest", "-q", "-rs", f"--junitxml={junit}", *CUDA_TESTS]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    print(done.stdout[-4000:], done.stderr[-2000:], sep="\n", flush=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines[-1] if lines else "(no output)"


def build(name: str, inputs: int, hidden: int) -> torch.nn.Module:
    torch.manual_seed(0)
    if name == "torch.nn.LSTM":
        return torch.nn.LSTM(inputs, hidden, batch_first=True).cuda()
    return LSTM(inputs, hidden, batch_first=True, backend=name).cuda()


def cuda_time(step, warmup: int, repeat: int) -> float:
    """The median milliseconds of ``step()`` over ``repeat`` rounds, CUDA events around each."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def time_layer(shape, warmup: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Per implementation: (train ms, inference ms) on ``shape`` = (B, T, I, H)."""
    batch, steps, inputs, hidden = shape
    x = torch.randn(batch, steps, inputs, device="cuda", requires_grad=True)
    grad = torch.randn(batch, steps, hidden, device="cuda")
    found = {}
    for name in IMPLEMENTATIONS:
        lstm = build(name, inputs, hidden)

        def train(lstm=lstm):
            y, _ = lstm(x)
            y.backward(grad)

        def infer(lstm=lstm):
            with torch.inference_mode():
                lstm(x)

        found[name] = (cuda_time(train, warmup, repeat), cuda_time(infer, warmup, repeat))
    return found


def summary(meta: dict, tests: tuple[int, str], rows: list[tuple]) -> str:
    lines = [
        "# GPU check",
        "",
        *(f"- {key}: {value}" for key, value in meta.items()),
        f"- CUDA tests ({', '.join(CUDA_TESTS)}): "
        + ("passed" if tests[0] == 0 else f"FAILED (exit {tests[0]})")
        + f" — {tests[1]}",
        "",
        "| shape BxTxIxH | implementation | train ms | inference ms | train vs torch |",
        "|---|---|---:|---:|---:|",
    ]
    for shape, name, train, infer, ratio in rows:
        lines.append(f"| {shape} | {name} | {train:.3f} | {infer:.3f} | {ratio:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "gpu-check.md")
    parser.add_argument("--repeat", type=int, default=20, help="timed rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds before timing")
    parser.add_argument("--quick", action="store_true", help="repeat 5, warm-up 2")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: error: no CUDA device; run it on a machine with an NVIDIA GPU")
        return 2
    if args.quick:
        args.repeat, args.warmup = 5, 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tests = run_tests(args.out.with_suffix(".junit.xml"))
    rows = []
    for shape in DEFAULT_SHAPES:
        found = time_layer(shape, args.warmup, args.repeat)
        reference = found["torch.nn.LSTM"][0]
        for name, (train, infer) in found.items():
            label = "x".join(map(str, shape))
            rows.append((label, name, train, infer, reference / train))
            print(f"{label:>16}  {name:<14} train {train:8.3f} ms  infer {infer:8.3f} ms")
    meta = {
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "CUDA": torch.version.cuda,
        "python": platform.python_version(),
        "bf16 supported": torch.cuda.is_bf16_supported(),
        "timing": f"median of {args.repeat} rounds after {args.warmup} warm-up, float32",
    }
    args.out.write_text(summary(meta, tests, rows), encoding="utf-8")
    print(f"wrote {args.out}")
    return tests[0]


if __name__ == "__main__":
    sys.exit(main())
