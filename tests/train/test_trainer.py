"""The trainer on a tiny language model: budgets, early stopping, checkpoints and exact resume."""

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from lstmkit.checkpoint import load_checkpoint
from lstmkit.errors import UserError
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.nn import kernel
from lstmkit.train import trainer as trainer_module
from lstmkit.train.metrics import read_metrics
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import TrainConfig, Trainer

VOCAB = 11


class ToyTask:
    """Truncated BPTT over 4 fixed token streams, the LSTM state carried between windows."""

    task = "lm"

    def __init__(self, bptt=5, windows=6, valid_losses=None):
        gen = torch.Generator().manual_seed(3)
        self.streams = torch.randint(0, VOCAB, (4, bptt * windows + 1), generator=gen)
        self.valid = torch.randint(0, VOCAB, (2, 12), generator=gen)
        self.bptt, self.windows = bptt, windows
        self.valid_losses = valid_losses  # fixed validation losses, to drive early stopping

    def num_batches(self):
        return self.windows

    def batches(self, epoch, start):
        for k in range(start, self.windows):
            i = k * self.bptt
            yield self.streams[:, i : i + self.bptt], self.streams[:, i + 1 : i + 1 + self.bptt]

    def train_loss(self, model, batch, carry):
        x, y = batch
        logits, state = model(x, carry)
        return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1)), y.numel(), state

    def evaluate(self, model):
        if self.valid_losses:
            return {"loss": self.valid_losses.pop(0)}
        logits, _ = model(self.valid[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), self.valid[:, 1:].reshape(-1))
        return {"loss": loss.item(), "ppl": math.exp(loss.item())}

    def run_config(self):
        return {"model": {"vocab_size": VOCAB}}

    def files(self):
        return {"tokenizer/tokenizer.json": b"{}"}


def make_model(seed):
    torch.manual_seed(seed)
    config = LMConfig(vocab_size=VOCAB, embedding_size=6, hidden_size=8, dropout=0.3)
    return LSTMLanguageModel(config)


def train(out, model_seed=0, task=None, resume=None, **config):
    # An epoch-based schedule: a cosine's horizon would change with the max_steps used to stop.
    trainer = Trainer(
        make_model(model_seed),
        task or ToyTask(),
        OptimConfig(lr=0.01, schedule="step", gamma=0.5, warmup_steps=2),
        TrainConfig(**({"epochs": 3, "log_every": 2} | config)),
        out,
        progress=False,
    )
    if resume:
        trainer.resume(resume)
    return trainer, trainer.fit()


