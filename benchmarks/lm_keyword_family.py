"""Do the language model's defaults learn a user's keyword corpus in the time given?

What it measures
----------------
For each member of the keyword-memory family (:mod:`lstmkit.data.keyword_family`: other
themes, words, people, sentence shapes, filler and distances than the built-in corpus) and each
seed, the script writes the member's training text to a file (5000 passages, one per line) and
runs exactly what a user runs::

    lstmkit lm train --data FILE --max-time 5 --seed S --out DIR

with no other option, in this process (``lstmkit.cli.main.main``), so the defaults are the
command line's. It then loads ``DIR/best`` as a user would (``LanguageModel.load``) and asks
500 test passages of the member that training never saw, through the public
``LanguageModel.keyword_accuracy`` (each question a fresh prompt from an empty memory), scoring
the category word after each question by the keyword's distance (buckets of 10 filler words up to
the member's longest filler). The target: at least 95% in every bucket, for every member and
seed.

Steps and minutes to 95%: at the end of every epoch the script keeps a copy of the weights
(nothing is evaluated during the run, so the budget is the user's); after training, each copy is
scored on the first 200 test passages, and the first one at 95% or more in every bucket gives
the step and the minute. The final figures are those of ``best/`` on all 500.

The validation split is the command's own (the last 5% of the file's lines); nothing here is
chosen on the test passages.

Run from the repository root::

    .venv/bin/python benchmarks/lm_keyword_family.py                    # 6 members x 3 seeds
    .venv/bin/python benchmarks/lm_keyword_family.py --variants 0 5 --seeds 0 --minutes 2
    .venv/bin/python benchmarks/lm_keyword_family.py --jobs 2 --threads 1   # two runs at once
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import copy
import io
import json
import sys
import time
from pathlib import Path

# The environment is the user's: OMP_WAIT_POLICY is left as they have it (unset: OpenMP's threads
# spin between the LSTM's many small parallel regions). PASSIVE, which the other benchmarks set
# to be fair to jobs beside them, puts the threads to sleep between regions and more than halves
# the steps a second of this model on two threads (78k against 30-38k tokens a second measured).
from _common import emit, fmt_load, load_average, run_meta

TARGET = 0.95
TEST_PASSAGES, CURVE_PASSAGES = 500, 200


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=5.0, help="--max-time of each run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at the same time")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench/keyword-family"))
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    return parser.parse_args(argv)


def run_one(variant_seed: int, seed: int, minutes: float, out: Path, threads: int | None) -> dict:
    """Trains one member with one seed through the command line; returns its record."""
    import torch

    import lstmkit.lm.task as lm_task
    from lstmkit.cli.main import main
    from lstmkit.data.keyword_family import distance_buckets, keyword_variant, variant_corpus
    from lstmkit.data.keywords import cuisine_accuracy_by_distance
    from lstmkit.lm import LanguageModel

    if threads is not None:
        torch.set_num_threads(threads)
    variant = keyword_variant(variant_seed)
    run = out / f"v{variant_seed}-s{seed}"
    run.mkdir(parents=True, exist_ok=True)
    data = run / "train.txt"
    data.write_text(variant_corpus(variant, 5000, 0, 0)[0], encoding="utf-8")
    test = variant.passages(TEST_PASSAGES, "test")
    buckets = distance_buckets(variant.max_filler)

    snapshots = []  # (step, seconds, weights) at every epoch end
    evaluate, started = lm_task.LMTask.evaluate, time.monotonic()

    def keep(task, model):
        metrics = evaluate(task, model)
        snapshots.append((time.monotonic() - started, copy.deepcopy(model.state_dict())))
        return metrics

    lm_task.LMTask.evaluate = keep
    argv = ["lm", "train", "--data", str(data), "--max-time", f"{minutes:g}", "--seed", str(seed)]
    argv += ["--out", str(run / "run"), "--no-progress", "--json"]
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            code = main(argv)
    finally:
        lm_task.LMTask.evaluate = evaluate
    if code != 0:
        raise SystemExit(f"lstmkit {' '.join(argv)}: exit {code}")
    result = json.loads(stdout.getvalue())
    seconds = time.monotonic() - started

    lm = LanguageModel.load(run / "run" / "best")
    final = cuisine_accuracy_by_distance(
        lambda words: lm.next_word(" ".join(words))[0], test, buckets
    )
    history = [json.loads(line) for line in (run / "run" / "metrics.jsonl").open()]
    epoch_steps = [r["step"] for r in history if r.get("split") == "valid"]
    reached = None
    for (at, weights), step in zip(snapshots, epoch_steps, strict=False):
        lm.model_.load_state_dict(weights)
        scores = cuisine_accuracy_by_distance(
            lambda words: lm.next_word(" ".join(words))[0], test[:CURVE_PASSAGES], buckets
        )
        if min(s.accuracy for s in scores.values() if s.total) >= TARGET:
            reached = {"step": step, "minutes": at / 60}
            break
    return {
        "variant": variant_seed,
        "theme": variant.theme,
        "categories": len(variant.categories),
        "max_filler": variant.max_filler,
        "seed": seed,
        "steps": result.get("steps"),
        "train_s": seconds,
        "reached": reached,
        "buckets": {k: {"correct": s.correct, "total": s.total} for k, s in final.items()},
    }


def _worst(record: dict) -> float:
    return min(b["correct"] / b["total"] for b in record["buckets"].values() if b["total"])


def render_markdown(meta: dict, records: list[dict]) -> str:
    """The header line, the table (one row per member and seed) and the verdict."""
    lines = [
        f"torch {meta['torch']} | threads {meta['threads']} | CPU: {meta['cpu']} | "
        f"1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
        f"{fmt_load(meta['load_avg_end'])} at end | jobs {meta['jobs']}",
        "",
        f"`lstmkit lm train --data FILE --max-time {meta['minutes']:g} --seed S` with no other "
        f"option; {TEST_PASSAGES} unseen test passages per member, each question a fresh "
        "prompt; worst distance bucket of `best/`, and when the run first reached "
        f"{100 * TARGET:.0f}% in every bucket.",
        "",
        "| member | theme | categories | longest filler | seed | steps | worst bucket "
        f"| step to {100 * TARGET:.0f}% | minutes to {100 * TARGET:.0f}% |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        reached = r["reached"] or {"step": "—", "minutes": "—"}
        minutes = reached["minutes"]
        lines.append(
            f"| {r['variant']} | {r['theme']} | {r['categories']} | {r['max_filler']} | "
            f"{r['seed']} | {r['steps']} | {100 * _worst(r):.1f}% | "
            f"{reached['step']} | {minutes if isinstance(minutes, str) else f'{minutes:.1f}'} |"
        )
    failed = [r for r in records if _worst(r) < TARGET]
    verdict = "PASS" if not failed else f"FAIL ({len(failed)} of {len(records)} runs)"
    lines += ["", f"- {verdict}: every run >= {100 * TARGET:.0f}% in every distance bucket"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs every member and seed; prints the markdown table (or JSON with ``--json``)."""
    args = parse_args(argv)
    meta = run_meta(minutes=args.minutes, jobs=args.jobs)
    if args.threads is not None:
        meta["threads"] = args.threads
    jobs = [(v, s) for v in args.variants for s in args.seeds]
    records = []
    with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(run_one, v, s, args.minutes, args.out, args.threads) for v, s in jobs
        ]
        for future in futures:
            record = future.result()
            records.append(record)
            reached = record["reached"]
            print(
                f"member {record['variant']} seed {record['seed']}: {record['steps']} steps, "
                f"worst bucket {100 * _worst(record):.1f}%, 95% at "
                f"{reached and reached['step']} steps (load {fmt_load(load_average())})",
                file=sys.stderr,
                flush=True,
            )
    meta["load_avg_end"] = load_average()
    emit(args.json, render_markdown(meta, records), meta=meta, results=records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
