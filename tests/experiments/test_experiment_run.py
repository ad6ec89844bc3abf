"""Training a cell through the one trainer: rounds of fresh batches, the stop at solving."""

import pytest
import torch

from lstmkit.errors import UserError
from lstmkit.experiments import run as run_module
from lstmkit.experiments.models import SequenceModel
from lstmkit.experiments.problems import make_problem
from lstmkit.experiments.run import ExperimentConfig, ExperimentTask, evaluate, run_cell

TINY = {"length": 10, "hidden_size": 4, "batch_size": 4, "eval_every": 3, "test_size": 10}


def test_a_rounds_batches_depend_on_the_round_alone_and_resume_exactly():
    config = ExperimentConfig(**TINY, steps=6)
    task = ExperimentTask(make_problem("adding", 10), config, test=None, meta={})
    first, again, other = (
        list(task.batches(2, 0)),
        list(task.batches(2, 0)),
        list(task.batches(3, 0)),
    )
    assert len(first) == 3
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0][0], other[0][0])
    resumed = list(task.batches(2, 1))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first[1:], resumed, strict=True))


def test_evaluate_scores_the_whole_test_set_in_chunks(monkeypatch):
    monkeypatch.setattr(run_module, "EVAL_CHUNK", 3)  # 10 sequences: chunks of 3, 3, 3, 1
    problem = make_problem("adding", 10)
    x, y = problem.sample(10, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = SequenceModel("lstm", 2, 4, 1)
    got = evaluate(model, problem, x, y)
    with torch.no_grad():
        error = (model(x)[:, -1, 0] - y).abs()  # the formula, over all 10 at once
    assert got["error"] == pytest.approx(error.mean().item(), rel=1e-5)
    assert got["loss"] == pytest.approx((error**2).mean().item(), rel=1e-5)
    assert got["solved"] == (error < 0.04).float().mean().item()


def test_a_cell_stops_at_the_first_evaluation_that_solves(tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "SOLVED_FRACTION", 0.0)  # anything counts as solved
    record = run_cell("rnn", ExperimentConfig(**TINY, steps=30), tmp_path / "rnn")
    assert (record["steps"], record["steps_to_solve"], record["stopped"]) == (3, 0, "solved")
    assert [c["step"] for c in record["curve"]] == [0, 3]


def test_the_budget_stops_a_cell_that_does_not_solve(tmp_path):
    record = run_cell("gru", ExperimentConfig(**TINY, steps=5), tmp_path / "gru")
    assert (record["steps"], record["stopped"]) == (5, "max-steps")
    assert [c["step"] for c in record["curve"]] == [0, 3, 5]  # the last round is partial


def test_neither_steps_nor_minutes_means_ten_minutes():
    assert ExperimentConfig().minutes == 10.0
    assert ExperimentConfig(steps=5).minutes is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"problem": "parity"}, "problem: expected one of adding, temporal-order, copy, got"),
        ({"cells": ("lstm", "tcn")}, "cell: expected one or more of lstm, gru, rnn, got 'tcn'"),
        ({"cells": ()}, "cell: expected one or more of lstm, gru, rnn, got none"),
        ({"cells": ("rnn", "rnn")}, "cell: expected each cell once, got rnn rnn"),
        ({"length": 9}, "length: expected an integer >= 10, got 9"),
        ({"hidden_size": 0}, "hidden_size: expected a positive integer, got 0"),
        ({"lr": -1.0}, "lr: expected a number > 0, got -1.0"),
        ({"init": "xavier"}, "init: expected one of chrono, standard, got 'xavier'"),
    ],
)
def test_bad_configs_name_the_setting(kwargs, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        ExperimentConfig(**kwargs)
