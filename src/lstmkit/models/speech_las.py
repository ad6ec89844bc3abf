"""Listen, Attend and Spell (Chan et al. 2016): a pyramidal LSTM listener and an attention speller.

The **listener** stacks ``stack`` feature frames into one (as :class:`~lstmkit.models.speech.
CTCRecognizer` does), runs a (bidirectional) LSTM over them, and then ``num_layers - 1`` more
layers, each reading pairs of consecutive outputs of the layer below concatenated into one frame,
so that every layer after the first halves time: ``stack * 2 ** (num_layers - 1)`` feature frames
make one listener frame (8 with the defaults, 80 ms). An odd length is completed with a zero
frame, as in frame stacking, so no frame is dropped.

The **speller** is the seq2seq attention :class:`~lstmkit.models.decoder.Decoder`, reading the
listener's frames as its source; :class:`~lstmkit.models.encoder.Bridge` maps the top listener
layer's final state to its initial state. The network has Seq2Seq's decoding interface
(``encode``, ``decode_step``, ``attention`` and the special ids), so ``lstmkit.decode``'s
``greedy`` and ``beam_search`` take it, with the features and their frame counts as the source.

With ``ctc_weight`` λ > 0 a linear CTC layer reads the listener too and training minimises the
joint CTC-attention loss of Kim et al. (2017), ``λ·CTC + (1-λ)·CE``: the CTC term's monotonic
alignment helps the attention learn to read left to right.

Legend: B batch, T feature frames, F feature bands (n_mels), S listener frames (the speller's
source length), U target tokens, H hidden_size, D directions (2 if bidirectional), M the
listener's width D*H, V vocabulary (the CTC blank included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.errors import UserError
from lstmkit.models.attention import (
    LUONG_SCORES,
    Attention,
    BahdanauAttention,
    LuongAttention,
    Memory,
)
from lstmkit.models.decoder import Decoder, DecoderState
from lstmkit.models.encoder import Bridge
from lstmkit.models.speech import stack_frames, zero_padding
from lstmkit.nn import LSTM

LAS_ATTENTIONS = ("luong", "bahdanau")  # the speller needs one: "none" is not LAS


@dataclass
class LASConfig:
    """Hyperparameters of :class:`LASRecognizer`; the special ids are the project tokenizers'.

    The listener's keys are :class:`~lstmkit.models.speech.SpeechConfig`'s; the speller's are
    prefixed. Luong attention with input feeding is the default: its speller reads the previous
    step's attentional state, as LAS's speller reads the previous context (Chan et al. 2016).
    """

    vocab_size: int  # output tokens: transcript tokens, pad (= the CTC blank), unk, bos, eos
    n_mels: int = 80  # feature bands per frame
    stack: int = 2  # feature frames stacked into the listener's first layer
    hidden_size: int = 256  # the listener's, per direction
    num_layers: int = 3  # listener layers; each after the first halves time
    bidirectional: bool = True  # the listener's
    embedding_size: int = 64  # the speller's token embeddings
    speller_hidden_size: int = 256
    speller_num_layers: int = 1
    attention: str = "luong"
    luong_score: str = "general"
    input_feeding: bool = True  # Luong only
    dropout: float = 0.1  # between listener layers, on the speller's embeddings and outputs
    ctc_weight: float = 0.0  # λ of the joint CTC-attention loss; 0: attention alone
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3
    blank_id: int = 0  # the CTC blank: the tokenizers' <pad>, which no transcript contains
    # ids neither head emits (the tokenizers' <unk>); the CTC head never emits bos and eos either
    suppress_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        sizes = (
            ("vocab_size", 5),  # pad, bos, eos and at least two more
            ("n_mels", 1),
            ("stack", 1),
            ("hidden_size", 1),
            ("num_layers", 1),
            ("embedding_size", 1),
            ("speller_hidden_size", 1),
            ("speller_num_layers", 1),
        )
        ids = tuple((name, 0) for name in ("pad_id", "bos_id", "eos_id", "blank_id"))
        for name, low in (*sizes, *ids):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserError(f"{name}: expected an integer >= {low}, got {value!r}")
        for name, _ in ids:
            if getattr(self, name) >= self.vocab_size:
                raise UserError(
                    f"{name}: expected an id below vocab_size {self.vocab_size}, "
                    f"got {getattr(self, name)}"
                )
        if len({self.pad_id, self.bos_id, self.eos_id}) < 3 or self.blank_id in (
            self.bos_id,
            self.eos_id,
        ):
            raise UserError(
                f"pad_id, bos_id, eos_id, blank_id: expected different ids (blank_id may equal "
                f"pad_id), got {self.pad_id}, {self.bos_id}, {self.eos_id}, {self.blank_id}"
            )
        for name in ("bidirectional", "input_feeding"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        for name, choices in (("attention", LAS_ATTENTIONS), ("luong_score", LUONG_SCORES)):
            if getattr(self, name) not in choices:
                raise UserError(
                    f"{name}: expected one of {', '.join(choices)}, got {getattr(self, name)!r}"
                )
        self._check_combinations()

    def _check_combinations(self) -> None:
        for name in ("dropout", "ctc_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise UserError(f"{name}: expected a value in [0, 1), got {value!r}")
        if self.input_feeding and self.attention != "luong":
            raise UserError(
                f"input_feeding: only Luong attention has it, got attention={self.attention!r}"
            )
        width = self.hidden_size * (2 if self.bidirectional else 1)
        dot = self.attention == "luong" and self.luong_score == "dot"
        if dot and width != self.speller_hidden_size:
            raise UserError(
                f"luong_score: 'dot' needs speller_hidden_size equal to the listener's width "
                f"{width}, got {self.speller_hidden_size}; use 'general'"
            )
        forbidden = (self.pad_id, self.blank_id, self.eos_id)
        if (
            not isinstance(self.suppress_ids, list | tuple)
            or any(
                isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.vocab_size
                for i in self.suppress_ids
            )
            or set(self.suppress_ids) & set(forbidden)
        ):
            raise UserError(
                f"suppress_ids: expected ids below vocab_size {self.vocab_size} other than "
                f"pad_id, blank_id and eos_id, got {self.suppress_ids!r:.80}"
            )
        self.suppress_ids = tuple(self.suppress_ids)

    @property
    def frame_stack(self) -> int:
        """Feature frames per listener frame, ``stack * 2 ** (num_layers - 1)``."""
        return self.stack * 2 ** (self.num_layers - 1)

    def to_dict(self) -> dict:
        return {**asdict(self), "suppress_ids": list(self.suppress_ids)}


class Listener(nn.Module):
    """Frame stacking, then a pyramid of one-layer (bidirectional) LSTMs.

    Args:
        input_size: F, feature bands per frame.
        stack: feature frames stacked into the first layer's steps.
        num_layers: LSTM layers; each after the first reads pairs of the frames below.
        dropout: on the input of each layer after the first.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 3,
        *,
        stack: int = 2,
        dropout: float = 0.0,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        self.input_size, self.stack = input_size, stack
        self.output_size = hidden_size * (2 if bidirectional else 1)
        sizes = [stack * input_size] + [2 * self.output_size] * (num_layers - 1)
        self.layers = nn.ModuleList(
            LSTM(size, hidden_size, 1, batch_first=True, bidirectional=bidirectional)
            for size in sizes
        )
        self.dropout = nn.Dropout(dropout)

    @property
    def frame_stack(self) -> int:
        """Feature frames per output frame."""
        return self.stack * 2 ** (len(self.layers) - 1)

    def forward(
        self, features: Tensor, lengths: Tensor
    ) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """Features (B, T, F) of true lengths (B,) → states (B, S, M), zero at padding, their
        lengths (B,), and the top layer's final ``(h, c)`` each (D, B, H), taken at each
        utterance's own last frame."""
        x, n = stack_frames(zero_padding(features, lengths), lengths, self.stack)  # (B, T', ·)
        for k, lstm in enumerate(self.layers):
            if k:  # the LSTM's output is zero at padding: an odd last pair takes a zero frame
                x, n = stack_frames(self.dropout(x), n, 2)  # (B, ceil(t/2), 2M)
            x, (h, c) = lstm(x, lengths=n)  # (B, t, M)
        return x, n, (h, c)


