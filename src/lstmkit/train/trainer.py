"""The one training loop: every task (language model, seq2seq, forecaster) trains through it.

A task says how to cut its data into batches, what the loss of a batch is and how to evaluate;
the trainer owns everything else: the optimiser and schedule, gradient clipping, truncated BPTT's
carried state, progress, the metrics log and loss curve, checkpoints (``last/`` and ``best/``),
early stopping, the time and step budgets, weight averaging (``TrainConfig.ema``) and exact
resumption.

Exact resumption: a checkpoint holds the model, optimiser, schedule, every RNG, the position in
the epoch and the state carried between batches, and a task's batches depend only on the epoch
(never on a global RNG), so a resumed run takes the same steps as one that never stopped.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the same loop is data-parallel: see
:mod:`lstmkit.train.distributed`. Each rank trains on its rows of every global batch (a task's
``shard(batch, rank, world)``, else :func:`~lstmkit.train.distributed.shard_rows`), the gradient
is that of the whole batch, and rank 0 alone logs and saves.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import signal
import threading
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

from lstmkit.checkpoint import load_checkpoint, restore_training, save_checkpoint
from lstmkit.errors import Notice, UserError
from lstmkit.nn import kernel as fused_kernel
from lstmkit.train import distributed
from lstmkit.train.config import UNBOUNDED_EPOCHS, Progress, Task, TrainConfig, native_bf16
from lstmkit.train.lock import RunLock, check_writable
from lstmkit.train.metrics import (
    CURVE_FILE,
    METRICS_FILE,
    TENSORBOARD_DIR,
    MetricsLog,
    plot_loss_curve,
    read_metrics,
)
from lstmkit.train.optim import OptimConfig, Schedule, build_optimizer, parameter_groups

LAST, BEST = "last", "best"
TRAINING_WEIGHTS = "training_weights"  # the weights as trained, beside an average (ema)
MAX_SKIPPED = 10  # non-finite gradients in a row that end a run as diverged
HIGHER_IS_BETTER = frozenset({"bleu", "chrf", "exact", "accuracy", "cider"})


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped training after a whole step; ``last/`` holds that step.

    A :class:`KeyboardInterrupt`, so that ``except KeyboardInterrupt`` still catches it.

    Attributes:
        step: the optimiser steps taken.
        checkpoint: the checkpoint saved (``out/last``), which ``resume`` continues exactly.
    """

    def __init__(self, step: int, checkpoint: Path) -> None:
        super().__init__(f"interrupted at step {step}; saved {checkpoint}")
        self.step, self.checkpoint = step, checkpoint


@contextlib.contextmanager
def flush_denormals():
    """Treat subnormal floats as zero on the CPU while training, then as the caller had them.

    Late in training some values (attention weights over long tails, Adam's second moments)
    drift into the subnormal range, where x86 arithmetic is many times slower, so a long run
    would slow down as it trains; flushed, it keeps its speed at the same scores (the peers
    benchmark page has the measurement).
    """
    before = flushing_denormals()  # torch has no getter; a caller may have switched it on
    changed = set_flush_denormal(True)  # False where the CPU cannot (then nothing to undo)
    try:
        yield
    finally:
        if changed and not before:
            set_flush_denormal(False)


def set_flush_denormal(on: bool) -> bool:
    """``torch.set_flush_denormal(on)`` on every intra-op thread; returns whether the CPU can.

    torch's own sets the calling thread's control register alone, so on two threads the other
    one kept computing with subnormal floats (half of a large product's elements came out
    subnormal instead of zero). lstmkit's compiled CPU kernel (:mod:`lstmkit.nn.kernel`) sets
    every thread of the pool; without it, the calling thread's alone is set, as torch does.
    """
    kernel = fused_kernel.load() if torch.get_num_threads() > 1 else None
    if kernel is not None:
        return kernel.set_flush_denormal_all_threads(on)
    return torch.set_flush_denormal(on)


