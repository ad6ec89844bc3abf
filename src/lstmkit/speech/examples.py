"""The recogniser's examples: transcripts in the form it trains and scores on, and the
(features, token ids) pairs a run trains on.

Legend: T feature frames, F feature bands.
"""

from __future__ import annotations

import warnings
from typing import Any

from torch import Tensor

from lstmkit.data.utterances import Utterances
from lstmkit.errors import Notice, UserError
from lstmkit.models.speech import SpeechConfig, frames_needed
from lstmkit.models.speech_las import LASConfig
from lstmkit.speech.text import TranscriptNormalizer, dropped_note


def transcripts(utterances: Utterances, what: str, normalize: bool) -> list[str]:
    """The transcripts of ``utterances``: as written, or with ``normalize`` in their normal form
    (:mod:`lstmkit.speech.text`), a notice saying what normalisation dropped.

    Raises:
        UserError: naming the utterance whose transcript has no letters or digits left.
    """
    if not normalize:
        return list(utterances.texts)
    texts, dropped = TranscriptNormalizer().normalize_all(utterances.texts)
    for text, where in zip(texts, utterances.where, strict=True):
        if not text:
            raise UserError(
                f"{where}: expected a transcript with letters or digits, got none left "
                "after normalisation"
            )
    note = dropped_note(dropped, what)
    if note:
        warnings.warn(note, Notice, stacklevel=3)
    return texts


def usable_pairs(
    features: list[Tensor],
    texts: list[str],
    utterances: Utterances,
    what: str,
    tokenizer: Any,
    config: SpeechConfig | LASConfig,
) -> list[tuple[Tensor, list[int]]]:
    """(features, ids) of the utterances with a transcript, unknown tokens dropped and
    counted; where a CTC loss is trained (CTC, or LAS with ``ctc_weight`` > 0), those long
    enough for it: an utterance with fewer output (listener) frames than its transcript
    needs is left out and counted.

    Args:
        features: (T, F) per utterance; texts: its transcript; utterances: where each is
            (for the messages); what: the utterances' name in the messages.
        tokenizer: the run's tokenizer; config: the network's.

    Raises:
        UserError: no utterance left.
    """
    las = isinstance(config, LASConfig)
    stack = config.frame_stack if las else config.stack
    aligned = not las or config.ctc_weight > 0
    kept, short, unknown = [], [], 0
    unk = tokenizer.unk_id
    for f, text, where in zip(features, texts, utterances.where, strict=True):
        ids = tokenizer.encode(text)
        unknown += sum(i == unk for i in ids)
        ids = [i for i in ids if i != unk]
        if not ids:
            continue
        if aligned and frames_needed(ids) > -(-f.shape[0] // stack):
            short.append(where)
            continue
        kept.append((f, ids))
    if unknown:
        warnings.warn(
            f"{what} transcripts: dropped {unknown} tokens outside the vocabulary",
            Notice,
            stacklevel=3,
        )
    if short:
        warnings.warn(
            f"{what}: left out {len(short)} utterances too short for their transcripts "
            f"(first: {short[0]})",
            Notice,
            stacklevel=3,
        )
    if not kept:
        some = "CTC can align" if aligned else "with transcript tokens"
        raise UserError(f"{what} utterances: expected some {some}, got none")
    return kept


__all__ = ["transcripts", "usable_pairs"]
