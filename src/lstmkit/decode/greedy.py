"""Greedy decoding, and what every decoder shares: the hypothesis type and the step's log-probs.

Every decoder bans ``pad`` and ``bos`` as outputs, and once a sentence has ``max_len`` tokens
allows only ``eos``; a hypothesis' score is the model's log-probability of its tokens and its
``eos``, ``log p(y_1 … y_n eos | x)`` (pad and bos removed from each step's softmax).

Legend: B batch, S source length, V vocabulary, N decoded rows (B, or B*Z in beam search).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import torch
from torch import Tensor

from lstmkit.models.seq2seq import Seq2Seq


class Hypothesis(NamedTuple):
    """One decoded output sentence.

    Attributes:
        tokens: the output ids, without bos, eos and pad.
        score: its log-probability (in beam search divided by the length penalty).
        attention: (steps, S) the attention weights of each step (the eos step included) over
            the sentence's own source positions, or None without attention.
    """

    tokens: list[int]
    score: float
    attention: Tensor | None = None


@contextmanager
def evaluating(model: Seq2Seq) -> Iterator[None]:
    """Eval mode (no dropout) and no autograd for the block; the model's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def max_lengths(src_lengths: Tensor, max_len: int | None, max_len_ratio: float | None) -> Tensor:
    """(B,) the most output tokens (eos excluded) per sentence: ``max_len``, and at most
    ``ceil(max_len_ratio * source length)`` if a ratio is given.

    Raises:
        ValueError: if both are None, or naming the one that is not positive.
    """
    if max_len is None and max_len_ratio is None:
        raise ValueError("max_len, max_len_ratio: expected at least one, got None for both")
    if max_len is not None and (isinstance(max_len, bool) or max_len < 1):
        raise ValueError(f"max_len: expected a positive integer, got {max_len!r}")
    if max_len_ratio is not None and not max_len_ratio > 0:
        raise ValueError(f"max_len_ratio: expected a value > 0, got {max_len_ratio!r}")
    lengths = torch.as_tensor(src_lengths).cpu()
    limits = torch.full(lengths.shape, max_len or math.inf)
    if max_len_ratio is not None:
        limits = limits.minimum((lengths * max_len_ratio).ceil().clamp(min=1))
    return limits.long()


def next_log_probs(model: Seq2Seq, logits: Tensor, at_limit: Tensor) -> Tensor:
    """Log-probabilities (N, V) of the next token, pad and bos banned; rows where ``at_limit``
    (N,) is True may only end (every token but eos at -inf, eos keeping its probability)."""
    V = logits.shape[-1]
    ids = torch.arange(V, device=logits.device)
    banned = (ids == model.pad_id) | (ids == model.bos_id)  # (V,)
    logp = logits.masked_fill(banned, -torch.inf).log_softmax(-1)
    ending = at_limit.to(logits.device).unsqueeze(1) & (ids != model.eos_id)  # (N, V)
    return logp.masked_fill(ending, -torch.inf)


def decode_stepwise(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    choose: Callable[[Tensor], Tensor],
    max_len: int | None,
    max_len_ratio: float | None,
) -> list[Hypothesis]:
    """One hypothesis per sentence, each next token ``choose(log_probs (B, V)) -> (B,)``."""
    with evaluating(model):
        memory, state = model.encode(src, src_lengths)
        B = src.shape[0]
        limits = max_lengths(src_lengths, max_len, max_len_ratio)
        tokens = torch.full((B,), model.bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        scores = torch.zeros(B, dtype=torch.float64, device=src.device)
        steps, weights = [], []
        for t in range(int(limits.max()) + 1):
            logits, state = model.decode_step(tokens, state, memory)
            logp = next_log_probs(model, logits, t >= limits)
            tokens = choose(logp)
            picked = logp.gather(1, tokens.unsqueeze(1)).squeeze(1).double()
            scores += picked.masked_fill(done, 0)
            steps.append(tokens.masked_fill(done, model.pad_id))
            weights.append(state.weights)
            done |= tokens == model.eos_id
            if done.all():
                break
    ids = torch.stack(steps, 1).tolist()  # (B, steps)
    attention = None if model.attention is None else torch.stack(weights, 1)  # (B, steps, S)
    return [
        make_hypothesis(model, ids[b], float(scores[b]), attention, b, memory.mask.sum(1))
        for b in range(B)
    ]


def make_hypothesis(
    model: Seq2Seq, ids: list[int], score: float, attention: Tensor | None, row: int, src_lengths
) -> Hypothesis:
    """The hypothesis of output ids (up to the first eos) and row ``row`` of (N, steps, S)."""
    n = ids.index(model.eos_id) + 1 if model.eos_id in ids else len(ids)  # steps, eos included
    tokens = [i for i in ids[:n] if i not in (model.pad_id, model.bos_id, model.eos_id)]
    weights = None
    if attention is not None:
        weights = attention[row, :n, : int(torch.as_tensor(src_lengths)[row])].cpu()
    return Hypothesis(tokens, score, weights)


def greedy(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    max_len: int | None = 100,
    max_len_ratio: float | None = None,
) -> list[Hypothesis]:
    """Decode each sentence by taking the most probable token at every step.

    Args:
        model: the model (run in eval mode without gradients; its mode is restored).
        src: (B, S) source ids; src_lengths: (B,) their true lengths.
        max_len: most output tokens (eos excluded); a sentence reaching it ends with eos.
        max_len_ratio: if given, also at most ``ceil(ratio * source length)`` tokens.

    Returns:
        One :class:`Hypothesis` per sentence.

    Example:
        >>> from lstmkit.models.seq2seq import Seq2SeqConfig, build_seq2seq
        >>> model = build_seq2seq(Seq2SeqConfig(10, 10, embedding_size=4, hidden_size=4))
        >>> out = greedy(model, torch.randint(4, 10, (2, 5)), torch.tensor([5, 2]), max_len=6)
        >>> len(out), len(out[0].tokens) <= 6, out[1].attention.shape[1]
        (2, True, 2)
    """
    return decode_stepwise(
        model, src, src_lengths, lambda logp: logp.argmax(-1), max_len, max_len_ratio
    )
