"""`lstmkit experiment`: the long-time-lag problems, each cell trained with the same budget."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lstmkit.cli import output
from lstmkit.cli.options import (
    command_parser,
    nonnegative_float,
    option,
    positive_float,
    positive_int,
    settings,
)
from lstmkit.cli.training import hold_run_folder, interruptible
from lstmkit.errors import UserError
from lstmkit.train.lock import check_unlocked, check_writable

PROBLEMS = ("adding", "temporal-order", "copy")
CELLS = ("lstm", "gru", "rnn")
DOC = """Train an LSTM, a GRU and a plain RNN on a long-time-lag problem of Hochreiter & Schmidhuber
(1997), generated on the fly at the chosen --length, each cell with the same budget (--steps
and/or --max-time; 10 minutes if neither is given; a cell stops early once 95 percent of the test
sequences are solved). Prints steps to solve, final error and the fraction solved, and writes
results.json, curves.png (learning curves) and, with --gradient-flow, gradient_flow.png (the
gradient norm against the distance from the end, at initialisation and after training) into
--out, with each cell's run folder (checkpoints, metrics.jsonl) beside them. adding: solved when
|error| < 0.04; temporal-order and copy: when every symbol is right."""


def register(commands) -> None:
    p = command_parser(
        commands,
        "experiment",
        interruptible(run),
        description=DOC,
        help="LSTM vs GRU vs RNN on long-time-lag problems",
    )
    p.add_argument("problem", choices=PROBLEMS, help="the problem")
    option(p, "--length", type=positive_int, default=200, metavar="N", help="sequence length T")
    option(
        p,
        "--cell",
        nargs="+",
        default=" ".join(CELLS),
        metavar="CELL",
        help="cells to train, any of lstm gru rnn (in a config file: 'lstm gru')",
    )
    option(p, "--hidden-size", type=positive_int, default=64, metavar="H", help="hidden units")
    option(
        p,
        "--init",
        choices=("chrono", "standard"),
        default="chrono",
        help="gate biases: chrono (Tallec & Ollivier 2018, memory spread over 1..length "
        "steps) or standard (torch's; LSTM forget bias 1)",
    )
    option(p, "--batch-size", type=positive_int, default=64, metavar="B", help="sequences per step")
    option(p, "--lr", type=positive_float, default=3e-3, help="Adam's learning rate")
    option(p, "--clip", type=nonnegative_float, default=1.0, help="gradient-norm clipping; 0: off")
    option(p, "--steps", type=positive_int, metavar="N", help="training steps per cell at most")
    option(
        p,
        "--max-time",
        type=positive_float,
        metavar="M",
        deprecated=("--minutes",),
        help="training minutes per cell at most, as train's --max-time (default: 10 without "
        "--steps; --minutes, its old name, is deprecated)",
    )
    p.set_defaults(flag_aliases={"minutes": "--max-time"})  # ExperimentConfig's name for it
    option(
        p,
        "--eval-every",
        type=positive_int,
        default=200,
        metavar="N",
        help="steps between evaluations on the test set",
    )
    option(p, "--test-size", type=positive_int, default=1000, metavar="N", help="test sequences")
    option(p, "--seed", type=int, default=0, help="seed of initialisation and generated data")
    option(
        p,
        "--gradient-flow",
        action="store_true",
        default=False,
        help="also draw ‖∂loss/∂h_t‖ against the distance from the end",
    )
    option(
        p,
        "--out",
        metavar="DIR",
        help="a new folder for the results (default: experiment-PROBLEM-LENGTH, numbered if taken)",
    )
    option(p, "--json", action="store_true", default=False, help="print JSON")


def run(args: argparse.Namespace) -> int:
    from lstmkit.experiments.plots import plot_curves, plot_gradient_flow
    from lstmkit.experiments.run import ExperimentConfig, run_experiment

    s = settings(args)
    if s["length"] < 10:
        raise UserError(f"--length: expected an integer >= 10, got {s['length']}")
    config = ExperimentConfig(
        problem=s["problem"],
        length=s["length"],
        cells=_cells(s["cell"]),
        hidden_size=s["hidden_size"],
        init=s["init"],
        batch_size=s["batch_size"],
        lr=s["lr"],
        clip=s["clip"],
        steps=s["steps"],
        minutes=s["max_time"],
        eval_every=s["eval_every"],
        test_size=s["test_size"],
        seed=s["seed"],
        gradient_flow=s["gradient_flow"],
    )
    out = _out(s)
    result = run_experiment(config, out, progress=not s["json"] and sys.stderr.isatty())
    files = [out / "results.json", plot_curves(result, out / "curves.png")]
    if config.gradient_flow:
        files.append(plot_gradient_flow(result, out / "gradient_flow.png"))
    result = {"out": str(out), **result, "files": [str(f) for f in files]}
    output.write_json(result, out / "results.json")
    output.emit(result, s["json"], _table)
    return 0


def _cells(value) -> list[str]:
    """--cell's names: a list from the flag, or text such as "lstm gru" from a config file."""
    names = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    for name in names:
        if name not in CELLS:
            raise UserError(f"--cell: expected any of {', '.join(CELLS)}, got {name!r}")
    if not names or len(set(names)) != len(names):
        raise UserError(f"--cell: expected each cell at most once, got {' '.join(names) or 'none'}")
    return names


def _out(s: dict) -> Path:
    """A new folder for the results, held (locked) until the command ends: --out if it is new or
    empty and writable, else refused; without --out, the first free
    experiment-PROBLEM-LENGTH[-k]."""
    if s["out"] is not None:
        out = Path(s["out"])
        check_writable(out)  # a file, a path under a file, a read-only folder
        check_unlocked(out)  # an experiment or a training running in it
        if out.is_dir() and any(out.iterdir()):
            raise UserError(
                f"--out {out}: is not empty (it may hold an earlier run's results); "
                "choose a new folder"
            )
    else:
        base = f"experiment-{s['problem']}-{s['length']}"
        k = 1
        while Path(base if k == 1 else f"{base}-{k}").exists():
            k += 1
        out = Path(base if k == 1 else f"{base}-{k}")
        check_writable(out)
    hold_run_folder(out)  # creates it; until the command ends, no other run writes there
    return out


def _table(r: dict) -> str:
    rows = []
    for c in r["cells"]:
        solve = "—" if c["steps_to_solve"] is None else c["steps_to_solve"]
        f = c["final"]
        rows.append(
            [
                c["cell"],
                solve,
                f"{f['error']:.4f}",
                f"{f['solved']:.1%}",
                c["steps"],
                f"{c['seconds']:.0f} s",
                c["stopped"],
            ]
        )
    header = [
        "cell",
        "steps to solve",
        f"final {r['error_name']}",
        "solved",
        "steps",
        "time",
        "stopped",
    ]
    lines = [
        f"{r['problem']}, T = {r['length']}: solved = at least {r['solved_fraction']:.0%} of "
        f"{r['config']['test_size']} test sequences right",
        "",
        output.format_table(header, rows, "<>>>>><"),
        "",
        "wrote " + ", ".join(r["files"]),
    ]
    return "\n".join(lines)
