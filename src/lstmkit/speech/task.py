"""The speech task: utterances' features and transcripts in batches bucketed by duration, the
network's loss (CTC, or Listen-Attend-Spell's attention or joint CTC-attention loss), and
validation error rates.

Augmentation (:mod:`lstmkit.speech.augment`: a vocal tract length warp, then SpecAugment's
masks) is drawn per utterance from a generator seeded by the run's seed, the epoch and the
batch, so a resumed run trains on exactly the features of one that never stopped.

Legend: B batch, T feature frames, F feature bands, U transcript tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from lstmkit.data.batching import batch_seed, bucketed_batches
from lstmkit.nn.device import device_of
from lstmkit.speech.augment import random_warp, spec_augment
from lstmkit.train.distributed import shard_rows

# The validation metrics a run can monitor (SpeechTask.evaluate's): the loss per token, and
# the error rates of greedy transcripts where the task is given them.
METRICS = ("loss", "cer", "wer")

# features (B, T, F), lengths (B,), targets (B, U), target lengths (B,); for a speller also
# tgt_in and tgt_out (B, U + 1)
Batch = tuple[Tensor, ...]


def collate(
    features: Sequence[Tensor],
    targets: Sequence[Sequence[int]],
    speller: tuple[int, int, int] | None = None,
) -> Batch:
    """Pads utterances into tensors.

    Args:
        features: (T, F) per utterance; targets: token ids per utterance.
        speller: ``(pad_id, bos_id, eos_id)`` of an attention speller, whose inputs and targets
            the batch then carries too; None for CTC alone.

    Returns:
        ``features`` (B, T, F) float32 zero-padded, ``lengths`` (B,), ``targets`` (B, U) padded
        with 0 (past ``target_lengths`` CTC reads nothing), ``target_lengths`` (B,); with
        ``speller`` also ``tgt_in`` (``bos y…``) and ``tgt_out`` (``y… eos``), (B, U + 1) padded
        with pad.

    Example:
        >>> x, n, y, m = collate([torch.ones(3, 2), torch.ones(1, 2)], [[5, 6], [7]])
        >>> x.shape, n.tolist(), y.tolist(), m.tolist()
        (torch.Size([2, 3, 2]), [3, 1], [[5, 6], [7, 0]], [2, 1])
        >>> *_, tgt_in, tgt_out = collate([torch.ones(3, 2)] * 2, [[5, 6], [7]], (0, 2, 3))
        >>> tgt_in.tolist(), tgt_out.tolist()
        ([[2, 5, 6], [2, 7, 0]], [[5, 6, 3], [7, 3, 0]])
    """
    B, T = len(features), max(f.shape[0] for f in features)
    U = max(1, max(len(t) for t in targets))
    x = torch.zeros(B, T, features[0].shape[1])
    y = torch.zeros(B, U, dtype=torch.long)
    for b, (f, t) in enumerate(zip(features, targets, strict=True)):
        x[b, : f.shape[0]] = f.float()
        y[b, : len(t)] = torch.tensor(list(t), dtype=torch.long)
    lengths = torch.tensor([f.shape[0] for f in features], dtype=torch.long)
    target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    if speller is None:
        return x, lengths, y, target_lengths
    pad, bos, eos = speller
    width = max(len(t) for t in targets) + 1
    tgt_in = torch.full((B, width), pad, dtype=torch.long)  # (B, U + 1)
    tgt_out = torch.full((B, width), pad, dtype=torch.long)
    for b, t in enumerate(targets):
        tgt_in[b, : len(t) + 1] = torch.tensor([bos, *t], dtype=torch.long)
        tgt_out[b, : len(t) + 1] = torch.tensor([*t, eos], dtype=torch.long)
    return x, lengths, y, target_lengths, tgt_in, tgt_out


class SpeechTask:
    """Utterances for the trainer: (features, transcript ids) and the network's ``loss``.

    Args:
        train, valid: (features (T, F), token ids) per utterance.
        batch_size: utterances per batch.
        meta: ``{"config": the run's config, "files": checkpoint extra files, "seed": int}``.
        augment: SpecAugment's settings (keyword arguments of
            :func:`~lstmkit.speech.augment.spec_augment`), or None for none.
        scores: extra validation metrics of the model (CER and WER of greedy transcripts), or
            None.
        speller: ``(pad_id, bos_id, eos_id)`` for a network with an attention speller
            (:class:`~lstmkit.models.speech_las.LASRecognizer`): its batches carry the speller's
            inputs and targets (:func:`collate`); None for CTC alone.
        warp: ``(spread, band centres (F,) Hz)`` of a vocal tract length warp per utterance
            (:func:`~lstmkit.speech.augment.random_warp`, before SpecAugment), or None.
    """

    task = "speech"

    def __init__(
        self,
        train: Sequence[tuple[Tensor, list[int]]],
        valid: Sequence[tuple[Tensor, list[int]]],
        batch_size: int,
        meta: dict,
        augment: dict | None = None,
        scores: Callable[[nn.Module], dict[str, float]] | None = None,
        speller: tuple[int, int, int] | None = None,
        warp: tuple[float, Tensor] | None = None,
    ) -> None:
        self.train, self.valid, self.batch_size, self.meta = train, valid, batch_size, meta
        self.augment, self.scores, self.speller, self.warp = augment, scores, speller, warp
        self.lengths = [(f.shape[0], len(t)) for f, t in train]

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS if self.scores is not None else METRICS[:1]

    def num_batches(self) -> int:
        return math.ceil(len(self.train) / self.batch_size)

    def batches(self, epoch: int, start: int):
        seed = f"{self.meta['seed']}-{epoch}"
        order = bucketed_batches(self.lengths, self.batch_size, seed)
        for k in range(start, len(order)):
            picked = [self.train[i] for i in order[k]]
            features = [f for f, _ in picked]
            gen = torch.Generator().manual_seed(batch_seed(self.meta["seed"], epoch, k))
            if self.warp is not None:
                features = [random_warp(f.float(), gen, *self.warp) for f in features]
            if self.augment is not None:
                features = [spec_augment(f.float(), gen, **self.augment) for f in features]
            yield collate(features, [t for _, t in picked], self.speller)

    def shard(self, batch: Batch, rank: int, world: int) -> Batch:
        """Rank ``rank``'s utterances of a batch, with the padding they need alone."""
        x, lengths, y, target_lengths, *speller = shard_rows(batch, rank, world)
        width = int(target_lengths.max())
        return (
            x[:, : int(lengths.max())],
            lengths,
            y[:, : max(1, width)],
            target_lengths,
            *(t[:, : width + 1] for t in speller),
        )

    def train_loss(self, model: nn.Module, batch: Batch, carry):
        loss, tokens = self._loss(model, batch)
        return loss, tokens, None

    def _loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        x, lengths, y, target_lengths, *speller = (t.to(device_of(model)) for t in batch)
        if speller:  # LASRecognizer.loss(features, lengths, tgt_in, tgt_out, ctc targets)
            return model.loss(x, lengths, *speller, y, target_lengths)
        return model.loss(x, lengths, y, target_lengths)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation loss (the network's, per token, no augmentation), and the extra scores."""
        total, count = 0.0, 0
        lengths = [(f.shape[0], len(t)) for f, t in self.valid]
        for indices in bucketed_batches(lengths, self.batch_size, "valid"):
            batch = collate(
                [self.valid[i][0] for i in indices],
                [self.valid[i][1] for i in indices],
                self.speller,
            )
            loss, tokens = self._loss(model, batch)
            total += loss.item() * tokens
            count += tokens
        metrics = {"loss": total / max(1, count)}
        if self.scores is not None:
            metrics.update(self.scores(model))
        return metrics

    def run_config(self) -> dict:
        return self.meta["config"]

    def files(self) -> dict[str, bytes]:
        return self.meta["files"]


__all__ = ["METRICS", "SpeechTask", "collate"]
