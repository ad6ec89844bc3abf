"""Language modelling: next-token prediction with an LSTM, trained on your text.

* :mod:`lstmkit.lm.estimator` — :class:`LanguageModel`, the estimator (``fit``, ``predict_next``,
  ``generate``, ``evaluate``, ``save``/``load``).
* :mod:`lstmkit.lm.task` — truncated BPTT batches and the loss, for the one trainer.
* :mod:`lstmkit.lm.stream` — one token at a time in constant memory.
"""

from lstmkit.lm.estimator import LanguageModel
from lstmkit.lm.task import LMTask, evaluate_streams

__all__ = ["LMTask", "LanguageModel", "evaluate_streams"]
