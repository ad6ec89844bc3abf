"""A word n-gram language model: trained with interpolated modified Kneser-Ney, read and written
in the ARPA format, scored word by word for shallow fusion in CTC beam search.

The model is a backoff table, as an ARPA file holds it: for an n-gram ``h w`` in the table its
probability, otherwise the backoff weight of the history ``h`` times the probability of ``w`` after
the history shortened by its first word::

    p(w | h) = P(h w)                  if h w is in the table
             = bo(h) * p(w | h[1:])    otherwise (bo(h) = 1 if h is not in the table)

down to the unigrams. Sentences are scored between ``<s>`` and ``</s>``; words outside the
vocabulary are scored as ``<unk>``. :meth:`NGramLM.train` estimates the table from sentences
(Chen & Goodman 1998, "An empirical study of smoothing techniques for language modeling": three
discounts per order, continuation counts below the highest order, the unigrams interpolated with
the uniform distribution); it holds its counts in Python dictionaries, which suits corpora of a
few million words. A larger corpus is better counted by KenLM's ``lmplz`` and its ARPA file read
with :meth:`NGramLM.read_arpa` (the format itself is :mod:`lstmkit.decode.arpa`'s).
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from lstmkit.decode import arpa
from lstmkit.decode.arpa import BOS, EOS, MAX_ARPA_BYTES, UNK
from lstmkit.errors import UserError

MAX_ORDER = 5
# <s> is a history, never predicted: SRILM's log10 probability for it.
BOS_LOG10 = -99.0
# A word outside a vocabulary that lacks <unk> (an ARPA file without it): KenLM's log10 score.
UNK_LOG10 = -100.0
# KenLM's --discount_fallback, for orders whose counts of counts give no valid discounts.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
LN10 = math.log(10)


class NGramLM:
    """A backoff word n-gram language model.

    Build one with :meth:`train` or :meth:`read_arpa`; the constructor takes the table itself.

    Args:
        order: the longest n-gram, 1 to 5.
        probs: log10 probability of each n-gram (a tuple of words); the 1-grams must include
            ``<s>`` and ``</s>``.
        backoffs: log10 backoff weight of n-grams used as histories (missing: 0, a weight of 1).
        discounts: per order, the three Kneser-Ney discounts training used (for the record).

    Attributes:
        order: the longest n-gram.
        vocabulary: the words of the 1-grams, ``<s>``, ``</s>`` (and ``<unk>``) included.
        discounts: per order the discounts ``(D1, D2, D3+)`` of :meth:`train`; empty if read.

    Raises:
        UserError: an order outside 1..5, an n-gram longer than it, or 1-grams without ``<s>``
            or ``</s>``.

    Example:
        >>> lm = NGramLM.train(["the cat sat", "the dog sat"], order=2)
        >>> lm.log_prob("cat", ("the",)) > lm.log_prob("sat", ("the",))
        True
        >>> state = lm.start()
        >>> lp, state = lm.advance(state, "the")
        >>> state, round(math.exp(lp), 4)
        (('the',), 0.5833)
    """

    def __init__(
        self,
        order: int,
        probs: dict[tuple[str, ...], float],
        backoffs: dict[tuple[str, ...], float],
        discounts: dict[int, tuple[float, float, float]] | None = None,
    ) -> None:
        _check_order(order)
        longest = max(map(len, probs), default=0)
        if longest > order:
            raise UserError(
                f"probs: expected n-grams of at most order={order} words, got {longest}"
            )
        missing = [w for w in (BOS, EOS) if (w,) not in probs]
        if missing:
            raise UserError(
                f"probs: expected the 1-grams to include <s> and </s>, got no {missing[0]}"
            )
        self.order = order
        self.vocabulary = frozenset(gram[0] for gram in probs if len(gram) == 1)
        self.discounts = dict(discounts or {})
        self._probs = probs
        self._backoffs = backoffs
        self._keep = order - 1  # history words a state keeps

    def __repr__(self) -> str:
        counts = ", ".join(str(n) for n in self.counts)
        return f"NGramLM(order={self.order}, ngrams=[{counts}])"

    @property
    def counts(self) -> tuple[int, ...]:
        """How many n-grams of each order the table holds, 1-grams first."""
        counts = Counter(map(len, self._probs))
        return tuple(counts[n] for n in range(1, self.order + 1))

    # --- scoring -------------------------------------------------------------------------------

    def _log10(self, word: str, history: tuple[str, ...]) -> float:
        """log10 p(word | history), both already in the vocabulary, history at most order-1."""
        return _table_log10(self._probs, self._backoffs, word, history)

    def _known(self, word: str) -> str:
        return word if word in self.vocabulary else UNK

    def log_prob(self, word: str, history: tuple[str, ...] = ()) -> float:
        """Natural log of ``p(word | history)``, backing off as the table requires.

        Args:
            word: the next word; outside the vocabulary it is scored as ``<unk>``.
            history: the words before it, oldest first (only the last ``order - 1`` count;
                begin with ``<s>`` for the start of a sentence).

        Example:
            >>> lm = NGramLM.train(["a b"], order=2)
            >>> round(lm.log_prob("b", ("a",)), 4) == round(lm.log_prob("b", ("<s>", "a")), 4)
            True
        """
        history = tuple(self._known(w) for w in history[-self._keep :]) if self._keep else ()
        return self._log10(self._known(word), history) * LN10

    def start(self) -> tuple[str, ...]:
        """The state at the start of a sentence: ``("<s>",)`` (``()`` for order 1)."""
        return (BOS,) if self._keep else ()

    def advance(self, state: tuple[str, ...], word: str) -> tuple[float, tuple[str, ...]]:
        """The natural log of ``p(word | state)`` and the state after ``word``.

        Args:
            state: the last ``order - 1`` words, from :meth:`start` or an earlier call.
            word: the next word (``<unk>`` if outside the vocabulary).

        Returns:
            ``(log_prob, new_state)``.
        """
        word = self._known(word)
        log_prob = self._log10(word, state) * LN10
        if not self._keep:
            return log_prob, ()
        return log_prob, (*state, word)[-self._keep :]

    def finish(self, state: tuple[str, ...]) -> float:
        """The natural log of ``p(</s> | state)``: the end of the sentence."""
        return self._log10(EOS, state) * LN10

    def sentence_log_prob(self, words: str | Sequence[str]) -> float:
        """Natural log of the probability of a sentence, from ``<s>`` to ``</s>``.

        Args:
            words: the words, or a string split at whitespace.

        Example:
            >>> lm = NGramLM.train(["a b", "b a"], order=2)
            >>> lm.sentence_log_prob("a b") == lm.sentence_log_prob(["a", "b"])
            True
        """
        if isinstance(words, str):
            words = words.split()
        state, total = self.start(), 0.0
        for word in words:
            log_prob, state = self.advance(state, word)
            total += log_prob
        return total + self.finish(state)

    def perplexity(self, sentences: Iterable[str | Sequence[str]]) -> float:
        """``exp(-log p / N)`` over the sentences, N counting their words and one ``</s>`` each
        (words outside the vocabulary are scored as ``<unk>`` and counted).

        Raises:
            UserError: no sentences.
        """
        total, tokens = 0.0, 0
        for sentence in sentences:
            words = sentence.split() if isinstance(sentence, str) else sentence
            total += self.sentence_log_prob(words)
            tokens += len(words) + 1
        if not tokens:
            raise UserError("sentences: expected at least one sentence, got none")
        return math.exp(-total / tokens)

    # --- training ------------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        sentences: Iterable[str],
        order: int = 3,
        *,
        discounts: tuple[float, float, float] | None = None,
    ) -> NGramLM:
        """Estimate an interpolated modified Kneser-Ney model (Chen & Goodman 1998).

        Words are split at whitespace and taken as they are (normalise case and punctuation
        first); blank sentences are skipped. The highest order counts n-grams, lower orders count
        the distinct words seen before an n-gram (its continuation count), except n-grams that
        begin with ``<s>``, which have no word before them. Each order discounts counts of 1, 2
        and 3+ by ``D1, D2, D3`` estimated from its counts of counts n1..n4
        (``Y = n1 / (n1 + 2 n2)``, ``Dk = k - (k + 1) Y n(k+1) / nk``); where a count of counts is
        0 or a discount falls outside ``(0, k]``, as on tiny corpora, that order uses KenLM's
        fallback (0.5, 1, 1.5). ``<unk>`` gets the mass the unigrams leave to the uniform
        distribution. For every history the probabilities of the vocabulary (``</s>`` and
        ``<unk>`` included, ``<s>`` excluded) sum to 1.

        Args:
            sentences: one sentence per string.
            order: the longest n-gram, 1 to 5 (default 3).
            discounts: ``(D1, D2, D3+)`` for every order instead of the estimates.

        Returns:
            The model.

        Raises:
            UserError: no non-blank sentence, ``<s>`` or ``</s>`` inside a sentence, a bad order
                or discounts.

        Example:
            >>> lm = NGramLM.train(["a b a", "b b"], order=2)
            >>> words = ["a", "b", "</s>", "<unk>"]
            >>> round(sum(math.exp(lm.log_prob(w, ("a",))) for w in words), 9)
            1.0
        """
        _check_order(order)
        if discounts is not None:
            _check_discounts(discounts, "discounts")
        adjusted = _adjusted_counts(_count(sentences, order), order)
        chosen = {
            n: tuple(map(float, discounts)) if discounts else _estimate_discounts(adjusted[n - 1])
            for n in range(1, order + 1)
        }
        probs, backoffs = _kneser_ney(adjusted, chosen)
        return cls(order, probs, backoffs, chosen)

    # --- ARPA files ----------------------------------------------------------------------------

    def write_arpa(self, path: str | os.PathLike) -> None:
        """Write the model as an ARPA file (log10 probabilities and backoff weights; numbers
        written exactly, so that :meth:`read_arpa` gives the same scores).

        Raises:
            UserError: the file cannot be written.
        """
        arpa.write_arpa(arpa.ArpaTable(self.order, self._probs, self._backoffs), path)

    @classmethod
    def read_arpa(cls, path: str | os.PathLike, *, max_bytes: int = MAX_ARPA_BYTES) -> NGramLM:
        """Read an ARPA file, as SRILM, KenLM or :meth:`write_arpa` write them
        (:func:`lstmkit.decode.arpa.read_arpa`, orders up to 5).

        Lines before ``\\data\\`` and after ``\\end\\`` are ignored, blank lines anywhere. The file
        is untrusted: it is read line by line, and its size, the counts ``\\data\\`` declares
        and every entry are checked.

        Args:
            path: the file.
            max_bytes: refuse larger files (default 2 GiB).

        Returns:
            The model.

        Raises:
            UserError: a missing or too large file, or naming ``file:line`` and what was expected
                there: a malformed count or entry, a number that is not a log10 probability, an
                n-gram twice, counts that differ from the entries, a missing ``\\end\\``.

        Example:
            >>> import tempfile
            >>> from pathlib import Path
            >>> with tempfile.TemporaryDirectory() as folder:
            ...     file = Path(folder) / "lm.arpa"
            ...     NGramLM.train(["a b", "b a"], order=2).write_arpa(file)
            ...     NGramLM.read_arpa(file)
            NGramLM(order=2, ngrams=[5, 6])
        """
        table = arpa.read_arpa(path, max_bytes=max_bytes, max_order=MAX_ORDER)
        return cls(table.order, table.probs, table.backoffs)


def _table_log10(
    probs: dict[tuple[str, ...], float],
    backoffs: dict[tuple[str, ...], float],
    word: str,
    history: tuple[str, ...],
) -> float:
    """log10 p(word | history) in a backoff table (the formula of the module's docstring)."""
    total = 0.0
    for i in range(len(history) + 1):
        prob = probs.get((*history[i:], word))
        if prob is not None:
            return total + prob
        total += backoffs.get(history[i:], 0.0)
    return total + UNK_LOG10


def _check_order(order: int) -> None:
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise UserError(f"order: expected an integer from 1 to {MAX_ORDER}, got {order!r}")


def _check_discounts(discounts: Sequence[float], name: str) -> None:
    if len(discounts) != 3 or not all(0 < d <= k for k, d in enumerate(discounts, start=1)):
        raise UserError(
            f"{name}: expected (D1, D2, D3+) with 0 < Dk <= k, got {tuple(discounts)!r}"
        )


def _count(sentences: Iterable[str], order: int) -> list[Counter]:
    """Raw counts of the n-grams of each order, 1-grams first, sentences between <s> and </s>."""
    if isinstance(sentences, str):
        raise UserError("sentences: expected an iterable of sentences, got a str")
    counts: list[Counter] = [Counter() for _ in range(order)]
    for index, sentence in enumerate(sentences):
        words = sentence.split()
        if not words:
            continue
        for special in (BOS, EOS):
            if special in words:
                raise UserError(
                    f"sentences[{index}]: expected words other than <s> and </s>, got {special}"
                )
        padded = (BOS, *words, EOS)
        for n in range(1, order + 1):
            counter = counts[n - 1]
            for i in range(len(padded) - n + 1):
                counter[padded[i : i + n]] += 1
    if not counts[0]:
        raise UserError("sentences: expected at least one non-blank sentence, got none")
    return counts


def _adjusted_counts(raw: list[Counter], order: int) -> list[Counter]:
    """Kneser-Ney's counts: raw at the highest order and for n-grams that begin with <s>,
    otherwise the number of distinct words seen before the n-gram."""
    adjusted = [Counter() for _ in range(order)]
    adjusted[order - 1] = raw[order - 1]
    for n in range(order - 1, 0, -1):
        left = Counter(gram[1:] for gram in raw[n])  # each distinct (n+1)-gram once
        adjusted[n - 1] = Counter(
            {gram: count if gram[0] == BOS else left[gram] for gram, count in raw[n - 1].items()}
        )
    del adjusted[0][(BOS,)]  # a history only
    return adjusted


def _estimate_discounts(counts: Counter) -> tuple[float, float, float]:
    """Chen & Goodman's D1, D2, D3+ from the counts of counts, or the fallback."""
    n = Counter(min(c, 5) for c in counts.values())
    if not all(n[k] for k in (1, 2, 3, 4)):
        return FALLBACK_DISCOUNTS
    y = n[1] / (n[1] + 2 * n[2])
    estimate = tuple(k - (k + 1) * y * n[k + 1] / n[k] for k in (1, 2, 3))
    if all(0 < d <= k for k, d in enumerate(estimate, start=1)):
        return estimate  # type: ignore[return-value]
    return FALLBACK_DISCOUNTS


def _kneser_ney(
    adjusted: list[Counter], discounts: dict[int, tuple[float, float, float]]
) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], float]]:
    """The backoff table (log10) of the interpolated model, lower orders first."""
    probs: dict[tuple[str, ...], float] = {}
    backoffs: dict[tuple[str, ...], float] = {}
    vocabulary = {gram[0] for gram in adjusted[0]} | {UNK}
    for n, counts in enumerate(adjusted, start=1):
        d = discounts[n]
        totals: dict[tuple[str, ...], float] = defaultdict(float)
        kept: dict[tuple[str, ...], float] = defaultdict(float)  # the mass discounts free
        for gram, count in counts.items():
            totals[gram[:-1]] += count
            kept[gram[:-1]] += d[min(count, 3) - 1]
        gamma = {history: kept[history] / totals[history] for history in totals}
        for gram, count in counts.items():
            history, word = gram[:-1], gram[-1]
            if n == 1:
                lower = 1 / len(vocabulary)
            else:
                lower = 10 ** _table_log10(probs, backoffs, word, history[1:])
            own = (count - d[min(count, 3) - 1]) / totals[history]
            probs[gram] = math.log10(own + gamma[history] * lower)
        if n == 1:
            probs.setdefault((UNK,), math.log10(gamma[()] / len(vocabulary)))
        else:
            backoffs.update((h, math.log10(g)) for h, g in gamma.items())
    probs[(BOS,)] = BOS_LOG10
    return probs, backoffs


__all__ = ["BOS", "EOS", "UNK", "NGramLM"]