def test_a_run_writes_checkpoints_metrics_and_curve(tmp_path):
    _, progress = train(tmp_path / "run")
    assert progress.stopped == "epochs"
    assert progress.step == 3 * 6
    for name in ("last", "best"):
        assert load_checkpoint(tmp_path / "run" / name, task="lm").config["model"] == {
            "vocab_size": VOCAB
        }
    assert (tmp_path / "run" / "metrics.jsonl").exists()
    assert (tmp_path / "run" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert [h["epoch"] for h in progress.history] == [1, 2, 3]


class SubnormalProbe(ToyTask):
    """Records whether a subnormal float32 survives arithmetic during each training step."""

    def __init__(self):
        super().__init__()
        self.kept = []

    def train_loss(self, model, batch, carry):
        self.kept.append((torch.tensor([1e-30]) * 1e-10).item() != 0)
        return super().train_loss(model, batch, carry)


def test_subnormals_are_flushed_while_training_only(tmp_path):
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormals (no SSE3 / FTZ)")
    torch.set_flush_denormal(False)
    task = SubnormalProbe()
    train(tmp_path, task=task, epochs=1)
    assert task.kept
    assert not any(task.kept)  # 1e-40 is subnormal in float32: flushed to 0
    assert (torch.tensor([1e-30]) * 1e-10).item() != 0  # torch's default is back


class ThreadedSubnormalProbe(ToyTask):
    """Records the fraction of a large product's elements that come out subnormal instead of
    zero: torch splits the product over its threads, so each thread's flag shows."""

    def __init__(self):
        super().__init__()
        self.kept = []

    def train_loss(self, model, batch, carry):
        self.kept.append(subnormal_fraction())
        return super().train_loss(model, batch, carry)


def subnormal_fraction() -> float:
    return ((torch.full((1 << 20,), 1e-30) * 1e-10) != 0).float().mean().item()


def test_subnormals_are_flushed_on_every_thread(tmp_path):
    """torch.set_flush_denormal sets the calling thread's flag alone; on two threads the other
    one's half of every large operation stayed subnormal."""
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormals (no SSE3 / FTZ)")
    torch.set_flush_denormal(False)
    if kernel.load() is None:
        pytest.skip("lstmkit's CPU kernel is not built here (no compiler, or LSTMKIT_NO_KERNEL)")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert subnormal_fraction() == 1.0  # the pool's threads exist, none flushing
        task = ThreadedSubnormalProbe()
        train(tmp_path, task=task, epochs=1)
        assert task.kept
        assert set(task.kept) == {0.0}  # every element flushed, on both threads
        assert subnormal_fraction() == 1.0  # and every thread as it was afterwards
    finally:
        torch.set_num_threads(threads)


def test_a_caller_who_flushes_subnormals_keeps_flushing_after_training(tmp_path):
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormals (no SSE3 / FTZ)")
    try:
        train(tmp_path, epochs=1)
        assert (torch.tensor([1e-30]) * 1e-10).item() == 0  # still flushed
    finally:
        torch.set_flush_denormal(False)


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path):
    whole, _ = train(tmp_path / "whole")
    _, progress = train(tmp_path / "part", max_steps=8)  # stops inside the second epoch
    assert progress.stopped == "max-steps"
    assert progress.batch == 2  # two windows into epoch 2, with the LSTM state carried
    resumed, _ = train(tmp_path / "part", model_seed=99, resume=tmp_path / "part" / "last")
    for (name, a), b in zip(
        whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_resume_without_the_carried_state_would_differ(tmp_path):
    # The check above can fail: dropping what a checkpoint restores changes the result.
    whole, _ = train(tmp_path / "whole")
    train(tmp_path / "part", max_steps=8)
    trainer = Trainer(
        make_model(99),
        ToyTask(),
        OptimConfig(lr=0.01, schedule="step", gamma=0.5, warmup_steps=2),
        TrainConfig(epochs=3, log_every=2),
        tmp_path / "part",
        progress=False,
    )
    trainer.resume(tmp_path / "part" / "last")
    trainer.carry = None
    trainer.fit()
    differs = [
        not torch.equal(a, b)
        for a, b in zip(whole.model.parameters(), trainer.model.parameters(), strict=True)
    ]
    assert any(differs)


def test_early_stopping_after_patience_epochs_without_improvement(tmp_path):
    task = ToyTask(valid_losses=[3.0, 2.0, 2.5, 2.6, 2.7, 1.0])
    _, progress = train(tmp_path / "run", task=task, epochs=6, patience=2)
    assert progress.stopped == "early-stopping"
    assert progress.epoch == 4
    assert progress.best_epoch == 2
    best = load_checkpoint(tmp_path / "run" / "best")
    assert best.training_state["progress"]["epoch"] == 2  # the epoch with the best loss


def test_time_budget_stops_cleanly_with_a_checkpoint(tmp_path):
    _, progress = train(tmp_path / "run", max_time=1e-9)
    assert progress.stopped == "max-time"
    assert progress.step == 1
    assert load_checkpoint(tmp_path / "run" / "last").training_state["progress"]["step"] == 1


def test_with_a_time_budget_the_cosine_decays_over_the_time(tmp_path, monkeypatch):
    """Each step takes 10 s of a 60 s budget (a fake clock): the lr after step k is the cosine
    at progress 10k/60, far ahead of the steps' k/600, and the run stops at the floor."""
    now = [0.0]

    class Slow(ToyTask):
        def train_loss(self, model, batch, carry):
            now[0] += 10.0
            return super().train_loss(model, batch, carry)

    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    trainer = Trainer(
        make_model(0),
        Slow(),
        OptimConfig(lr=0.01, schedule="cosine"),
        TrainConfig(epochs=100, max_time=1.0, log_every=1),
        tmp_path / "run",
        progress=False,
    )
    seen = []
    step = trainer.schedule.step
    trainer.schedule.step = lambda clock=None: (step(clock), seen.append(lr_of(trainer)))
    progress = trainer.fit()
    assert progress.stopped == "max-time"
    assert progress.step == 6
    expected = [0.01 * 0.5 * (1 + math.cos(math.pi * min(1.0, 10 * k / 60))) for k in range(1, 7)]
    assert seen == pytest.approx(expected)


def lr_of(trainer):
    return trainer.optimizer.param_groups[0]["lr"]


class NonFiniteGradient(ToyTask):
    """A finite loss whose gradient is NaN (0 x the slope of sqrt at 0) on the calls in ``bad``;
    keeps the weights each call starts from."""

    def __init__(self, bad):
        super().__init__()
        self.bad, self.calls, self.seen = set(bad), 0, []

    def train_loss(self, model, batch, carry):
        self.calls += 1
        self.seen.append([p.detach().clone() for p in model.parameters()])
        loss, n, state = super().train_loss(model, batch, carry)
        if self.calls in self.bad:
            loss = loss + 0.0 * torch.sqrt(0.0 * sum(p.sum() for p in model.parameters()))
        return loss, n, state


def test_a_non_finite_gradient_skips_that_update_and_training_goes_on(tmp_path):
    task = NonFiniteGradient(bad={3})
    trainer, progress = train(tmp_path / "run", task=task, epochs=2)
    assert progress.step == 12
    assert progress.skipped == 1
    same = [torch.equal(a, b) for a, b in zip(task.seen[2], task.seen[3], strict=True)]
    assert all(same)  # step 3 left the weights as they were
    moved = [torch.equal(a, b) for a, b in zip(task.seen[1], task.seen[2], strict=True)]
    assert not all(moved)  # as step 2 did not
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    records = read_metrics(tmp_path / "run")
    assert [r["skipped"] for r in records if r["split"] == "train" and "skipped" in r][-1] == 1


def test_non_finite_gradients_in_a_row_end_the_run_as_diverged(tmp_path):
    task = NonFiniteGradient(bad=range(4, 100))
    with pytest.raises(
        UserError, match="gradient was not finite in 10 steps in a row, up to step 13"
    ):
        train(tmp_path / "run", task=task, epochs=5)


def test_a_diverging_loss_names_the_step_and_keeps_the_last_checkpoint(tmp_path):
    class Diverging(ToyTask):
        def train_loss(self, model, batch, carry):
            loss, n, state = super().train_loss(model, batch, carry)
            self.calls = getattr(self, "calls", 0) + 1
            return (loss * float("nan") if self.calls > 8 else loss), n, state

    # Steps 9 to 18 are skipped; the epoch that ended at step 12 saved the weights of step 8.
    with pytest.raises(
        UserError, match="the loss was not finite in 10 steps in a row, up to step 18"
    ):
        train(tmp_path / "run", task=Diverging(), epochs=5)
    assert load_checkpoint(tmp_path / "run" / "last").training_state["progress"]["step"] == 12


def test_one_non_finite_loss_skips_its_update_and_starts_the_carried_state_afresh(tmp_path):
    class OneNaN(ToyTask):
        def train_loss(self, model, batch, carry):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 5:
                self.carry_after_nan = "pending"
            elif getattr(self, "carry_after_nan", None) == "pending":
                self.carry_after_nan = carry
            loss, n, state = super().train_loss(model, batch, carry)
            return (loss * float("nan") if self.calls == 5 else loss), n, state

    task = OneNaN()
    trainer, progress = train(tmp_path / "run", task=task, epochs=2)
    assert progress.step == 12
    assert progress.skipped == 1
    assert task.carry_after_nan is None  # step 6 started from a fresh state
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"max_time": 0}, "max_time"),
        ({"clip": -1}, "clip"),
        ({"patience": 0}, "patience"),
    ],
)
def test_bad_training_options_name_the_option(kw, match):
    with pytest.raises(UserError, match=match):
        TrainConfig(**kw)


