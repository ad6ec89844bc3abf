"""The seq2seq decoder's streaming: the source encoded once, then one target token per step.

:meth:`Seq2Seq.start <lstmkit.seq2seq.Seq2Seq.start>` (sentence) encodes the source once;
:meth:`Seq2Seq.step <lstmkit.seq2seq.Seq2Seq.step>` then runs the decoder one token at a time
(:class:`Seq2SeqState`: the fixed encoder memory and the decoder's state).

Legend: B batch, S source length, T time, V vocabulary, L layers, H hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from lstmkit.decode.stream import Stream, check_state, inference, token_ids
from lstmkit.errors import UserError
from lstmkit.models import DecoderState, Memory
from lstmkit.nn.device import device_of
from lstmkit.seq2seq.task import collate


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


def seq2seq_start(
    model, encode: Callable[[str], list[int]], sentence: str | Sequence[str]
) -> Seq2SeqState:
    """:meth:`lstmkit.seq2seq.Seq2Seq.start`: encodes one sentence (B = 1) or a list of B;
    ``encode`` gives a sentence's source ids."""
    sentences = [sentence] if isinstance(sentence, str) else sentence
    if not isinstance(sentences, Sequence) or not sentences:
        raise UserError(f"sentence: expected a sentence or a list of them, got {sentence!r:.80}")
    for s in sentences:
        if not isinstance(s, str) or not s.strip():
            raise UserError(f"sentence: expected some text, got {s!r:.80}")
    src, lengths, _, _ = collate([(encode(s), []) for s in sentences], 0, 0, 0)
    with inference(model):
        memory, decoder = model.encode(src.to(device_of(model)), lengths)
    return Seq2SeqState(memory, decoder)


def seq2seq_step(model, tokenizer, token, state: Seq2SeqState) -> tuple[Tensor, Seq2SeqState]:
    """:meth:`lstmkit.seq2seq.Seq2Seq.step`: the previous target token (``"<bos>"`` first) →
    the next one's probabilities (V,) (or (B, V)) and the new state."""
    ids, batched = token_ids(token, tokenizer)
    check_state(state, Seq2SeqState, len(ids))
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


def seq2seq_stream(model, tokenizer, encode: Callable[[str], list[int]], sentence: str) -> Stream:
    """:meth:`lstmkit.seq2seq.Seq2Seq.stream`: the decoder of one sentence's translation."""
    if not isinstance(sentence, str):
        raise UserError(f"sentence: expected one sentence, got {type(sentence).__name__}")
    state = seq2seq_start(model, encode, sentence)
    return Stream(model, tokenizer, seq2seq_advance, lambda: state, prime=model.bos_id)


__all__ = ["Seq2SeqState", "seq2seq_advance", "seq2seq_start", "seq2seq_step", "seq2seq_stream"]
