"""The captioning task: batches of images and one caption each, the network's loss, and
validation loss, BLEU-4 and CIDEr-D.

An epoch is one pass over the training **images** in an order drawn from the run's seed and the
epoch; each image comes with **one** of its reference captions, drawn per batch from the seed,
the epoch and the batch. (Every reference as a pair of its own would make an epoch several
passes over each image, a batch could hold one image twice, and an image with more references
would weigh more; drawn per epoch, every reference is met over the epochs.) Augmentation
(:func:`~lstmkit.data.images.augment_image`) draws from the same per-batch generator, so a
resumed run trains on exactly the batches of one that never stopped.

Validation scores the loss over every (image, reference) pair, and the extra scores (BLEU-4 and
CIDEr-D of greedy captions against all references) the estimator gives.

Legend: B batch, T caption tokens (+1 for bos or eos), H, W the images' height and width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.data.batching import batch_seed
from lstmkit.data.images import augment_image, normalise_image
from lstmkit.nn.device import device_of

METRICS = ("loss", "bleu", "cider")

Batch = tuple[Tensor, Tensor, Tensor]  # images (B, 3, H, W), tgt_in (B, T), tgt_out (B, T)


def collate(
    pixels: np.ndarray, captions: Sequence[Sequence[int]], specials: tuple[int, int, int]
) -> Batch:
    """``uint8`` images (B, H, W, 3) and token ids per caption → a batch.

    Args:
        specials: ``(pad_id, bos_id, eos_id)``.

    Returns:
        images (B, 3, H, W) normalised to [-1, 1], ``tgt_in`` (``bos y…``) and ``tgt_out``
        (``y… eos``), (B, T + 1) padded with pad.

    Example:
        >>> images, tgt_in, tgt_out = collate(np.zeros((2, 4, 4, 3), np.uint8), [[5], [6, 7]],
        ...                                   (0, 2, 3))
        >>> images.shape, tgt_in.tolist(), tgt_out.tolist()
        (torch.Size([2, 3, 4, 4]), [[2, 5, 0], [2, 6, 7]], [[5, 3, 0], [6, 7, 3]])
    """
    pad, bos, eos = specials
    B, width = len(captions), max(len(c) for c in captions) + 1
    tgt_in = torch.full((B, width), pad, dtype=torch.long)  # (B, T + 1)
    tgt_out = torch.full((B, width), pad, dtype=torch.long)
    for b, ids in enumerate(captions):
        tgt_in[b, : len(ids) + 1] = torch.tensor([bos, *ids], dtype=torch.long)
        tgt_out[b, : len(ids) + 1] = torch.tensor([*ids, eos], dtype=torch.long)
    return torch.from_numpy(normalise_image(pixels)), tgt_in, tgt_out


class CaptionTask:
    """Images and their captions for the trainer.

    Args:
        images, valid_images: ``uint8`` (N, H, W, 3).
        references, valid_references: per image, the token ids of each of its captions.
        batch_size: images per batch.
        meta: ``{"config": the run's config, "files": checkpoint extra files, "seed": int}``.
        specials: ``(pad_id, bos_id, eos_id)``.
        augment: shift, brighten and contrast the training images.
        scores: extra validation metrics of the model (BLEU-4, CIDEr-D), or None.
    """

    task = "caption"

    def __init__(
        self,
        images: np.ndarray,
        references: Sequence[Sequence[list[int]]],
        valid_images: np.ndarray,
        valid_references: Sequence[Sequence[list[int]]],
        batch_size: int,
        meta: dict,
        specials: tuple[int, int, int],
        augment: bool = False,
        scores: Callable[[nn.Module], dict[str, float]] | None = None,
    ) -> None:
        self.images, self.references = images, references
        self.valid_pairs = [(i, ids) for i, refs in enumerate(valid_references) for ids in refs]
        self.valid_images, self.batch_size, self.meta = valid_images, batch_size, meta
        self.specials, self.augment, self.scores = specials, augment, scores

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS if self.scores is not None else METRICS[:1]

    def num_batches(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def batches(self, epoch: int, start: int):
        seed = self.meta["seed"]
        order = torch.randperm(
            len(self.images), generator=torch.Generator().manual_seed(batch_seed(seed, epoch, -1))
        ).tolist()
        for k in range(start, self.num_batches()):
            picked = order[k * self.batch_size : (k + 1) * self.batch_size]
            rng = np.random.default_rng(batch_seed(seed, epoch, k))
            captions = [self.references[i][rng.integers(len(self.references[i]))] for i in picked]
            pixels = self.images[picked]  # (B, H, W, 3)
            if self.augment:
                pixels = np.stack([augment_image(p, rng) for p in pixels])
            yield collate(pixels, captions, self.specials)

    def shard(self, batch: Batch, rank: int, world: int) -> Batch:
        """Rank ``rank``'s rows of a batch, trimmed to their own longest caption."""
        rows = torch.arange(batch[0].shape[0]).chunk(world)[rank]
        images, tgt_in, tgt_out = (t[rows] for t in batch)
        width = int((tgt_out != self.specials[0]).sum(1).max())
        return images, tgt_in[:, :width], tgt_out[:, :width]

    def train_loss(self, model: nn.Module, batch: Batch, carry):
        loss, tokens = self._loss(model, batch)
        return loss, tokens, None

    def _loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        images, tgt_in, tgt_out = (t.to(device_of(model)) for t in batch)
        return model.loss(images, tgt_in, tgt_out)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation loss per token over every (image, reference) pair, and the extra scores."""
        total, count = 0.0, 0
        for k in range(0, len(self.valid_pairs), self.batch_size):
            pairs = self.valid_pairs[k : k + self.batch_size]
            pixels = self.valid_images[[i for i, _ in pairs]]
            loss, tokens = self._loss(model, collate(pixels, [c for _, c in pairs], self.specials))
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


__all__ = ["METRICS", "CaptionTask", "collate"]
