"""The trainer's settings and records: :class:`TrainConfig` (budgets, clipping, logging),
the :class:`Task` protocol every task implements, and :class:`Progress` (where a run is, saved in
every checkpoint so that a resumed run goes on exactly)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from lstmkit.errors import UserError

PRECISIONS = ("fp32", "bf16", "auto")
DEFAULT_EPOCHS = 10  # the epoch budget when no time or step budget is given
UNBOUNDED_EPOCHS = 10**6  # an epoch budget this large stands for "until another budget ends"


@dataclass
class TrainConfig:
    """When to stop, how to clip, how often to log and save, the training arithmetic, and
    weight averaging.

    ``ema`` > 0 keeps an exponential moving average of the weights after every optimiser step
    (torch's ``AveragedModel``, bias-corrected as Adam's moments: ``Σ_k ema^(t-k) (1 - ema) w_k
    / (1 - ema^t)`` after ``t`` steps, over about ``1 / (1 - ema)`` steps,
    :func:`lstmkit.train.trainer.debiased_ema`): validation scores the average, and ``best/`` and
    ``last/`` hold it as their model, the weights as trained beside it in the training state, so
    that a resumed run continues both. It smooths the step-to-step noise of a high learning rate,
    as Keras' ``use_ema`` and timm's ``ModelEmaV3`` do.

    ``precision="bf16"`` is mixed precision (``torch.autocast`` with bfloat16, as Lightning's
    ``"bf16-mixed"`` and Keras' ``"mixed_bfloat16"``): the training step's forward pass and loss
    run their matrix products, and torch's LSTM kernel, in bfloat16; the weights, gradients,
    optimiser state and validation stay float32. It pays on CPUs with bfloat16 arithmetic
    (AVX512-BF16 or AMX, e.g. AMD Zen 4, Intel Sapphire Rapids) and on recent GPUs; elsewhere
    the bfloat16 products are emulated and slower. ``"auto"`` is ``"bf16"`` on a device with
    bfloat16 arithmetic (:func:`native_bf16`) and ``"fp32"`` elsewhere.
    """

    # None: 10 epochs, or, with max_time or max_steps, until that budget ends (a user who gives
    # five minutes expects five minutes of training, whatever the data's size)
    epochs: int | None = None
    max_time: float | None = None  # minutes; stops cleanly, with a checkpoint
    max_steps: int | None = None  # optimiser steps; stops cleanly, with a checkpoint
    clip: float = 0.25  # gradient-norm clipping; 0 turns it off
    patience: int | None = None  # early stopping: epochs without a better validation loss
    log_every: int = 50  # steps between training-loss records
    save_every: int | None = None  # steps between mid-epoch saves of last/ (and at epoch ends)
    tensorboard: bool = False  # also write the metrics as TensorBoard scalars
    monitor: str = "loss"  # the validation metric for best/ and early stopping
    seed: int = 0
    precision: str = "fp32"  # "bf16": the training step under torch.autocast (bfloat16); "auto"
    # decay of an exponential moving average of the weights (torch's AveragedModel), which
    # validation, best/ and last/ use; 0: off, the weights as trained
    ema: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs is None:
            budget = self.max_time is not None or self.max_steps is not None
            self.epochs = UNBOUNDED_EPOCHS if budget else DEFAULT_EPOCHS
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise UserError(f"epochs: expected a positive integer, got {self.epochs!r}")
        if self.max_time is not None and not self.max_time > 0:
            raise UserError(f"max_time: expected minutes > 0, got {self.max_time!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise UserError(f"max_steps: expected a positive integer, got {self.max_steps!r}")
        if self.clip < 0:
            raise UserError(f"clip: expected a gradient norm >= 0, got {self.clip!r}")
        if self.patience is not None and self.patience < 1:
            raise UserError(f"patience: expected a positive integer, got {self.patience!r}")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise UserError(f"monitor: expected a validation metric's name, got {self.monitor!r}")
        if self.log_every < 1:
            raise UserError(f"log_every: expected a positive integer, got {self.log_every!r}")
        if self.save_every is not None and self.save_every < 1:
            raise UserError(f"save_every: expected a positive integer, got {self.save_every!r}")
        if (
            isinstance(self.ema, bool)
            or not isinstance(self.ema, int | float)
            or not (0 <= self.ema < 1)
        ):
            raise UserError(f"ema: expected a decay in [0, 1), got {self.ema!r}")
        if self.precision not in PRECISIONS:
            raise UserError(
                f"precision: expected one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 products in hardware: a GPU that supports it, or a
    CPU with AVX512-BF16 or AMX (oneDNN's own check, else the CPU's flags on Linux); elsewhere
    torch emulates them, slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a private helper of torch's: if it moves, read flags
        try:
            flags = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
        return any(flag in flags for flag in (" avx512_bf16", " amx_bf16"))


class Task(Protocol):
    """What a task gives the trainer."""

    task: str  # "lm", "seq2seq" or "forecast": the checkpoint's task

    def num_batches(self) -> int:
        """Training batches in one epoch."""

    def batches(self, epoch: int, start: int) -> Iterator[Any]:
        """The epoch's training batches from index ``start``; a function of the epoch alone."""

    def train_loss(self, model: nn.Module, batch: Any, carry: Any) -> tuple[Tensor, int, Any]:
        """(mean loss, tokens in the batch, state to carry to the next batch or None)."""

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation metrics, including ``"loss"`` (lower is better)."""

    def run_config(self) -> dict:
        """The task's part of the checkpoint config (model, data, tokenizer settings)."""

    def files(self) -> dict[str, bytes]:
        """Files saved with every checkpoint, e.g. the tokenizer's."""

    # Optional: ``metrics``, the names ``evaluate`` reports, so that a ``monitor`` it lacks is
    # refused before training starts.
    # Optional: ``finished(metrics) -> bool``, True when the validation metrics mean the task
    # is done (an experiment solved): training stops there, as at early stopping.


@dataclass
class Progress:
    """Where a run is; saved in every checkpoint."""

    epoch: int = 0
    batch: int = 0  # the next batch of the epoch
    step: int = 0
    best: float = math.inf  # the best monitored value, negated when higher is better
    best_epoch: int = 0  # the epoch that reached it (best/), 0 before any
    bad_epochs: int = 0
    elapsed: float = 0.0  # seconds of training before this process
    skipped: int = 0  # updates skipped for a non-finite gradient (Trainer._finite_gradient)
    # why the run ended: "epochs", "early-stopping", "finished" (task), "max-time", "max-steps"
    stopped: str = ""
    history: list = field(default_factory=list)


__all__ = [
    "DEFAULT_EPOCHS",
    "PRECISIONS",
    "UNBOUNDED_EPOCHS",
    "Progress",
    "Task",
    "TrainConfig",
    "native_bf16",
]
