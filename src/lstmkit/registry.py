"""The tasks lstmkit knows, registered in one place that the CLI, serve, export and inspect read.

Each task is one package (``lstmkit/lm/``, ``lstmkit/seq2seq/``, ``lstmkit/speech/``, ...) and one
:class:`TaskSpec` in :data:`TASKS` below. The spec names, as ``"module:attribute"`` strings
imported only when used (so ``lstmkit --help`` stays quick), the task's estimator and the
adapters through which each tool reaches it:

* ``cli``: the module whose ``register(commands)`` adds ``lstmkit <task> <verb>`` (None: the
  task has its Python API only, so far);
* ``endpoints``: the HTTP endpoints ``lstmkit serve`` answers for it, each a handler factory
  ``factory(estimator, limits) -> handler``;
* ``onnx``: ``write(estimator, folder, opset) -> manifest entries`` for ``lstmkit export``;
* ``trace``: ``trace(estimator, given, options) -> trace dict`` for ``lstmkit inspect``, with
  ``trace_input`` saying what it reads (``"text"``, ``"series"``, ``"audio"`` or ``"image"``).

Adding a task is its package plus one entry here (see the developer guide, "Adding a task").

Example:
    >>> TASKS["lm"].title, TASKS["forecast"].trace_input
    ('language model', 'series')
    >>> estimator_class("seq2seq").__name__
    'Seq2Seq'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from lstmkit.errors import UserError


@dataclass(frozen=True)
class TaskSpec:
    """One task: its name (the CLI command and the checkpoint's ``task``) and its adapters.

    Attributes:
        name: ``"lm"``; title: how a person calls its model (``"language model"``).
        estimator: the estimator class, ``"module:Class"``.
        cli: the module with ``register(commands)``, or None (no command yet).
        endpoints: endpoint name -> handler factory, ``"module:function"``.
        onnx: the ONNX writer, ``"module:function"``, or None (no export).
        trace: the gate-trace function for ``inspect``, or None; trace_input: what it reads
            (``"text"``, ``"series"``, ``"audio"`` or ``"image"``).
    """

    name: str
    title: str
    estimator: str
    cli: str | None
    endpoints: dict[str, str] = field(default_factory=dict)
    onnx: str | None = None
    trace: str | None = None
    trace_input: str = "text"

    @property
    def a_title(self) -> str:
        """The title with its indefinite article (``"an image captioner"``)."""
        return f"{'an' if self.title[0] in 'aeiou' else 'a'} {self.title}"

    def load(self, what: str) -> Any:
        """The object one of the spec's ``"module:attribute"`` fields names (``"estimator"``,
        ``"onnx"``, ``"trace"``)."""
        return _resolve(getattr(self, what))

    def endpoint(self, name: str) -> Any:
        """The handler factory of the endpoint ``name``."""
        return _resolve(self.endpoints[name])


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute)


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            name="lm",
            title="language model",
            estimator="lstmkit.lm:LanguageModel",
            cli="lstmkit.cli.lm",
            endpoints={
                "predict": "lstmkit.serve.handlers:predict_handler",
                "generate": "lstmkit.serve.handlers:generate_handler",
            },
            onnx="lstmkit.export.onnx:write_lm",
            trace="lstmkit.inspect.traces:lm_trace_for",
        ),
        TaskSpec(
            name="seq2seq",
            title="seq2seq model",
            estimator="lstmkit.seq2seq:Seq2Seq",
            cli="lstmkit.cli.seq2seq",
            endpoints={"translate": "lstmkit.serve.handlers:translate_handler"},
            onnx="lstmkit.export.onnx:write_seq2seq",
            trace="lstmkit.inspect.traces:seq2seq_trace_for",
        ),
        TaskSpec(
            name="forecast",
            title="forecaster",
            estimator="lstmkit.forecast:Forecaster",
            cli="lstmkit.cli.forecast",
            endpoints={"forecast": "lstmkit.serve.handlers:forecast_handler"},
            onnx="lstmkit.export.onnx:write_forecaster",
            trace="lstmkit.inspect.traces:forecast_trace_for",
            trace_input="series",
        ),
        TaskSpec(
            name="speech",
            title="speech recogniser",
            estimator="lstmkit.speech:SpeechRecognizer",
            cli="lstmkit.cli.speech",
            endpoints={"transcribe": "lstmkit.serve.speech:transcribe_handler"},
            onnx="lstmkit.export.speech_onnx:write_speech",
            trace="lstmkit.inspect.speech:speech_trace_for",
            trace_input="audio",
        ),
        TaskSpec(
            name="caption",
            title="image captioner",
            estimator="lstmkit.caption:Captioner",
            cli="lstmkit.cli.caption",
            endpoints={"describe": "lstmkit.serve.caption:describe_handler"},
            onnx="lstmkit.export.caption_onnx:write_caption",
            trace="lstmkit.inspect.caption:caption_trace_for",
            trace_input="image",
        ),
    )
}


def task_spec(name: str) -> TaskSpec:
    """The registered task ``name``.

    Raises:
        UserError: naming the task when it is not registered.
    """
    if name not in TASKS:
        raise UserError(f"task: expected one of {', '.join(TASKS)}, got {name!r}")
    return TASKS[name]


def estimator_class(task: str) -> type:
    """The estimator class of a checkpoint's ``task``."""
    return task_spec(task).load("estimator")


def load_estimator(directory: str | Path, tasks: tuple[str, ...] | None = None):
    """The fitted estimator a checkpoint or run folder holds (its ``best/``, else ``last/``).

    Args:
        directory: a checkpoint, or a run folder.
        tasks: the tasks the caller accepts; default every registered one.

    Returns:
        The task's estimator (e.g. a :class:`~lstmkit.lm.LanguageModel`), with ``task_`` (the
        task's name) and ``checkpoint_`` (the folder it was read from) set.

    Raises:
        UserError: naming ``directory`` when it is missing, a file, holds no checkpoint, or one
            of another task.
    """
    from lstmkit.checkpoint import load_checkpoint, resolve_checkpoint  # torch: only when loading

    tasks = tuple(TASKS) if tasks is None else tasks
    if Path(directory).is_file():
        raise UserError(f"{directory}: expected a checkpoint or a run folder, got a file")
    path = resolve_checkpoint(directory)
    task = load_checkpoint(path).config.get("task")
    if task not in tasks:
        raise UserError(f"{directory}: expected a checkpoint of {', '.join(tasks)}, got {task!r}")
    estimator = estimator_class(task).load(path)
    estimator.task_, estimator.checkpoint_ = task, path
    return estimator


__all__ = ["TASKS", "TaskSpec", "estimator_class", "load_estimator", "task_spec"]
