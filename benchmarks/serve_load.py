"""A bounded load on ``lstmkit serve``: throughput, latency percentiles and errors.

What it measures
----------------
The server is ``lstmkit serve`` started as a subprocess (its own Python, its own model worker
thread), exactly as a user would start it. A second process (``multiprocessing``, spawned)
drives the load: ``--concurrency`` asyncio tasks over one ``httpx.AsyncClient``, each sending
its next request as soon as its last one is answered, until ``--requests`` requests have been
sent. A request's latency runs from just before it is sent to its full answer. Throughput is
the requests answered per second of the whole timed run; an error is any answer other than
200 or a failed connection. ``--warmup`` requests go first, untimed.

The requests are /predict (next 5 tokens) with texts cut at random from the corpus (20-200
characters), and, with ``--s2s DIR``, a second run of /translate with 1-4 sentences of 3-8
source words each (greedy). The server's /health counts before and after give the mean number
of requests the model worker ran in one batch.

Without ``--model`` a small character LM (embedding 64, 2 LSTM layers of 256) is first trained
for ``--train-steps`` steps on Tiny Shakespeare (``../shared/data``; a synthetic text where it
is absent). Run from the repository root, one thread per process::

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/serve_load.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/serve_load.py --model runs/lm --s2s runs/s2s
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/serve_load.py --requests 200 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import cpu_model, fmt_load, load_average

ROOT = Path(__file__).resolve().parents[1]
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", metavar="DIR", help="a language model to serve (default: train)")
    p.add_argument("--s2s", metavar="DIR", help="also load /translate of this seq2seq model")
    p.add_argument("--requests", type=int, default=2000, help="timed requests per endpoint")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight at once")
    p.add_argument("--warmup", type=int, default=50, help="untimed requests first")
    p.add_argument("--train-steps", type=int, default=150, help="steps of the default model")
    p.add_argument(
        "--serve-args",
        default="",
        help="more options of lstmkit serve, e.g. '--max-batch 64 --batch-wait-ms 1'",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    return p.parse_args(argv)


# ---------------------------------------------------------------------------- the model
def corpus() -> str:
    if SHAKESPEARE.exists():
        return SHAKESPEARE.read_text(encoding="utf-8")[:300_000]
    rng = random.Random(0)
    words = "the cat sat on a mat and saw dog run far away from home".split()
    return "\n".join(" ".join(rng.choices(words, k=12)) for _ in range(4000))


def train_default(out: Path, text: str, steps: int) -> Path:
    from lstmkit.lm import LanguageModel

    LanguageModel(
        "char",
        model={"embedding_size": 64, "hidden_size": 256, "num_layers": 2},
        batch_size=32,
        bptt=64,
        train={"epochs": 1, "max_steps": steps},
    ).fit(text, out=out, progress=False)
    return out


# ---------------------------------------------------------------------------- the server
def start_server(model: str, extra: str) -> tuple[subprocess.Popen, str]:
    """``lstmkit serve MODEL --port 0`` and the URL it printed."""
    server = subprocess.Popen(
        [sys.executable, "-m", "lstmkit", "serve", model, "--port", "0", *extra.split()],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    line = server.stdout.readline()
    if not line.startswith("serving "):
        server.kill()
        raise SystemExit(f"lstmkit serve did not start: {line!r}")
    return server, line.split(" at ", 1)[1].split()[0]


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGINT)  # Ctrl-C: a clean shutdown
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


def health(url: str) -> dict:
    import httpx

    return httpx.get(url + "/health", timeout=30).json()


# ---------------------------------------------------------------------------- the load
async def _load(url: str, path: str, bodies: list[dict], concurrency: int) -> tuple:
    import httpx

    latencies, statuses = [], []
    todo = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def user(client):
        for body in todo:  # one shared iterator: each body is sent once
            start = time.perf_counter()
            try:
                answer = await client.post(path, json=body)
                await answer.aread()
                statuses.append(answer.status_code)
            except httpx.HTTPError as error:
                statuses.append(type(error).__name__)
            latencies.append(time.perf_counter() - start)

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(user(client) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return latencies, statuses, wall


def drive(url: str, path: str, bodies: list[dict], concurrency: int, out) -> None:
    out.put(asyncio.run(_load(url, path, bodies, concurrency)))


def run_load(url: str, path: str, bodies: list[dict], concurrency: int) -> tuple:
    """Sends ``bodies`` from a second (spawned) process; its latencies, statuses and time."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    worker = context.Process(target=drive, args=(url, path, bodies, concurrency, out))
    worker.start()
    result = out.get()
    worker.join()
    return result


