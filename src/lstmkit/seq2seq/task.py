"""The sequence-to-sequence task: sentence pairs in batches bucketed by length.

Bucketing (sorting by length before cutting batches) keeps the padding small, so a batch of short
sentences does not pay for one long one; the order of the batches, and the order of equal-length
sentences, is shuffled by a generator seeded from the run's seed and the epoch alone, so a resumed
run sees exactly the batches of one that never stopped.

Legend: B batch, S source length, T target length (with bos or eos), N pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from lstmkit.data.batching import bucketed_batches
from lstmkit.nn.device import device_of
from lstmkit.train.distributed import shard_rows

# The validation metrics a run can monitor (Seq2SeqTask.evaluate's): loss and perplexity, and
# the scores of greedy translations where the task is given them.
METRICS = ("loss", "ppl", "bleu", "chrf", "exact")

Batch = tuple[
    Tensor, Tensor, Tensor, Tensor
]  # src (B, S), src_lengths (B,), tgt_in, tgt_out (B, T)


def collate(
    pairs: Sequence[tuple[list[int], list[int]]], pad_id: int, bos_id: int, eos_id: int
) -> Batch:
    """Pads a list of (source ids, target ids) into tensors.

    Returns:
        ``src`` (B, S), ``src_lengths`` (B,), ``tgt_in`` = ``bos y…`` and ``tgt_out`` = ``y… eos``,
        both (B, T) with T the longest target + 1, padded with ``pad_id``.

    Example:
        >>> src, lengths, tgt_in, tgt_out = collate([([5, 6], [7]), ([5], [8, 9])], 0, 2, 3)
        >>> src.tolist(), lengths.tolist(), tgt_in.tolist(), tgt_out.tolist()
        ([[5, 6], [5, 0]], [2, 1], [[2, 7, 0], [2, 8, 9]], [[7, 3, 0], [8, 9, 3]])
    """
    B = len(pairs)
    S = max(len(s) for s, _ in pairs)
    T = max(len(t) for _, t in pairs) + 1
    src = torch.full((B, S), pad_id, dtype=torch.long)
    tgt_in = torch.full((B, T), pad_id, dtype=torch.long)
    tgt_out = torch.full((B, T), pad_id, dtype=torch.long)
    for b, (s, t) in enumerate(pairs):
        src[b, : len(s)] = torch.tensor(s, dtype=torch.long)
        tgt_in[b, : len(t) + 1] = torch.tensor([bos_id, *t], dtype=torch.long)
        tgt_out[b, : len(t) + 1] = torch.tensor([*t, eos_id], dtype=torch.long)
    lengths = torch.tensor([len(s) for s, _ in pairs], dtype=torch.long)
    return src, lengths, tgt_in, tgt_out


class Seq2SeqTask:
    """Sentence pairs for the trainer: teacher-forced cross-entropy over target tokens.

    Args:
        train, valid: (source ids, target ids) pairs.
        batch_size: sentences per batch.
        meta: ``{"config": the run's config, "files": checkpoint extra files, "seed": int}``.
        label_smoothing, teacher_forcing: as :meth:`lstmkit.models.Seq2Seq.loss`.
        scores: extra validation metrics of the model (e.g. BLEU of greedy translations), or None.
    """

    task = "seq2seq"

    def __init__(
        self,
        train: Sequence[tuple[list[int], list[int]]],
        valid: Sequence[tuple[list[int], list[int]]],
        batch_size: int,
        meta: dict,
        label_smoothing: float = 0.0,
        teacher_forcing: float = 1.0,
        scores: Callable[[nn.Module], dict[str, float]] | None = None,
    ) -> None:
        self.train, self.valid, self.batch_size, self.meta = train, valid, batch_size, meta
        self.label_smoothing, self.teacher_forcing, self.scores = (
            label_smoothing,
            teacher_forcing,
            scores,
        )
        self.lengths = [(len(s), len(t)) for s, t in train]
        self.windows = math.ceil(len(train) / batch_size)

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS if self.scores is not None else METRICS[:2]

    def num_batches(self) -> int:
        return self.windows

    def batches(self, epoch: int, start: int):
        order = bucketed_batches(self.lengths, self.batch_size, f"{self.meta['seed']}-{epoch}")
        for indices in order[start:]:
            yield self._collate([self.train[i] for i in indices])

    def _collate(self, pairs) -> Batch:
        c = self.meta["config"]["model"]
        return collate(pairs, c["pad_id"], c["bos_id"], c["eos_id"])

    def shard(self, batch: Batch, rank: int, world: int) -> Batch:
        """Rank ``rank``'s sentences of a batch, with the padding they need alone."""
        src, lengths, tgt_in, tgt_out = shard_rows(batch, rank, world)
        T = int((tgt_out != self.meta["config"]["model"]["pad_id"]).sum(1).max())
        return src[:, : int(lengths.max())], lengths, tgt_in[:, :T], tgt_out[:, :T]

    def train_loss(self, model: nn.Module, batch: Batch, carry):
        src, lengths, tgt_in, tgt_out = (t.to(device_of(model)) for t in batch)
        loss, tokens = model.loss(
            src, lengths, tgt_in, tgt_out, self.label_smoothing, self.teacher_forcing
        )
        return loss, tokens, None

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation loss (nats per target token, no smoothing, gold inputs), perplexity, and
        the extra scores."""
        total, count = 0.0, 0
        lengths = [(len(s), len(t)) for s, t in self.valid]
        for indices in bucketed_batches(lengths, self.batch_size, "valid"):
            batch = self._collate([self.valid[i] for i in indices])
            src, src_lengths, tgt_in, tgt_out = (t.to(device_of(model)) for t in batch)
            loss, tokens = model.loss(src, src_lengths, tgt_in, tgt_out)
            total += loss.item() * tokens
            count += tokens
        loss = total / max(1, count)
        metrics = {"loss": loss, "ppl": math.exp(min(loss, 50.0))}
        if self.scores is not None:
            metrics.update(self.scores(model))
        return metrics

    def run_config(self) -> dict:
        return self.meta["config"]

    def files(self) -> dict[str, bytes]:
        return self.meta["files"]