def test_a_budget_that_ends_mid_epoch_still_validates_and_keeps_best(tmp_path):
    task = ToyTask(valid_losses=[2.0])
    _, progress = train(tmp_path / "run", task=task, max_steps=3)  # inside the first epoch
    assert progress.history == [{"epoch": 0.5, "step": 3, "partial": True, "loss": 2.0}]
    assert progress.best == math.inf  # epoch-end bookkeeping untouched, so resume stays exact
    best = load_checkpoint(tmp_path / "run" / "best")
    assert best.training_state["progress"]["step"] == 3


def test_a_fresh_run_replaces_an_old_run_in_its_folder(tmp_path):
    train(tmp_path / "run", epochs=2)
    (tmp_path / "run" / "tensorboard").mkdir()
    train(tmp_path / "run", max_steps=2, task=ToyTask(valid_losses=[9.0]))
    records = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert max(int(r.split('"step": ')[1].split(",")[0]) for r in records) == 2
    assert load_checkpoint(tmp_path / "run" / "best").training_state["progress"]["step"] == 2
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_tensorboard_scalars_match_the_metrics_log(tmp_path):
    module = "tensorboard.backend.event_processing.event_accumulator"
    event_accumulator = pytest.importorskip(module)
    train(tmp_path / "run", tensorboard=True)
    events = event_accumulator.EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    logged = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["split"] == "valid"]
    board = events.Scalars("valid/loss")
    assert [e.step for e in board] == [r["step"] for r in logged]
    assert [e.value for e in board] == pytest.approx([r["loss"] for r in logged])
    assert "train/tokens_per_s" in events.Tags()["scalars"]


@pytest.mark.parametrize("score", ["bleu", "cider"])
def test_monitoring_a_score_keeps_the_highest_not_the_lowest(tmp_path, score):
    class Scored(ToyTask):
        def __init__(self):
            super().__init__()
            self.scores = [10.0, 30.0, 20.0]

        def evaluate(self, model):
            return {"loss": 1.0 + len(self.scores), score: self.scores.pop(0)}

    _, progress = train(tmp_path / "run", task=Scored(), monitor=score)
    assert progress.best == -30.0
    assert load_checkpoint(tmp_path / "run" / "best").training_state["progress"]["epoch"] == 2
    with pytest.raises(UserError, match="monitor: expected one of the validation metrics loss"):
        train(tmp_path / "other", monitor="chrf")


def test_the_run_eta_counts_the_steps_left_in_all_epochs(tmp_path, monkeypatch):
    trainer, _ = train(tmp_path / "run", epochs=3)  # 18 steps
    trainer.state.step, trainer._first_step = 6, 0
    monkeypatch.setattr("lstmkit.train.trainer.time.monotonic", lambda: 100.0 + 60.0)
    assert trainer._run_eta(started=100.0, budget=math.inf) == "2:00"  # 12 steps at 10 s
    assert trainer._run_eta(started=100.0, budget=90.0) == "0:30"  # the budget ends first
