"""Choosing the next token from a distribution: temperature, top-k and nucleus (top-p) sampling.

Legend: V vocabulary.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import Tensor

from lstmkit.errors import UserError


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raises :class:`UserError` naming the argument for a value sampling cannot use.

    Any finite ``temperature`` > 0 is allowed, however small: :func:`sample` divides the logits
    after subtracting their maximum, so the scaled logits are never +inf or NaN, and a tiny
    temperature samples the likeliest token, as greedy decoding does.
    """
    if not _real(temperature) or not math.isfinite(temperature) or not temperature > 0:
        raise UserError(f"temperature: expected a finite number > 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, numbers.Integral) or _bool(top_k) or top_k < 1):
        raise UserError(f"top_k: expected a positive integer, got {top_k!r}")
    if top_p is not None and (not _real(top_p) or not 0 < top_p <= 1):
        raise UserError(f"top_p: expected a probability in (0, 1], got {top_p!r}")


def seeded_generator(seed: int | None) -> torch.Generator | None:
    """A CPU generator seeded with ``seed`` for repeatable draws; None for ``seed`` None.

    Raises:
        UserError: ``seed`` is not an integer torch can seed with (-2**63 to 2**64 - 1).

    Example:
        >>> seeded_generator(3).initial_seed()
        3
    """
    if seed is None:
        return None
    if not isinstance(seed, numbers.Integral) or _bool(seed) or not -(2**63) <= seed < 2**64:
        raise UserError(f"seed: expected an integer from -2**63 to 2**64 - 1, got {seed!r}")
    return torch.Generator().manual_seed(int(seed))


def _bool(value) -> bool:
    return isinstance(value, bool | np.bool_)


def _real(value) -> bool:
    """A plain number: an int or float (numpy's too), not a bool, text or tensor."""
    return isinstance(value, numbers.Real) and not _bool(value)


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
    """One token id drawn from ``softmax(filter(logits) / temperature)``; logits (V,).

    The logits are shifted so that their maximum is 0 before the division (softmax, top-k and
    top-p do not change under a shift), so any finite temperature > 0 gives finite or -inf
    scaled logits: 1e-300 picks the likeliest token instead of overflowing to NaN.

    Example:
        >>> sample(torch.tensor([1.0, 3.0, 2.0]), temperature=1e-300)
        1
    """
    # In float64, where a temperature such as 1e-300 is not 0 (in float32 it is: 0/0 = NaN).
    logits = logits.double().cpu()
    shifted = (logits - logits.max()) / temperature  # <= 0: never +inf, hence never NaN
    filtered = filter_logits(shifted, top_k, top_p)
    return int(torch.multinomial(filtered.softmax(-1), 1, generator=generator))
