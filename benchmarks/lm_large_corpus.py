"""Memory and start-up time of `lstmkit lm train` on a large text file: streamed against in memory.

What it measures
----------------
A word corpus of ``--size-mb`` MB is generated in ``--workdir`` (seeded: 5,000 made-up words
drawn with Zipf frequencies, lines of 4 to 24 words; deleted at the end unless ``--keep``). Each
path then trains on it in a fresh process, ``--max-steps`` steps of a small model (embedding
16, one LSTM layer of 32; the memory measured is the data's, not the model's), and validates and
scores the test split as `lstmkit lm train` does:

1. ``streamed``: this checkout's ``lstmkit lm train --data FILE --max-steps 5 --out RUN``: the
   file is read in pieces, its ids written to a temporary file and mapped (``np.memmap``);
2. ``in-memory``: the same run through the Python API with the text in memory, as
   `lm train` read it before streaming: ``read_text`` → ``split_text`` → ``Corpus`` of
   strings → ``LanguageModel.fit`` → ``evaluate(test)`` (same settings, same seed);
3. with ``--before-src DIR`` (an older checkout's ``src``), that checkout's own
   ``lstmkit lm train`` with the same arguments.

Reported per path: the peak resident set size of its process (``ru_maxrss``, which includes the
pages of the mapped ids that were read), the time from the process's start (before importing
torch) to the end of the first training step, and the total time; and the in-memory path's
figures divided by the streamed path's. The processes run one after another; the corpus file
is in the page cache for all of them (it was just written).

Run from the repository root::

    .venv/bin/python benchmarks/lm_large_corpus.py                 # 300 MB
    .venv/bin/python benchmarks/lm_large_corpus.py --size-mb 20 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import cpu_model, fmt_load, load_average

HERE = Path(__file__).resolve().parent
SIZES = ["--embedding-size", "16", "--hidden-size", "32", "--num-layers", "1"]

# The child process: timed from its first line, before torch is imported.
CHILD = r"""
import json, resource, sys, time
started = time.monotonic()
mode, data, out, steps = sys.argv[1:5]
from lstmkit.train import trainer as trainer_module
first = {}
step = trainer_module.Trainer._step
def timed_step(self, batch):
    result = step(self, batch)
    first.setdefault("step", time.monotonic() - started)
    return result
trainer_module.Trainer._step = timed_step
if mode == "cli":
    from lstmkit.cli.main import main
    sizes = ["--embedding-size", "16", "--hidden-size", "32", "--num-layers", "1"]
    args = ["lm", "train", "--data", data, "--max-steps", steps, "--out", out, "--no-progress"]
    code = main([*args, *sizes, "--json"])
    assert code == 0, code
else:
    from lstmkit.data import Corpus, read_text, split_text
    from lstmkit.lm import LanguageModel
    parts = split_text(read_text(data, option="data"), 0.05, 0.05)
    corpus = Corpus(*parts, {"data": data})
    del parts
    model = {"embedding_size": 16, "hidden_size": 32, "num_layers": 1}
    lm = LanguageModel(model=model, train={"max_steps": int(steps)})
    lm.fit(corpus, out=out, progress=False)
    print(json.dumps({"test": lm.evaluate(corpus.test)}))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result = {"peak_rss_mb": peak, "first_step_s": first["step"]}
print("RESULT " + json.dumps({**result, "total_s": time.monotonic() - started}))
"""


def generate(path: Path, size_mb: float, seed: int = 0) -> dict:
    """Writes a word corpus of about ``size_mb`` MB to ``path``; returns what it holds."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: set[str] = set()
    while len(words) < 5000:
        words.add("".join(rng.choice(letters, rng.integers(2, 10))))
    vocab = np.array(sorted(words))
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()
    target, written, lines, count = size_mb * 1e6, 0, 0, 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            ids = rng.choice(len(vocab), 1_000_000, p=zipf)
            ends = np.cumsum(rng.integers(4, 25, 100_000))
            ends = ends[ends < len(ids)]
            seps = np.full(len(ids), " ", dtype="<U1")
            seps[ends - 1] = "\n"
            cut = int(ends[-1])  # the block ends with a whole line
            block = "".join(np.char.add(vocab[ids[:cut]], seps[:cut]).tolist())
            f.write(block)
            written += len(block)
            lines += len(ends)
            count += cut
    return {"bytes": path.stat().st_size, "lines": lines, "words": count}


def run_child(mode: str, data: Path, out: Path, steps: int, src: Path) -> dict:
    """Runs one path in a fresh process with ``src`` first on its path; returns its figures."""
    # One thread, and passive waits: on a busy machine OpenMP's spinning threads slow a run
    # many times (the benchmarks' index page); this benchmark is about memory and reading.
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(data), str(out), str(steps)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} ({src}) failed:\n{done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=300.0, help="corpus size (MB)")
    parser.add_argument("--max-steps", type=int, default=5, help="training steps per run")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--before-src", type=Path, help="an older checkout's src/ to run too")
    parser.add_argument("--keep", action="store_true", help="keep the generated corpus")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="lstmkit-large-corpus-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "corpus.txt"
    started = time.monotonic()
    corpus = generate(data, args.size_mb)
    meta = {
        "cpu": cpu_model(),
        "python": sys.version.split()[0],
        "corpus": corpus,
        "generate_s": round(time.monotonic() - started, 1),
        "max_steps": args.max_steps,
        "load_avg_start": load_average(),
    }
    src = HERE.parent / "src"
    try:
        rows = {
            "streamed": run_child("cli", data, work / "run", args.max_steps, src),
            "in-memory": run_child("memory", data, work / "run", args.max_steps, src),
        }
        if args.before_src:
            rows["before (lm train)"] = run_child(
                "cli", data, work / "run", args.max_steps, args.before_src
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    meta["load_avg_end"] = load_average()
    base = rows["streamed"]
    ratios = {
        name: {k: row[k] / base[k] for k in ("peak_rss_mb", "first_step_s", "total_s")}
        for name, row in rows.items()
        if name != "streamed"
    }
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows, "ratio_to_streamed": ratios}, indent=1))
        return
    print(
        f"{corpus['bytes'] / 1e6:.0f} MB, {corpus['lines']:,} lines, {corpus['words']:,} words; "
        f"{args.max_steps} steps; {meta['cpu']}; load {fmt_load(meta['load_avg_start'])} → "
        f"{fmt_load(meta['load_avg_end'])}\n"
    )
    print("| path | peak RSS (MB) | time to first step (s) | total (s) |")
    print("|---|---:|---:|---:|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['peak_rss_mb']:,.0f} | {row['first_step_s']:.1f} | "
            f"{row['total_s']:.1f} |"
        )
    for name, ratio in ratios.items():
        print(
            f"\n{name} / streamed: peak RSS {ratio['peak_rss_mb']:.1f}x, time to first step "
            f"{ratio['first_step_s']:.2f}x, total {ratio['total_s']:.2f}x"
        )


if __name__ == "__main__":
    main()
