"""Train each cell on a long-time-lag problem with the same budget, through the one trainer.

The data are an endless stream generated on the fly, so the trainer's "epoch" is a round of
``eval_every`` steps: its batches are drawn from a generator seeded by (seed, round) alone, as the
trainer's exact resumption asks, and its epoch-end validation scores a fixed test set. A cell
stops at its budget (steps and/or minutes) or at the first evaluation where at least 95% of the
test sequences are solved; that step is its "steps to solve".

Legend: B batch, T time, I input features (input_size), O outputs, N test sequences.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from lstmkit.errors import UserError
from lstmkit.experiments.gradient_flow import gradient_norms
from lstmkit.experiments.models import INITS, SequenceModel
from lstmkit.experiments.problems import PROBLEMS, Problem, Scores, make_problem
from lstmkit.nn.rnn import CELLS
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import TrainConfig, Trainer

SOLVED_FRACTION = 0.95  # a cell has solved the problem when this share of test sequences is
EVAL_CHUNK = 500  # test sequences scored at once
TEST_SEED, FLOW_SEED = 1_000_003, 2_000_003  # offsets: test and probe sets never meet training
DEFAULT_MINUTES = 10.0  # the budget when neither steps nor minutes is given


@dataclass
class ExperimentConfig:
    """One experiment: a problem, its length, the cells, and the budget every cell gets.

    ``steps`` and ``minutes`` both bound each cell's training; with neither, ``minutes`` is 10.
    """

    problem: str = "adding"
    length: int = 200
    cells: tuple[str, ...] = CELLS
    hidden_size: int = 64
    init: str = "chrono"  # the gate biases, see SequenceModel
    batch_size: int = 64
    lr: float = 3e-3
    clip: float = 1.0
    steps: int | None = None
    minutes: float | None = None
    eval_every: int = 200
    test_size: int = 1000
    flow_size: int = 100  # sequences the gradient-flow probe averages over
    seed: int = 0
    gradient_flow: bool = False
    stop_when_solved: bool = True

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise UserError(f"problem: expected one of {', '.join(PROBLEMS)}, got {self.problem!r}")
        self.cells = tuple(self.cells)
        bad = [c for c in self.cells if c not in CELLS]
        if not self.cells or bad:
            got = repr(bad[0]) if bad else "none"
            raise UserError(f"cell: expected one or more of {', '.join(CELLS)}, got {got}")
        if len(set(self.cells)) != len(self.cells):
            raise UserError(f"cell: expected each cell once, got {' '.join(self.cells)}")
        for name in ("length", "hidden_size", "batch_size", "eval_every", "test_size", "flow_size"):
            _positive_int(name, getattr(self, name))
        if self.init not in INITS:
            raise UserError(f"init: expected one of {', '.join(INITS)}, got {self.init!r}")
        if self.length < 10:
            raise UserError(f"length: expected an integer >= 10, got {self.length}")
        if self.steps is not None:
            _positive_int("steps", self.steps)
        for name in ("lr", "minutes"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise UserError(f"{name}: expected a number > 0, got {value!r}")
        if not (isinstance(self.clip, int | float) and self.clip >= 0):
            raise UserError(f"clip: expected a gradient norm >= 0, got {self.clip!r}")
        if self.steps is None and self.minutes is None:
            self.minutes = DEFAULT_MINUTES

    def to_dict(self) -> dict:
        return {**asdict(self), "cells": list(self.cells)}


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{name}: expected a positive integer, got {value!r}")


class ExperimentTask:
    """A problem as the trainer's task: rounds of ``eval_every`` fresh batches, a fixed test set.

    Args:
        problem: what to generate and score.
        config: batch size, round length, seed.
        test: (inputs (N, T, I), targets) scored at every round's end.
        meta: the experiment's part of the checkpoint config.
    """

    task = "experiment"

    def __init__(self, problem: Problem, config: ExperimentConfig, test: tuple, meta: dict):
        self.problem, self.config, self.test, self.meta = problem, config, test, meta
        self.solved_ = False  # set by evaluate()

    def num_batches(self) -> int:
        return self.config.eval_every

    def batches(self, epoch: int, start: int):
        generator = torch.Generator().manual_seed(self.config.seed * 7919 + epoch)
        for index in range(self.config.eval_every):
            batch = self.problem.sample(self.config.batch_size, generator)
            if index >= start:  # a resumed round draws the batches it skips, to stay exact
                yield batch

    def train_loss(self, model: nn.Module, batch, carry):
        x, y = (t.to(_device(model)) for t in batch)
        return self.problem.loss(model(x), y), len(y), None

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        metrics = evaluate(model, self.problem, *self.test)
        self.solved_ = metrics["solved"] >= SOLVED_FRACTION
        return metrics

    def run_config(self) -> dict:
        return self.meta

    def files(self) -> dict[str, bytes]:
        return {}

    def finished(self, metrics: dict[str, float]) -> bool:
        """The trainer stops at the first evaluation that solves the problem (if asked to)."""
        return self.config.stop_when_solved and self.solved_


@torch.no_grad()
def evaluate(model: nn.Module, problem: Problem, inputs: Tensor, targets: Tensor) -> dict:
    """Mean loss, mean error and the fraction solved over a test set (N, T, I), in chunks."""
    was_training = model.training
    model.eval()
    total = Scores(0.0, 0.0, 0, 0)
    for i in range(0, len(inputs), EVAL_CHUNK):
        x, y = inputs[i : i + EVAL_CHUNK], targets[i : i + EVAL_CHUNK]
        s = problem.score(model(x.to(_device(model))), y.to(_device(model)))
        total = Scores(
            total.loss + s.loss,
            total.error + s.error,
            total.solved + s.solved,
            total.count + s.count,
        )
    model.train(was_training)
    n = max(1, total.count)
    return {"loss": total.loss / n, "error": total.error / n, "solved": total.solved / n}


def run_cell(cell: str, config: ExperimentConfig, out: Path, progress: bool = False) -> dict:
    """Trains one cell into ``out`` (the trainer's run folder) and returns its record: steps,
    steps to solve (None if never), final metrics, seconds, why it stopped, the learning curve
    and, with ``gradient_flow``, the gradient norms at initialisation and after training."""
    problem = make_problem(config.problem, config.length)
    test = problem.sample(config.test_size, torch.Generator().manual_seed(config.seed + TEST_SEED))
    torch.manual_seed(config.seed)  # every cell starts from the same seed
    model = SequenceModel(
        cell,
        problem.input_size,
        config.hidden_size,
        problem.output_size,
        init=config.init,
        max_lag=config.length,
    )
    flow = {}
    if config.gradient_flow:
        probe = problem.sample(
            config.flow_size, torch.Generator().manual_seed(config.seed + FLOW_SEED)
        )
        flow["init"] = gradient_norms(model, problem, *probe).tolist()
    start = {"step": 0, **evaluate(model, problem, *test)}
    meta = {"experiment": {**config.to_dict(), "cell": cell}}
    task = ExperimentTask(problem, config, test, meta)
    trainer = Trainer(
        model, task, _optim(config), _train_config(config), out, device="cpu", progress=progress
    )
    state = trainer.fit()
    if config.gradient_flow:
        flow["trained"] = gradient_norms(model, problem, *probe).tolist()
    curve = [start] + [
        {k: h[k] for k in ("step", "loss", "error", "solved")} for h in state.history
    ]
    solved = [c["step"] for c in curve if c["solved"] >= SOLVED_FRACTION]
    stopped = state.stopped
    return {
        "cell": cell,
        "steps": state.step,
        "steps_to_solve": solved[0] if solved else None,
        "final": {k: curve[-1][k] for k in ("loss", "error", "solved")},
        "seconds": round(state.elapsed, 1),
        "stopped": "solved" if stopped == "finished" else stopped,
        "curve": curve,
        **({"gradient_flow": flow} if flow else {}),
    }


def _optim(config: ExperimentConfig) -> OptimConfig:
    return OptimConfig(optimizer="adamw", lr=config.lr, weight_decay=0.0, schedule="constant")


def _train_config(config: ExperimentConfig) -> TrainConfig:
    rounds = math.ceil(config.steps / config.eval_every) if config.steps else 10**9
    return TrainConfig(
        epochs=rounds,
        max_steps=config.steps,
        max_time=config.minutes,
        clip=config.clip,
        log_every=min(50, config.eval_every),
        seed=config.seed,
    )


def run_experiment(config: ExperimentConfig, out: str | Path, progress: bool = False) -> dict:
    """Every cell of ``config`` in turn, each into ``out/<cell>/``; returns the experiment's
    record (the config, the problem and one record per cell, see :func:`run_cell`)."""
    out = Path(out)
    problem = make_problem(config.problem, config.length)
    cells = [run_cell(cell, config, out / cell, progress) for cell in config.cells]
    return {
        "problem": config.problem,
        "length": config.length,
        "error_name": problem.error_name,
        "solved_fraction": SOLVED_FRACTION,
        "config": config.to_dict(),
        "cells": cells,
    }


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


__all__ = ["ExperimentConfig", "ExperimentTask", "evaluate", "run_cell", "run_experiment"]
