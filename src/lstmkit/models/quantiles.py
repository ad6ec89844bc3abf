"""Quantile outputs: the levels' checks, outputs that never cross, and the pinball loss.

A head's Q raw values per step are read as the median and the gaps between neighbouring
levels, each gap a softplus (> 0), summed outwards from the median (:func:`monotone_quantiles`),
so the forecast quantiles never cross; the point forecast is the median, so the levels must
include 0.5 (:func:`check_quantiles`). :func:`pinball_loss` trains them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.errors import UserError


def check_quantiles(quantiles: Sequence[float]) -> tuple[float, ...]:
    """The levels as a tuple of floats: strictly increasing, in (0, 1), 0.5 among them.

    Raises:
        UserError: naming ``quantiles`` and what is wrong.
    """
    try:
        qs = tuple(float(q) for q in quantiles)
    except (TypeError, ValueError):
        raise UserError(f"quantiles: expected a sequence of levels, got {quantiles!r}") from None
    if not qs or not all(0 < q < 1 for q in qs):
        raise UserError(f"quantiles: expected levels strictly between 0 and 1, got {quantiles!r}")
    if any(a >= b for a, b in pairwise(qs)):
        raise UserError(f"quantiles: expected strictly increasing levels, got {quantiles!r}")
    if 0.5 not in qs:
        raise UserError(
            f"quantiles: expected 0.5 among the levels (the median is the point forecast), "
            f"got {quantiles!r}"
        )
    return qs


def monotone_quantiles(raw: Tensor, median_index: int) -> Tensor:
    """Raw head outputs (..., Q) → quantiles (..., Q), strictly increasing along the last axis.

    ``raw[..., m]`` (m = ``median_index``) is the median; each other entry is the gap to its
    neighbour nearer the median, through a softplus; the gaps are summed outwards.

    Example:
        >>> monotone_quantiles(torch.tensor([0.0, 2.0, 0.0]), 1)  # softplus(0) = log 2
        tensor([1.3069, 2.0000, 2.6931])
    """
    if raw.shape[-1] == 1:  # the median alone
        return raw
    median = raw[..., median_index : median_index + 1]  # (..., 1)
    above = median + F.softplus(raw[..., median_index + 1 :]).cumsum(-1)
    below = median - F.softplus(raw[..., :median_index].flip(-1)).cumsum(-1).flip(-1)
    return torch.cat([below, median, above], -1)


def pinball_loss(pred: Tensor, target: Tensor, quantiles: Sequence[float]) -> Tensor:
    """Mean of max(q·(y − ŷ_q), (q − 1)·(y − ŷ_q)) over all quantiles and terms.

    The same as :func:`lstmkit.forecast.metrics.pinball`, in torch and with the quantiles last.

    Args:
        pred: (..., Q) predicted quantiles; target: (...) the truth.
        quantiles: the Q levels.

    Example:
        >>> pinball_loss(torch.tensor([[8.0, 12.0]]), torch.tensor([10.0]), [0.1, 0.9])
        tensor(0.2000)
    """
    q = torch.as_tensor(quantiles, dtype=pred.dtype, device=pred.device)  # (Q,)
    diff = target.unsqueeze(-1) - pred  # (..., Q)
    return torch.maximum(q * diff, (q - 1) * diff).mean()
