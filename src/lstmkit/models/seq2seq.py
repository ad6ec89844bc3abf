"""The notes' sequence-to-sequence network: encoder → context vector W → decoder, plus attention.

A bidirectional LSTM :class:`Encoder` reads the source; its final ``(h, c)`` — the context vector
W — go through the :class:`Bridge` to initialise the LSTM :class:`Decoder`, which emits one
distribution over the target vocabulary per step; both are trained jointly with cross-entropy
(:meth:`Seq2Seq.loss`). With ``attention="none"`` that is all. Because one W must carry a whole
sentence, long inputs suffer; with attention (``models/attention.py``) every step also reads a
weighted average of all encoder states:

* ``"bahdanau"``: the previous top-layer state ``h_{t-1}`` is the query; the context enters the
  LSTM's input, ``[emb(y_{t-1}); ctx_t]``.
* ``"luong"``: the new top-layer state ``h_t`` is the query; the context enters after the LSTM.
  With ``input_feeding`` the previous attentional state ``õ_{t-1}`` joins the next input.

Both then form the attentional state ``õ_t = tanh(W_c [h_t; ctx_t])`` that the output layer reads
(without attention ``õ_t = h_t``).

Legend: B batch, T target length, S source length, E embedding_size, H hidden_size,
L num_layers, D directions (2 if bidirectional), V vocabulary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.errors import UserError
from lstmkit.models.attention import (
    ATTENTIONS,
    LUONG_SCORES,
    Attention,
    BahdanauAttention,
    LuongAttention,
    Memory,
)
from lstmkit.models.decoder import Decoder, DecoderState
from lstmkit.models.encoder import Bridge, Encoder

EMBEDDING_INITS = ("normal", "scaled")


@dataclass
class Seq2SeqConfig:
    """Hyperparameters of :class:`Seq2Seq`; the special ids are the project tokenizers'.

    The defaults are sized for minutes of training on a CPU: embedding 64, a 1x128
    bidirectional encoder and Luong attention, whose decoder runs the whole target in one LSTM
    call (the benchmark page "Seq2seq defaults on character tasks" measures them). Set the
    sizes for large data.
    """

    src_vocab_size: int
    tgt_vocab_size: int
    embedding_size: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.1  # on embeddings, between LSTM layers and before the output layer
    bidirectional: bool = True  # the encoder's
    attention: str = "luong"
    luong_score: str = "general"
    input_feeding: bool = False  # Luong only
    tie_tgt_embeddings: bool = False  # the decoder's output layer shares its input embeddings
    embedding_init: str = "normal"  # torch's N(0, 1); "scaled": N(0, 1/E) (see init_embedding)
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3

    def __post_init__(self) -> None:
        sizes = ("src_vocab_size", "tgt_vocab_size", "embedding_size", "hidden_size", "num_layers")
        for name in (*sizes, "pad_id", "bos_id", "eos_id"):
            value, low = getattr(self, name), 1 if name in sizes else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserError(f"{name}: expected an integer >= {low}, got {value!r}")
        for name in ("pad_id", "bos_id", "eos_id"):
            limit = self.tgt_vocab_size
            limit = min(limit, self.src_vocab_size) if name == "pad_id" else limit
            if getattr(self, name) >= limit:
                raise UserError(
                    f"{name}: expected an id below the vocabulary size {limit}, "
                    f"got {getattr(self, name)}"
                )
        if len({self.pad_id, self.bos_id, self.eos_id}) < 3:
            raise UserError(
                f"bos_id, eos_id: expected ids different from each other and from pad_id, "
                f"got pad_id={self.pad_id}, bos_id={self.bos_id}, eos_id={self.eos_id}"
            )
        if not isinstance(self.dropout, int | float) or not 0 <= self.dropout < 1:
            raise UserError(f"dropout: expected a probability in [0, 1), got {self.dropout!r}")
        for name in ("bidirectional", "input_feeding", "tie_tgt_embeddings"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        named_choices = (
            ("attention", ATTENTIONS),
            ("luong_score", LUONG_SCORES),
            ("embedding_init", EMBEDDING_INITS),
        )
        for name, choices in named_choices:
            if getattr(self, name) not in choices:
                raise UserError(
                    f"{name}: expected one of {', '.join(choices)}, got {getattr(self, name)!r}"
                )
        if self.input_feeding and self.attention != "luong":
            raise UserError(
                f"input_feeding: only Luong attention has it, got attention={self.attention!r}"
            )
        if self.attention == "luong" and self.luong_score == "dot" and self.bidirectional:
            raise UserError(
                "luong_score: 'dot' needs the encoder's width (2*hidden_size when bidirectional) "
                "to equal the decoder's hidden_size; use 'general' or bidirectional=False"
            )

    def to_dict(self) -> dict:
        return asdict(self)


def _check_batch(src: Tensor, src_lengths, *targets: Tensor) -> Tensor:
    """Validates the shapes of a batch; returns the lengths as a (B,) tensor."""
    if src.dim() != 2 or src.dtype != torch.long:
        raise ValueError(f"src: expected (B, S) token ids, got {src.dtype} {tuple(src.shape)}")
    lengths = torch.as_tensor(src_lengths, device=src.device)
    if lengths.shape != (src.shape[0],):
        raise ValueError(
            f"src_lengths: expected shape ({src.shape[0]},), got {tuple(lengths.shape)}"
        )
    for name, tgt in zip(("tgt_in", "tgt_out")[: len(targets)], targets, strict=True):
        if tgt.dim() != 2 or tgt.shape[0] != src.shape[0] or tgt.shape != targets[0].shape:
            raise ValueError(
                f"{name}: expected ({src.shape[0]}, T) like tgt_in, got {tuple(tgt.shape)}"
            )
    return lengths


class Seq2Seq(nn.Module):
    """Encoder, bridge, decoder and (optional) attention, with the special target ids.

    Example:
        >>> model = build_seq2seq(Seq2SeqConfig(12, 10, embedding_size=4, hidden_size=6))
        >>> src, lengths = torch.randint(4, 12, (2, 5)), torch.tensor([5, 3])
        >>> memory, state = model.encode(src, lengths)
        >>> logits, state = model.decode_step(torch.tensor([2, 2]), state, memory)
        >>> logits.shape, state.weights.shape
        (torch.Size([2, 10]), torch.Size([2, 5]))
    """

    def __init__(
        self,
        encoder: Encoder,
        decoder: Decoder,
        bridge: Bridge,
        attention: Attention | None = None,
        *,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
    ) -> None:
        super().__init__()
        kind = "none" if attention is None else attention.kind
        if decoder.attention != kind:
            raise ValueError(
                f"attention: the decoder was built for {decoder.attention!r}, got {kind!r}"
            )
        self.encoder, self.decoder, self.bridge, self.attention = (
            encoder,
            decoder,
            bridge,
            attention,
        )
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[Memory, DecoderState]:
        """Source ids (B, S) and lengths (B,) → the memory and the decoder's initial state."""
        lengths = _check_batch(src, src_lengths)
        states, (h_n, c_n) = self.encoder(src, lengths)  # (B, S, D*H), (L*D, B, H)
        mask = torch.arange(src.shape[1], device=src.device) < lengths.unsqueeze(1)  # (B, S)
        keys = None if self.attention is None else self.attention.keys(states)
        return Memory(states, keys, mask), self.decoder.initial_state(*self.bridge(h_n, c_n))

    def decode_step(
        self, tokens: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState]:
        """Previous tokens (B,) → next-token logits (B, V) and the new state (its ``weights``,
        (B, S), are this step's attention)."""
        return self.decoder.step(tokens, state, memory, self.attention)

    def logits(
        self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0
    ) -> tuple[Tensor, Tensor | None]:
        """Logits (B, T, V) and attention weights (B, T, S) (None without attention) of the
        previous target tokens ``tgt_in`` (B, T); see :meth:`Decoder.teacher_forced`."""
        memory, state = self.encode(src, src_lengths)
        return self.decoder.teacher_forced(tgt_in, state, memory, self.attention, teacher_forcing)

    def loss(
        self,
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
        tgt_out: Tensor,
        label_smoothing: float = 0.0,
        teacher_forcing: float = 1.0,
    ) -> tuple[Tensor, int]:
        """Mean cross-entropy over the non-pad target tokens, and their number.

        Args:
            src: (B, S) source ids; src_lengths: (B,) their true lengths.
            tgt_in: (B, T) decoder inputs, ``bos y_1 … y_n`` then pad.
            tgt_out: (B, T) targets, ``y_1 … y_n eos`` then pad (pad positions are ignored).
            label_smoothing: ε in [0, 1), as torch's F.cross_entropy.
            teacher_forcing: probability in [0, 1] of feeding the gold token (see :meth:`logits`).

        Raises:
            ValueError: naming the argument whose shape or value is wrong.
        """
        _check_batch(src, src_lengths, tgt_in, tgt_out)
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")
        if not 0 <= teacher_forcing <= 1:
            raise ValueError(f"teacher_forcing: expected a value in [0, 1], got {teacher_forcing}")
        logits, _ = self.logits(src, src_lengths, tgt_in, teacher_forcing)
        n_tokens = int((tgt_out != self.pad_id).sum())
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),  # (B*T, V)
            tgt_out.reshape(-1),  # (B*T,)
            ignore_index=self.pad_id,
            label_smoothing=label_smoothing,
            reduction="sum",
        )
        return loss / max(n_tokens, 1), n_tokens


