"""Streaming: one step at a time with constant memory, the state carried between calls.

An LSTM's strength over attention-only models is that its whole past is a fixed-size state: it can
read a stream forever, each step costing the same time and memory. The estimators' thin methods
call this module:

* :meth:`LanguageModel.step <lstmkit.lm.LanguageModel.step>` (token, state) → next-token
  probabilities and the new :class:`LMState` (per layer ``(h, c)``, nothing else);
  :meth:`LanguageModel.stream <lstmkit.lm.LanguageModel.stream>` → a :class:`Stream`.
* :meth:`Seq2Seq.start <lstmkit.seq2seq.Seq2Seq.start>` (sentence) encodes the source once;
  :meth:`Seq2Seq.step <lstmkit.seq2seq.Seq2Seq.step>` then runs the decoder one token at a time
  (:class:`Seq2SeqState`: the fixed encoder memory and the decoder's state).
* :meth:`Forecaster.step <lstmkit.forecast.Forecaster.step>` (value, state) → the forecast of the
  next horizon, in :mod:`lstmkit.forecast_stream` (its state is a bounded window of values).

Every step runs the network in eval mode (no dropout) without autograd. A state is immutable:
stepping returns a new one, so an old state can be stepped again (branching a stream).

Legend: B batch, V vocabulary, E embedding, H hidden, I input, L layers.

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

import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.decode.greedy import evaluating
from lstmkit.errors import Notice, UserError
from lstmkit.models import DecoderState, Memory
from lstmkit.tasks.lm import device_of
from lstmkit.tasks.seq2seq import collate
from lstmkit.tokenizers import Tokenizer, format_unknowns

FEED_BLOCK = 256  # Stream.feed reads a long text in blocks of this many tokens (bounded memory)


# ---------------------------------------------------------------------------- states
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


@dataclass(frozen=True)
class Seq2SeqState:
    """A sequence-to-sequence decoder's state: the source's encoding and the decoder's state.

    Attributes:
        memory: the encoder states (B, S, D*H) with their keys and mask; fixed for the sentence.
        decoder: the decoder's ``(h, c)`` (L, B, H), input feeding and last attention weights.
    """

    memory: Memory
    decoder: DecoderState

    @property
    def batch_size(self) -> int:
        return self.decoder.h.shape[1]

    def numel(self) -> int:
        parts = [*self.memory, *self.decoder]
        return sum(t.numel() for t in parts if isinstance(t, Tensor))


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
            raise UserError(f"token: expected a (B,) tensor of ids, got {token.dtype} "
                            f"{tuple(token.shape)}")  # fmt: skip
        values, batched = token.reshape(-1).tolist(), token.dim() == 1
    elif isinstance(token, str | numbers.Integral):
        values, batched = [token], False
    elif isinstance(token, Sequence | np.ndarray):
        values, batched = list(token), True
    else:
        raise UserError(f"token: expected a token, an id or a batch of them, "
                        f"got {type(token).__name__}")  # fmt: skip
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


def _check_state(state, kind: type, batch: int) -> None:
    if not isinstance(state, kind):
        raise UserError(f"state: expected a {kind.__name__} from an earlier step, "
                        f"got {type(state).__name__}")  # fmt: skip
    if state.batch_size != batch:
        raise UserError(f"token: expected a batch of {state.batch_size} (the state's), "
                        f"got {batch}")  # fmt: skip


# ---------------------------------------------------------------------------- language model
def lm_advance(model, ids: Tensor, state: LMState | None) -> tuple[Tensor, LMState]:
    """The network over ids (B, T) from ``state``: logits (B, V) after the last id, new state.

    The raw step (T = 1) without checks; call it under ``torch.no_grad()``. A one-step call
    of :class:`lstmkit.nn.LSTM` runs torch's LSTM cell per layer, several times faster than the
    sequence kernel at T = 1.
    """
    logits, layers = model(ids, None if state is None else list(state.layers))  # (B, T, V)
    layers = tuple(s if isinstance(s, Tensor) else tuple(s) for s in layers)
    return logits[:, -1], LMState(layers)


def lm_step(lm, token, state: LMState | None = None) -> tuple[Tensor, LMState]:
    """:meth:`lstmkit.lm.LanguageModel.step`: one token (or a batch of B) in, the next token's
    probabilities (V,) (or (B, V)) out, on the model's device."""
    lm._check_fitted()
    ids, batched = token_ids(token, lm.tokenizer_)
    if state is not None:
        _check_state(state, LMState, len(ids))
    model = lm.model_
    with inference(model):
        x = torch.tensor(ids, device=device_of(model)).unsqueeze(1)  # (B, 1)
        logits, state = lm_advance(model, x, state)
    probs = logits.softmax(-1)
    return (probs if batched else probs[0]), state


