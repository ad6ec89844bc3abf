r"""Attention over the encoder's states: Bahdanau's additive score and Luong's dot and general.

The notes' pure encoder–decoder squeezes a whole input into one context vector W, which fails
on long inputs; attention lets each decoding step read a weighted average of all source states
instead. With query :math:`q` (a decoder state) and source states :math:`k_s`::

    bahdanau   e_s = vᵀ tanh(W_q q + W_k k_s)      (Bahdanau et al. 2015)
    dot        e_s = qᵀ k_s                          (Luong et al. 2015)
    general    e_s = qᵀ W_a k_s                      (Luong et al. 2015)
    α = softmax(e) over the true source positions (padding scored -inf), context = Σ_s α_s k_s

The part of a score that depends only on the source (``W_k k_s``, ``W_a k_s``) is computed once
per sentence by :meth:`Attention.keys` and kept in :class:`Memory`, so decoding steps do not
recompute it.

Legend: B batch, T time (target steps), S source length, H query width (the decoder's
hidden_size), M memory width (the encoder's D*H), A the keys' width (``attention_size`` for
Bahdanau, H for Luong's general score, M for its dot score, where M == H).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

ATTENTIONS = ("none", "bahdanau", "luong")  # "none": the notes' pure context vector
LUONG_SCORES = ("dot", "general")


class Memory(NamedTuple):
    """What the decoder reads from the encoder, computed once per batch of source sentences.

    Attributes:
        states: (B, S, M) the encoder's output at every source position (zero at padding).
        keys: (B, S, A) the attention's precomputed source side of the score, or None
            without attention.
        mask: (B, S) bool, True at true source positions, False at padding.
    """

    states: Tensor
    keys: Tensor | None
    mask: Tensor

    def select(self, index: Tensor) -> Memory:
        """The memory of batch rows ``index`` (N,), e.g. each sentence repeated per beam."""
        keys = None if self.keys is None else self.keys.index_select(0, index)
        return Memory(self.states.index_select(0, index), keys, self.mask.index_select(0, index))


class Attention(nn.Module):
    """Common part: masked softmax over the scores and the weighted average of the states."""

    kind = ""

    def keys(self, memory: Tensor) -> Tensor:
        """The source side of the score, (B, S, M) → (B, S, A); once per sentence."""
        raise NotImplementedError

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        """Unnormalised scores (B, T, S) of queries (B, T, H) against keys (B, S, A)."""
        raise NotImplementedError

    def forward(
        self, query: Tensor, keys: Tensor, states: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Attend from one query per sentence (B, H), or from T of them (B, T, H).

        Args:
            query: (B, H) or (B, T, H) decoder states.
            keys: (B, S, A) from :meth:`keys`.
            states: (B, S, M) the encoder states averaged into the context.
            mask: (B, S) bool, True at true source positions; each row has at least one.

        Returns:
            context (B, M) and weights (B, S) — or (B, T, M) and (B, T, S) for a (B, T, H)
            query. The weights are zero at padding and sum to 1 over each row.
        """
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # (B, T, H)
        scores = self.score(q, keys).masked_fill(~mask.unsqueeze(1), -torch.inf)  # (B, T, S)
        weights = scores.softmax(-1)
        context = torch.bmm(weights, states)  # (B, T, M)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)


class BahdanauAttention(Attention):
    """Additive attention, ``vᵀ tanh(W_q q + W_k k)``.

    Args:
        query_size: H, the decoder's hidden size.
        memory_size: M, the encoder's output width (D*H).
        attention_size: A, the width of the hidden layer of the score; defaults to H.

    Example:
        >>> attn = BahdanauAttention(4, 6)
        >>> states, mask = torch.randn(2, 3, 6), torch.tensor([[1, 1, 1], [1, 1, 0]]).bool()
        >>> context, weights = attn(torch.randn(2, 4), attn.keys(states), states, mask)
        >>> context.shape, weights.shape
        (torch.Size([2, 6]), torch.Size([2, 3]))
    """

    kind = "bahdanau"

    def __init__(self, query_size: int, memory_size: int, attention_size: int | None = None):
        super().__init__()
        size = attention_size or query_size
        self.query_layer = nn.Linear(query_size, size, bias=False)
        self.key_layer = nn.Linear(memory_size, size, bias=False)
        self.v = nn.Linear(size, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        return self.key_layer(memory)  # (B, S, A)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        hidden = torch.tanh(self.query_layer(query).unsqueeze(2) + keys.unsqueeze(1))  # (B,T,S,A)
        return self.v(hidden).squeeze(-1)  # (B, T, S)


class LuongAttention(Attention):
    """Multiplicative attention: ``qᵀ k`` (``"dot"``, needs H == M) or ``qᵀ W_a k`` (``"general"``).

    Args:
        query_size: H, the decoder's hidden size.
        memory_size: M, the encoder's output width (D*H).
        score: ``"dot"`` or ``"general"``.

    Raises:
        ValueError: naming ``score`` for an unknown score or ``"dot"`` with H != M.
    """

    kind = "luong"

    def __init__(self, query_size: int, memory_size: int, score: str = "general"):
        super().__init__()
        if score not in LUONG_SCORES:
            raise ValueError(f"score: expected one of {LUONG_SCORES}, got {score!r}")
        if score == "dot" and query_size != memory_size:
            raise ValueError(
                f"score: 'dot' needs query_size == memory_size, got {query_size} and {memory_size}"
            )
        self.score_name = score
        # W_a is applied to the source side so that it is computed once per sentence.
        self.key_layer = (
            nn.Linear(memory_size, query_size, bias=False) if score == "general" else None
        )

    def keys(self, memory: Tensor) -> Tensor:
        return memory if self.key_layer is None else self.key_layer(memory)  # (B, S, H)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))  # (B, T, S)
