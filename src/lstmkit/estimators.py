"""Load whichever estimator a checkpoint holds: the one loader of inspect, export and serve."""

from __future__ import annotations

from pathlib import Path

from lstmkit.checkpoint import load_checkpoint, resolve_checkpoint
from lstmkit.errors import UserError

TASKS = ("lm", "seq2seq", "forecast")


def estimator_class(task: str):
    """The estimator class of a checkpoint's ``task``."""
    if task == "lm":
        from lstmkit.lm import LanguageModel

        return LanguageModel
    if task == "seq2seq":
        from lstmkit.seq2seq import Seq2Seq

        return Seq2Seq
    from lstmkit.forecast import Forecaster

    return Forecaster


def load_estimator(directory: str | Path, tasks: tuple[str, ...] = TASKS):
    """The fitted estimator a checkpoint or run folder holds (its ``best/``, else ``last/``).

    Args:
        directory: a checkpoint, or a run folder.
        tasks: the tasks the caller accepts.

    Returns:
        A :class:`~lstmkit.lm.LanguageModel`, :class:`~lstmkit.seq2seq.Seq2Seq` or
        :class:`~lstmkit.forecast.Forecaster`, with ``task_`` (``"lm"``, ``"seq2seq"``,
        ``"forecast"``) and ``checkpoint_`` (the folder it was read from) set.

    Raises:
        UserError: naming ``directory`` when it is missing, a file, holds no checkpoint, or one
            of another task.
    """
    if Path(directory).is_file():
        raise UserError(f"{directory}: expected a checkpoint or a run folder, got a file")
    path = resolve_checkpoint(directory)
    task = load_checkpoint(path).config.get("task")
    if task not in tasks:
        raise UserError(f"{directory}: expected a checkpoint of {', '.join(tasks)}, got {task!r}")
    estimator = estimator_class(task).load(path)
    estimator.task_, estimator.checkpoint_ = task, path
    return estimator
