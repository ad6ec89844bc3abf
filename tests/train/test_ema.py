"""Weight averaging in the trainer (``TrainConfig.ema``): the average against the formula written
out here, over the weights recorded at every step of the same run without averaging."""

import pytest
import torch
from test_trainer import ToyTask, make_model, train  # pytest puts this folder on sys.path

from lstmkit.checkpoint import load_checkpoint
from lstmkit.errors import UserError
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import TRAINING_WEIGHTS, TrainConfig, Trainer


class Recording(ToyTask):
    """Records the weights the step starts from (those after the previous step), and the
    weights validation is given."""

    def __init__(self):
        super().__init__()
        self.seen, self.scored = [], []

    def train_loss(self, model, batch, carry):
        self.seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return super().train_loss(model, batch, carry)

    def evaluate(self, model):
        self.scored.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return super().evaluate(model)


def reference_average(weights: list[dict], decay: float) -> dict:
    """The bias-corrected moving average of the weights after steps 1..t, summed out:
    avg_t = sum_k decay^(t-k) (1 - decay) w_k / (1 - decay^t)."""
    t = len(weights)
    norm = 1 - decay**t
    return {
        name: sum(
            decay ** (t - k) * (1 - decay) * w[name].double() for k, w in enumerate(weights, 1)
        ).float()
        / norm
        for name in weights[0]
    }


def after_each_step(task: Recording, trainer) -> list[dict]:
    """The weights after steps 1..N: each step's starting weights shifted by one, then the end."""
    return [*task.seen[1:], trainer.model.state_dict()]


def test_the_average_follows_the_formula_and_leaves_training_as_it_was(tmp_path):
    plain_task, ema_task = Recording(), Recording()
    plain, _ = train(tmp_path / "plain", task=plain_task)
    train(tmp_path / "ema", task=ema_task, ema=0.8)
    weights = after_each_step(plain_task, plain)
    for a, b in zip(plain_task.seen, ema_task.seen, strict=True):  # the same steps, averaged or not
        for name in a:
            assert torch.equal(a[name], b[name]), name
    expected = reference_average(weights, 0.8)
    last = load_checkpoint(tmp_path / "ema" / "last", task="lm")
    for name, value in expected.items():
        torch.testing.assert_close(last.state_dict[name], value, rtol=1e-5, atol=1e-6)
        assert torch.equal(last.training_state[TRAINING_WEIGHTS][name], weights[-1][name])
        assert not torch.allclose(value, weights[-1][name]), name  # the average is not the end
    # validation scored the average of the steps so far: 6 steps an epoch
    for epoch, scored in enumerate(ema_task.scored, start=1):
        running = reference_average(weights[: 6 * epoch], 0.8)
        for name, value in running.items():
            torch.testing.assert_close(scored[name], value, rtol=1e-5, atol=1e-6)


def test_best_holds_the_average_of_the_best_epoch(tmp_path):
    task = Recording()
    task.valid_losses = [3.0, 1.0, 2.0]
    _, progress = train(tmp_path / "run", task=task, ema=0.5)
    assert progress.best_epoch == 2
    best = load_checkpoint(tmp_path / "run" / "best", task="lm")
    for name, value in task.scored[1].items():
        assert torch.equal(best.state_dict[name], value), name


def test_a_resumed_averaged_run_ends_as_an_uninterrupted_one(tmp_path):
    whole, _ = train(tmp_path / "whole", ema=0.9)
    _, progress = train(tmp_path / "part", max_steps=8, ema=0.9)
    assert progress.stopped == "max-steps"
    resumed, _ = train(tmp_path / "part", model_seed=99, resume=tmp_path / "part" / "last", ema=0.9)
    for a, b in ((whole.model, resumed.model), (whole.scored_model, resumed.scored_model)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name


def test_resuming_without_the_average_would_differ(tmp_path):
    # The check above can fail: an average restarted at the resumed step ends elsewhere.
    whole, _ = train(tmp_path / "whole", ema=0.9)
    train(tmp_path / "part", max_steps=8, ema=0.9)
    assert load_checkpoint(tmp_path / "part" / "last").training_state["averaged"] == 8
    trainer = Trainer(
        make_model(99),
        ToyTask(),
        OptimConfig(lr=0.01, schedule="step", gamma=0.5, warmup_steps=2),
        TrainConfig(epochs=3, log_every=2, ema=0.9),
        tmp_path / "part",
        progress=False,
    )
    trainer.resume(tmp_path / "part" / "last")
    trainer.average.n_averaged.fill_(0)  # the next update starts the average afresh
    trainer.fit()
    pairs = zip(whole.scored_model.parameters(), trainer.scored_model.parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)
    pairs = zip(whole.model.parameters(), trainer.model.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)  # training itself is unchanged


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, True, "0.9"])
def test_a_bad_decay_is_refused_naming_ema(value):
    with pytest.raises(UserError, match="ema: expected a decay in"):
        TrainConfig(ema=value)