def flushing_denormals() -> bool:
    """Whether this thread's CPU arithmetic flushes subnormal floats to zero: a subnormal float32
    (1e-39) times one comes out 0 only then."""
    return (torch.tensor([1e-39]) * 1.0).item() == 0.0


class Trainer:
    """Trains ``model`` on ``task`` into the run folder ``out``.

    Args:
        model: the network; moved to ``device``.
        task: see :class:`Task`.
        optim: optimiser and schedule settings.
        config: budgets, clipping, logging.
        out: the run folder: ``last/`` and ``best/`` checkpoints, ``metrics.jsonl``, ``loss.png``.
        device: where to train; None picks CUDA when present (``cuda:LOCAL_RANK`` under torchrun).
        progress: show a progress bar.
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        optim: OptimConfig,
        config: TrainConfig,
        out: str | Path,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> None:
        metrics = getattr(task, "metrics", None)  # checked before anything is written
        if metrics is not None and config.monitor not in metrics:
            raise UserError(
                f"monitor: expected one of the validation metrics {', '.join(metrics)}, "
                f"got {config.monitor!r}"
            )
        self.rank, self.world = distributed.init_from_env()  # (0, 1) unless under torchrun
        self.device = torch.device(device) if device else distributed.default_device()
        self.model = model.to(self.device)
        self.task, self.optim_config, self.config = task, optim, config
        self.out = check_writable(out)  # refusing another run's folder is the CLI's job
        self.out.mkdir(parents=True, exist_ok=True)
        self.progress_bar = progress and self.rank == 0
        self.step_module = distributed.data_parallel(self.model, task)
        self.optimizer = build_optimizer(parameter_groups(self.model), optim)
        # The moving average of the weights (config.ema), which validation and checkpoints use.
        self.average = (
            AveragedModel(self.model, multi_avg_fn=debiased_ema(config.ema), use_buffers=True)
            if config.ema
            else None
        )
        total = config.epochs * task.num_batches()
        self.schedule = Schedule(self.optimizer, optim, total_steps=config.max_steps or total)
        self.log = distributed.NullLog() if self.rank else MetricsLog(self.out, config.tensorboard)
        self.state = Progress()
        self.carry: Any = None
        self._interrupted = False  # set by SIGINT while fit() runs
        self._clock = (0.0, math.inf, 0.0)  # fit()'s start, time budget, schedule clock then
        self._skipped_in_a_row = 0  # updates skipped for a non-finite gradient (MAX_SKIPPED)
        native = config.precision != "fp32" and native_bf16(self.device)
        # "auto": bfloat16 where the device computes it (the same on every rank)
        self.bf16 = config.precision == "bf16" or (config.precision == "auto" and native)
        if config.precision == "bf16" and not native and self.rank == 0:
            warnings.warn(
                f"precision bf16: this {self.device.type.upper()} has no bfloat16 "
                "arithmetic (AVX512-BF16 or AMX); torch emulates it, so training is "
                "slower than with fp32",
                Notice,
                stacklevel=2,
            )

    @property
    def scored_model(self) -> nn.Module:
        """The network validation scores and checkpoints hold: the weights' moving average when
        ``config.ema`` is set, else the model as trained."""
        return self.model if self.average is None else self.average.module

    # ------------------------------------------------------------------ checkpoints
    def _config(self) -> dict:
        return {
            **self.task.run_config(),
            "optim": self.optim_config.to_dict(),
            "training": self.config.to_dict(),
        }

    def save(self, name: str) -> Path:
        """Writes the checkpoint ``out/<name>``, atomically: a failure leaves the previous one.

        Raises:
            UserError: a weight is not finite (a NaN gradient with a finite loss), so that such
                weights never replace the last good checkpoint; or the disk is full.
        """
        for param_name, param in self.model.named_parameters():
            if (
                not torch.isfinite(param).all()
                or not torch.isfinite(self.scored_model.get_parameter(param_name)).all()
            ):
                raise UserError(
                    f"training diverged: {param_name} is not finite after step {self.state.step}; "
                    f"the last good checkpoint is {self.out / LAST} (try a lower lr or clip)"
                )
        carry = distributed.gather_state(self.carry) if self.world > 1 else self.carry
        if self.rank != 0:
            return self.out / name
        training_state = {"progress": asdict(self.state), "carry": carry}
        if self.average is not None:  # the checkpoint's model is the average; these go on
            training_state[TRAINING_WEIGHTS] = self.model.state_dict()
            training_state["averaged"] = int(self.average.n_averaged)
        return save_checkpoint(
            self.out / name,
            task=self.task.task,
            config=self._config(),
            model=self.scored_model,
            optimizer=self.optimizer,
            scheduler=self.schedule,
            training_state=training_state,
            extra_files=self.task.files(),
        )

    def resume(self, directory: str | Path) -> None:
        """Continues from a checkpoint: model, optimiser, schedule, RNGs, position, carry, and
        the weights' average (``config.ema``)."""
        checkpoint = load_checkpoint(directory, task=self.task.task)
        restore_training(checkpoint, self.model, self.optimizer, self.schedule)
        state = checkpoint.training_state
        if self.average is not None:  # the checkpoint's model is the average, when it had one
            self.average.module.load_state_dict(self.model.state_dict())
            self.average.n_averaged.fill_(int(state.get("averaged", 0)))
        if TRAINING_WEIGHTS in state:  # the weights as trained, saved beside an average
            _load_weights(self.model, state[TRAINING_WEIGHTS], checkpoint.directory)
        self.state = Progress(**state["progress"])
        carry = _to_device(state.get("carry"), self.device)
        self.carry = distributed.split_state(carry, self.rank, self.world)

    # ------------------------------------------------------------------ the loop
    def fit(self) -> Progress:
        """Trains until the epochs, the time or the steps run out, or early stopping; returns the
        final progress (``stopped`` says why).

        The run folder is locked while it trains (:mod:`lstmkit.train.lock`). Ctrl-C (SIGINT)
        ends the step under way, saves ``last/`` and raises :class:`TrainingInterrupted`; a
        second Ctrl-C stops at once, without saving.

        Raises:
            UserError: another training holds the run folder; training diverged.
            TrainingInterrupted: on Ctrl-C, after saving ``last/``.
        """
        distributed.check_preflight()  # the launcher of --nproc checks up to here
        with RunLock(self.out), self._interruptible():
            return self._fit()

    def _fit(self) -> Progress:
        if self.state.step == 0:  # a fresh run: dropout masks follow the seed; a resumed run
            torch.manual_seed(self.config.seed)  # has its RNG state back from the checkpoint
            if self.rank == 0:
                self._clear_previous_run()
            distributed.barrier()
        started, self._first_step = time.monotonic(), self.state.step
        budget = self.config.max_time * 60 if self.config.max_time else math.inf
        # The schedule's clock: this invocation's budget spreads what is left of the decay.
        self._clock = (started, budget, self.schedule.clock)
        with flush_denormals():
            while self.state.epoch < self.config.epochs:
                stop = self._train_epoch(started, budget)
                if stop:
                    self.state.stopped = stop
                    if stop != "interrupted":
                        self._validate_partial()
                    break
                more = self.state.epoch + 1 < self.config.epochs  # else it ends anyway
                stop = self._end_epoch() or (self._interruption() if more else "")
                if stop:
                    self.state.stopped = stop
                    break
            else:
                self.state.stopped = "epochs"
        self.state.elapsed += time.monotonic() - started
        self.save(LAST)
        if self.rank == 0:
            self._plot()
        distributed.barrier()  # the checkpoints exist before any rank reads them
        if self.state.stopped == "interrupted":
            raise TrainingInterrupted(self.state.step, self.out / LAST)
        return self.state

    def _interruption(self) -> str:
        """ "interrupted" after a SIGINT on any rank (every rank stops at the same step)."""
        return "interrupted" if distributed.agree(self._interrupted, self.device) else ""

    @contextlib.contextmanager
    def _interruptible(self):
        """SIGINT sets a flag that the loop reads after each step, instead of raising
        :class:`KeyboardInterrupt` in the middle of one. Only where Python's own handler is in
        place (the main thread, a handler nobody replaced); a second SIGINT raises as usual,
        but under ``torchrun``, which sends its own SIGINT after the terminal's, every one sets
        the flag."""
        self._interrupted = False
        if (
            threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield
            return

        def handler(signum, frame) -> None:
            self._interrupted = True
            if self.world == 1:
                signal.signal(signal.SIGINT, signal.default_int_handler)

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def _validate(self) -> dict[str, float]:
        """The task's validation metrics of :attr:`scored_model`, the same on every rank."""
        scored = self.scored_model
        scored.eval()
        with torch.no_grad():
            metrics = self.task.evaluate(scored) if self.rank == 0 else None
        self.model.train()
        return distributed.from_main(metrics)  # every rank decides as rank 0

    def _validate_partial(self) -> None:
        """A budget that ends mid-epoch still validates, and keeps ``best/`` if the model is the
        best so far. The epoch-end record (``best``, ``bad_epochs``, the schedule) is left as
        it was, so that a resumed run decides as one that never stopped would."""
        if self.state.batch == 0:
            return
        metrics = self._validate()
        self.log.write("valid", self.state.step, epoch=self.state.epoch, partial=1, **metrics)
        epoch = self.state.epoch + self.state.batch / max(1, self.task.num_batches())
        entry = {"epoch": round(epoch, 3), "step": self.state.step, "partial": True, **metrics}
        self.state.history.append(entry)
        if self._key(metrics) < self.state.best:
            self.save(BEST)

    def _clear_previous_run(self) -> None:
        """A fresh run in a folder that held one replaces its outputs, so that no checkpoint,
        log record or plot of the old run mixes with the new; only after every check passed."""
        for name in (LAST, BEST, TENSORBOARD_DIR):
            shutil.rmtree(self.out / name, ignore_errors=True)
        for name in (METRICS_FILE, CURVE_FILE):
            (self.out / name).unlink(missing_ok=True)

    def _train_epoch(self, started: float, budget: float) -> str:
        """Runs the rest of the current epoch; returns why it stopped early, or ""."""
        task, state, config = self.task, self.state, self.config
        self.model.train()
        total = task.num_batches()
        bar = tqdm(
            total=total,
            initial=state.batch,
            desc=f"epoch {state.epoch + 1}"
            + (f"/{config.epochs}" if config.epochs < UNBOUNDED_EPOCHS else ""),
            unit="batch",
            disable=not self.progress_bar,
            leave=False,
        )
        window_loss, window_tokens, window_start = 0.0, 0, time.monotonic()
        for batch in task.batches(state.epoch, state.batch):
            loss, tokens = self._step(batch)
            window_loss += loss * tokens
            window_tokens += tokens
            bar.update(1)
            if state.step % config.log_every == 0 or state.batch == total:
                seconds = time.monotonic() - window_start
                mean = window_loss / max(1, window_tokens)
                rate = window_tokens / max(seconds, 1e-9)
                lr = self.optimizer.param_groups[0]["lr"]  # for the loss curve's second axis
                skipped = {"skipped": state.skipped} if state.skipped else {}
                self.log.write(
                    "train",
                    state.step,
                    epoch=state.epoch,
                    loss=mean,
                    tokens_per_s=rate,
                    lr=lr,
                    **skipped,
                )
                ppl = {"ppl": f"{_ppl(mean):.1f}"} if task.task in ("lm", "seq2seq") else {}
                bar.set_postfix(
                    loss=f"{mean:.3f}",
                    **ppl,
                    tok_s=f"{rate:,.0f}",
                    run_eta=self._run_eta(started, budget),
                )
                window_loss, window_tokens, window_start = 0.0, 0, time.monotonic()
            if config.max_steps and state.step >= config.max_steps:
                bar.close()
                return "max-steps"
            late = time.monotonic() - started >= budget  # every rank stops if any is late
            if budget < math.inf and distributed.agree(late, self.device):
                bar.close()
                return "max-time"
            if self._interruption():
                bar.close()
                return "interrupted"
            if config.save_every and state.step % config.save_every == 0 and state.batch < total:
                self.save(LAST)  # mid-epoch: the epoch's end saves after validating
        bar.close()
        return ""

    def _run_eta(self, started: float, budget: float) -> str:
        """Time left for the whole run (the bar's own ETA is the epoch's), ``m:ss``: the steps
        left at this process's pace, or the time budget if it ends first."""
        done = self.state.step - self._first_step
        elapsed = time.monotonic() - started
        total = self.config.epochs * self.task.num_batches()
        if self.config.max_steps:
            total = min(total, self.config.max_steps)
        left = (total - self.state.step) * elapsed / max(done, 1)
        left = max(0.0, min(left, budget - elapsed))
        return f"{int(left // 60)}:{int(left % 60):02d}"

    def _step(self, batch: Any) -> tuple[float, int]:
        """One optimiser step on one batch; returns (loss, tokens), (0.0, 0) for a skipped one.

        A non-finite loss or gradient skips the update, as AMP's GradScaler skips an overflow:
        one bad batch does not turn the weights to NaN. The step still counts (schedule,
        budget), and a carried state that the loss spoiled starts afresh.
        """
        if self.world > 1:  # this rank's rows (its TBPTT streams) of the global batch
            shard = getattr(self.task, "shard", distributed.shard_rows)
            batch = shard(batch, self.rank, self.world)
        with self._autocast():
            loss, tokens, carry = self.step_module(batch, self.carry)
        loss, mean, tokens = distributed.global_loss(loss.float(), tokens)  # the same on every rank
        self.optimizer.zero_grad(set_to_none=True)
        loss_ok = bool(torch.isfinite(mean))
        if loss_ok:
            loss.backward()
        if loss_ok and self._clipped_gradient_is_finite():
            self._skipped_in_a_row = 0
            self.optimizer.step()
            if self.average is not None:
                self.average.update_parameters(self.model)
            mean = mean.item()
        else:
            self._skip("the gradient" if loss_ok else "the loss")
            carry = carry if loss_ok else None  # a state the bad loss came from starts afresh
            self.optimizer.zero_grad(set_to_none=True)
            mean, tokens = 0.0, 0
        self.schedule.step(self._budget_spent())
        self.carry = _detach(carry, next(self.model.parameters()).dtype)
        self.state.step += 1
        self.state.batch += 1
        return mean, tokens

    def _clipped_gradient_is_finite(self) -> bool:
        """Clips the gradient to ``config.clip`` (0: only measures it); whether its norm is
        finite (the same on every rank: the gradients are all-reduced)."""
        norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip or math.inf)
        return bool(torch.isfinite(norm))

    def _skip(self, what: str) -> None:
        """Counts a step whose update is skipped.

        Raises:
            UserError: after ``MAX_SKIPPED`` in a row: the run diverged.
        """
        self.state.skipped += 1
        self._skipped_in_a_row += 1
        if self._skipped_in_a_row >= MAX_SKIPPED:
            raise UserError(
                f"training diverged: {what} was not finite in {MAX_SKIPPED} steps in a row, "
                f"up to step {self.state.step + 1}; the last good checkpoint is "
                f"{self.out / LAST} (try a lower lr or clip)"
            )

    def _budget_spent(self) -> float | None:
        """The schedule's clock: the share of the time budget spent, or None without one."""
        started, budget, start = self._clock
        if budget == math.inf:
            return None
        spent = start + (1 - start) * (time.monotonic() - started) / budget
        return distributed.largest(spent, self.device)

    def _autocast(self):
        """The training step's arithmetic: ``torch.autocast`` in bfloat16 for
        ``precision="bf16"`` (or ``"auto"`` on a device with bfloat16 arithmetic), else nothing
        changes."""
        return torch.autocast(self.device.type, torch.bfloat16, self.bf16)

    def _end_epoch(self) -> str:
        """Validates, steps the schedule, saves ``last`` (and ``best``); why to stop, or ""."""
        state = self.state
        metrics = self._validate()
        loss = metrics["loss"]
        state.epoch += 1
        state.batch = 0
        self.carry = None  # a new epoch starts the streams from their beginning
        self.log.write("valid", state.step, epoch=state.epoch, **metrics)
        state.history.append({"epoch": state.epoch, "step": state.step, **metrics})
        self.schedule.end_epoch(loss)
        key = self._key(metrics)
        improved = key < state.best
        state.best, state.bad_epochs = (key, 0) if improved else (state.best, state.bad_epochs + 1)
        self.save(LAST)
        if improved:
            state.best_epoch = state.epoch
            self.save(BEST)
        patience = self.config.patience
        finished = getattr(self.task, "finished", None)
        if finished is not None and finished(metrics):
            return "finished"
        return "early-stopping" if patience is not None and state.bad_epochs >= patience else ""

    def _key(self, metrics: dict[str, float]) -> float:
        """The monitored metric as a value to minimise."""
        name = self.config.monitor
        if name not in metrics:
            raise UserError(
                f"monitor: expected one of the validation metrics {', '.join(metrics)}, "
                f"got {name!r}"
            )
        return -metrics[name] if name in HIGHER_IS_BETTER else metrics[name]

    def _plot(self) -> None:
        path = self.out / "metrics.jsonl"
        if path.exists():
            plot_loss_curve(read_metrics(path), self.out / CURVE_FILE, title=self.out.name)


