"""Optimisers and schedules: the learning rate each recipe gives, written out in the test."""

import math

import pytest
import torch

from lstmkit.errors import UserError
from lstmkit.train.optim import OptimConfig, Schedule, build_optimizer, parameter_groups


def make(**kw):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    config = OptimConfig(**kw)
    opt = build_optimizer(parameter_groups(model), config)
    return model, opt, config


def lr_of(opt):
    return opt.param_groups[0]["lr"]


def test_adamw_exempts_biases_and_gains_from_weight_decay():
    _, opt, _ = make(weight_decay=0.1)
    assert isinstance(opt, torch.optim.AdamW)
    decayed, exempt = opt.param_groups
    assert [p.dim() for p in decayed["params"]] == [2]
    assert decayed["weight_decay"] == 0.1
    assert exempt["weight_decay"] == 0.0
    assert len(exempt["params"]) == 3  # linear bias, layer-norm weight and bias


def test_fused_adamw_takes_the_step_written_out():
    model, opt, _ = make(lr=0.01, weight_decay=0.1)
    assert opt.defaults["fused"]  # one kernel over all parameters
    weight = model[0].weight
    before = weight.detach().clone()
    weight.grad = grad = torch.randn_like(weight)
    opt.step()
    # AdamW's first step (Loshchilov & Hutter): decay, then m/(sqrt(v)+eps) with bias correction.
    m, v = 0.1 * grad / (1 - 0.9), 0.001 * grad**2 / (1 - 0.999)
    want = before * (1 - 0.01 * 0.1) - 0.01 * m / (v.sqrt() + 1e-8)
    torch.testing.assert_close(weight.detach(), want)


def test_sgd_with_momentum():
    _, opt, _ = make(optimizer="sgd", lr=1.0, momentum=0.9)
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["momentum"] == 0.9


def test_warmup_then_cosine_to_the_floor():
    _, opt, cfg = make(lr=1.0, schedule="cosine", warmup_steps=4, min_lr=0.1)
    sched = Schedule(opt, cfg, total_steps=14)
    seen = [lr_of(opt)]
    for _ in range(14):
        sched.step()
        seen.append(lr_of(opt))
    assert seen[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    # After warm-up: min + (max - min) * (1 + cos(pi * progress)) / 2 over the remaining 10 steps.
    expected = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / 10)) for k in range(11)]
    assert seen[4:] == pytest.approx(expected)


def test_cosine_follows_the_time_budget_when_it_runs_ahead_of_the_steps():
    _, opt, cfg = make(lr=1.0, schedule="cosine", min_lr=0.1)
    sched = Schedule(opt, cfg, total_steps=1000)
    sched.step(clock=0.5)  # half the budget spent after 1 of 1000 steps
    assert lr_of(opt) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    sched.step(clock=0.25)  # a clock never runs backwards
    assert lr_of(opt) == pytest.approx(0.55)
    sched.step(clock=1.7)  # over budget: the floor
    assert lr_of(opt) == pytest.approx(0.1)


def test_the_steps_lead_when_they_are_further_than_the_clock():
    _, opt, cfg = make(lr=1.0, schedule="cosine")
    sched = Schedule(opt, cfg, total_steps=4)
    for _ in range(2):
        sched.step(clock=0.01)
    assert lr_of(opt) == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 4)))


def test_wsd_holds_the_rate_then_falls_linearly_over_the_last_share():
    _, opt, cfg = make(lr=1.0, schedule="wsd", warmup_steps=2, decay_fraction=0.25, min_lr=0.2)
    sched = Schedule(opt, cfg, total_steps=10)
    seen = [lr_of(opt)]
    for _ in range(10):
        sched.step()
        seen.append(lr_of(opt))
    # Warm-up 0.5, 1; then progress k / 8 over the 8 steps after it: held while progress is at
    # most 0.75, and over the last quarter min + (max - min) * (1 - progress) / 0.25.
    falling = [0.2 + 0.8 * (1 - k / 8) / 0.25 for k in (7, 8)]
    assert seen[:2] == pytest.approx([0.5, 1.0])
    assert seen[2:9] == pytest.approx([1.0] * 7)
    assert seen[9:] == pytest.approx(falling)
    assert seen[-1] == pytest.approx(0.2)


