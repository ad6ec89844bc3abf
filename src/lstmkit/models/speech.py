"""The speech recogniser's network: log-mel frames → frame stacking → stacked bidirectional LSTM →
a linear layer over the output tokens plus the CTC blank.

Frame stacking (Sak et al. 2015) concatenates ``stack`` consecutive feature frames into one, so
the LSTM runs at a quarter of the 100 frames a second of the features (40 ms a step with the
default 4, as ESPnet's subsampling): four times fewer recurrent steps, and output frames still
closer together than characters are spoken (12-15 a second in read speech; CTC needs one frame
per character, two between a repeated one). The network is trained with CTC (Graves et al. 2006,
``torch.nn.functional.ctc_loss``): the blank is the tokenizers' ``<pad>`` id, which no
transcript contains.

A unidirectional network (``bidirectional=False``) can also run as a stream: feature frames in
chunks of any size, each output frame emitted as soon as its stack is complete, the LSTM's
``(h, c)`` and an incomplete stack's frames carried between chunks in a :class:`StreamState`
(:meth:`CTCRecognizer.start_stream`, :meth:`CTCRecognizer.stream_log_probs`).

Legend: B batch, T feature frames, T' stacked frames, F feature bands (n_mels), H hidden_size,
L num_layers, D directions (2 if bidirectional), V output tokens (the blank included),
U transcript tokens.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.errors import UserError
from lstmkit.nn import LSTM


@dataclass
class SpeechConfig:
    """Hyperparameters of :class:`CTCRecognizer`.

    The defaults are sized for minutes of training on a CPU (the speech benchmark page measures
    them); a large corpus on a GPU wants more layers and width (ESPnet's LibriSpeech LSTM
    recipes use 4-5 bidirectional layers of 320-1024).
    """

    vocab_size: int  # output tokens, the blank included
    n_mels: int = 80  # feature bands per frame
    stack: int = 4  # feature frames stacked into one LSTM step (time subsampling)
    hidden_size: int = 256
    num_layers: int = 3
    dropout: float = 0.1  # between LSTM layers and before the output layer
    bidirectional: bool = True
    blank_id: int = 0
    # ids never emitted (the tokenizers' <unk>, <bos>, <eos>): their logits are lowered by 1e4
    suppress_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name, low in (
            ("vocab_size", 2),
            ("n_mels", 1),
            ("stack", 1),
            ("hidden_size", 1),
            ("num_layers", 1),
            ("blank_id", 0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserError(f"{name}: expected an integer >= {low}, got {value!r}")
        if self.blank_id >= self.vocab_size:
            raise UserError(
                f"blank_id: expected an id below vocab_size {self.vocab_size}, got {self.blank_id}"
            )
        if not isinstance(self.dropout, int | float) or not 0 <= self.dropout < 1:
            raise UserError(f"dropout: expected a probability in [0, 1), got {self.dropout!r}")
        if not isinstance(self.bidirectional, bool):
            raise UserError(f"bidirectional: expected true or false, got {self.bidirectional!r}")
        if not isinstance(self.suppress_ids, list | tuple) or any(
            isinstance(i, bool)
            or not isinstance(i, int)
            or not 0 <= i < self.vocab_size
            or i == self.blank_id
            for i in self.suppress_ids
        ):
            raise UserError(
                f"suppress_ids: expected ids below vocab_size {self.vocab_size}, other than "
                f"blank_id, got {self.suppress_ids!r:.80}"
            )
        self.suppress_ids = tuple(self.suppress_ids)

    def to_dict(self) -> dict:
        return {**asdict(self), "suppress_ids": list(self.suppress_ids)}


def stack_frames(features: Tensor, lengths: Tensor, stack: int) -> tuple[Tensor, Tensor]:
    """Concatenates every ``stack`` consecutive frames: (B, T, F) → (B, ceil(T/stack), stack*F).

    The last group of an utterance is completed with zero frames, so no frame is dropped; the
    lengths become ``ceil(length / stack)``.

    Example:
        >>> x = torch.arange(10.0).view(1, 5, 2)  # frames [0 1], [2 3], ... [8 9]
        >>> y, n = stack_frames(x, torch.tensor([5]), 2)
        >>> y.tolist(), n.tolist()
        ([[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 0.0, 0.0]]], [3])
    """
    B, T, Fb = features.shape
    pad = (-T) % stack
    if pad:
        features = F.pad(features, (0, 0, 0, pad))  # zero frames at the end
    stacked = features.reshape(B, (T + pad) // stack, stack * Fb)  # (B, T', stack*F)
    return stacked, torch.div(lengths + stack - 1, stack, rounding_mode="floor")


def zero_padding(features: Tensor, lengths: Tensor) -> Tensor:
    """``features`` (B, T, F) with the frames past each utterance's length set to 0, so that a
    batch's padding never enters a stacked frame of a shorter utterance."""
    mask = torch.arange(features.shape[1], device=features.device) < lengths.unsqueeze(1)
    return features * mask.unsqueeze(-1)  # (B, T, F)


