"""The language-model task: truncated BPTT over contiguous streams of one token sequence.

Legend: B batch, T time (bptt), V vocabulary, L tokens per stream.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.data import batchify, bptt_batches, num_windows

EVAL_BATCH = 10


class LMTask:
    """Truncated BPTT over B contiguous streams of the training text (the trainer's task).

    Args:
        train_ids, valid_ids: (N,) token ids.
        batch_size, bptt: streams and window length.
        meta: ``{"config": the run's config, "tokenizer": the tokenizer}`` saved with checkpoints.
    """

    task = "lm"

    def __init__(
        self, train_ids: Tensor, valid_ids: Tensor, batch_size: int, bptt: int, meta: dict
    ):
        self.streams = batchify(train_ids, batch_size)  # (B, L)
        self.valid = batchify(valid_ids, min(EVAL_BATCH, max(1, len(valid_ids) // (bptt + 1))))
        self.bptt, self.meta = bptt, meta
        self.windows = num_windows(self.streams, bptt)

    def num_batches(self) -> int:
        return self.windows

    def batches(self, epoch: int, start: int):
        return bptt_batches(self.streams, self.bptt, start)

    def train_loss(self, model: nn.Module, batch, carry):
        x, y = (t.to(device_of(model)) for t in batch)
        logits, state = model(x, carry)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten()), y.numel(), state

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return evaluate_streams(model, self.valid, self.bptt)

    def run_config(self) -> dict:
        return self.meta["config"]

    def files(self) -> dict[str, bytes]:
        return {f"tokenizer/{name}": data for name, data in self.meta["tokenizer"].files().items()}


@torch.no_grad()
def evaluate_streams(model: nn.Module, streams: Tensor, bptt: int) -> dict[str, float]:
    """Mean next-token loss (nats) and perplexity over (B, L) streams, state carried across
    windows; ``tokens`` is how many predictions were scored."""
    total, count, state = 0.0, 0, None
    for x, y in bptt_batches(streams, bptt):
        x, y = x.to(device_of(model)), y.to(device_of(model))
        logits, state = model(x, state)
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
        count += y.numel()
    loss = total / max(1, count)
    return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "tokens": count}


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters are."""
    return next(model.parameters()).device