def measure(url: str, path: str, bodies: list[dict], warmup: list[dict], concurrency: int) -> dict:
    run_load(url, path, warmup, concurrency)
    before = health(url)["batches"]
    latencies, statuses, wall = run_load(url, path, bodies, concurrency)
    after = health(url)["batches"]
    ms = sorted(x * 1000 for x in latencies)

    def pct(q: float) -> float:
        return ms[min(len(ms) - 1, round(q / 100 * (len(ms) - 1)))]

    batches = after["model_batches"] - before["model_batches"]
    per_batch = (after["requests"] - before["requests"]) / batches if batches else None
    latency = {
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "mean": statistics.fmean(ms),
        "max": ms[-1],
    }
    return {
        "endpoint": path,
        "requests": len(bodies),
        "concurrency": concurrency,
        "seconds": round(wall, 3),
        "throughput_rps": round(len(bodies) / wall, 1),
        "latency_ms": {k: round(v, 2) for k, v in latency.items()},
        "errors": sum(s != 200 for s in statuses),
        "statuses": {str(s): statuses.count(s) for s in set(statuses)},
        "requests_per_model_batch": None if per_batch is None else round(per_batch, 2),
    }


# ---------------------------------------------------------------------------- the requests
def predict_bodies(text: str, n: int, rng: random.Random) -> list[dict]:
    bodies = []
    for _ in range(n):
        length = rng.randint(20, 200)
        start = rng.randrange(len(text) - length)
        bodies.append({"text": text[start : start + length], "top_k": 5})
    return bodies


def translate_bodies(model: str, n: int, rng: random.Random) -> list[dict]:
    from lstmkit.seq2seq import Seq2Seq

    tokenizer = Seq2Seq.load(model).src_tokenizer_
    words = [tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]
    words = [w for w in words if w.strip() and not w.startswith("<")]
    sentence = lambda: " ".join(rng.choices(words, k=rng.randint(3, 8)))  # noqa: E731
    return [
        {"sentences": [sentence() for _ in range(rng.randint(1, 4))], "method": "greedy"}
        for _ in range(n)
    ]


# ---------------------------------------------------------------------------- main
def main(argv=None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    load_start = load_average()
    text = corpus()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        model = args.model
        trained = None
        if model is None:
            start = time.perf_counter()
            model = str(train_default(Path(tmp) / "lm", text, args.train_steps))
            trained = round(time.perf_counter() - start, 1)
        runs = []
        jobs = [(model, "/predict", lambda n: predict_bodies(text, n, rng))]
        if args.s2s:
            jobs.append((args.s2s, "/translate", lambda n: translate_bodies(args.s2s, n, rng)))
        for directory, path, make in jobs:
            server, url = start_server(directory, args.serve_args)
            try:
                runs.append(
                    measure(url, path, make(args.requests), make(args.warmup), args.concurrency)
                )
            finally:
                stop_server(server)
    result = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average": [load_start, load_average()],
        "model": args.model or f"default char LM, trained {args.train_steps} steps in {trained} s",
        "serve_args": args.serve_args,
        "runs": runs,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(table(result))
    return 1 if any(r["errors"] for r in runs) else 0


def table(r: dict) -> str:
    lines = [
        f"{r['cpu']}, {r['cores']} cores, OMP_NUM_THREADS={r['omp_num_threads']}, load "
        f"{fmt_load(r['load_average'][0])} -> {fmt_load(r['load_average'][1])}",
        f"model: {r['model']}",
        "",
        f"{'endpoint':<11} {'requests':>8} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} "
        f"{'p99 ms':>8} {'errors':>6} {'req/batch':>9}",
    ]
    for run in r["runs"]:
        lat = run["latency_ms"]
        per_batch = run["requests_per_model_batch"]
        lines.append(
            f"{run['endpoint']:<11} {run['requests']:>8} {run['concurrency']:>4} "
            f"{run['throughput_rps']:>8.1f} {lat['p50']:>8.2f} {lat['p90']:>8.2f} "
            f"{lat['p99']:>8.2f} {run['errors']:>6} {per_batch if per_batch else '-':>9}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
