"""Ancestral sampling: each next token drawn from the model's distribution, reshaped by
temperature, top-k and nucleus (top-p) filtering (``lstmkit.decode.sampling``).

Legend: B batch, S source length, V vocabulary.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.decode import sampling
from lstmkit.decode.greedy import Hypothesis, decode_stepwise
from lstmkit.models.seq2seq import Seq2Seq


def sample(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    max_len: int | None = 100,
    max_len_ratio: float | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> list[Hypothesis]:
    """Decode each sentence by sampling every next token.

    Args:
        model, src, src_lengths, max_len, max_len_ratio: as :func:`lstmkit.decode.greedy`.
        temperature, top_k, top_p: as :func:`lstmkit.decode.sampling.sample`.
        generator: a CPU generator for reproducible draws.

    Returns:
        One :class:`Hypothesis` per sentence; its score is the log-probability under the model
        itself (temperature 1, unfiltered, pad and bos banned).

    Raises:
        UserError: naming ``--temperature``, ``--top-k`` or ``--top-p`` for a value sampling
            cannot use.

    Example:
        >>> from lstmkit.models.seq2seq import Seq2SeqConfig, build_seq2seq
        >>> model = build_seq2seq(Seq2SeqConfig(10, 10, embedding_size=4, hidden_size=4))
        >>> out = sample(model, torch.randint(4, 10, (2, 5)), torch.tensor([5, 2]), max_len=6,
        ...              top_k=3, generator=torch.Generator().manual_seed(0))
        >>> len(out)
        2
    """
    sampling.check_sampling(temperature, top_k, top_p)

    def choose(logp: Tensor) -> Tensor:  # (B, V) → (B,)
        # Log-probabilities are logits too: softmax(logp / T) = softmax(logits / T).
        drawn = [sampling.sample(row, temperature, top_k, top_p, generator) for row in logp]
        return torch.tensor(drawn, dtype=torch.long, device=logp.device)

    return decode_stepwise(model, src, src_lengths, choose, max_len, max_len_ratio)
