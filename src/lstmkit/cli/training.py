"""What every `lstmkit <task> train` shares: optimiser, budget and run options, and --resume.

The options come from the dataclasses they configure (:class:`~lstmkit.train.OptimConfig`,
:class:`~lstmkit.train.trainer.TrainConfig`), so a default lives in exactly one place.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from dataclasses import fields
from pathlib import Path

from lstmkit.cli.options import (
    DEFAULTS,
    decay,
    group,
    nonnegative_float,
    nonnegative_int,
    option,
    positive_float,
    positive_int,
    settings,
    unit_interval,
)
from lstmkit.errors import Notice, UserError
from lstmkit.train import distributed
from lstmkit.train.config import PRECISIONS
from lstmkit.train.lock import RunLock, check_unlocked, check_writable
from lstmkit.train.optim import OPTIMIZERS, SCHEDULES, OptimConfig
from lstmkit.train.trainer import TrainConfig, TrainingInterrupted

OPTIM_HELP = {
    "optimizer": (str, "optimiser"),
    "lr": (positive_float, "peak learning rate"),
    "weight_decay": (nonnegative_float, "decoupled weight decay (AdamW) or L2 (SGD)"),
    "momentum": (nonnegative_float, "SGD momentum"),
    "schedule": (
        str,
        "learning-rate schedule (cosine, wsd: over the steps, or the --max-time)",
    ),
    "warmup_steps": (nonnegative_int, "linear warm-up steps"),
    "step_size": (positive_int, "step schedule: decay every N epochs"),
    "gamma": (unit_interval, "step and plateau schedules: decay factor"),
    "patience": (nonnegative_int, "plateau schedule: epochs without improvement"),
    "min_lr": (nonnegative_float, "cosine and wsd schedules: the floor"),
    "decay_fraction": (unit_interval, "wsd schedule: the last share of the run that decays"),
}
TRAIN_HELP = {
    "epochs": (
        positive_int,
        "passes over the training data (default: 10, or with --max-time or --max-steps, "
        "until that budget ends)",
    ),
    "max_time": (positive_float, "stop after this many minutes, with a checkpoint"),
    "max_steps": (positive_int, "stop after this many optimiser steps"),
    "clip": (nonnegative_float, "gradient-norm clipping (0: off)"),
    "patience": (
        nonnegative_int,
        "early stopping: epochs without a better validation score (0: off)",
    ),
    "log_every": (positive_int, "steps between training-loss records"),
    "save_every": (positive_int, "also save last/ every N steps within an epoch (for crashes)"),
    "tensorboard": (bool, "also write TensorBoard scalars to <out>/tensorboard"),
    "monitor": (str, "validation metric that picks best/ and early stopping"),
    "seed": (int, "seed of initialisation, dropout, batch order and generated data"),
    "ema": (
        decay,
        "decay of a moving average of the weights, which validation, best/ and last/ use "
        "(0: off; 0.99 averages about the last 100 steps)",
    ),
    "precision": (
        str,
        "training arithmetic: fp32, or bf16 mixed precision (fast on CPUs with "
        "AVX512-BF16/AMX and recent GPUs; weights and validation stay fp32), or auto "
        "(bf16 where the device has bfloat16 arithmetic, else fp32)",
    ),
}
CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "precision": PRECISIONS}
# Options a resumed run may change; the rest are fixed by the run being resumed.
RESUMABLE = {
    "epochs",
    "max_time",
    "max_steps",
    "patience",
    "save_every",
    "out",
    "resume",
    "progress",
    "json",
    "nproc",
}


def dataclass_options(g, cls, helps: dict, choices=None, skip=(), prefix=None) -> None:
    """One option per field of dataclass ``cls``, with its default; ``helps`` maps a field to
    (type, help), ``prefix`` renames a field's option (``patience`` → ``--lr-patience``)."""
    for f in fields(cls):
        if f.name in skip:
            continue
        convert, text = helps[f.name]
        name = f"{(prefix or {}).get(f.name, '')}_{f.name}".strip("_")
        flag = "--" + name.replace("_", "-")
        if convert is bool:
            option(g, flag, dest=name, action="store_true", default=f.default, help=text)
            continue
        kind = None if convert is str else convert
        pick = {**CHOICES, **(choices or {})}.get(f.name)
        option(g, flag, dest=name, type=kind, choices=pick, default=f.default, help=text)


