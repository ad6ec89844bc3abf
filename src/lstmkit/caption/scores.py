"""Scoring captions against every reference of their image: BLEU-1 to 4 (sacrebleu), exact match.

BLEU is sacrebleu's corpus BLEU with its default settings (13a tokenisation, exponential
smoothing) and each image's references as its own number of reference streams; BLEU-n is
the geometric mean of the 1..n-gram precisions with the brevity penalty, as COCO's caption
evaluation reports it. Exact match: the share of captions equal to one of their references.

Example:
    >>> s = caption_scores(["a red star"], [["a red star", "a star that is red"]])
    >>> round(s["bleu2"], 6), s["exact"]
    (100.0, 100.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import sacrebleu

from lstmkit.errors import UserError


def caption_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """``bleu1`` … ``bleu4`` and ``exact`` (percent), and ``images``.

    Args:
        hypotheses: one caption per image.
        references: each image's reference captions (one or more).

    Raises:
        UserError: a count that differs, or an image without references.
    """
    if len(hypotheses) != len(references):
        raise UserError(
            f"hypotheses: expected one per image ({len(references)}), got {len(hypotheses)}"
        )
    if not references or any(not refs for refs in references):
        raise UserError("references: expected at least one caption per image, got none")
    most = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(most)]
    scores = {}
    for n in range(1, 5):
        bleu = sacrebleu.metrics.BLEU(max_ngram_order=n)
        scores[f"bleu{n}"] = bleu.corpus_score(list(hypotheses), streams).score
    pairs = zip(hypotheses, references, strict=True)
    exact = sum(h.strip() in {r.strip() for r in refs} for h, refs in pairs)
    return {**scores, "exact": 100.0 * exact / len(references), "images": len(references)}


__all__ = ["caption_scores"]
