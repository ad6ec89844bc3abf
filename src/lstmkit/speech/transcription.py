"""Transcription with a trained recogniser's network: audio to features, features to transcripts
with their words' times (what :meth:`lstmkit.speech.SpeechRecognizer.transcribe` returns).

CTC (:class:`lstmkit.models.speech.CTCRecognizer`) is decoded by :mod:`lstmkit.decode.ctc`
(greedy, or prefix beam search with an optional word n-gram model); Listen, Attend and Spell
(:class:`lstmkit.models.speech_las.LASRecognizer`) by the attention speller's
:func:`lstmkit.decode.greedy` and :func:`lstmkit.decode.beam_search`.

Legend: B batch, T feature frames, T' output frames (CTC's, or the listener's), F feature bands,
V output tokens, U transcript tokens, S listener frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.data.audio import check_audible, read_audio, resample
from lstmkit.data.batching import bucketed_batches
from lstmkit.decode.beam import beam_search
from lstmkit.decode.ctc import CTCHypothesis, ctc_greedy, ctc_prefix_beam_search
from lstmkit.decode.greedy import Hypothesis, greedy
from lstmkit.decode.ngram import NGramLM
from lstmkit.errors import UserError
from lstmkit.models.speech_las import LASRecognizer
from lstmkit.nn.device import device_of
from lstmkit.speech.features import FeatureConfig, features_of_samples
from lstmkit.speech.task import collate

# Attention decoding ends a transcript at this many tokens a second of audio (speech is about 15
# characters a second): a speller that has not learned where to stop would run on.
MAX_TOKENS_PER_SECOND = 30
METHODS = ("greedy", "beam")


def check_decoding(
    model: nn.Module,
    method: str,
    lm: Any,
    batch_size: int,
    beam_size: int,
    sample_rate: int | None,
    max_seconds: float,
) -> None:
    """Checks :meth:`~lstmkit.speech.SpeechRecognizer.transcribe`'s decoding settings for
    ``model``, before any audio is read.

    Raises:
        UserError: naming the argument that cannot be used.
    """
    if method not in METHODS:
        raise UserError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if lm is not None and isinstance(model, LASRecognizer):
        raise UserError("lm: the word LM fuses with CTC's beam search; got architecture='las'")
    if lm is not None and method != "beam":
        raise UserError(f"lm: needs method='beam', got method={method!r}")
    for name, value in (("batch_size", batch_size), ("beam_size", beam_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{name}: expected a positive integer, got {value!r}")
    if sample_rate is not None and (
        isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1
    ):
        raise UserError(f"sample_rate: expected a rate in Hz > 0, got {sample_rate!r}")
    if (
        not isinstance(max_seconds, int | float)
        or isinstance(max_seconds, bool)
        or not max_seconds > 0
    ):
        raise UserError(f"max_seconds: expected seconds > 0, got {max_seconds!r}")


def audio_features(
    audio: str | Path | np.ndarray | Tensor | Sequence,
    feature_config: FeatureConfig,
    sample_rate: int | None,
    max_seconds: float,
) -> list[Tensor]:
    """The features (T, F) of each input: a path or an array of samples (mono, (N,)), or a list
    of them (``sample_rate``: the arrays', default ``feature_config``'s; files say their own).

    Raises:
        UserError: naming the argument or the file that cannot be used: an unreadable, empty,
            silent or too long file; an array that is not (N,) finite samples.
    """
    if isinstance(audio, np.ndarray | Tensor) and audio.ndim != 1:
        raise UserError(
            f"audio: expected mono samples (N,) or a list of them, got an array of shape "
            f"{tuple(audio.shape)} (mix channels down first)"
        )
    items = [audio] if _single(audio) else list(audio)
    return [_features_of(item, feature_config, sample_rate, max_seconds) for item in items]


def _single(audio) -> bool:
    return isinstance(audio, str | Path) or (
        isinstance(audio, np.ndarray | Tensor) and audio.ndim == 1
    )


def _features_of(item, fc: FeatureConfig, sample_rate: int | None, max_seconds: float) -> Tensor:
    if isinstance(item, str | Path):
        samples = read_audio(item, fc.sample_rate, max_seconds=max_seconds)
        check_audible(samples, str(item))
    else:
        samples = np.asarray(item.cpu() if isinstance(item, Tensor) else item, np.float32)
        if samples.ndim != 1 or not samples.size:
            raise UserError(
                f"audio: expected mono samples (N,), got an array of shape {samples.shape}"
            )
        if not np.isfinite(samples).all():
            raise UserError("audio: expected finite samples, got NaN or inf")
        rate = fc.sample_rate if sample_rate is None else sample_rate
        if len(samples) > max_seconds * rate:
            raise UserError(
                f"audio: expected at most {max_seconds:g} s (`max_seconds`), got "
                f"{len(samples) / rate:.2f} s"
            )
        if rate != fc.sample_rate:
            samples = resample(samples, rate, fc.sample_rate)
    return features_of_samples(samples, fc)


@torch.no_grad()
def decode(
    model: nn.Module,
    tokenizer: Any,
    feature_config: FeatureConfig,
    features: list[Tensor],
    method: str,
    beam_size: int = 8,
    lm: NGramLM | None = None,
    lm_weight: float = 0.5,
    word_bonus: float = 1.0,
    batch_size: int = 16,
) -> list[list[dict]]:
    """Per utterance, its n-best list of ``{"text", "score", "words"}``.

    Args:
        model: a CTC or Listen-Attend-Spell network (evaluated in eval mode, its mode restored).
        tokenizer: the network's tokenizer.
        feature_config: the settings ``features`` were computed with (for the words' times).
        features: (T, F) per utterance.
        method: ``"greedy"`` or ``"beam"``; the other arguments as
            :meth:`~lstmkit.speech.SpeechRecognizer.transcribe`'s.
    """
    was_training = model.training
    model.eval()
    results: list[list[dict]] = [[] for _ in features]
    token_text = _token_text(tokenizer)
    fc = feature_config
    seconds = fc.hop_ms / 1000 * model.frame_stack  # per output frame
    search = {
        "beam_size": beam_size,
        "lm": lm,
        "lm_weight": lm_weight,
        "word_bonus": word_bonus,
        "token_text": token_text,
    }
    las = isinstance(model, LASRecognizer)
    try:
        lengths = [(f.shape[0], 0) for f in features]
        for indices in bucketed_batches(lengths, batch_size, 0):
            x, n, _, _ = collate([features[i] for i in indices], [[] for _ in indices])
            x = x.to(device_of(model))
            if las:
                found = _las_batch(model, x, n, method, search, fc.hop_ms)
            else:
                found = _ctc_batch(model, x, n, method, search)
            for hyps, k in zip(found, indices, strict=True):
                duration = ((features[k].shape[0] - 1) * fc.hop_ms + fc.win_ms) / 1000
                results[k] = [
                    _hypothesis(tokenizer, h, token_text, seconds, duration) for h in hyps
                ]
    finally:
        model.train(was_training)
    return results


def _ctc_batch(
    model: nn.Module, x: Tensor, lengths: Tensor, method: str, search: dict
) -> list[list[CTCHypothesis]]:
    """Features (B, T, F) → per utterance, CTC's hypotheses (best first)."""
    log_probs, out_lengths = model.log_probs(x, lengths)
    log_probs = log_probs.float().cpu()  # (B, T', V)
    if method == "greedy":
        return [[h] for h in ctc_greedy(log_probs, out_lengths, model.config.blank_id)]
    return [
        _search(model, log_probs[row, : int(out_lengths[row])], **search)  # (T', V)
        for row in range(len(lengths))
    ]


def _las_batch(
    model: nn.Module, x: Tensor, lengths: Tensor, method: str, search: dict, hop_ms: float
) -> list[list[CTCHypothesis]]:
    """Features (B, T, F) → per utterance, the speller's hypotheses (best first), each
    token's span the listener frame its attention peaks at (:func:`_attention_spans`)."""
    ratio = MAX_TOKENS_PER_SECOND * hop_ms / 1000  # per feature frame
    if method == "greedy":
        found = [[h] for h in greedy(model, x, lengths, None, max_len_ratio=ratio)]
    else:
        Z = search["beam_size"]
        found = beam_search(model, x, lengths, Z, max_len_ratio=ratio, max_len=None, n_best=Z)
    return [[_attention_spans(h) for h in hyps] for hyps in found]


def _search(model: nn.Module, frames: Tensor, **search: Any) -> list[CTCHypothesis]:
    """One utterance's beam-search hypotheses from its frames' log-probabilities (T', V)."""
    blank = model.config.blank_id
    return ctc_prefix_beam_search(frames, search.pop("beam_size"), blank=blank, **search)


def _token_text(tokenizer: Any) -> list[str]:
    """Each output id's text (specials empty; a SentencePiece ``▁`` as a leading space)."""
    specials = {tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id}
    return ["" if i in specials else tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]


def _hypothesis(
    tokenizer: Any, h: CTCHypothesis, token_text: list[str], seconds: float, duration: float
) -> dict:
    text = " ".join(tokenizer.decode(h.tokens).split())
    words = _words(h, token_text, seconds)
    for word in words:  # the last output frame may reach past the audio's end
        word["end"] = min(word["end"], duration)
        word["start"] = min(word["start"], word["end"])
    return {"text": text, "score": h.score, "words": words}


def _words(h: CTCHypothesis, token_text: list[str], seconds: float) -> list[dict]:
    """The words of a hypothesis with their start and end (seconds): a word starts at the first
    frame of its first token and ends after the last frame of its last."""
    words: list[dict] = []
    current, start, end = "", 0, 0
    for token, (first, last) in zip(h.tokens, h.spans, strict=True):
        text = token_text[token].replace("▁", " ")
        for char in text:
            if char == " ":
                if current:
                    words.append(
                        {"word": current, "start": start * seconds, "end": (end + 1) * seconds}
                    )
                current = ""
                continue
            if not current:
                start = first
            current += char
            end = last
    if current:
        words.append({"word": current, "start": start * seconds, "end": (end + 1) * seconds})
    return words


def _attention_spans(h: Hypothesis) -> CTCHypothesis:
    """A speller's hypothesis with each token placed at the listener frame its attention peaks
    at, the frames made non-decreasing (attention may glance back), as a one-frame span."""
    peaks = h.attention[: len(h.tokens)].argmax(-1)  # (U,) of the (steps, S) weights
    peaks = peaks.cummax(0).values.tolist() if len(peaks) else []
    return CTCHypothesis(h.tokens, h.score, [(p, p) for p in peaks])


__all__ = ["MAX_TOKENS_PER_SECOND", "METHODS", "audio_features", "check_decoding", "decode"]
