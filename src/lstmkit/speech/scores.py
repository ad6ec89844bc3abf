"""Word and character error rates of transcripts (jiwer), overall and by utterance length.

WER is (substitutions + deletions + insertions) / reference words, from the minimum-edit
alignment of each hypothesis to its reference, summed over the corpus (not averaged per
utterance); CER the same over characters, spaces included. Both are given in percent, as ESPnet
and Kaldi report them, with the counts they come from.

Example:
    >>> s = recognition_scores(["the cat sat", "a dog"], ["the cat sat", "the dog"])
    >>> s["wer"], s["substitutions"], s["words"]
    (20.0, 1, 5)
"""

from __future__ import annotations

from collections.abc import Sequence

from lstmkit.errors import UserError

# Utterance length groups (reference words) for the table by length.
LENGTH_GROUPS = ((1, 3), (4, 6), (7, 10), (11, 20), (21, None))


def _label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}-{high}"


def error_counts(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Corpus WER and CER (percent) with the word-level substitutions, deletions, insertions,
    hits and the reference's words, characters and utterances."""
    import jiwer  # the speech extra; imported when scoring

    if len(hypotheses) != len(references):
        raise UserError(
            f"hypotheses: expected one per reference ({len(references)}), got {len(hypotheses)}"
        )
    if not references:
        raise UserError("references: expected at least one transcript, got none")
    if any(not r.strip() for r in references):
        raise UserError("references: expected non-empty transcripts, got an empty one")
    words = jiwer.process_words(list(references), list(hypotheses))
    chars = jiwer.process_characters(list(references), list(hypotheses))
    n_words = words.hits + words.substitutions + words.deletions
    n_chars = chars.hits + chars.substitutions + chars.deletions
    return {
        "wer": 100.0 * words.wer,
        "cer": 100.0 * chars.cer,
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "hits": words.hits,
        "words": n_words,
        "characters": n_chars,
        "utterances": len(references),
    }


def recognition_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """:func:`error_counts` overall, plus ``by_length``: the same per group of reference
    lengths in words (``"1-3"``, ``"4-6"``, ...), groups without utterances left out."""
    scores = error_counts(hypotheses, references)
    groups: dict[str, dict] = {}
    for low, high in LENGTH_GROUPS:
        picked = [
            k
            for k, ref in enumerate(references)
            if low <= len(ref.split()) and (high is None or len(ref.split()) <= high)
        ]
        if picked:
            groups[_label(low, high)] = error_counts(
                [hypotheses[k] for k in picked], [references[k] for k in picked]
            )
    return {**scores, "by_length": groups}


__all__ = ["LENGTH_GROUPS", "error_counts", "recognition_scores"]
