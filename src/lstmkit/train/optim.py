"""Optimisers and learning-rate schedules of the one trainer, configured by name.

The two recipes the LSTM literature trains with: plain SGD with step decay (Zaremba et al. 2014)
or reduce-on-plateau (AWD-LSTM), and AdamW with cosine decay after a linear warm-up; and, for a
run whose length is a time budget, warm-up, stable, decay ("wsd": the rate held until the last
``decay_fraction`` of the run, then a linear fall; Hu et al. 2024, Hägele et al. 2024).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from lstmkit.errors import UserError

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "step", "plateau", "cosine", "wsd")
STATE_KEYS = ("steps", "epochs", "scale", "best", "bad_epochs", "clock")  # Schedule.state_dict


@dataclass
class OptimConfig:
    """Optimiser and schedule settings; ``lr`` is the peak learning rate."""

    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 0.01
    momentum: float = 0.0  # SGD only
    schedule: str = "constant"
    warmup_steps: int = 0  # linear warm-up (every schedule)
    step_size: int = 1  # "step": decay every step_size epochs
    gamma: float = 0.5  # "step" and "plateau": the decay factor
    patience: int = 0  # "plateau": epochs without improvement before decaying
    min_lr: float = 0.0  # "cosine" and "wsd": the floor
    decay_fraction: float = 0.2  # "wsd": the last share of the run (steps or time) that decays

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise UserError(
                f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.schedule not in SCHEDULES:
            raise UserError(
                f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}"
            )
        _positive("lr", self.lr)
        _positive("step_size", self.step_size)
        for name in ("weight_decay", "momentum", "warmup_steps", "patience", "min_lr"):
            if getattr(self, name) < 0:
                raise UserError(f"{name}: expected a value >= 0, got {getattr(self, name)!r}")
        if not 0 < self.gamma <= 1:
            raise UserError(f"gamma: expected a factor in (0, 1], got {self.gamma!r}")
        if not 0 < self.decay_fraction <= 1:
            raise UserError(
                f"decay_fraction: expected a share in (0, 1], got {self.decay_fraction!r}"
            )
        if self.min_lr > self.lr:
            raise UserError(f"min_lr: expected at most lr={self.lr}, got {self.min_lr}")

    def to_dict(self) -> dict:
        return asdict(self)


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UserError(f"{name}: expected a number > 0, got {value!r}")


def build_optimizer(params, config: OptimConfig) -> torch.optim.Optimizer:
    """AdamW or SGD over ``params``; biases and layer-norm gains are not weight-decayed."""
    params = list(params)
    named = isinstance(params[0], tuple) if params else False
    if named:  # (name, parameter) pairs: exempt 1-D parameters from weight decay, as GPT-2 does
        decay = [p for _, p in params if p.dim() >= 2]
        no_decay = [p for _, p in params if p.dim() < 2]
        groups = [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
    else:
        groups = [{"params": params, "weight_decay": config.weight_decay}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    # torch's fused AdamW: one pass over each parameter instead of a dozen, several times faster
    # a step (the peers benchmark page has the measurement).
    return torch.optim.AdamW(groups, lr=config.lr, fused=_fused_ok(groups))


FUSED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _fused_ok(groups: list[dict]) -> bool:
    """Whether torch's fused AdamW takes these parameters (CPU or CUDA floating point)."""
    params = [p for group in groups for p in group["params"]]
    return bool(params) and all(
        p.device.type in ("cpu", "cuda") and p.dtype in FUSED_DTYPES for p in params
    )


class Schedule:
    """The learning rate as a function of progress, applied by the trainer.

    ``step(clock)`` is called after every optimiser step, ``end_epoch(valid_loss)`` after every
    epoch. The state is plain numbers (``state_dict``), so a checkpoint stores it as JSON and a
    resumed run continues the schedule exactly.

    "cosine" decays over ``total_steps`` or, when the run has a time budget, over the time: its
    progress is the larger of the share of steps and the share of the budget spent (``clock``),
    so a run stopped by ``max_time`` ends at ``min_lr`` as a run of known length does. Such a
    run's learning rates then follow the machine's speed; ``max_steps`` repeats exactly. "wsd"
    measures its progress the same way, holds ``lr`` until ``1 - decay_fraction`` of it and
    falls linearly to ``min_lr`` at its end.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, config: OptimConfig, total_steps: int):
        self.optimizer, self.config = optimizer, config
        self.total_steps = max(1, total_steps)
        self.steps = 0
        self.epochs = 0
        self.scale = 1.0  # the decay so far ("step" and "plateau")
        self.best = math.inf
        self.bad_epochs = 0
        self.clock = 0.0  # the share of the time budget spent, in [0, 1] ("cosine")
        self._apply()

    def lr(self) -> float:
        c = self.config
        warm = min(1.0, (self.steps + 1) / c.warmup_steps) if c.warmup_steps else 1.0
        if c.schedule in ("cosine", "wsd"):
            span = max(1, self.total_steps - c.warmup_steps)
            progress = min(1.0, max(max(0, self.steps - c.warmup_steps) / span, self.clock))
            if c.schedule == "cosine":
                share = 0.5 * (1 + math.cos(math.pi * progress))
            else:  # 1 until the decay starts, then linearly down to 0 at progress 1
                share = min(1.0, (1 - progress) / c.decay_fraction)
            return warm * (c.min_lr + (c.lr - c.min_lr) * share)
        return warm * c.lr * self.scale

    def _apply(self) -> None:
        lr = self.lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def step(self, clock: float | None = None) -> None:
        """After an optimiser step; ``clock``: the share of the time budget spent, if any."""
        self.steps += 1
        if clock is not None:
            self.clock = min(1.0, max(self.clock, clock))
        self._apply()

    def end_epoch(self, valid_loss: float | None = None) -> None:
        c = self.config
        self.epochs += 1
        if c.schedule == "step" and self.epochs % c.step_size == 0:
            self.scale *= c.gamma
        elif c.schedule == "plateau" and valid_loss is not None:
            if valid_loss < self.best:
                self.best, self.bad_epochs = valid_loss, 0
            else:
                self.bad_epochs += 1
                if self.bad_epochs > c.patience:
                    self.scale *= c.gamma
                    self.bad_epochs = 0
        self._apply()

    def state_dict(self) -> dict:
        # total_steps is the plan, not progress: a run resumed with more epochs stretches it.
        return {k: getattr(self, k) for k in STATE_KEYS}

    def load_state_dict(self, state: dict) -> None:
        """Restores :meth:`state_dict`'s numbers (a checkpoint from before ``clock`` lacks it).

        Raises:
            UserError: for a key that is not the schedule's or a value that is not a number.
        """
        for key, value in state.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if key not in STATE_KEYS or not number:
                raise UserError(f"scheduler state: unexpected {key!r}: {value!r}")
            setattr(self, key, value)
        self._apply()


def parameter_groups(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(name, parameter) pairs of the trainable parameters, each shared parameter once."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]
