"""The base of every task's estimator: scikit-learn's conventions and the one ``fit`` skeleton.

An estimator's constructor stores its hyperparameters as given and does nothing else (they are
checked when ``fit`` starts), so :meth:`Estimator.get_params` / :meth:`Estimator.set_params`
and ``sklearn.base.clone`` work as on any scikit-learn estimator, and ``repr`` shows the
settings that differ from the defaults. Every estimator takes its settings in one shape:

* the task's and the data's settings as arguments (``tokenizer``, ``batch_size``, ``horizon``);
* ``model``: fields of the task's network config (:class:`~lstmkit.models.LMConfig`,
  :class:`~lstmkit.models.Seq2SeqConfig`, :class:`~lstmkit.models.ForecastConfig`), over its
  defaults;
* ``optim``: fields of :class:`~lstmkit.train.OptimConfig`; ``train``: fields of
  :class:`~lstmkit.train.config.TrainConfig` (budgets, early stopping, seed), each over the
  task's defaults (:attr:`Estimator.default_optim`, :attr:`Estimator.default_train`).

Learned state lives in attributes ending in ``_`` (``model_``, ``progress_``, ``checkpoint_``).

:meth:`Estimator._fit_run` is the one training skeleton: the run folder (a temporary one by
default), resuming an earlier run, the seed, the trainer, and the best checkpoint read back.
A task fills in :meth:`Estimator._make_task` (its data for the trainer),
:meth:`Estimator._make_network`, :meth:`Estimator._run_config` and :meth:`Estimator._restore`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from lstmkit.checkpoint import (
    CONFIG_FILE,
    CONFIG_KEYS,
    Checkpoint,
    build_model,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from lstmkit.errors import UserError
from lstmkit.train.config import UNBOUNDED_EPOCHS, Progress, TrainConfig
from lstmkit.train.lock import RunLock
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import BEST, Trainer, TrainingInterrupted

SETTING_GROUPS = ("model", "optim", "train")  # the dict-valued settings, one per concern


class Estimator:
    """Base class of :class:`~lstmkit.lm.LanguageModel`, :class:`~lstmkit.seq2seq.Seq2Seq` and
    :class:`~lstmkit.forecast.Forecaster`.

    Attributes:
        task: the task's name in :mod:`lstmkit.registry` (and its checkpoints' ``task``).
        network_config: the config dataclass of the task's network, whose fields ``model`` sets
            (the default network's, where the task has several: see
            :meth:`Estimator._network_config_of`).
        default_optim, default_train: the task's defaults under the user's ``optim``/``train``.
    """

    task: ClassVar[str] = ""
    network_config: ClassVar[type | None] = None  # the dataclass whose fields ``model`` sets
    default_optim: ClassVar[dict[str, Any]] = {}
    default_train: ClassVar[dict[str, Any]] = {}

    model_: nn.Module
    progress_: Progress

    # ------------------------------------------------------------------ scikit-learn API
    @classmethod
    def _param_names(cls) -> list[str]:
        """The constructor's arguments, in order (scikit-learn's ``_get_param_names``)."""
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters, as the constructor took them.

        Args:
            deep: accepted for scikit-learn; an estimator holds no other estimators.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        """Sets hyperparameters by name; returns self.

        Raises:
            UserError: naming a parameter the constructor does not take.
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise UserError(
                    f"{name}: expected a parameter of {type(self).__name__} "
                    f"({', '.join(valid)}), got an unknown one"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        """``Name(setting=value, ...)`` with the settings that differ from the defaults."""
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults.get(name, inspect.Parameter.empty))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def recorded_params(self) -> dict[str, Any]:
        """The hyperparameters as JSON values (tuples as lists), as checkpoints record them."""
        return _plain(self.get_params())

    # ------------------------------------------------------------------ the fit skeleton
    def _fit_run(
        self, data: Any, out: str | Path | None, progress: bool, resume: str | Path | None
    ) -> Estimator:
        """Trains on ``data`` into the run folder ``out``; returns self, holding the best model.

        ``data`` is what the subclass's ``fit`` made of the user's input. Without ``out`` the
        run goes to a temporary folder, deleted after training. With ``resume`` (an earlier
        run's ``last/``), the run's settings are taken over and training continues exactly.
        ``out`` is locked while training (another training into it is refused); Ctrl-C saves
        ``last/`` and raises :class:`~lstmkit.train.trainer.TrainingInterrupted`.
        """
        if out is None:
            with tempfile.TemporaryDirectory(prefix="lstmkit-") as tmp:
                try:
                    return self._fit_run(data, tmp, progress, resume)
                except TrainingInterrupted as stop:  # its last/ goes with the folder
                    raise KeyboardInterrupt(f"interrupted at step {stop.step}") from None
        self._check_settings()
        checkpoint = None
        if resume is not None:
            checkpoint = load_checkpoint(resume, task=self.task)
            self._adopt(checkpoint, data)
        train_config = TrainConfig(**{**self._train_defaults(), **(self.train or {})})
        optim_config = OptimConfig(**{**self.default_optim, **(self.optim or {})})
        task = self._make_task(data, checkpoint, train_config.seed)
        torch.manual_seed(train_config.seed)
        # A resumed run's network is checked against its weights before it is built.
        network = (
            self._make_network()
            if checkpoint is None
            else build_model(checkpoint, self._make_network)
        )
        with RunLock(out):  # from the first file written to the best model read back
            trainer = Trainer(network, task, optim_config, train_config, out, progress=progress)
            if checkpoint is not None:
                trainer.resume(checkpoint.directory)
            self.model_ = trainer.model  # the estimator's methods work while it trains
            self.progress_ = trainer.fit()  # on Ctrl-C: last/ saved, TrainingInterrupted
            self.model_ = trainer.model
            best = Path(out) / BEST
            if best.exists():
                self.model_.load_state_dict(load_checkpoint(best, task=self.task).state_dict)
            self.model_.eval()
            self._after_fit(task, Path(out))
        return self

    def _check_settings(self) -> None:
        """Raises :class:`UserError` naming a hyperparameter that cannot be used (before any
        work)."""
        network = self._network_config_of(self.get_params())
        groups = {"model": network, "optim": OptimConfig, "train": TrainConfig}
        for name, config in groups.items():
            value = getattr(self, name, None)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise UserError(f"{name}: expected a mapping of settings, got {value!r}")
            known = [f.name for f in dataclasses.fields(config)] if config else []
            for key in value:
                if config is not None and key not in known:
                    raise UserError(
                        f"{name}.{key}: expected one of the {config.__name__} fields "
                        f"({', '.join(known)}), got an unknown one"
                    )

    @contextlib.contextmanager
    def _scoring(self, model: nn.Module):
        """``self.model_`` is ``model`` inside: validation that decodes with the estimator's own
        inference (BLEU, WER) scores the network the trainer gives it, which is the weights'
        moving average under ``ema``, not the weights as trained."""
        kept, self.model_ = self.model_, model
        try:
            yield
        finally:
            self.model_ = kept

    def _adopt(self, checkpoint: Checkpoint, data: Any) -> None:
        """Takes the settings of the run ``checkpoint`` belongs to, then the subclass's state.

        Every hyperparameter the run recorded but ``train`` is taken over; ``train`` becomes the
        run's training settings with the estimator's own on top, without the budget that
        stopped the run (``max_time``, ``max_steps``): a new one must be given again.

        Raises:
            UserError: the data differs from what the run recorded.
        """
        config = checkpoint.config
        recorded = config.get("data", {}).get("fingerprint")
        given = self._fingerprint(data)
        if recorded and given and recorded != given:
            raise UserError(
                f"resume {checkpoint.directory}: {self._differs} the run started with; resume "
                "with the same data, or start a new run"
            )
        for key, value in self._recorded_params(checkpoint).items():
            if key != "train":
                setattr(self, key, value)
        training = config.get("training")
        if not isinstance(training, dict):
            raise UserError(
                f"resume {checkpoint.directory}: its config.json records no training settings; "
                "expected the last/ checkpoint of a run"
            )
        budgets = {**training, "max_time": None, "max_steps": None}
        mine = self.train or {}
        if training.get("epochs") == UNBOUNDED_EPOCHS and not any(
            mine.get(key) is not None for key in ("epochs", "max_time", "max_steps")
        ):  # the run trained until its time or steps ran out: a new budget, or forever
            raise UserError(
                f"resume {checkpoint.directory}: the run trained until its max_time or "
                "max_steps ran out; give a new budget (`max_time`, `max_steps` or `epochs`)"
            )
        self.train = {**budgets, **mine}
        self._resume_state(checkpoint)

    _differs = "the training data differs from the one"

    def _fingerprint(self, data: Any) -> str | None:
        """sha256 of the training data when its origin is known (checked on resume)."""
        return None

    def _resume_state(self, checkpoint: Checkpoint) -> None:
        """What a resumed run keeps besides the settings (its tokenizers, its residual lag)."""

    def _train_defaults(self) -> dict[str, Any]:
        """The :class:`TrainConfig` fields under the user's ``train`` (a task's defaults may
        depend on its settings: the speech recogniser's precision and weight average on its
        architecture)."""
        return self.default_train

    def _make_task(self, data: Any, checkpoint: Checkpoint | None, seed: int) -> Any:
        """The trainer's task over ``data`` (fitting tokenizers or scalers when not resumed)."""
        raise NotImplementedError

    def _make_network(self) -> nn.Module:
        """The network, built after seeding (so the seed fixes its initial weights)."""
        raise NotImplementedError

    def _after_fit(self, task: Any, out: Path) -> None:
        """Anything fitted after the network (the forecaster's calibration)."""

    # ------------------------------------------------------------------ files
    def _run_config(self, data: Any = None) -> dict:
        """The config a checkpoint records: ``model``, ``data``, ``estimator`` (the params)."""
        raise NotImplementedError

    def _files(self) -> dict[str, bytes]:
        """Extra files of a checkpoint: the ``tokenizer_``'s under ``tokenizer/``, if there is
        one (an estimator with other tokenizers writes its own)."""
        tokenizer = getattr(self, "tokenizer_", None)
        if tokenizer is None:
            return {}
        return {f"tokenizer/{name}": data for name, data in tokenizer.files().items()}

    def save(self, directory: str | Path) -> Path:
        """Writes the fitted model as a checkpoint directory (see the run-folder format page).

        Returns:
            The checkpoint directory.
        """
        self._check_fitted()
        return save_checkpoint(
            directory,
            task=self.task,
            config=self._run_config(),
            model=self.model_,
            extra_files=self._files(),
        )

    @classmethod
    def load(cls, directory: str | Path) -> Estimator:
        """Rebuilds a fitted estimator from a checkpoint directory alone.

        ``directory`` is a checkpoint, or a run folder (its ``best/``, else its ``last/``).

        Raises:
            UserError: naming the folder when it holds no checkpoint of this task, or a damaged
                one.
        """
        checkpoint = load_checkpoint(resolve_checkpoint(directory), task=cls.task)
        where = checkpoint.directory / CONFIG_FILE
        cls._check_config(checkpoint.config, where)
        estimator = cls(**cls._recorded_params(checkpoint))
        # A crafted config.json is read here: its every mistake is the user's file, said in
        # one line naming it, never a traceback.
        try:
            try:
                estimator._check_settings()
            except UserError as error:
                raise UserError(f"{where}: estimator.{error}") from None
            estimator._restore(checkpoint)
        except UserError as error:
            if str(checkpoint.directory) in str(error):
                raise
            raise UserError(f"{where}: {error}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            detail = f"{type(error).__name__}: {' '.join(str(error).split())}"
            raise UserError(
                f"{where}: expected the config lstmkit writes for a {cls.task} run, got one "
                f"it cannot use ({detail:.160})"
            ) from None
        estimator.model_.eval()
        estimator.checkpoint_ = checkpoint.directory
        return estimator

    config_sections: ClassVar[tuple[str, ...]] = ("model", "data")
    """The objects a checkpoint's config.json holds besides the format's own keys (required)."""
    optional_sections: ClassVar[tuple[str, ...]] = ("estimator", "optim", "training")
    """The objects it may hold (the first checkpoints recorded no ``estimator``)."""

    @classmethod
    def _check_config(cls, config: dict, where: Path) -> None:
        """Refuses a config.json whose layout is not the task's: an unknown or missing section,
        a section that is not a JSON object, or a ``model`` key the network config lacks."""
        known = (*sorted(CONFIG_KEYS), *cls.config_sections, *cls.optional_sections)
        for key, value in config.items():
            if key not in known:
                raise UserError(
                    f"{where}: {key}: expected one of the keys of a {cls.task} run's config "
                    f"({', '.join(known)}), got an unknown one"
                )
            if key in (*cls.config_sections, *cls.optional_sections) and not isinstance(
                value, dict
            ):
                raise UserError(
                    f"{where}: {key}: expected a JSON object, got {type(value).__name__}"
                )
        for key in cls.config_sections:
            if key not in config:
                raise UserError(f"{where}: {key}: expected a JSON object, got none")
        try:
            network = cls._network_config_of(config.get("estimator") or {})
        except UserError as error:
            raise UserError(f"{where}: estimator.{error}") from None
        fields = [f.name for f in dataclasses.fields(network)]
        for key in config["model"]:
            if key not in fields:
                raise UserError(
                    f"{where}: model.{key}: expected one of the {network.__name__} "
                    f"fields ({', '.join(fields)}), got an unknown one"
                )

    @classmethod
    def _network(cls, checkpoint: Checkpoint) -> Any:
        """The network config of ``checkpoint`` (``config["model"]``), its mistakes naming the
        file."""
        network = cls._network_config_of(checkpoint.config.get("estimator") or {})
        try:
            return network(**checkpoint.config["model"])
        except UserError as error:
            raise UserError(f"{checkpoint.directory / CONFIG_FILE}: model.{error}") from None

    @classmethod
    def _network_config_of(cls, params: dict[str, Any]) -> Any:
        """The network config class that hyperparameters ``params`` (all or some of the
        constructor's) choose: :attr:`network_config`, unless a task has several networks.

        Raises:
            UserError: naming the parameter when it chooses none.
        """
        return cls.network_config

    @classmethod
    def _recorded_params(cls, checkpoint: Checkpoint) -> dict[str, Any]:
        """:meth:`params_from_config` of a checkpoint, checked: a damaged or crafted config
        naming a parameter the constructor does not take is refused, not set."""
        where = checkpoint.directory / CONFIG_FILE
        try:
            params = cls.params_from_config(checkpoint.config)
        except (KeyError, TypeError, ValueError, AttributeError):
            params = None
        if not isinstance(params, dict):
            raise UserError(
                f"{where}: estimator: expected a mapping of {cls.__name__}'s parameters"
            )
        valid = cls._param_names()
        for name in params:
            if name not in valid:
                raise UserError(
                    f"{where}: estimator.{name}: expected a parameter of {cls.__name__} "
                    f"({', '.join(valid)}), got an unknown one"
                )
        return params

    @classmethod
    def params_from_config(cls, config: dict) -> dict[str, Any]:
        """The constructor's arguments a checkpoint's config recorded (``config["estimator"]``),
        older checkpoints' spellings translated."""
        return dict(config["estimator"])

    def _restore(self, checkpoint: Checkpoint) -> None:
        """The learned state (``model_`` and the rest) from a checkpoint."""
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            name = type(self).__name__
            raise UserError(f"{name}: not fitted yet; call fit() or {name}.load()")


def check_vocabulary(tokenizer: Any, vocab_size: int, where: Path, name: str) -> None:
    """Refuses a tokenizer whose vocabulary is not the one the weights were trained for.

    Args:
        tokenizer: the loaded tokenizer.
        vocab_size: the rows of the weights' embedding (the model config's, checked against them).
        where: the tokenizer's folder.
        name: the model config's field, e.g. ``"vocab_size"``.

    Raises:
        UserError: naming the folder and both sizes.
    """
    if tokenizer.vocab_size != vocab_size:
        raise UserError(
            f"{where}: expected a vocabulary of {vocab_size} tokens (the weights' {name}), got "
            f"{tokenizer.vocab_size}"
        )


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):  # values that compare elementwise
        return False


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


__all__ = ["SETTING_GROUPS", "Estimator", "check_vocabulary"]