def init_embedding(embed: nn.Embedding) -> None:
    """N(0, 1/E) embeddings (``embedding_init="scaled"``): a token of unit expected length.

    torch's default N(0, 1) makes an embedded token √E long (11 at E = 128), beyond the (-1, 1)
    of the hidden state it meets in every gate. Neither is better everywhere, so torch's stays
    the default (the peers and Tatoeba benchmark pages have the measurements).
    """
    nn.init.normal_(embed.weight, 0.0, embed.embedding_dim**-0.5)


def build_seq2seq(config: Seq2SeqConfig) -> Seq2Seq:
    """The :class:`Seq2Seq` that ``config`` describes.

    Example:
        >>> config = Seq2SeqConfig(100, 80, embedding_size=64, hidden_size=128, input_feeding=True)
        >>> model = build_seq2seq(config)
        >>> model.decoder.lstm.input_size  # embedding + the fed-back attentional state
        192
    """
    c = config
    D = 2 if c.bidirectional else 1
    encoder = Encoder(
        c.src_vocab_size, c.embedding_size, c.hidden_size, c.num_layers, c.dropout, c.bidirectional
    )
    memory_size = encoder.output_size
    attention = None
    if c.attention == "bahdanau":
        attention = BahdanauAttention(c.hidden_size, memory_size)
    elif c.attention == "luong":
        attention = LuongAttention(c.hidden_size, memory_size, c.luong_score)
    decoder = Decoder(
        c.tgt_vocab_size,
        c.embedding_size,
        c.hidden_size,
        c.num_layers,
        c.dropout,
        attention=c.attention,
        memory_size=memory_size if attention else 0,
        input_feeding=c.input_feeding,
        tie_embeddings=c.tie_tgt_embeddings,
    )
    bridge = Bridge(memory_size, c.hidden_size, c.num_layers, D)
    if c.embedding_init == "scaled":
        init_embedding(encoder.embed)
        init_embedding(decoder.embed)
    return Seq2Seq(
        encoder, decoder, bridge, attention, pad_id=c.pad_id, bos_id=c.bos_id, eos_id=c.eos_id
    )