# ---------------------------------------------------------------------------- seq2seq
def seq2seq_start(s2s, sentence: str | Sequence[str]) -> Seq2SeqState:
    """:meth:`lstmkit.seq2seq.Seq2Seq.start`: encodes one sentence (B = 1) or a list of B."""
    s2s._check_fitted()
    sentences = [sentence] if isinstance(sentence, str) else sentence
    if not isinstance(sentences, Sequence) or not sentences:
        raise UserError(f"sentence: expected a sentence or a list of them, got {sentence!r:.80}")
    for s in sentences:
        if not isinstance(s, str) or not s.strip():
            raise UserError(f"sentence: expected some text, got {s!r:.80}")
    model = s2s.model_
    src, lengths, _, _ = collate([(s2s._encode_src(s), []) for s in sentences], 0, 0, 0)
    with inference(model):
        memory, decoder = model.encode(src.to(device_of(model)), lengths)
    return Seq2SeqState(memory, decoder)


def seq2seq_step(s2s, token, state: Seq2SeqState) -> tuple[Tensor, Seq2SeqState]:
    """:meth:`lstmkit.seq2seq.Seq2Seq.step`: the previous target token (``"<bos>"`` first) →
    the next one's probabilities (V,) (or (B, V)) and the new state."""
    s2s._check_fitted()
    ids, batched = token_ids(token, s2s.tgt_tokenizer_)
    _check_state(state, Seq2SeqState, len(ids))
    model = s2s.model_
    with inference(model):
        tokens = torch.tensor(ids, device=device_of(model))  # (B,)
        logits, decoder = model.decode_step(tokens, state.decoder, state.memory)
    probs = logits.softmax(-1)
    return (probs if batched else probs[0]), Seq2SeqState(state.memory, decoder)


def seq2seq_advance(model, ids: Tensor, state: Seq2SeqState) -> tuple[Tensor, Seq2SeqState]:
    """The decoder over target ids (B, T), one step each: logits (B, V), the new state."""
    decoder = state.decoder
    for t in range(ids.shape[1]):
        logits, decoder = model.decode_step(ids[:, t], decoder, state.memory)
    return logits, Seq2SeqState(state.memory, decoder)


# ---------------------------------------------------------------------------- the Stream
class Stream:
    """One text read piece by piece: the state is carried between calls, no history is kept.

    Build it with :meth:`LanguageModel.stream <lstmkit.lm.LanguageModel.stream>` or
    :meth:`Seq2Seq.stream <lstmkit.seq2seq.Seq2Seq.stream>` (a translation's decoder, primed
    with ``<bos>``). A stream is one sequence (B = 1); step a batch with ``step``.

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
        """The current state (an :class:`LMState` or :class:`Seq2SeqState`), or None."""
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
            raise UserError(f"token: expected one token (a stream is one sequence), "
                            f"got a batch of {len(ids)}")  # fmt: skip
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


def lm_stream(lm) -> Stream:
    """:meth:`lstmkit.lm.LanguageModel.stream`."""
    lm._check_fitted()
    return Stream(lm.model_, lm.tokenizer_, lm_advance, lambda: None)


def seq2seq_stream(s2s, sentence: str) -> Stream:
    """:meth:`lstmkit.seq2seq.Seq2Seq.stream`: the decoder of one sentence's translation."""
    if not isinstance(sentence, str):
        raise UserError(f"sentence: expected one sentence, got {type(sentence).__name__}")
    state = seq2seq_start(s2s, sentence)
    return Stream(s2s.model_, s2s.tgt_tokenizer_, seq2seq_advance, lambda: state,
                  prime=s2s.model_.bos_id)  # fmt: skip


__all__ = [
    "FEED_BLOCK", "LMState", "Seq2SeqState", "Stream", "lm_advance", "lm_step", "lm_stream",
    "seq2seq_advance", "seq2seq_start", "seq2seq_step",
    "seq2seq_stream", "token_ids",
]  # fmt: skip