class LASRecognizer(nn.Module):
    """Listener, bridge, attention speller and (for ``ctc_weight`` > 0) a CTC output layer.

    Args:
        ctc_output: Linear M → V over the listener's frames; needed when ``ctc_weight`` > 0.
        ctc_weight: λ in [0, 1) of :meth:`loss`.
        suppress_ids: ids :meth:`decode_step` never proposes and the CTC head never emits
            (the CTC head never emits bos and eos either).

    Example:
        >>> model = build_las(LASConfig(vocab_size=8, n_mels=4, hidden_size=6, num_layers=2,
        ...                             embedding_size=4, speller_hidden_size=6))
        >>> x, lengths = torch.randn(2, 11, 4), torch.tensor([11, 5])  # 4 frames a listener frame
        >>> memory, state = model.encode(x, lengths)
        >>> memory.mask.tolist()
        [[True, True, True], [True, True, False]]
        >>> logits, state = model.decode_step(torch.tensor([2, 2]), state, memory)
        >>> logits.shape, state.weights.shape
        (torch.Size([2, 8]), torch.Size([2, 3]))
    """

    def __init__(
        self,
        listener: Listener,
        speller: Decoder,
        bridge: Bridge,
        attention: Attention,
        ctc_output: nn.Linear | None = None,
        *,
        ctc_weight: float = 0.0,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
        blank_id: int = 0,
        suppress_ids: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        if speller.attention != attention.kind:
            raise ValueError(
                f"attention: the speller was built for {speller.attention!r}, "
                f"got {attention.kind!r}"
            )
        if ctc_weight > 0 and ctc_output is None:
            raise ValueError(f"ctc_output: expected a layer for ctc_weight={ctc_weight}, got None")
        self.listener, self.speller, self.bridge = listener, speller, bridge
        self.attention, self.ctc_output, self.ctc_weight = attention, ctc_output, ctc_weight
        self.pad_id, self.bos_id, self.eos_id, self.blank_id = pad_id, bos_id, eos_id, blank_id
        V = speller.output.out_features
        banned = torch.zeros(V, dtype=torch.bool)
        banned[list(suppress_ids)] = True
        self.register_buffer("banned", banned, persistent=False)  # (V,) speller's, from config
        # -1e4, not -inf: CTC's backward computes exp(lcab + nll - lp) over every id, NaN at -inf
        ctc_suppress = torch.zeros(V)
        ctc_suppress[[*suppress_ids, bos_id, eos_id]] = -1e4
        self.register_buffer("ctc_suppress", ctc_suppress, persistent=False)  # (V,)

    @property
    def frame_stack(self) -> int:
        """Feature frames per listener frame."""
        return self.listener.frame_stack

    def listen(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, tuple]:
        """Features (B, T, F) of true lengths (B,) → listener states (B, S, M) zero at padding,
        their lengths (B,) and the top layer's final ``(h, c)`` (see :class:`Listener`)."""
        lengths = _check_features(features, lengths, self.listener.input_size)
        return self.listener(features, lengths)

    def encode(self, features: Tensor, lengths: Tensor) -> tuple[Memory, DecoderState]:
        """Features (B, T, F) and their frames (B,) → the speller's memory over the S listener
        frames and its initial state (the source of ``lstmkit.decode``'s searches)."""
        return self._memory(*self.listen(features, lengths))

    def _memory(self, states: Tensor, lengths: Tensor, final: tuple) -> tuple[Memory, DecoderState]:
        mask = torch.arange(states.shape[1], device=states.device) < lengths.unsqueeze(1)  # (B, S)
        layers = len(self.bridge.h_layers)  # each speller layer gets its map of the top state
        h, c = self.bridge(final[0].repeat(layers, 1, 1), final[1].repeat(layers, 1, 1))
        memory = Memory(states, self.attention.keys(states), mask)
        return memory, self.speller.initial_state(h, c)

    def decode_step(
        self, tokens: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState]:
        """Previous tokens (B,) → next-token logits (B, V), -inf at ``suppress_ids``, and the new
        state (its ``weights``, (B, S), are this step's attention over the listener frames)."""
        logits, state = self.speller.step(tokens, state, memory, self.attention)
        return logits.masked_fill(self.banned, -torch.inf), state

    def logits(
        self, features: Tensor, lengths: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0
    ) -> tuple[Tensor, Tensor]:
        """Logits (B, U, V) and attention weights (B, U, S) of the previous target tokens
        ``tgt_in`` (B, U); see :meth:`Decoder.teacher_forced`."""
        memory, state = self.encode(features, lengths)
        return self.speller.teacher_forced(tgt_in, state, memory, self.attention, teacher_forcing)

    def ctc_log_probs(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Per listener frame, the CTC head's log-probabilities (B, S, V) and the frames' lengths
        (B,), for ``lstmkit.decode.ctc``'s searches.

        Raises:
            ValueError: if the network has no CTC head (``ctc_weight`` 0).
        """
        states, out_lengths, _ = self.listen(features, lengths)
        return self._ctc_log_probs(states), out_lengths

    def _ctc_log_probs(self, states: Tensor) -> Tensor:
        if self.ctc_output is None:
            raise ValueError("ctc_log_probs: this network has no CTC head (ctc_weight 0)")
        return (self.ctc_output(states) + self.ctc_suppress).log_softmax(-1)  # (B, S, V)

    def loss(
        self,
        features: Tensor,
        lengths: Tensor,
        tgt_in: Tensor,
        tgt_out: Tensor,
        ctc_targets: Tensor | None = None,
        ctc_target_lengths: Tensor | None = None,
        *,
        label_smoothing: float = 0.0,
        teacher_forcing: float = 1.0,
    ) -> tuple[Tensor, int]:
        """``λ·CTC + (1-λ)·CE`` (λ = ``ctc_weight``), and the number of speller tokens.

        CE is the speller's mean cross-entropy over the non-pad ``tgt_out`` tokens (eos
        included), as :meth:`Seq2Seq.loss`; CTC is the CTC head's loss per transcript token, as
        :meth:`CTCRecognizer.loss` (an utterance with too few listener frames for its transcript
        contributes 0 rather than inf).

        Args:
            features: (B, T, F); lengths: (B,) their true frames.
            tgt_in: (B, U) speller inputs, ``bos y_1 … y_n`` then pad.
            tgt_out: (B, U) speller targets, ``y_1 … y_n eos`` then pad.
            ctc_targets: (B, U') the transcripts ``y_1 … y_n`` (anything past their lengths),
                and ctc_target_lengths (B,); needed when ``ctc_weight`` > 0, else ignored.
            label_smoothing: ε in [0, 1) of the cross-entropy.
            teacher_forcing: probability in [0, 1] of feeding the gold token.

        Raises:
            ValueError: naming the argument whose shape or value is wrong.
        """
        _check_targets(features.shape[0], tgt_in, tgt_out)
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")
        if not 0 <= teacher_forcing <= 1:
            raise ValueError(f"teacher_forcing: expected a value in [0, 1], got {teacher_forcing}")
        states, out_lengths, final = self.listen(features, lengths)
        memory, state = self._memory(states, out_lengths, final)
        logits, _ = self.speller.teacher_forced(
            tgt_in, state, memory, self.attention, teacher_forcing
        )
        n_tokens = int((tgt_out != self.pad_id).sum())
        ce = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),  # (B*U, V)
            tgt_out.reshape(-1),  # (B*U,)
            ignore_index=self.pad_id,
            label_smoothing=label_smoothing,
            reduction="sum",
        ) / max(n_tokens, 1)
        if self.ctc_weight == 0:
            return ce, n_tokens
        if ctc_targets is None or ctc_target_lengths is None:
            raise ValueError(
                f"ctc_targets, ctc_target_lengths: expected tensors for ctc_weight="
                f"{self.ctc_weight}, got None"
            )
        ctc = F.ctc_loss(
            self._ctc_log_probs(states).transpose(0, 1),  # (S, B, V), as ctc_loss takes it
            ctc_targets,
            out_lengths,
            ctc_target_lengths,
            blank=self.blank_id,
            reduction="sum",
            zero_infinity=True,
        ) / max(int(ctc_target_lengths.sum()), 1)
        return self.ctc_weight * ctc + (1 - self.ctc_weight) * ce, n_tokens


def _check_features(features: Tensor, lengths, n_features: int) -> Tensor:
    """Checks a batch of features; returns the lengths as a (B,) tensor on their device."""
    if features.dim() != 3 or features.shape[-1] != n_features:
        raise ValueError(f"features: expected (B, T, {n_features}), got {tuple(features.shape)}")
    lengths = torch.as_tensor(lengths, device=features.device)
    if lengths.shape != (features.shape[0],):
        raise ValueError(
            f"lengths: expected shape ({features.shape[0]},), got {tuple(lengths.shape)}"
        )
    if len(lengths) and (int(lengths.min()) < 1 or int(lengths.max()) > features.shape[1]):
        raise ValueError(
            f"lengths: expected frame counts in [1, {features.shape[1]}], got {lengths.tolist()}"
        )
    return lengths


def _check_targets(B: int, tgt_in: Tensor, tgt_out: Tensor) -> None:
    for name, tgt in (("tgt_in", tgt_in), ("tgt_out", tgt_out)):
        if tgt.dim() != 2 or tgt.shape[0] != B or tgt.shape != tgt_in.shape:
            raise ValueError(f"{name}: expected ({B}, U) like tgt_in, got {tuple(tgt.shape)}")


def build_las(config: LASConfig) -> LASRecognizer:
    """The :class:`LASRecognizer` that ``config`` describes.

    Example:
        >>> model = build_las(LASConfig(vocab_size=30, ctc_weight=0.3))
        >>> model.frame_stack, model.listener.output_size, model.ctc_output.out_features
        (8, 512, 30)
    """
    c = config
    listener = Listener(
        c.n_mels,
        c.hidden_size,
        c.num_layers,
        stack=c.stack,
        dropout=c.dropout,
        bidirectional=c.bidirectional,
    )
    M = listener.output_size
    if c.attention == "bahdanau":
        attention: Attention = BahdanauAttention(c.speller_hidden_size, M)
    else:
        attention = LuongAttention(c.speller_hidden_size, M, c.luong_score)
    speller = Decoder(
        c.vocab_size,
        c.embedding_size,
        c.speller_hidden_size,
        c.speller_num_layers,
        c.dropout,
        attention=c.attention,
        memory_size=M,
        input_feeding=c.input_feeding,
    )
    bridge = Bridge(M, c.speller_hidden_size, c.speller_num_layers, 2 if c.bidirectional else 1)
    return LASRecognizer(
        listener,
        speller,
        bridge,
        attention,
        nn.Linear(M, c.vocab_size) if c.ctc_weight > 0 else None,
        ctc_weight=c.ctc_weight,
        pad_id=c.pad_id,
        bos_id=c.bos_id,
        eos_id=c.eos_id,
        blank_id=c.blank_id,
        suppress_ids=c.suppress_ids,
    )


__all__ = ["LAS_ATTENTIONS", "LASConfig", "LASRecognizer", "Listener", "build_las"]
