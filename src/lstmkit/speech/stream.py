"""Streaming recognition: audio in chunks of any size, text out as it is heard.

A stream needs a causal pipeline end to end, and a model trained on it: features normalised by
the running statistics of the frames so far (``features={"normalize": "causal"}``,
:func:`~lstmkit.speech.features.normalize_causal`) and a unidirectional LSTM
(``model={"bidirectional": False}``). :class:`FeatureStream` turns chunks of samples into those
features, keeping the samples of the next frame's window and the running statistics;
:class:`SpeechStream` runs them through the network a complete frame stack at a time
(:meth:`~lstmkit.models.speech.CTCRecognizer.stream_log_probs`) and decodes greedily (CTC best
path), carrying the last frame's token so that a token held across a chunk's edge is written
once. Whatever the chunks, the text is the greedy transcript of the whole audio
(:meth:`~lstmkit.speech.estimator.SpeechRecognizer.transcribe`'s), and what a stream keeps does
not grow with its length.

Legend: N samples, T feature frames, F feature bands, T' output frames, V output tokens,
L num_layers, H hidden_size.

Example:
    >>> from lstmkit.speech.features import FeatureConfig, features_of_samples
    >>> config = FeatureConfig(n_mels=20, normalize="causal")
    >>> audio = np.random.default_rng(0).normal(size=4000).astype(np.float32)
    >>> stream = FeatureStream(config)
    >>> pieces = [stream.accept(audio[k : k + 700]) for k in range(0, 4000, 700)]
    >>> whole = features_of_samples(audio, config)  # the same, to float32 rounding
    >>> torch.allclose(torch.cat([*pieces, stream.finish()]), whole, rtol=0, atol=1e-5)
    True
"""

from __future__ import annotations

import re

import numpy as np
import torch
from torch import Tensor

from lstmkit.decode.ctc import ctc_greedy
from lstmkit.errors import UserError
from lstmkit.models.speech import CTCRecognizer
from lstmkit.speech.features import (
    CausalStats,
    FeatureConfig,
    as_samples,
    log_mel,
    normalize_causal,
)
from lstmkit.tokenizers import Tokenizer

RETRAIN = "train with model={'bidirectional': False} and features={'normalize': 'causal'}"
PROMPT_CHARS = 64  # the most of the last word the tokenizer is shown to continue it


class FeatureStream:
    """Causal log-mel features of audio arriving in chunks.

    Frames are computed as soon as their window is complete and normalised by the statistics
    of the frames so far; the frames of all chunks, and :meth:`finish`'s, equal
    :func:`~lstmkit.speech.features.features_of_samples` of the whole audio exactly. Kept
    between chunks: fewer samples than one window and the running statistics (2F numbers).

    Args:
        config: the feature settings, ``normalize="causal"``, samples at its sample rate.

    Raises:
        UserError: naming ``normalize`` when it is not ``"causal"``.
    """

    def __init__(self, config: FeatureConfig) -> None:
        if config.normalize != "causal":
            raise UserError(
                f"normalize: expected 'causal' to stream features, got {config.normalize!r} "
                "(per-utterance statistics need the utterance's end)"
            )
        self.config = config
        self._samples = np.zeros(0, np.float32)  # (< win,) the next frames' first samples
        self._stats: CausalStats | None = None
        self._started = False  # a frame, or a sample, has been seen
        self._finished = False

    def accept(self, samples: np.ndarray | Tensor) -> Tensor:
        """The normalised frames (T, F) whose windows ``samples`` complete (T may be 0).

        Args:
            samples: (N,) float samples at ``config.sample_rate``, full scale at ±1; N may be 0.

        Raises:
            UserError: naming ``samples`` when not a 1-D array of finite floats, or the stream
                when it has finished.
        """
        self._check_open()
        x = as_samples(samples).numpy()
        self._started = self._started or x.size > 0
        buffer = np.concatenate([self._samples, x])  # (N',)
        win, hop = self.config.win_length, self.config.hop_length
        count = 0 if buffer.size < win else 1 + (buffer.size - win) // hop
        self._samples = buffer[count * hop :].copy()  # a view would keep the whole chunk
        if count == 0:
            return torch.zeros(0, self.config.n_mels)
        frames = log_mel(buffer[: (count - 1) * hop + win], self.config)  # (T, F)
        out, self._stats = normalize_causal(frames, self._stats)
        return out

    def finish(self) -> Tensor:
        """The last frames (T, F): none, or one for audio shorter than a window, which
        :func:`~lstmkit.speech.features.log_mel` zero-pads to one. The stream then takes no
        more audio."""
        self._check_open()
        self._finished = True
        if self._stats is not None or not self._started:
            return torch.zeros(0, self.config.n_mels)
        return normalize_causal(log_mel(self._samples, self.config))[0]

    @property
    def state(self) -> dict[str, np.ndarray]:
        """What the stream keeps between chunks: ``samples`` (< win,), and the statistics
        ``total`` and ``squares`` (F,) each (empty before the first frame)."""
        stats = self._stats
        empty = np.zeros(0)
        return {
            "samples": self._samples,
            "total": empty if stats is None else stats.total,
            "squares": empty if stats is None else stats.squares,
        }

    def _check_open(self) -> None:
        if self._finished:
            raise UserError("stream: expected audio before finish(), got more after it")