def add_training_options(p) -> None:
    """The optimiser, training-budget and run groups of a train command."""
    dataclass_options(group(p, "optimiser"), OptimConfig, OPTIM_HELP, prefix={"patience": "lr"})
    dataclass_options(group(p, "training"), TrainConfig, TRAIN_HELP)
    run = group(p, "run")
    option(run, "--out", help="run folder (last/, best/, metrics.jsonl, loss.png)")
    option(run, "--overwrite", action="store_true", default=False, help="replace a run in --out")
    option(run, "--resume", metavar="DIR", help="continue a run exactly (a run folder)")
    option(
        run,
        "--no-progress",
        dest="progress",
        action="store_false",
        default=True,
        help="no progress bar on stderr",
    )
    option(run, "--json", action="store_true", default=False, help="print the result as JSON")
    option(run, "--nproc", type=positive_int, default=1, help="run N processes here (torchrun)")
    p.set_defaults(run=data_parallel(p.get_default("run")))


def data_parallel(run):
    """``run`` for ``--nproc N`` (given as a flag or in ``--config``): this command line again as
    N processes under ``torchrun``, after this process has run the command's checks up to the
    start of training (:func:`~lstmkit.train.distributed.preflight`), so that a mistake is one
    line before any process starts; in those processes, the output of rank 0 alone (see
    :mod:`lstmkit.train.distributed`). Also :func:`interruptible`."""

    @interruptible
    def command(args) -> int:
        if "WORLD_SIZE" in os.environ:  # a torchrun worker: never launches again
            return _worker(run, args)
        nproc = settings(args)["nproc"] or 1
        if nproc > 1:
            return _launch(run, args, nproc)
        return run(args)

    return command


def _launch(run, args, nproc: int) -> int:
    out = settings(args)["out"]
    new = out is not None and not Path(out).exists()
    with distributed.preflight(), warnings.catch_warnings():
        warnings.simplefilter("ignore", Notice)  # the workers' rank 0 gives them
        with contextlib.suppress(distributed.ReadyToLaunch):
            run(args)
    release_run_locks()  # the workers' rank 0 takes the run folder's lock
    code = distributed.launch(nproc, distributed.without_nproc(sys.argv[1:]))
    if code != 0 and new:  # the check created it; a worker refused before writing in it
        with contextlib.suppress(OSError):
            Path(out).rmdir()
    return code


def _worker(run, args) -> int:
    """A torchrun worker: rank 0 prints; a mistake goes to the launcher, which prints it once."""
    quiet = os.environ.get("RANK", "0") != "0"
    with contextlib.ExitStack() as stack:
        if quiet:
            devnull = stack.enter_context(open(os.devnull, "w"))
            stack.enter_context(contextlib.redirect_stdout(devnull))
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore", Notice)
        try:
            return run(args)
        except UserError as error:
            if distributed.report_error(_error_line(args, error)) or quiet:
                return 2
            raise
        except KeyboardInterrupt:
            if quiet:
                return 130
            raise


def interruptible(command):
    """``command`` ending on Ctrl-C with one line and exit status 130 instead of a traceback:
    where training was under way, the step reached, the checkpoint saved and how to continue;
    the run folders it locked are released however it ends."""

    @functools.wraps(command)
    def run(args) -> int:
        name = " ".join(filter(None, ["lstmkit", args.command, getattr(args, "verb", None)]))
        try:
            return command(args)
        except TrainingInterrupted as stop:
            resume = getattr(args, "parser_", None) and "resume" in _defaults(args)
            folder = stop.checkpoint.parent
            hint = f"; continue with --resume {folder}" if resume else ""
            print(
                f"{name}: interrupted at step {stop.step}; saved {stop.checkpoint}{hint}",
                file=sys.stderr,
            )
            return 130
        except KeyboardInterrupt:
            print(f"{name}: interrupted before a checkpoint was saved", file=sys.stderr)
            return 130
        finally:
            release_run_locks()

    return run


