"""The seq2seq LSTM decoder: one step, or a whole teacher-forced target, with optional attention.

See :mod:`lstmkit.models.seq2seq` for where the attention context enters.

Legend: B batch, T target length, S source length, E embedding_size, H hidden_size,
L num_layers, D directions (2 if bidirectional), V vocabulary.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from lstmkit.models.attention import (
    ATTENTIONS,
    Attention,
    Memory,
)
from lstmkit.nn import LSTM


class DecoderState(NamedTuple):
    """The decoder's recurrent state between steps.

    Attributes:
        h, c: (L, B, H) the LSTM state.
        feed: (B, H) the previous attentional state õ_{t-1} (Luong input feeding), else None.
        weights: (B, S) the attention weights of the last step (for plots), else None.
    """

    h: Tensor
    c: Tensor
    feed: Tensor | None = None
    weights: Tensor | None = None

    def select(self, index: Tensor) -> DecoderState:
        """The state of batch rows ``index`` (N,): beam search reorders hypotheses with it."""
        pick = lambda t: None if t is None else t.index_select(0, index)  # noqa: E731
        return DecoderState(
            self.h.index_select(1, index),
            self.c.index_select(1, index),
            pick(self.feed),
            pick(self.weights),
        )


class Decoder(nn.Module):
    """The LSTM decoder; ``attention`` names where the context enters (see the module docstring).

    Args:
        memory_size: the encoder's output width D*H (used with attention).
        input_feeding: feed õ_{t-1} into the next step's input (Luong only).
        tie_embeddings: the output layer shares the embedding matrix (Press & Wolf 2017); if
            E != H a linear map H → E comes first.
        gate: scale Bahdanau's context by ``β_t = σ(w_β h_{t-1} + b_β)``, a scalar per sentence
            and step, before it enters the step (Show, Attend and Tell's gating scalar, Xu et
            al. 2015: the decoder learns how much to read from the image at each word).

    Raises:
        ValueError: naming ``attention`` (unknown) or ``gate`` (without Bahdanau attention).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        *,
        attention: str = "none",
        memory_size: int = 0,
        input_feeding: bool = False,
        tie_embeddings: bool = False,
        gate: bool = False,
    ) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention: expected one of {ATTENTIONS}, got {attention!r}")
        if gate and attention != "bahdanau":
            raise ValueError(f"gate: needs attention='bahdanau', got attention={attention!r}")
        E, H = embedding_size, hidden_size
        self.attention = attention
        self.input_feeding = input_feeding and attention == "luong"
        self.hidden_size = H
        self.embed = nn.Embedding(vocab_size, E)
        self.dropout = nn.Dropout(dropout)
        input_size = E + (memory_size if attention == "bahdanau" else 0)
        input_size += H if self.input_feeding else 0
        between = dropout if num_layers > 1 else 0.0  # torch warns about dropout after the top
        self.lstm = LSTM(input_size, H, num_layers, batch_first=True, dropout=between)
        self.combine = nn.Linear(H + memory_size, H) if attention != "none" else None
        self.gate = nn.Linear(H, 1) if gate else None
        self.project = nn.Linear(H, E, bias=False) if tie_embeddings and E != H else None
        self.output = nn.Linear(E if tie_embeddings else H, vocab_size)
        if tie_embeddings:
            self.output.weight = self.embed.weight

    def initial_state(self, h: Tensor, c: Tensor) -> DecoderState:
        """The state before the first step; õ_0 = 0 for input feeding (Luong et al.)."""
        feed = h.new_zeros(h.shape[1], self.hidden_size) if self.input_feeding else None
        return DecoderState(h, c, feed)

    def _logits(self, out: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        """LSTM output (B, [T,] H) and context → logits (B, [T,] V) and õ (B, [T,] H)."""
        o = out if context is None else torch.tanh(self.combine(torch.cat([out, context], -1)))
        return self._output(o), o

    def step(
        self, tokens: Tensor, state: DecoderState, memory: Memory, attention: Attention | None
    ) -> tuple[Tensor, DecoderState]:
        """One step: previous tokens (B,) → logits (B, V) and the new state."""
        o, state = self._advance(self.dropout(self.embed(tokens)), state, memory, attention)
        return self._output(o), state

    def _advance(
        self, embedded: Tensor, state: DecoderState, memory: Memory, attention: Attention | None
    ) -> tuple[Tensor, DecoderState]:
        """One step from the embedded previous tokens (B, E): õ_t (B, H) (the LSTM output
        without attention) and the new state; the output layer is left to the caller."""
        parts = [embedded]
        context = weights = None
        if self.attention == "bahdanau":
            context, weights = attention(state.h[-1], memory.keys, memory.states, memory.mask)
            if self.gate is not None:
                context = torch.sigmoid(self.gate(state.h[-1])) * context  # β_t (B, 1)
            parts.append(context)  # (B, D*H)
        if self.input_feeding:
            parts.append(state.feed)  # (B, H)
        out, (h, c) = self.lstm.step(torch.cat(parts, -1), (state.h, state.c))  # out (B, H)
        if self.attention == "luong":
            context, weights = attention(out, memory.keys, memory.states, memory.mask)
        o = out if context is None else torch.tanh(self.combine(torch.cat([out, context], -1)))
        return o, DecoderState(h, c, o if self.input_feeding else None, weights)

    def _output(self, o: Tensor) -> Tensor:
        """õ (B, [T,] H) → logits (B, [T,] V)."""
        x = self.dropout(o)
        return self.output(x if self.project is None else self.project(x))

    def teacher_forced(
        self,
        tgt_in: Tensor,
        state: DecoderState,
        memory: Memory,
        attention: Attention | None,
        teacher_forcing: float = 1.0,
    ) -> tuple[Tensor, Tensor | None]:
        """All steps from the previous gold tokens (B, T): logits (B, T, V), weights (B, T, S).

        Without a recurrence through the attention (none, Luong without input feeding) the LSTM
        runs over the whole sequence at once; otherwise this loops :meth:`step`. With
        ``teacher_forcing`` < 1 each step's input is, per sentence and with probability
        1 - teacher_forcing, the model's own greedy prediction (scheduled sampling, Bengio et al.
        2015), which needs the loop too.
        """
        if teacher_forcing == 1 and (self.attention == "bahdanau" or self.input_feeding):
            # Embedding and output layer over all steps at once, only the recurrence in the loop.
            embedded, outs, weights = self.dropout(self.embed(tgt_in)), [], []  # (B, T, E)
            for t in range(tgt_in.shape[1]):
                o, state = self._advance(embedded[:, t], state, memory, attention)
                outs.append(o)
                weights.append(state.weights)
            return self._output(torch.stack(outs, 1)), torch.stack(weights, 1)  # (B, T, V)
        if self.attention == "bahdanau" or self.input_feeding or teacher_forcing < 1:
            tokens, logits, weights = tgt_in[:, 0], [], []
            for t in range(tgt_in.shape[1]):
                step_logits, state = self.step(tokens, state, memory, attention)
                logits.append(step_logits)
                weights.append(state.weights)
                if t + 1 < tgt_in.shape[1]:
                    gold = torch.rand(tokens.shape, device=tokens.device) < teacher_forcing
                    tokens = torch.where(gold, tgt_in[:, t + 1], step_logits.detach().argmax(-1))
            return torch.stack(logits, 1), None if attention is None else torch.stack(weights, 1)
        out, _ = self.lstm(self.dropout(self.embed(tgt_in)), (state.h, state.c))  # (B, T, H)
        context = weights = None
        if self.attention == "luong":
            context, weights = attention(out, memory.keys, memory.states, memory.mask)
        return self._logits(out, context)[0], weights