def test_wsd_follows_the_time_budget():
    _, opt, cfg = make(lr=1.0, schedule="wsd", decay_fraction=0.2)
    sched = Schedule(opt, cfg, total_steps=10_000)
    sched.step(clock=0.5)
    assert lr_of(opt) == 1.0
    sched.step(clock=0.9)  # half-way through the last fifth of the budget
    assert lr_of(opt) == pytest.approx(0.5)
    sched.step(clock=1.2)
    assert lr_of(opt) == pytest.approx(0.0)


def test_the_clock_leaves_other_schedules_alone():
    _, opt, cfg = make(lr=1.0, schedule="constant")
    sched = Schedule(opt, cfg, total_steps=10)
    sched.step(clock=0.9)
    assert lr_of(opt) == 1.0


def test_a_checkpoint_from_before_the_clock_loads_and_a_crafted_one_is_refused():
    _, opt, cfg = make(lr=1.0, schedule="cosine")
    sched = Schedule(opt, cfg, total_steps=10)
    old = {"steps": 5, "epochs": 1, "scale": 1.0, "best": 2.0, "bad_epochs": 0}
    sched.load_state_dict(old)
    assert sched.clock == 0.0
    assert lr_of(opt) == pytest.approx(0.5)
    with pytest.raises(UserError, match="scheduler state: unexpected '_apply'"):
        sched.load_state_dict({"_apply": 1})
    with pytest.raises(UserError, match="unexpected 'steps'"):
        sched.load_state_dict({"steps": "5"})


def test_step_decay_every_step_size_epochs():
    _, opt, cfg = make(optimizer="sgd", lr=20.0, schedule="step", step_size=2, gamma=0.25)
    sched = Schedule(opt, cfg, total_steps=100)
    lrs = []
    for _ in range(5):
        sched.end_epoch()
        lrs.append(lr_of(opt))
    assert lrs == pytest.approx([20.0, 5.0, 5.0, 1.25, 1.25])


def test_plateau_decays_after_patience_epochs_without_improvement():
    _, opt, cfg = make(lr=1.0, schedule="plateau", patience=1, gamma=0.5)
    sched = Schedule(opt, cfg, total_steps=100)
    lrs = []
    for loss in [3.0, 2.0, 2.5, 2.4, 1.0, 1.5, 1.6]:
        sched.end_epoch(loss)
        lrs.append(lr_of(opt))
    assert lrs == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25])


def test_schedule_state_round_trip_continues_identically():
    _, opt, cfg = make(lr=1.0, schedule="cosine", warmup_steps=3)
    a = Schedule(opt, cfg, total_steps=20)
    for _ in range(7):
        a.step()
    _, opt2, _ = make(lr=1.0, schedule="cosine", warmup_steps=3)
    b = Schedule(opt2, cfg, total_steps=20)
    b.load_state_dict(a.state_dict())
    for _ in range(5):
        a.step()
        b.step()
        assert lr_of(opt) == lr_of(opt2)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"schedule": "linear"}, "schedule"),
        ({"lr": 0}, "lr"),
        ({"lr": -1e-3}, "lr"),
        ({"gamma": 0}, "gamma"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"lr": 1e-3, "min_lr": 1e-2}, "min_lr"),
        ({"decay_fraction": 0}, "decay_fraction"),
        ({"decay_fraction": 1.5}, "decay_fraction"),
    ],
)
def test_bad_options_name_the_option(kw, match):
    with pytest.raises(UserError, match=match):
        OptimConfig(**kw)
