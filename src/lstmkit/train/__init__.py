"""The one trainer shared by every task (language model, seq2seq, forecaster)."""

from lstmkit.train.optim import OptimConfig, Schedule, build_optimizer

__all__ = ["OptimConfig", "Schedule", "build_optimizer"]
