"""What the one trainer trains: a task gives it batches, a loss and a validation score."""

from lstmkit.tasks.lm import LMTask, evaluate_streams

__all__ = ["LMTask", "evaluate_streams"]
