"""The language-model task: truncated BPTT over contiguous streams of one token sequence.

The token ids are a tensor (a text given as a string), or a ``np.memmap`` of a file of ids (a
text in files, :func:`token_ids`): then the streams are a view of the file, and each window is
read from it when its batch is made, so memory is bounded by the batch, not by the corpus.

Legend: B batch, T time (bptt), V vocabulary, N tokens of a text (its streams are (B, N // B)).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.data import (
    Ids,
    Text,
    TextSource,
    batchify,
    bptt_batches,
    num_windows,
    write_ids,
)
from lstmkit.errors import UserError

EVAL_BATCH = 10
METRICS = ("loss", "ppl", "accuracy")  # validation metrics a run can monitor (LMTask.evaluate's)


class LMTask:
    """Truncated BPTT over B contiguous streams of the training text (the trainer's task).

    With ``state_reset`` p > 0, each stream's carried state is zeroed at the start of a window
    with probability p (the draws a function of the seed, the epoch and the window, so a resumed
    run draws the same). Carried state is what the model reads in training, but a fresh prompt
    starts from zeros, which otherwise only each epoch's first window shows it, so a model can
    answer a fresh prompt worse than the same passage read in a stream (the keyword-memory
    benchmark page has the measurements).

    Args:
        train_ids, valid_ids: (N,) token ids: tensors, or numpy arrays (a ``np.memmap`` stays
            on disk; the batches are the same int64 tensors either way).
        batch_size, bptt: streams and window length.
        meta: ``{"config": the run's config, "tokenizer": the tokenizer}`` saved with checkpoints.
        state_reset: p, in [0, 1).
        seed: the seed of the reset draws.
    """

    task = "lm"
    metrics = METRICS

    def __init__(
        self,
        train_ids: Ids,
        valid_ids: Ids,
        batch_size: int,
        bptt: int,
        meta: dict,
        state_reset: float = 0.0,
        seed: int = 0,
    ):
        self.streams = batchify(train_ids, batch_size)  # (B, N // B)
        self.valid = batchify(valid_ids, min(EVAL_BATCH, max(1, len(valid_ids) // (bptt + 1))))
        self.bptt, self.meta = bptt, meta
        self.windows = num_windows(self.streams, bptt)
        self.state_reset, self.seed = state_reset, seed

    def num_batches(self) -> int:
        return self.windows

    def batches(self, epoch: int, start: int):
        """``(x, y, keep)`` windows: x, y (B, T); keep (B,) 0 for the streams whose carried state
        is zeroed before the window, else 1 (None without ``state_reset``)."""
        for k, (x, y) in enumerate(bptt_batches(self.streams, self.bptt, start), start):
            keep = None
            if self.state_reset:
                draws = np.random.default_rng([self.seed, epoch, k]).random(x.shape[0])
                keep = torch.from_numpy((draws >= self.state_reset).astype(np.float32))
            yield x, y, keep

    def train_loss(self, model: nn.Module, batch, carry):
        x, y, keep = batch
        x, y = x.to(device_of(model)), y.to(device_of(model))
        if keep is not None and carry is not None:
            carry = reset_state(carry, keep.to(x.device))
        logits, state = model(x, carry)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten()), y.numel(), state

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return evaluate_streams(model, self.valid, self.bptt)

    def run_config(self) -> dict:
        return self.meta["config"]

    def files(self) -> dict[str, bytes]:
        return {f"tokenizer/{name}": data for name, data in self.meta["tokenizer"].files().items()}


def token_ids(tokenizer, text: Text, folder: Path | None, name: str) -> Ids:
    """(N,) ids of ``text``: a tensor for a string; for a
    :class:`~lstmkit.data.TextSource`, tokenised piece by piece into ``folder/<name>.ids``
    and mapped from there (:func:`~lstmkit.data.write_ids`). The ids are the same either way:
    the pieces are cut at line ends, and every tokenizer encodes lines independently.

    Args:
        tokenizer: a fitted :class:`~lstmkit.tokenizers.Tokenizer`.
        text: the text.
        folder: where to write a TextSource's ids (a temporary folder of the run).
        name: the file's name there.
    """
    if isinstance(text, str):
        return torch.tensor(tokenizer.encode(text))
    if folder is None:
        raise UserError(f"folder: expected a folder for the ids of {name}, got None")
    pieces = map(tokenizer.encode, text.pieces())
    return write_ids(pieces, folder / f"{name}.ids", tokenizer.vocab_size)


def source_ids(tokenizer, text: TextSource, path: Path) -> tuple[np.ndarray, list[str], int]:
    """The ids of ``text`` written to ``path`` and mapped (:func:`~lstmkit.data.write_ids`), the
    distinct characters or words that became ``<unk>`` (in order of appearance), and the
    number of characters read."""
    unknowns: dict[str, None] = {}
    chars = 0

    def pieces():
        nonlocal chars
        for piece in text.pieces():
            ids, unknown = tokenizer.encode_with_unknowns(piece)
            unknowns.update(dict.fromkeys(unknown))
            chars += len(piece)
            yield ids

    ids = write_ids(pieces(), path, tokenizer.vocab_size)
    return ids, list(unknowns), chars


def reset_state(state, keep: Tensor):
    """The language model's state (per layer an LSTM's ``(h, c)`` or a tensor, each (D, B, H))
    with stream b zeroed where ``keep[b]`` is 0."""
    mask = keep.view(1, -1, 1)
    return [tuple(t * mask for t in s) if isinstance(s, tuple) else s * mask for s in state]


@torch.no_grad()
def evaluate_streams(model: nn.Module, streams: Tensor, bptt: int) -> dict[str, float]:
    """Mean next-token loss (nats), perplexity and top-1 accuracy (the fraction of next tokens
    that are the model's most likely) over (B, N // B) streams, state carried across windows;
    ``tokens`` is how many predictions were scored."""
    total, correct, count, state = 0.0, 0, 0, None
    for x, y in bptt_batches(streams, bptt):
        x, y = x.to(device_of(model)), y.to(device_of(model))
        logits, state = model(x, state)
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
        correct += int((logits.argmax(-1) == y).sum())
        count += y.numel()
    loss = total / max(1, count)
    return {
        "loss": loss,
        "ppl": math.exp(min(loss, 50.0)),
        "accuracy": correct / max(1, count),
        "tokens": count,
    }


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters are."""
    return next(model.parameters()).device
