"""Padding bookkeeping for the explicit backend: each padded sequence runs as if it were alone."""

from __future__ import annotations

import torch
from torch import Tensor


class Lengths:
    """Padding bookkeeping for a batch-major (B, T, ·) batch of given lengths."""

    def __init__(self, lengths: list[int] | None, steps: int, device) -> None:
        self.pad = self.index = self.last_step = None
        if lengths is None or min(lengths) == steps:
            return
        t = torch.arange(steps, device=device).unsqueeze(0)  # (1, T)
        n = torch.tensor(lengths, device=device).unsqueeze(1)  # (B, 1)
        self.pad = (t >= n).unsqueeze(-1)  # (B, T, 1): True at padded steps
        self.index = torch.where(t < n, n - 1 - t, t).unsqueeze(-1)  # (B, T, 1)
        self.last_step = (n - 1).unsqueeze(-1)  # (B, 1, 1)

    def reverse(self, x: Tensor) -> Tensor:
        """Each sequence reversed within its own length (an involution); padding stays put."""
        if self.index is None:
            return x.flip(1)
        return _Permute.apply(x, self.index.expand(-1, -1, x.shape[-1]))

    def last(self, x: Tensor) -> Tensor:
        """(B, ·): each sequence's value at its own last step."""
        if self.last_step is None:
            return x[:, -1]
        return x.gather(1, self.last_step.expand(-1, -1, x.shape[-1])).squeeze(1)

    def zero_padding(self, x: Tensor) -> Tensor:
        return x if self.pad is None else x.masked_fill(self.pad, 0)


class _Permute(torch.autograd.Function):
    """``x.gather(1, index)`` for an ``index`` that permutes each row's steps and is its own
    inverse (a reversal within each length): the gradient is the same gather, where autograd's
    own would scatter-add into zeros, several times slower."""

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor) -> Tensor:
        ctx.save_for_backward(index)
        return x.gather(1, index)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (index,) = ctx.saved_tensors
        return grad.gather(1, index), None
