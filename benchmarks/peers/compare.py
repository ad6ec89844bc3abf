"""lstmkit side by side with JoeyNMT, Darts and neuralforecast (issue 9 §2): one table.

Runs each peer's runner with its own venv (``benchmarks/peers/.venvs/<peer>``, made by
``setup_envs.sh``) and lstmkit's runner with lstmkit's venv, one after another, each pair
(peer, lstmkit) back-to-back so that both see similar load from the rest of the machine; every
child gets the same thread count (``OMP_NUM_THREADS``, which torch's intra-op pool follows).
Both sides train on the same data (:mod:`data`), with the same architecture and batch; see each
runner's docstring for exactly what it times.

Targets: seq2seq training >= 3x JoeyNMT's target tokens/s and beam-5 decoding >= 2x its
sentences/s at equal or better test BLEU; forecasting >= 3x Darts' and neuralforecast's
windows/s at equal or better test MASE. "Equal" allows ``--bleu-tolerance`` BLEU points and
``--mase-tolerance`` MASE.

``--precision bf16`` trains lstmkit in bfloat16 mixed precision, and Darts and neuralforecast
too (Lightning's ``bf16-mixed``) unless ``--peer-precision fp32`` keeps them in float32;
JoeyNMT trains in float32 on the CPU (its half precision is for GPUs). Every side's precision is
in the table's "peer" column.

Run (each venv takes minutes and ~1.5 GB to create; never part of the tests or CI)::

    make bench-peers
    .venv/bin/python benchmarks/peers/compare.py --threads 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PEERS = {"seq2seq": ["joeynmt"], "forecast": ["darts", "neuralforecast"]}
# lstmkit's forecast head beside each peer: Darts' RNNModel rolls its LSTM forward on its own
# forecasts; neuralforecast's LSTM reads the horizon off the encoder with an MLP.
LSTMKIT_OPTIONS = {"darts": ["--head", "autoregressive"], "neuralforecast": ["--head", "direct"]}
TARGETS = {"seq2seq": {"train": 3.0, "beam": 2.0}, "forecast": {"train": 3.0}}
# Sides that can train in bfloat16 mixed precision on the CPU (Darts and neuralforecast through
# Lightning's "bf16-mixed"); JoeyNMT turns half precision off on the CPU and trains in float32.
BF16_SIDES = {"lstmkit", "darts", "neuralforecast"}


def python_of(side: str) -> Path:
    """The interpreter a side runs with: its peer venv, or lstmkit's own."""
    if side == "lstmkit":
        return ROOT / ".venv" / "bin" / "python"
    return HERE / ".venvs" / side / "bin" / "python"


