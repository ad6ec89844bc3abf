"""Sequence to sequence: a bidirectional LSTM encoder, a context vector, an LSTM decoder.

* :mod:`lstmkit.seq2seq.estimator` — :class:`Seq2Seq`, the estimator (``fit``, ``translate``,
  ``evaluate``, ``save``/``load``).
* :mod:`lstmkit.seq2seq.task` — sentence pairs bucketed by length, and the loss, for the trainer.
* :mod:`lstmkit.seq2seq.stream` — the source encoded once, then one target token per step.
* :mod:`lstmkit.seq2seq.scores` — BLEU, chrF and exact match (sacrebleu), by source length.
"""

from lstmkit.seq2seq.estimator import Seq2Seq
from lstmkit.seq2seq.scores import translation_scores
from lstmkit.seq2seq.task import Seq2SeqTask

__all__ = ["Seq2Seq", "Seq2SeqTask", "translation_scores"]
