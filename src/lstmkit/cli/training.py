"""What every `lstmkit <task> train` shares: optimiser, budget and run options, and --resume.

The options come from the dataclasses they configure (:class:`~lstmkit.train.OptimConfig`,
:class:`~lstmkit.train.trainer.TrainConfig`), so a default lives in exactly one place.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from lstmkit.cli.options import (
    group,
    nonnegative_float,
    nonnegative_int,
    option,
    positive_float,
    positive_int,
    unit_interval,
)
from lstmkit.errors import UserError
from lstmkit.train.config import PRECISIONS
from lstmkit.train.optim import OPTIMIZERS, SCHEDULES, OptimConfig
from lstmkit.train.trainer import TrainConfig

OPTIM_HELP = {
    "optimizer": (str, "optimiser"),
    "lr": (positive_float, "peak learning rate"),
    "weight_decay": (nonnegative_float, "decoupled weight decay (AdamW) or L2 (SGD)"),
    "momentum": (nonnegative_float, "SGD momentum"),
    "schedule": (str, "learning-rate schedule"),
    "warmup_steps": (nonnegative_int, "linear warm-up steps"),
    "step_size": (positive_int, "step schedule: decay every N epochs"),
    "gamma": (unit_interval, "step and plateau schedules: decay factor"),
    "patience": (nonnegative_int, "plateau schedule: epochs without improvement"),
    "min_lr": (nonnegative_float, "cosine schedule: the floor"),
}
TRAIN_HELP = {
    "epochs": (positive_int, "passes over the training data"),
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
    "precision": (
        str,
        "training arithmetic: fp32, or bf16 mixed precision (fast on CPUs with "
        "AVX512-BF16/AMX and recent GPUs; weights and validation stay fp32)",
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
    option(run, "--no-progress", dest="progress", action="store_false", default=True)
    option(run, "--json", action="store_true", default=False, help="print the result as JSON")
    option(run, "--nproc", type=positive_int, default=1, help="run N processes here (torchrun)")
    p.set_defaults(run=data_parallel(p.get_default("run")))


def data_parallel(run):
    """``run`` for ``--nproc N``: this command line again as N processes under ``torchrun``;
    in those processes, the output of rank 0 alone (see :mod:`lstmkit.train.distributed`)."""

    def command(args) -> int:
        import contextlib
        import os
        import sys

        from lstmkit.train import distributed

        if "WORLD_SIZE" in os.environ:  # a torchrun worker: never launches again
            quiet = os.environ.get("RANK", "0") != "0"
            with contextlib.redirect_stdout(open(os.devnull, "w") if quiet else sys.stdout):
                return run(args)
        nproc = getattr(args, "nproc", None) or 1  # given on the command line, or absent
        if nproc > 1:
            return distributed.launch(nproc, distributed.without_nproc(sys.argv[1:]))
        return run(args)

    return command


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
    if s["given_"] & set(data_options):
        return path, None
    sources = load_checkpoint(path, task=task).config["data"].get("sources")
    if not sources:
        raise UserError(f"--resume {path}: the run records no data; give the data options")
    return path, sources


def check_new_run(s: dict) -> None:
    """``--out`` is given and may be used (empty, new, or ``--overwrite``)."""
    from lstmkit.checkpoint import check_output_dir

    if s["out"] is None:
        raise UserError("--out: expected the run folder to write, got none")
    check_output_dir(s["out"], s["overwrite"])


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