def run_side(
    side: str, task: str, args: argparse.Namespace, extra: tuple = (), seed: int | None = None
) -> dict:
    """Runs one runner; returns its JSON line, with the wall-clock and the thread count."""
    python = python_of(side)
    if not python.exists():
        raise SystemExit(
            f"{side}: expected a venv at {python.parent.parent}; "
            "run benchmarks/peers/setup_envs.sh first"
        )
    script = HERE / ("run_lstmkit.py" if side == "lstmkit" else f"run_{side}.py")
    command = [str(python), str(script)] + ([task] if side == "lstmkit" else [])
    command += ["--seed", str(args.seed if seed is None else seed), *extra]
    command += ["--epochs", str(args.epochs)] if task == "seq2seq" else ["--ladder", *args.ladder]
    if side in BF16_SIDES:
        command += ["--precision", args.precision if side == "lstmkit" else args.peer_precision]
    threads = str(args.threads)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("OMP_WAIT_POLICY", None)
    if args.wait_policy != "default":
        env["OMP_WAIT_POLICY"] = args.wait_policy.upper()
    print(
        f"running {side} {task} (seed {args.seed if seed is None else seed}) ...",
        file=sys.stderr,
        flush=True,
    )
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise SystemExit(f"{side} {task} failed ({done.returncode}):\n{tail}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "wall_s": time.monotonic() - start, "env_threads": args.threads}


def run_pair(peer_name: str, task: str, args: argparse.Namespace) -> tuple[dict, dict]:
    """(peer, lstmkit) results, back-to-back per seed; forecasting over ``--seeds`` seeds
    (series and initialisation both follow the seed) is summarised by :func:`over_seeds`."""
    extra = LSTMKIT_OPTIONS.get(peer_name, [])
    seeds = range(args.seed, args.seed + (args.seeds if task == "forecast" else 1))
    pairs = [
        (run_side(peer_name, task, args, seed=s), run_side("lstmkit", task, args, extra, seed=s))
        for s in seeds
    ]
    if len(pairs) == 1:
        return pairs[0]
    return over_seeds([p for p, _ in pairs]), over_seeds([o for _, o in pairs])


def over_seeds(runs: list[dict]) -> dict:
    """One forecasting side's runs over several seeds as one: the first seed's ladder, the
    median throughput, the mean test MASE (each seed's kept under ``test_mase_seeds``)."""
    mase = [r["test_mase"] for r in runs]
    return {
        **runs[0],
        "test_mase": sum(mase) / len(mase),
        "test_mase_seeds": mase,
        "train_windows_per_s": statistics.median(r["train_windows_per_s"] for r in runs),
        "wall_s": sum(r["wall_s"] for r in runs),
        "load": [runs[0]["load"][0], runs[-1]["load"][-1]],
    }


def time_to(curve: list[dict], key: str, threshold: float, higher: bool, seconds: str):
    """Seconds of the first point of ``curve`` whose ``key`` reaches ``threshold``, or None."""
    for point in curve:
        if (point[key] >= threshold) if higher else (point[key] <= threshold):
            return point[seconds]
    return None


def rows_for(task: str, peer: dict, ours: dict, args: argparse.Namespace) -> list[dict]:
    """The table's rows of one pair: metric, both values, the ratio and the target."""
    if task == "seq2seq":
        t_peer = time_to(peer["dev_curve"], "bleu", args.bleu_threshold, True, "train_s")
        t_ours = time_to(ours["dev_curve"], "bleu", args.bleu_threshold, True, "train_s")
        rows = [
            _row(
                "train target tokens/s",
                peer["train_tokens_per_s"],
                ours["train_tokens_per_s"],
                TARGETS[task]["train"],
            ),
            _row(
                "beam-5 test sentences/s",
                peer["beam_sentences_per_s"],
                ours["beam_sentences_per_s"],
                TARGETS[task]["beam"],
            ),
            _row(
                f"train s to dev BLEU >= {args.bleu_threshold:g}",
                t_peer,
                t_ours,
                None,
                lower_is_better=True,
            ),
            _quality(
                "test BLEU (beam 5)",
                peer["test_bleu"],
                ours["test_bleu"],
                args.bleu_tolerance,
                higher=True,
            ),
        ]
    else:
        t_peer = time_to(peer["ladder"], "valid_mase", args.mase_threshold, False, "fit_s")
        t_ours = time_to(ours["ladder"], "valid_mase", args.mase_threshold, False, "fit_s")
        rows = [
            _row(
                "train windows/s",
                peer["train_windows_per_s"],
                ours["train_windows_per_s"],
                TARGETS[task]["train"],
            ),
            _row(
                f"fit s to valid MASE <= {args.mase_threshold:g}",
                t_peer,
                t_ours,
                None,
                lower_is_better=True,
            ),
            _quality(
                _mase_label(peer),
                peer["test_mase"],
                ours["test_mase"],
                args.mase_tolerance,
                higher=False,
            ),
        ]
    peer_name = f"{peer['side']} {peer.get('precision', 'fp32')}, lstmkit " + (
        f"{ours.get('precision', 'fp32')}" + (f" {ours['head']} head" if "head" in ours else "")
    )
    return [{"task": task, "peer": peer_name, **r} for r in rows]


def _mase_label(run: dict) -> str:
    seeds = len(run.get("test_mase_seeds", [0]))
    return "test MASE (12 steps)" + (f", mean of {seeds} seeds" if seeds > 1 else "")


def _row(metric, peer, ours, target, lower_is_better=False) -> dict:
    ratio = None
    if peer is not None and ours is not None and peer > 0 and ours > 0:
        ratio = peer / ours if lower_is_better else ours / peer
    met = None if target is None or ratio is None else ratio >= target
    return {
        "metric": metric,
        "peer_value": peer,
        "lstmkit_value": ours,
        "ratio": ratio,
        "target": None if target is None else f">= {target:g}x",
        "met": met,
    }


def _quality(metric, peer, ours, tolerance, higher) -> dict:
    met = ours >= peer - tolerance if higher else ours <= peer + tolerance
    target = f">= peer - {tolerance:g}" if higher else f"<= peer + {tolerance:g}"
    return {
        "metric": metric,
        "peer_value": peer,
        "lstmkit_value": ours,
        "ratio": None,
        "target": target,
        "met": met,
    }


def markdown(rows: list[dict]) -> str:
    head = ["task", "peer", "metric", "peer", "lstmkit", "lstmkit / peer", "target", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["task"],
            r["peer"],
            r["metric"],
            _fmt(r["peer_value"]),
            _fmt(r["lstmkit_value"]),
            "" if r["ratio"] is None else f"{r['ratio']:.2f}x",
            r["target"] or "",
            {True: "yes", False: "NO", None: ""}[r["met"]],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:
        return "not reached"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tasks", nargs="+", default=["seq2seq", "forecast"], choices=("seq2seq", "forecast")
    )
    parser.add_argument(
        "--peers",
        nargs="+",
        default=["joeynmt", "darts", "neuralforecast"],
        choices=("joeynmt", "darts", "neuralforecast"),
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count(),
        help="threads of every child (default: every core)",
    )
    parser.add_argument(
        "--wait-policy",
        default="default",
        choices=("default", "passive", "active"),
        help="OMP_WAIT_POLICY of every child (default: unset, OpenMP's own, which spins a "
        "while before sleeping; passive makes a second thread on these small models slower "
        "than one, as it sleeps and wakes around every operation)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="seq2seq training epochs")
    parser.add_argument(
        "--ladder",
        nargs="+",
        default=["68", "272", "1088"],
        help="forecast: optimiser steps of each training run (from scratch)",
    )
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="lstmkit's training arithmetic (bf16: mixed precision, torch.autocast)",
    )
    parser.add_argument(
        "--peer-precision",
        choices=("fp32", "bf16"),
        help="Darts' and neuralforecast's (Lightning's 32-true or bf16-mixed; default: "
        "--precision); JoeyNMT trains in fp32 on the CPU whatever this says",
    )
    parser.add_argument("--bleu-threshold", type=float, default=90.0)
    parser.add_argument("--bleu-tolerance", type=float, default=0.5)
    parser.add_argument("--mase-threshold", type=float, default=0.9)
    parser.add_argument("--mase-tolerance", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="forecast: run each pair over this many seeds from --seed (the series and the "
        "initialisation); the table gives the mean test MASE and the median windows/s",
    )
    parser.add_argument("--save", type=Path, help="also write every runner's JSON here")
    parser.add_argument("--load", type=Path, help="re-table the runs --save wrote; run nothing")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args()
    args.peer_precision = args.peer_precision or args.precision
    results, rows = [], []
    if args.load:  # pairs were saved in order: (peer, lstmkit), ...
        saved = json.loads(args.load.read_text())
        results = saved["runs"]
        args.threads = saved["threads"]
        args.wait_policy = saved.get("wait_policy", "passive")  # saved before the option
        args.seed, args.seeds = saved.get("seed", 0), saved.get("seeds", 1)
        args.precision = saved.get("precision", "fp32")
        args.peer_precision = saved.get("peer_precision", "fp32")
        for peer, ours in zip(results[::2], results[1::2], strict=True):
            rows += rows_for(peer["task"], peer, ours, args)
    for task in [] if args.load else args.tasks:
        for peer_name in (p for p in PEERS[task] if p in args.peers):
            peer, ours = run_pair(peer_name, task, args)  # back-to-back: similar load
            results += [peer, ours]
            rows += rows_for(task, peer, ours, args)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "threads": args.threads,
        "wait_policy": args.wait_policy,
        "seed": args.seed,
        "seeds": args.seeds,
        "precision": args.precision,
        "peer_precision": args.peer_precision,
        "runs": results,
        "rows": rows,
    }
    if args.save:
        args.save.write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{report['machine']} | threads {args.threads} | OMP_WAIT_POLICY {args.wait_policy} "
        f"| lstmkit {args.precision}, Darts and neuralforecast {args.peer_precision} "
        f"| seed {args.seed}"
        + (f", forecast seeds {args.seed}-{args.seed + args.seeds - 1}" if args.seeds > 1 else "")
        + "\n"
    )
    for r in results:
        load = ", ".join(f"{x:.2f}" for x in r["load"])
        print(f"- {r['side']} {r['task']}: wall {r['wall_s']:.0f} s, 1-min load {load}")
    print()
    print(markdown(rows))


if __name__ == "__main__":
    main()