def _defaults(args) -> dict:
    return getattr(args.parser_, DEFAULTS)


def _error_line(args, error: UserError) -> str:
    """The line ``lstmkit.cli.main`` would print for ``error``."""
    from lstmkit.cli.main import as_flags, build_parser

    name = " ".join(filter(None, ["lstmkit", args.command, getattr(args, "verb", None)]))
    return f"{name}: error: {as_flags(str(error), build_parser(), args)}"


# The run folders this command holds (see hold_run_folder), released when it ends, and those it
# created (removed then if still empty).
_LOCKS: list = []
_CREATED: list[Path] = []


def hold_run_folder(out) -> None:
    """Locks the run folder ``out`` until the command ends (:mod:`lstmkit.train.lock`): every
    file of the run, the last result file included, is written under the lock."""
    _LOCKS.append(RunLock(out).acquire())


def release_run_locks() -> None:
    """Releases the run folders' locks; a folder this command created and left empty (a
    mistake found after ``--out`` was checked, e.g. in the data's batching) is removed."""
    while _LOCKS:
        _LOCKS.pop().release()
    while _CREATED:
        with contextlib.suppress(OSError):  # not empty: the run wrote something, keep it
            _CREATED.pop().rmdir()


def optim_settings(s: dict) -> dict:
    return {k: s["lr_patience" if k == "patience" else k] for k in OPTIM_HELP}


def train_settings(s: dict, only: set | None = None) -> dict:
    """The TrainConfig fields of the settings (``patience`` 0 read as none: no early stopping)."""
    chosen = {k: s[k] for k in TRAIN_HELP if only is None or k in only}
    if chosen.get("patience") == 0:
        chosen["patience"] = None
    return chosen


def resume_target(s: dict, task: str, data_options: tuple[str, ...]) -> tuple[Path, dict | None]:
    """For ``--resume``: the checkpoint to continue (``RUN/last``) and, unless data options were
    given, the data sources the run recorded. Sets ``s["out"]`` to the run folder."""
    from lstmkit.checkpoint import load_checkpoint, resolve_checkpoint

    fixed = sorted(s["given_"] - RESUMABLE - set(data_options) - {"seed"})
    if fixed:
        flag = "--" + fixed[0].replace("_", "-")
        raise UserError(
            f"{flag}: fixed by the run being resumed; drop it, or start a new run with --out"
        )
    path = Path(s["resume"])
    if not path.is_dir():
        raise UserError(f"--resume {path}: expected a run folder (with last/) or a checkpoint")
    try:
        path = resolve_checkpoint(path, prefer=("last",))
    except UserError as error:
        raise UserError(f"--resume {error}") from None
    s["out"] = s["out"] or str(path.parent)
    check_writable(s["out"])
    check_unlocked(s["out"])
    if Path(s["out"]).is_dir():  # else the estimator locks it when it creates it
        hold_run_folder(s["out"])
    if s["given_"] & set(data_options):
        return path, None
    sources = load_checkpoint(path, task=task).config["data"].get("sources")
    if not sources:
        raise UserError(f"--resume {path}: the run records no data; give the data options")
    return path, sources


def check_new_run(s: dict) -> None:
    """``--out`` is given and may be used (new, or empty, or ``--overwrite``; writable; no
    training running in it); then holds it (:func:`hold_run_folder`)."""
    from lstmkit.checkpoint import check_output_dir

    if s["out"] is None:
        raise UserError("--out: expected the run folder to write, got none")
    check_writable(s["out"])
    check_unlocked(s["out"])
    if os.environ.get("RANK", "0") != "0":  # rank 0 checks it and may have started writing
        return
    if not Path(s["out"]).exists():
        _CREATED.append(Path(s["out"]))
    check_output_dir(s["out"], s["overwrite"])
    hold_run_folder(s["out"])


def train_result(estimator, out) -> dict:
    """The summary a train command prints."""
    p = estimator.progress_
    return {
        "out": str(out),
        "stopped": p.stopped,
        "epochs": p.epoch,
        "best_epoch": p.best_epoch,
        "steps": p.step,
        "minutes": round(p.elapsed / 60, 2),
        "history": p.history,
    }