class CTCRecognizer(nn.Module):
    """Frame stacking, a stacked (bidirectional) LSTM and a linear layer over tokens and blank.

    Example:
        >>> model = CTCRecognizer(SpeechConfig(vocab_size=6, n_mels=4, hidden_size=8))
        >>> x, lengths = torch.randn(2, 10, 4), torch.tensor([10, 7])
        >>> log_probs, out_lengths = model.log_probs(x, lengths)
        >>> log_probs.shape, out_lengths.tolist()
        (torch.Size([2, 3, 6]), [3, 2])
    """

    def __init__(self, config: SpeechConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.lstm = LSTM(
            c.n_mels * c.stack,
            c.hidden_size,
            c.num_layers,
            batch_first=True,
            dropout=c.dropout if c.num_layers > 1 else 0.0,  # between layers only
            bidirectional=c.bidirectional,
        )
        self.dropout = nn.Dropout(c.dropout)
        self.output = nn.Linear(c.hidden_size * (2 if c.bidirectional else 1), c.vocab_size)
        # -1e4, not -inf: CTC's backward computes exp(lcab + nll - lp) over every id, NaN at -inf
        suppress = torch.zeros(c.vocab_size)
        suppress[list(c.suppress_ids)] = -1e4
        self.register_buffer("suppress", suppress, persistent=False)  # (V,), from the config

    @property
    def frame_stack(self) -> int:
        """Feature frames per output frame."""
        return self.config.stack

    def encode(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Features (B, T, F) of true lengths (B,) → LSTM states (B, T', D*H), zero at padding,
        and their lengths (B,)."""
        _check_features(features, lengths, self.config.n_mels)
        lengths = torch.as_tensor(lengths, device=features.device)
        stacked, out_lengths = stack_frames(
            zero_padding(features, lengths), lengths, self.config.stack
        )
        states, _ = self.lstm(stacked, lengths=out_lengths)  # (B, T', D*H)
        return states, out_lengths

    def log_probs(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Per output frame, log-probabilities over the tokens and the blank (B, T', V), and the
        frames' lengths (B,)."""
        states, out_lengths = self.encode(features, lengths)
        logits = self.output(self.dropout(states)) + self.suppress  # (B, T', V)
        return logits.log_softmax(-1), out_lengths

    def loss(
        self, features: Tensor, lengths: Tensor, targets: Tensor, target_lengths: Tensor
    ) -> tuple[Tensor, int]:
        """The CTC loss per transcript token, and the number of tokens.

        Args:
            features: (B, T, F); lengths: (B,) their true frames.
            targets: (B, U) token ids (padding past each ``target_lengths``, never the blank
                inside a transcript); target_lengths: (B,).

        An utterance too short for its transcript (fewer output frames than CTC needs) has no
        alignment; its infinite loss is zeroed (``zero_infinity``) rather than spoiling the
        batch — the estimator leaves such utterances out of training and counts them.
        """
        log_probs, out_lengths = self.log_probs(features, lengths)
        n_tokens = int(target_lengths.sum())
        loss = F.ctc_loss(
            log_probs.transpose(0, 1),  # (T', B, V), as ctc_loss takes it
            targets,
            out_lengths,
            target_lengths,
            blank=self.config.blank_id,
            reduction="sum",
            zero_infinity=True,
        )
        return loss / max(n_tokens, 1), n_tokens

    def start_stream(self, batch_size: int = 1) -> StreamState:
        """The state of ``batch_size`` streams before their first frame: no frames waiting,
        ``(h, c)`` zero, as :meth:`log_probs` starts an utterance.

        Raises:
            UserError: naming ``bidirectional``: a backward LSTM needs the utterance's end.
        """
        c = self.config
        if c.bidirectional:
            raise UserError(
                "bidirectional: expected a unidirectional model to stream, got a bidirectional "
                "one (its backward LSTM needs the utterance's end)"
            )
        weight = self.output.weight
        zeros = weight.new_zeros(c.num_layers, batch_size, c.hidden_size)  # (L, B, H)
        return StreamState(weight.new_zeros(batch_size, 0, c.n_mels), zeros, zeros.clone())

    def stream_log_probs(
        self, features: Tensor, state: StreamState, final: bool = False
    ) -> tuple[Tensor, StreamState]:
        """Log-probabilities of the output frames that ``features`` complete, continuing a
        stream from ``state``.

        The frames waiting in ``state`` and ``features`` are cut into whole stacks, which the
        LSTM runs from ``state``'s ``(h, c)``; the frames left over wait for the next call. With
        ``final``, they are completed with zero frames, as :func:`stack_frames` completes an
        utterance's last stack, so that a stream's chunks give :meth:`log_probs` of the whole.

        Args:
            features: (B, T, F) the streams' next feature frames (T may be 0).
            state: from :meth:`start_stream` or the previous call.
            final: the streams end with these frames.

        Returns:
            (B, T', V) log-probabilities (T' may be 0), and the state to continue with.

        Raises:
            ValueError: naming ``features`` when its shape does not continue ``state``.

        Example:
            >>> config = SpeechConfig(6, n_mels=4, hidden_size=8, stack=3, bidirectional=False)
            >>> model = CTCRecognizer(config)
            >>> _ = model.eval()
            >>> x = torch.randn(1, 10, 4)
            >>> a, state = model.stream_log_probs(x[:, :4], model.start_stream())
            >>> b, state = model.stream_log_probs(x[:, 4:], state, final=True)
            >>> a.shape[1], b.shape[1], state.frames.shape[1]
            (1, 3, 0)
            >>> whole, _ = model.log_probs(x, torch.tensor([10]))
            >>> torch.allclose(torch.cat([a, b], 1), whole, atol=1e-6)
            True
        """
        B, _, Fb = state.frames.shape
        if features.dim() != 3 or features.shape[0] != B or features.shape[2] != Fb:
            raise ValueError(f"features: expected ({B}, T, {Fb}), got {tuple(features.shape)}")
        frames = torch.cat([state.frames, features.to(state.frames)], 1)  # (B, k + T, F)
        stack = self.config.stack
        if final:
            frames = F.pad(frames, (0, 0, 0, (-frames.shape[1]) % stack))  # zero frames
        whole = frames.shape[1] // stack * stack
        rest = frames[:, whole:].clone()  # (B, < stack, F); a view would keep all frames
        if whole == 0:
            empty = frames.new_zeros(B, 0, self.config.vocab_size)  # (B, 0, V)
            return empty, StreamState(rest, state.h, state.c)
        stacked = frames[:, :whole].reshape(B, whole // stack, stack * Fb)  # (B, T', stack*F)
        out, (h, c) = self.lstm(stacked, (state.h, state.c))  # (B, T', H)
        logits = self.output(self.dropout(out)) + self.suppress  # (B, T', V)
        return logits.log_softmax(-1), StreamState(rest, h, c)


@dataclass
class StreamState:
    """What a streaming :class:`CTCRecognizer` carries from one chunk to the next: its size
    does not grow with the stream.

    Attributes:
        frames: (B, k, F) feature frames of a stack not yet complete, ``k < stack``.
        h, c: (L, B, H) the LSTM's state after the last complete stack.
    """

    frames: Tensor
    h: Tensor
    c: Tensor


def _check_features(features: Tensor, lengths, n_mels: int) -> None:
    if features.dim() != 3 or features.shape[-1] != n_mels:
        raise ValueError(f"features: expected (B, T, {n_mels}), got {tuple(features.shape)}")
    if torch.as_tensor(lengths).shape != (features.shape[0],):
        raise ValueError(
            f"lengths: expected shape ({features.shape[0]},), "
            f"got {tuple(torch.as_tensor(lengths).shape)}"
        )


def frames_needed(target: list[int] | Tensor) -> int:
    """The fewest output frames a CTC alignment of ``target`` needs: one per token, plus a blank
    between each pair of equal neighbours.

    Example:
        >>> frames_needed([5, 5, 6])  # a blank must separate the repeated 5s
        4
    """
    ids = list(target.tolist() if isinstance(target, Tensor) else target)
    return len(ids) + sum(a == b for a, b in itertools.pairwise(ids))


def build_recognizer(config: SpeechConfig) -> CTCRecognizer:
    """The network ``config`` describes."""
    return CTCRecognizer(config)


__all__ = [
    "CTCRecognizer",
    "SpeechConfig",
    "StreamState",
    "build_recognizer",
    "frames_needed",
    "stack_frames",
    "zero_padding",
]
