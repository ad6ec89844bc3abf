"""Streaming: one step at a time with constant memory, the state carried between calls.

An LSTM's strength over attention-only models is that its whole past is a fixed-size state: it can
read a stream forever, each step costing the same time and memory. This module holds what every
task's streaming shares: :class:`Stream` (one text read piece by piece), :func:`token_ids` (a
step's input checked against the vocabulary) and :func:`inference` (eval mode without autograd).
The tasks' own states and steps are in :mod:`lstmkit.lm.stream`, :mod:`lstmkit.seq2seq.stream` and
:mod:`lstmkit.forecast.stream`.

Every step runs the network in eval mode (no dropout) without autograd. A state is immutable:
stepping returns a new one, so an old state can be stepped again (branching a stream).

Legend: B batch, T time, V vocabulary.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.decode.greedy import evaluating
from lstmkit.errors import Notice, UserError
from lstmkit.nn.device import device_of
from lstmkit.tokenizers import Tokenizer, format_unknowns

FEED_BLOCK = 256  # Stream.feed reads a long text in blocks of this many tokens (bounded memory)


# ---------------------------------------------------------------------------- tokens
def token_ids(token, tokenizer: Tokenizer) -> tuple[list[int], bool]:
    """The ids of a step's input, and whether it was a batch.

    Args:
        token: a token string of the vocabulary, an id, or a batch of them (a sequence or a
            (B,) integer tensor).

    Raises:
        UserError: naming ``token`` for an unknown token, an id out of range or another type.
    """
    if isinstance(token, Tensor):
        if token.dim() > 1 or token.is_floating_point() or token.is_complex():
            raise UserError(
                f"token: expected a (B,) tensor of ids, got {token.dtype} {tuple(token.shape)}"
            )
        values, batched = token.reshape(-1).tolist(), token.dim() == 1
    elif isinstance(token, str | numbers.Integral):
        values, batched = [token], False
    elif isinstance(token, Sequence | np.ndarray):
        values, batched = list(token), True
    else:
        raise UserError(
            f"token: expected a token, an id or a batch of them, got {type(token).__name__}"
        )
    if not values:
        raise UserError("token: expected at least one token, got an empty batch")
    return [_token_id(v, tokenizer) for v in values], batched


def _token_id(value, tokenizer: Tokenizer) -> int:
    V = tokenizer.vocab_size
    if isinstance(value, str):
        found = tokenizer.token_to_id(value)
        if found == tokenizer.unk_id and value != tokenizer.id_to_token(tokenizer.unk_id):
            raise UserError(f"token: expected a token of the vocabulary, got {value!r}")
        return found
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < V:
        raise UserError(f"token: expected a token string or an id in [0, {V}), got {value!r}")
    return int(value)


def inference(model: nn.Module):
    """Eval mode and no autograd for a block, the model's mode restored; a model already in
    eval mode is not switched (a walk over its modules: a third of a small model's step)."""
    return evaluating(model) if model.training else torch.no_grad()


def check_state(state, kind: type, batch: int) -> None:
    if not isinstance(state, kind):
        raise UserError(
            f"state: expected a {kind.__name__} from an earlier step, got {type(state).__name__}"
        )
    if state.batch_size != batch:
        raise UserError(f"token: expected a batch of {state.batch_size} (the state's), got {batch}")


# ---------------------------------------------------------------------------- the Stream
class Stream:
    """One text read piece by piece: the state is carried between calls, no history is kept.

    Build it with :meth:`LanguageModel.stream <lstmkit.lm.LanguageModel.stream>` or
    :meth:`Seq2Seq.stream <lstmkit.seq2seq.Seq2Seq.stream>` (a translation's decoder, primed
    with ``<bos>``); ``advance(model, ids (1, T), state)`` returns the logits (1, V) after the
    last id and the new state, ``start()`` the state of an empty stream. A stream is one
    sequence (B = 1); step a batch with the estimator's ``step``.

    Text is tokenized one call at a time, so feeding ``"a b"`` then ``" c"`` equals feeding
    ``"a b c"`` where the tokenizer splits there anyway: always for characters, at whitespace
    for words; a word or subword cut between two calls is read as two tokens.

    Attributes:
        steps: tokens read since the start (or :meth:`reset`), a ``<bos>`` primer not counted.
        probs: (V,) the probabilities of the next token, or None before the first token.
    """

    def __init__(
        self,
        model,
        tokenizer: Tokenizer,
        advance: Callable,
        start: Callable[[], object],
        prime: int | None = None,
    ) -> None:
        self._model, self.tokenizer, self._advance = model, tokenizer, advance
        self._start, self._prime = start, prime
        self.reset()

    @property
    def state(self):
        """The current state (the task's own state type), or None."""
        return self._state

    def reset(self) -> Stream:
        """Back to the start: the state of an empty stream (or of the just-encoded source)."""
        self._state, self.probs, self.steps = self._start(), None, 0
        if self._prime is not None:
            self._read([self._prime])
        return self

    def push(self, token: str | int) -> Tensor:
        """Reads one token (a string of the vocabulary or an id); returns the next's (V,)."""
        ids, batched = token_ids(token, self.tokenizer)
        if batched:
            raise UserError(
                f"token: expected one token (a stream is one sequence), got a batch of {len(ids)}"
            )
        self._read(ids)
        self.steps += 1
        return self.probs

    def feed(self, text: str) -> Tensor:
        """Tokenizes ``text`` and reads it; returns the probabilities (V,) of the token after it.

        Characters or words the vocabulary lacks become ``<unk>``, with a :class:`Notice`.
        """
        if not isinstance(text, str):
            raise UserError(f"text: expected a string, got {type(text).__name__}")
        ids, unknowns = self.tokenizer.encode_with_unknowns(text)
        if unknowns:
            warnings.warn(f"text: {format_unknowns(unknowns)}", Notice, stacklevel=2)
        if not ids and self.probs is None:
            raise UserError(f"text: expected at least one token, got {text!r}")
        for k in range(0, len(ids), FEED_BLOCK):
            self._read(ids[k : k + FEED_BLOCK])
        self.steps += len(ids)
        return self.probs

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most likely next tokens with their probabilities."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise UserError(f"k: expected a positive integer, got {k!r}")
        if self.probs is None:
            raise UserError("top: expected a token read first, got an empty stream")
        found = self.probs.topk(min(k, self.probs.numel()))
        return [
            (self.tokenizer.id_to_token(i), p)
            for p, i in zip(found.values.tolist(), found.indices.tolist(), strict=True)
        ]

    def _read(self, ids: list[int]) -> None:
        model = self._model
        with inference(model):
            x = torch.tensor([ids], device=device_of(model))  # (1, T)
            logits, self._state = self._advance(model, x, self._state)
        self.probs = logits[0].softmax(-1)


__all__ = ["FEED_BLOCK", "Stream", "check_state", "inference", "token_ids"]
