"""The language model's streaming: one token in, the next token's probabilities out.

:meth:`LanguageModel.step <lstmkit.lm.LanguageModel.step>` (token, state) → next-token
probabilities and the new :class:`LMState` (per layer ``(h, c)``, nothing else);
:meth:`LanguageModel.stream <lstmkit.lm.LanguageModel.stream>` → a
:class:`~lstmkit.decode.stream.Stream`.

Legend: B batch, T time, V vocabulary.

Example:
    >>> from lstmkit.lm import LanguageModel
    >>> from lstmkit.models import LMConfig, LSTMLanguageModel
    >>> from lstmkit.tokenizers import train_tokenizer
    >>> lm = LanguageModel("char")
    >>> lm.tokenizer_ = train_tokenizer("char", "abc")
    >>> lm.model_ = LSTMLanguageModel(LMConfig(lm.tokenizer_.vocab_size, 4, 8))
    >>> probs, state = lm.step("a")
    >>> probs.shape, state.batch_size
    (torch.Size([7]), 1)
    >>> stream = lm.stream()
    >>> torch.allclose(stream.feed("ab"), lm.step("b", state)[0])
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lstmkit.decode.stream import Stream, check_state, inference, token_ids
from lstmkit.nn.device import device_of


@dataclass(frozen=True)
class LMState:
    """A language model's state between steps: nothing but the recurrent state.

    Attributes:
        layers: per layer ``(h, c)`` for the LSTM, ``h`` for GRU and RNN; each (1, B, width).
    """

    layers: tuple

    def tensors(self) -> list[Tensor]:
        return [t for s in self.layers for t in (s if isinstance(s, tuple) else (s,))]

    @property
    def batch_size(self) -> int:
        return self.tensors()[0].shape[1]

    def numel(self) -> int:
        """Numbers held: the same after every step (constant memory)."""
        return sum(t.numel() for t in self.tensors())


def lm_advance(model, ids: Tensor, state: LMState | None) -> tuple[Tensor, LMState]:
    """The network over ids (B, T) from ``state``: logits (B, V) after the last id, new state.

    The raw step (T = 1) without checks; call it under ``torch.no_grad()``. A one-step call
    of :class:`lstmkit.nn.LSTM` runs torch's LSTM cell per layer, several times faster than the
    sequence kernel at T = 1.
    """
    logits, layers = model(ids, None if state is None else list(state.layers))  # (B, T, V)
    layers = tuple(s if isinstance(s, Tensor) else tuple(s) for s in layers)
    return logits[:, -1], LMState(layers)


def lm_step(model, tokenizer, token, state: LMState | None = None) -> tuple[Tensor, LMState]:
    """:meth:`lstmkit.lm.LanguageModel.step`: one token (or a batch of B) in, the next token's
    probabilities (V,) (or (B, V)) out, on the model's device."""
    ids, batched = token_ids(token, tokenizer)
    if state is not None:
        check_state(state, LMState, len(ids))
    with inference(model):
        x = torch.tensor(ids, device=device_of(model)).unsqueeze(1)  # (B, 1)
        logits, state = lm_advance(model, x, state)
    probs = logits.softmax(-1)
    return (probs if batched else probs[0]), state


def lm_stream(model, tokenizer) -> Stream:
    """:meth:`lstmkit.lm.LanguageModel.stream`."""
    return Stream(model, tokenizer, lm_advance, lambda: None)


__all__ = ["LMState", "lm_advance", "lm_step", "lm_stream"]