def debiased_ema(decay: float):
    """AveragedModel's update for the moving average with Adam's bias correction (optax's
    ``ema(debias=True)``): after ``t`` steps the average is ``Σ_k decay^(t-k) (1 - decay) w_k /
    (1 - decay^t)``, the weights after each step weighted as an EMA started from zero and
    rescaled. So a run of a few hundred steps is not dragged towards its first weights (torch's
    ``get_ema_multi_avg_fn`` starts the average at the first step's weights, which then weigh
    ``decay^(t-1)``: 37% after 100 steps at 0.99); after thousands of steps the two agree.

    Written as one update: ``avg_t = lerp(avg_(t-1), w_t, 1 - d_t)`` with ``d_t = decay (1 -
    decay^(t-1)) / (1 - decay^t)``, ``t`` counting this step (``d_1 = 0``: the first weights).
    """

    @torch.no_grad()
    def update(averaged: list[Tensor], current: list[Tensor], num_averaged) -> None:
        t = int(num_averaged) + 1
        keep = decay * (1 - decay ** (t - 1)) / (1 - decay**t)
        if torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1 - keep)
        else:  # integer buffers (e.g. batch norm's counter): as torch's EMA does
            for a, c in zip(averaged, current, strict=True):
                a.copy_(a * keep + c * (1 - keep))

    return update


def _load_weights(model: nn.Module, weights: dict, where: Path) -> None:
    """Loads a checkpoint's training weights into ``model`` (strict), or names what differs."""
    try:
        model.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError) as error:
        raise UserError(f"{where}: the training weights do not fit the model ({error})") from None


def _ppl(loss: float) -> float:
    return math.exp(min(loss, 50.0))


def _detach(carry: Any, dtype: torch.dtype | None = None) -> Any:
    """The carried state cut from the graph (tensors, or lists/tuples of them), its floating
    tensors in ``dtype`` when given (the weights' dtype: a bfloat16 step's state is carried, and
    checkpointed, as the float32 that an fp32 step's would be)."""
    if isinstance(carry, Tensor):
        carry = carry.detach()
        return carry.to(dtype) if dtype is not None and carry.is_floating_point() else carry
    if isinstance(carry, list | tuple):
        return type(carry)(_detach(c, dtype) for c in carry)
    return carry


def _to_device(carry: Any, device: torch.device) -> Any:
    if isinstance(carry, Tensor):
        return carry.to(device)
    if isinstance(carry, list | tuple):
        return type(carry)(_to_device(c, device) for c in carry)
    return carry
