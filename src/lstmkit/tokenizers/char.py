"""Character tokenizer: one id per character, the classic char-rnn vocabulary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from lstmkit.tokenizers.base import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    check_ids,
    check_min_freq,
    check_vocab_size,
    iter_texts,
)
from lstmkit.tokenizers.vocabulary import VocabularyTokenizer, build_vocabulary


class CharTokenizer(VocabularyTokenizer, kinds=("char",)):
    """One token per character; newline is an ordinary character.

    ``decode(encode(s)) == s`` for any text made of known characters. The special tokens never
    come out of :meth:`encode`; :meth:`decode` drops ``<pad>``, ``<bos>`` and ``<eos>`` (a model
    ends its lines with ``"\\n"``) and writes ``<unk>`` as ``"<unk>"``.

    Args:
        tokens: the vocabulary in id order: ``<pad> <unk> <bos> <eos>``, then single characters.
            :meth:`train` builds it from a text.

    Example:
        >>> tok = CharTokenizer.train("hello\\n")
        >>> tok.vocabulary[4:], tok.encode("hole")
        (['l', '\\n', 'e', 'h', 'o'], [7, 8, 4, 6])
        >>> tok.decode(tok.encode("hello\\n")) == "hello\\n"
        True
    """

    kind = "char"
    token_form = "single characters"

    def __init__(self, tokens: Sequence[str]) -> None:
        super().__init__(tokens)
        # What decode writes for each id: special tokens vanish except <unk>, which stays visible.
        self._surface = list(self._tokens)
        for special in (PAD_ID, BOS_ID, EOS_ID):
            self._surface[special] = ""

    @staticmethod
    def is_token(token: str) -> bool:
        return len(token) == 1

    @classmethod
    def train(
        cls,
        texts: str | Iterable[str],
        *,
        vocab_size: int | None = None,
        min_freq: int = 1,
    ) -> CharTokenizer:
        """Learn the characters of ``texts``, most frequent first (ties by code point).

        Args:
            texts: one string or an iterable of strings; every character counts, ``"\\n"`` too,
                so pass lines with their line ends.
            vocab_size: at most this many ids, the 4 special tokens included; None: no limit.
            min_freq: keep only characters seen at least this many times.

        Raises:
            UserError: naming ``vocab_size`` or ``min_freq`` for a bad value or one that would
                keep no character, ``texts`` for an empty text.
        """
        check_vocab_size(vocab_size)
        check_min_freq(min_freq)
        counts: Counter[str] = Counter()
        for text in iter_texts(texts):
            counts.update(text)
        return cls(build_vocabulary(counts, vocab_size, min_freq))

    def encode(self, text: str) -> list[int]:
        # One dict lookup per character in a comprehension: fast enough for a whole corpus.
        get, unk = self._ids.get, self.unk_id
        return [get(char, unk) for char in text]

    def encode_with_unknowns(self, text: str) -> tuple[list[int], list[str]]:
        ids = self._ids
        unknowns = [char for char in dict.fromkeys(text) if char not in ids]
        return self.encode(text), unknowns

    def decode(self, ids: Sequence[int]) -> str:
        check_ids(ids, len(self._surface))
        surface = self._surface
        return "".join([surface[i] for i in ids])
