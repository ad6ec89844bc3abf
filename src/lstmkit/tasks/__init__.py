"""What the one trainer trains: a task gives it batches, a loss and a validation score."""

from lstmkit.tasks.lm import LMTask, evaluate_streams
from lstmkit.tasks.seq2seq import Seq2SeqTask, bucketed_batches, collate

__all__ = ["LMTask", "Seq2SeqTask", "bucketed_batches", "collate", "evaluate_streams"]