class SpeechStream:
    """A transcript written as the audio arrives, from
    :meth:`~lstmkit.speech.estimator.SpeechRecognizer.stream`.

    ``accept(chunk)`` returns the text the chunk adds, ``finish()`` the rest, and ``text`` all
    of it so far: the greedy transcript
    :meth:`~lstmkit.speech.estimator.SpeechRecognizer.transcribe` gives the whole audio,
    whatever the chunks. Text is written as soon as CTC emits it: a chunk may end in
    the middle of a word, and a space is written when the next word starts.

    Args:
        model: the recogniser's network (unidirectional).
        tokenizer: its tokenizer.
        config: its feature settings (``normalize="causal"``).

    Raises:
        UserError: a Listen-Attend-Spell model, a bidirectional one, or features normalised
            per utterance: none can run before the utterance ends.
    """

    def __init__(self, model: CTCRecognizer, tokenizer: Tokenizer, config: FeatureConfig) -> None:
        if not isinstance(model, CTCRecognizer):
            raise UserError(
                "stream: expected a CTC model, got architecture='las' (its speller attends over "
                "the whole utterance)"
            )
        if model.config.bidirectional:
            raise UserError(
                f"stream: expected a unidirectional model, got a bidirectional one; {RETRAIN}"
            )
        if config.normalize != "causal":
            raise UserError(
                "stream: expected a model trained on causal features, got features normalised "
                f"per utterance; {RETRAIN}"
            )
        self._model = model
        self._tokenizer = tokenizer
        self._features = FeatureStream(config)
        self._state = model.start_stream()
        self._last = model.config.blank_id  # the last output frame's token, blank included
        self._text = ""
        self._prompt = ""  # the end of the raw text, for the tokenizer to continue
        self._space = False  # whitespace read and not yet written

    @property
    def text(self) -> str:
        """The transcript so far."""
        return self._text

    def accept(self, samples: np.ndarray | Tensor) -> str:
        """Takes the next chunk of audio and returns the text it adds (often "").

        Args:
            samples: (N,) float samples at the model's sample rate, full scale at ±1.

        Raises:
            UserError: naming ``samples`` when not a 1-D array of finite floats, or the stream
                when it has finished.
        """
        return self._emit(self._features.accept(samples), final=False)

    def finish(self) -> str:
        """Ends the stream: the text of the audio's last frames. It then takes no more audio."""
        return self._emit(self._features.finish(), final=True)

    @property
    def state(self) -> dict[str, np.ndarray | Tensor]:
        """What the stream keeps between chunks, its size independent of the audio's length:
        :attr:`FeatureStream.state`, the feature ``frames`` (1, < stack, F) of an incomplete
        stack, and the LSTM's ``h`` and ``c`` (L, 1, H)."""
        s = self._state
        return {**self._features.state, "frames": s.frames, "h": s.h, "c": s.c}

    def _emit(self, frames: Tensor, final: bool) -> str:
        if frames.shape[0] == 0 and not final:  # most chunks of a few samples
            return ""
        model = self._model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                log_probs, self._state = model.stream_log_probs(frames[None], self._state, final)
        finally:
            model.train(was_training)
        log_probs = log_probs[0].float().cpu()  # (T', V)
        if log_probs.shape[0] == 0:
            return ""
        tokens = ctc_greedy(log_probs, blank=model.config.blank_id)[0].tokens
        ids = log_probs.max(-1).indices  # (T',) as ctc_greedy picks them
        if tokens and int(ids[0]) == self._last == tokens[0]:
            tokens = tokens[1:]  # held across the chunks' edge: one token, written already
        self._last = int(ids[-1])
        return self._write(tokens)

    def _write(self, tokens: list[int]) -> str:
        """The text ``tokens`` add, spaced as ``" ".join(whole_text.split())`` spaces it."""
        if not tokens:
            return ""
        raw = self._tokenizer.decode_after(self._prompt, tokens)
        out: list[str] = []
        for char in raw:
            if char.isspace():
                self._space = True
                continue
            if self._space and (self._text or out):
                out.append(" ")
            self._space = False
            out.append(char)
        self._prompt = re.search(r"\S*\s*\Z", self._prompt + raw).group()[-PROMPT_CHARS:]
        piece = "".join(out)
        self._text += piece
        return piece


__all__ = ["FeatureStream", "SpeechStream"]
