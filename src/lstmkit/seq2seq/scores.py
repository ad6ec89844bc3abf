"""Scoring translations: BLEU and chrF (sacrebleu), exact match, and all three by source length.

BLEU and chrF are computed by sacrebleu on detokenised text with its default settings (13a
tokenisation for BLEU), so the figures are comparable with published ones; the signature is
reported with them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sacrebleu

from lstmkit.errors import UserError

# Source-length buckets in words: (low, high) inclusive, high None for no bound.
LENGTH_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (1, 5),
    (6, 10),
    (11, 15),
    (16, 20),
    (21, 30),
    (31, None),
)


def translation_scores(
    hypotheses: Sequence[str],
    references: Sequence[str],
    sources: Sequence[str] | None = None,
    buckets: Sequence[tuple[int, int | None]] = LENGTH_BUCKETS,
) -> dict:
    """BLEU, chrF and exact match of ``hypotheses`` against one reference each.

    Args:
        hypotheses, references: detokenised sentences, aligned.
        sources: the source sentences; with them the scores are also given per source length
            (words), the notes' claim that quality falls with length made visible.
        buckets: the source-length buckets.

    Returns:
        ``{"bleu", "chrf", "exact", "sentences", "signature", "by_length": {label: {...}}}``;
        scores in percent.

    Example:
        >>> s = translation_scores(["the cat sat", "a dog"], ["the cat sat", "the dog"])
        >>> s["exact"], round(s["chrf"], 1) > 50
        (50.0, True)
    """
    if len(hypotheses) != len(references):
        raise UserError(
            f"references: expected one per hypothesis ({len(hypotheses)}), got {len(references)}"
        )
    if not references:
        raise UserError("references: expected at least one sentence, got none")
    scores = _scores(hypotheses, references)
    if sources is not None:
        by_length = {}
        for low, high in buckets:
            label = f"{low}+" if high is None else str(low) if low == high else f"{low}-{high}"
            keep = [
                k
                for k, s in enumerate(sources)
                if low <= len(s.split()) and (high is None or len(s.split()) <= high)
            ]
            if keep:
                part = _scores([hypotheses[k] for k in keep], [references[k] for k in keep])
                part.pop("signature")
                by_length[label] = part
        scores["by_length"] = by_length
    return scores


def _scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    exact = sum(h.strip() == r.strip() for h, r in zip(hypotheses, references, strict=True))
    return {
        "bleu": bleu.corpus_score(list(hypotheses), [list(references)]).score,
        "chrf": chrf.corpus_score(list(hypotheses), [list(references)]).score,
        "exact": 100.0 * exact / len(references),
        "sentences": len(references),
        "signature": str(bleu.get_signature()),
    }
