"""Scoring captions against every reference of their image: BLEU-1 to 4 (sacrebleu), CIDEr-D,
ROUGE-L and exact match.

BLEU is sacrebleu's corpus BLEU with its default settings (13a tokenisation, exponential
smoothing) and each image's references as its own number of reference streams; BLEU-n is
the geometric mean of the 1..n-gram precisions with the brevity penalty, as COCO's caption
evaluation reports it. CIDEr-D and ROUGE-L are computed exactly as the COCO caption evaluation
toolkit's (pycocoevalcap's ``cider_scorer.py`` and ``rouge.py``) on the words BLEU reads, the
captions split by sacrebleu's 13a tokenizer. (The toolkit's own PTB tokenizer also drops
punctuation, which these scores, like BLEU, keep.) Exact match: the share of captions equal to
one of their references.

Example:
    >>> s = caption_scores(["a red star"], [["a red star", "a star that is red"]])
    >>> round(s["bleu2"], 6), s["exact"], round(s["rouge_l"], 6)
    (100.0, 100.0, 100.0)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from lstmkit.errors import UserError

_WORDS_13A = Tokenizer13a()


def caption_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """``bleu1`` … ``bleu4``, ``rouge_l`` and ``exact`` (percent), ``cider`` (CIDEr-D × 100, as
    papers print it: the COCO toolkit's 0.95 is 95.0) and ``images``.

    CIDEr-D weighs n-grams by their rarity among the scored images' references, so it compares
    only scores of the same images (and is 0 for a single image).

    Args:
        hypotheses: one caption per image.
        references: each image's reference captions (one or more).

    Raises:
        UserError: a count that differs, or an image without references.
    """
    _check(hypotheses, references)
    most = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(most)]
    scores = {}
    for n in range(1, 5):
        bleu = sacrebleu.metrics.BLEU(max_ngram_order=n)
        scores[f"bleu{n}"] = bleu.corpus_score(list(hypotheses), streams).score
    words = [_WORDS_13A(h) for h in hypotheses]
    ref_words = [[_WORDS_13A(r) for r in refs] for refs in references]
    scores["cider"] = 100.0 * _mean(cider_d(words, ref_words))
    scores["rouge_l"] = 100.0 * _mean(rouge_l(words, ref_words))
    pairs = zip(hypotheses, references, strict=True)
    exact = sum(h.strip() in {r.strip() for r in refs} for h, refs in pairs)
    return {**scores, "exact": 100.0 * exact / len(references), "images": len(references)}


def cider_d(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], n: int = 4, sigma: float = 6.0
) -> list[float]:
    """Each image's CIDEr-D (Vedantam et al. 2015) as pycocoevalcap's ``CiderScorer`` computes it.

    Words are split at whitespace. An n-gram (1 to ``n``) weighs its count times its idf,
    ``log(images) - log(max(1, images whose references hold it))``; per order, the clipped
    cosine ``sum(min(w_hyp, w_ref) * w_ref) / (|hyp| |ref|)`` against each reference, times the
    length penalty ``exp(-δ² / 2σ²)``; the mean over orders and references, times 10.

    Returns:
        One score per image (0 to 10; the toolkit's corpus CIDEr is their mean).

    Raises:
        UserError: a count that differs, or an image without references.

    Example:
        >>> found = cider_d(["a b", "x y"], [["a b"], ["x z"]])  # "x y": unigram cosine 1/2
        >>> [round(score, 6) for score in found]
        [5.0, 1.25]
    """
    _check(hypotheses, references)
    hyps = [_ngrams(h.split(), n) for h in hypotheses]
    refs = [[_ngrams(r.split(), n) for r in rs] for rs in references]
    images_with = Counter(g for rs in refs for g in set().union(*rs))
    log_images = math.log(len(refs))

    def weigh(counts: Counter) -> tuple[dict, list[float], int]:
        vec = {g: tf * (log_images - math.log(max(1, images_with[g]))) for g, tf in counts.items()}
        norms = [0.0] * n
        for g, w in vec.items():
            norms[len(g) - 1] += w * w
        # Length in words; the toolkit counts bigrams, the same δ but for an empty caption (0).
        return vec, [math.sqrt(s) for s in norms], sum(c for g, c in counts.items() if len(g) == 1)

    scores = []
    for hyp, rs in zip(hyps, refs, strict=True):
        vec, norms, length = weigh(hyp)
        total = 0.0
        for ref in rs:
            ref_vec, ref_norms, ref_length = weigh(ref)
            dots = [0.0] * n
            for g, w in vec.items():
                dots[len(g) - 1] += min(w, ref_vec.get(g, 0.0)) * ref_vec.get(g, 0.0)
            pairs = zip(dots, norms, ref_norms, strict=True)
            cosines = [d / (a * b) if a and b else 0.0 for d, a, b in pairs]
            penalty = math.exp(-((length - ref_length) ** 2) / (2 * sigma**2))
            total += penalty * sum(cosines) / n
        scores.append(10.0 * total / len(rs))
    return scores


def rouge_l(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], beta: float = 1.2
) -> list[float]:
    """Each image's ROUGE-L as pycocoevalcap's ``Rouge`` computes it (0 to 1).

    Words are split at whitespace. With the longest common subsequence of the caption and each
    reference, precision ``P`` (LCS / caption words) and recall ``R`` (LCS / reference words)
    are each the best over the references, and the score is
    ``(1 + β²) P R / (R + β² P)``, 0 when either is 0.

    Raises:
        UserError: a count that differs, or an image without references.

    Example:
        >>> [round(f, 4) for f in rouge_l(["the cat sat"], [["the cat", "a dog sat"]])]
        [0.8299]
    """
    _check(hypotheses, references)
    scores = []
    for hyp, refs in zip(hypotheses, references, strict=True):
        words, ref_words = hyp.split(), [r.split() for r in refs]
        common = [(_lcs(words, r), max(1, len(r))) for r in ref_words]
        precision = max(c for c, _ in common) / max(1, len(words))
        recall = max(c / size for c, size in common)
        if precision and recall:
            f = (1 + beta**2) * precision * recall / (recall + beta**2 * precision)
        else:
            f = 0.0
        scores.append(f)
    return scores


def _check(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(hypotheses) != len(references):
        raise UserError(
            f"hypotheses: expected one per image ({len(references)}), got {len(hypotheses)}"
        )
    if not references or any(not refs for refs in references):
        raise UserError("references: expected at least one caption per image, got none")


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(
        tuple(words[i : i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1)
    )


def _lcs(a: list[str], b: list[str]) -> int:
    """The length of the longest common subsequence of ``a`` and ``b``, one table row kept."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, 1):
            above = row[j]
            row[j] = diagonal + 1 if x == y else max(above, row[j - 1])
            diagonal = above
    return row[-1]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


__all__ = ["caption_scores", "cider_d", "rouge_l"]
