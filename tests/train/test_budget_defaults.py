"""The epoch budget's default: ten epochs, or, with a time or step budget, until it runs out."""

from __future__ import annotations

import pytest

from lstmkit.errors import UserError
from lstmkit.lm import LanguageModel
from lstmkit.train.config import DEFAULT_EPOCHS, UNBOUNDED_EPOCHS, TrainConfig

TEXT = "the cat sat on the mat\n" * 10


def test_without_a_budget_ten_epochs():
    assert TrainConfig().epochs == DEFAULT_EPOCHS == 10


@pytest.mark.parametrize("budget", [{"max_time": 5.0}, {"max_steps": 100}])
def test_a_time_or_step_budget_trains_until_it_runs_out(budget):
    assert TrainConfig(**budget).epochs == UNBOUNDED_EPOCHS


def test_epochs_given_with_a_budget_are_kept():
    assert TrainConfig(epochs=3, max_time=5.0).epochs == 3


def test_max_steps_runs_past_ten_epochs():
    small = {"embedding_size": 4, "hidden_size": 4}
    lm = LanguageModel("char", model=small, batch_size=2, bptt=8, train={"max_steps": 500})
    lm.fit(TEXT, valid=TEXT, progress=False)
    assert lm.progress_.step == 500
    assert lm.progress_.epoch > DEFAULT_EPOCHS  # 14 windows an epoch


def test_resuming_a_run_that_trained_until_its_budget_needs_a_new_budget(tmp_path):
    small = {"embedding_size": 4, "hidden_size": 4}
    first = LanguageModel("char", model=small, batch_size=2, bptt=8, train={"max_steps": 30})
    first.fit(TEXT, valid=TEXT, out=tmp_path / "run", progress=False)
    again = LanguageModel("char", model=small, batch_size=2, bptt=8)
    with pytest.raises(UserError, match="give a new budget"):
        again.fit(TEXT, valid=TEXT, out=tmp_path / "run2", resume=tmp_path / "run" / "last")
    more = LanguageModel(train={"max_steps": 40})
    more.fit(TEXT, valid=TEXT, out=tmp_path / "run2", resume=tmp_path / "run" / "last")
    assert more.progress_.step == 40
