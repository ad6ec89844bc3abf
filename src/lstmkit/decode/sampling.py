"""Choosing the next token from a distribution: temperature, top-k and nucleus (top-p) sampling.

Legend: V vocabulary.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lstmkit.errors import UserError


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raises :class:`UserError` naming the option for a value sampling cannot use."""
    if isinstance(temperature, bool) or not temperature > 0:
        raise UserError(f"temperature: expected a value > 0, got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or top_k < 1):
        raise UserError(f"top_k: expected a positive integer, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise UserError(f"top_p: expected a probability in (0, 1], got {top_p}")


def filter_logits(logits: Tensor, top_k: int | None, top_p: float | None) -> Tensor:
    """Logits (V,) with all but the ``top_k`` largest / the nucleus of mass ``top_p`` set to -inf.

    The nucleus is the smallest set of most likely tokens whose probabilities reach ``top_p``
    (Holtzman et al. 2020).

    Example:
        >>> logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
        >>> filter_logits(logits, None, 0.7).isfinite().tolist()
        [True, True, False, False]
    """
    check_sampling(1.0, top_k, top_p)
    if top_k is not None:
        kth = logits.topk(min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None:
        sorted_logits, order = logits.sort(descending=True)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs >= top_p  # mass before this token already reaches top_p
        logits = logits.masked_fill(drop.scatter(0, order, drop), -math.inf)
    return logits


def sample(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> int:
    """One token id drawn from ``softmax(filter(logits) / temperature)``; logits (V,)."""
    filtered = filter_logits(logits.float().cpu() / temperature, top_k, top_p)
    return int(torch.multinomial(filtered.softmax(-1), 1, generator=generator))
