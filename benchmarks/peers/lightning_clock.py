"""A Lightning callback timing training steps, shared by the Darts and neuralforecast runners.

Both peers train through PyTorch Lightning; the callback stamps the end of every training
batch, so that a block of ``block`` consecutive steps inside one epoch is timed from the end of
the step before it to the end of its last step: forward, backward, optimiser step and the
loading of its batches, as lstmkit's trainer times its blocks (``tokens_per_s``). Blocks never
span an epoch boundary, where validation and the data loader's restart happen — except where
an "epoch" is a single step (neuralforecast with one series: each epoch is one batch of windows
of that series, and it validates only if asked to).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict

import pytorch_lightning as pl

# The stamps live outside the callback: neuralforecast deep-copies its models' trainer
# arguments, callbacks included, so the instance that runs is not the one the runner holds.
_STAMPS: dict[int, list[tuple[int, float]]] = {}
_KEYS = itertools.count()


class StepClock(pl.Callback):
    """Records ``(epoch, time)`` at the end of every training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.key = next(_KEYS)
        _STAMPS[self.key] = []

    @property
    def stamps(self) -> list[tuple[int, float]]:
        return _STAMPS[self.key]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        _STAMPS[self.key].append((trainer.current_epoch, time.perf_counter()))

    def rates(self, windows_per_step: int, block: int = 10, by_epoch: bool = True) -> list[float]:
        """Windows per second of each block of ``block`` steps, in order; with ``by_epoch``
        False, blocks may span epochs."""
        groups: dict[int, list[float]] = defaultdict(list)
        for epoch, stamp in self.stamps:
            groups[epoch if by_epoch else 0].append(stamp)
        found = []
        for stamps in groups.values():
            for k in range(block, len(stamps), block):
                found.append(block * windows_per_step / (stamps[k] - stamps[k - block]))
        return found
