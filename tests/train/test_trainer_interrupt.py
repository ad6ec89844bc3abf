"""Ctrl-C while training: the step under way ends, ``last/`` is saved at it, and
:class:`TrainingInterrupted` (a KeyboardInterrupt) is raised; resuming reaches the weights of a
run that never stopped."""

import os
import signal

import pytest
import torch
import torch.nn.functional as F

from lstmkit.checkpoint import load_checkpoint
from lstmkit.lm import LanguageModel
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import TrainConfig, Trainer, TrainingInterrupted

VOCAB = 7


class StreamTask:
    """Truncated BPTT over 2 fixed streams, 6 windows an epoch; SIGINT to this process during
    the training loss of step ``interrupt_at`` (as a Ctrl-C lands in the middle of a step)."""

    task = "lm"

    def __init__(self, interrupt_at=None):
        self.streams = torch.randint(0, VOCAB, (2, 31), generator=torch.Generator().manual_seed(1))
        self.interrupt_at, self.calls = interrupt_at, 0

    def num_batches(self):
        return 6

    def batches(self, epoch, start):
        for k in range(start, 6):
            yield self.streams[:, 5 * k : 5 * k + 5], self.streams[:, 5 * k + 1 : 5 * k + 6]

    def train_loss(self, model, batch, carry):
        self.calls += 1
        if self.calls == self.interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)
        x, y = batch
        logits, state = model(x, carry)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        return loss, y.numel(), state

    def evaluate(self, model):
        logits, _ = model(self.streams[:, :-1])
        target = self.streams[:, 1:].reshape(-1)
        return {"loss": F.cross_entropy(logits.reshape(-1, VOCAB), target).item()}

    def run_config(self):
        return {"model": {"vocab_size": VOCAB}}

    def files(self):
        return {}


def _trainer(out, interrupt_at=None) -> Trainer:
    torch.manual_seed(0)
    config = LMConfig(vocab_size=VOCAB, embedding_size=4, hidden_size=6, dropout=0.2)
    return Trainer(
        LSTMLanguageModel(config),
        StreamTask(interrupt_at),
        OptimConfig(lr=0.01),
        TrainConfig(epochs=3, log_every=1),
        out,
        progress=False,
    )


def test_sigint_saves_last_at_the_step_reached_and_resume_ends_alike(tmp_path):
    whole = _trainer(tmp_path / "whole")
    whole.fit()

    part = _trainer(tmp_path / "part", interrupt_at=9)  # mid-epoch 2
    with pytest.raises(TrainingInterrupted) as stop:
        part.fit()
    assert isinstance(stop.value, KeyboardInterrupt)
    assert stop.value.step == 9  # the step under way was finished, none after it
    assert stop.value.checkpoint == tmp_path / "part" / "last"
    progress = load_checkpoint(tmp_path / "part" / "last").training_state["progress"]
    assert (progress["step"], progress["epoch"], progress["batch"]) == (9, 1, 3)
    assert progress["stopped"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    assert not (tmp_path / "part" / "run.lock").exists()

    resumed = _trainer(tmp_path / "part")
    resumed.resume(tmp_path / "part" / "last")
    assert resumed.fit().step == whole.state.step == 18
    for (name, a), b in zip(
        whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_sigint_at_the_end_of_an_epoch_stops_before_the_next(tmp_path):
    trainer = _trainer(tmp_path / "run", interrupt_at=6)  # the epoch's last step
    with pytest.raises(TrainingInterrupted) as stop:
        trainer.fit()
    assert stop.value.step == 6
    progress = load_checkpoint(tmp_path / "run" / "last").training_state["progress"]
    assert (progress["epoch"], progress["batch"]) == (0, 6)  # not validated: resume does it


def test_fit_of_the_estimator_saves_last_and_reraises(tmp_path, monkeypatch):
    lm = LanguageModel(
        tokenizer="char",
        batch_size=2,
        bptt=8,
        model={"embedding_size": 4, "hidden_size": 4},
        train={"epochs": 2},
    )
    real = Trainer._step
    calls = []

    def step(self, batch):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, batch)

    monkeypatch.setattr(Trainer, "_step", step)
    text = "".join(f"the cat sat on the mat {i % 5}\n" for i in range(40))
    with pytest.raises(KeyboardInterrupt, match="interrupted at step 3"):
        lm.fit(text, out=tmp_path / "run", progress=False)
    last = load_checkpoint(tmp_path / "run" / "last")
    assert last.training_state["progress"]["step"] == 3
    calls.clear()
    with pytest.raises(KeyboardInterrupt) as stop:  # no folder: nothing kept, none named
        lm.fit(text, progress=False)
    assert str(stop.value) == "interrupted at step 3"
