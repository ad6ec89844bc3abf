"""Helpers the benchmark scripts share: the machine's description, its matmul peak, the load.

Every benchmark reports its throughput as a share of the float32 matrix-multiply peak measured
in the same run, and the 1-minute load average at start and end, so that a reader can tell a
slow implementation from a busy machine.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch


def cpu_model() -> str:
    """Returns the CPU model name from /proc/cpuinfo, or what ``platform`` knows elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def measure_matmul_peak(n: int = 2048, tries: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Measures the matrix-multiply throughput of this machine in ``dtype`` (float32 unless
    given; bfloat16 for mixed precision).

    Best of several runs rather than the median: the peak is what the hardware can do, and
    any slower run was disturbed by something else. Both of torch's CPU matrix-multiply
    libraries are tried and the faster counts: ``torch.mm`` (MKL for float32) and oneDNN, which
    torch's LSTM kernel uses; on AMD CPUs MKL's float32 product is the slower by a quarter
    (83 against 104 GFLOP/s on one Zen 4 thread), and a peak from it alone put the LSTM's
    utilisation above 100%.

    Args:
        n: Side of the square matrices.
        tries: Number of timed products.
        dtype: The element type.

    Returns:
        The best achieved GFLOP/s.
    """
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    out = torch.empty(n, n, dtype=dtype)
    products = [lambda: torch.mm(a, b, out=out)]
    try:  # oneDNN's product of the same matrices (``linear`` takes the right factor transposed)
        a_dnn, b_dnn = a.to_mkldnn(), b.t().contiguous().to_mkldnn()
        torch._C._nn.mkldnn_linear(a_dnn, b_dnn, None)
        products.append(lambda: torch._C._nn.mkldnn_linear(a_dnn, b_dnn, None))
    except (AttributeError, RuntimeError):  # a build without oneDNN, or a private API moved
        pass
    best = float("inf")
    for product in products:
        product()  # warm-up: thread pool start-up and first-touch of the output
        for _ in range(tries):
            start = time.perf_counter()
            product()
            best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def load_average() -> float | None:
    """Returns the 1-minute load average, or None where the platform has none.

    Recorded at start and end because other processes competing for the cores distort the
    timings (2-thread OpenMP regions slow down badly when a core is taken), and the reader
    of the table should see that.
    """
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def fmt_load(value: float | None) -> str:
    """Formats a load average for a header line, ``n/a`` where there is none."""
    return "n/a" if value is None else f"{value:.2f}"


def run_meta(**fields) -> dict:
    """The header every benchmark records: versions, threads, CPU, the load at start, and the
    run's own ``fields`` (its settings), in that order."""
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        **fields,
        "load_avg_start": load_average(),
    }


def emit(as_json: bool, markdown: str, **payload) -> None:
    """Prints the run as JSON (``payload``: meta, results, ...) or as its markdown report."""
    print(json.dumps(payload, indent=2) if as_json else markdown)
