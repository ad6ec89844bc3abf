"""What every estimator's ``fit(resume=...)`` does with the run it continues."""

from __future__ import annotations

from typing import Any

from lstmkit.checkpoint import Checkpoint
from lstmkit.errors import UserError


def adopt_run(
    estimator: Any, checkpoint: Checkpoint, fingerprint: str | None, differs: str
) -> None:
    """Give ``estimator`` the settings of the run ``checkpoint`` belongs to.

    Every constructor parameter the run recorded (``config["estimator"]``) but ``train`` is taken
    over; ``train`` becomes the run's training settings with the estimator's own on top, and
    without the budget that stopped the run (``max_time``, ``max_steps``): a new one must be
    given again.

    Args:
        estimator: a :class:`~lstmkit.lm.LanguageModel`, :class:`~lstmkit.seq2seq.Seq2Seq` or
            :class:`~lstmkit.forecast.Forecaster`.
        checkpoint: the run's ``last/`` checkpoint.
        fingerprint: sha256 of the data given now, or None when unknown (not checked).
        differs: the message's words for other data: "the training text differs from the
            one", "the series differ from those".

    Raises:
        UserError: the data differs from what the run recorded.
    """
    config = checkpoint.config
    recorded = config.get("data", {}).get("fingerprint")
    if recorded and fingerprint and recorded != fingerprint:
        raise UserError(
            f"--resume {checkpoint.directory}: {differs} the run started with; resume with the "
            "same data, or start a new run"
        )
    for key, value in config["estimator"].items():
        if key != "train":
            setattr(estimator, key, value)
    budgets = {**config["training"], "max_time": None, "max_steps": None}
    estimator.train = {**budgets, **estimator.train}


__all__ = ["adopt_run"]
