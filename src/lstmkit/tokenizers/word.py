"""Word tokenizer: words split on whitespace, line ends as ``<eos>`` (the Penn Treebank way)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from lstmkit.tokenizers.base import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    check_ids,
    check_min_freq,
    check_vocab_size,
    iter_texts,
)
from lstmkit.tokenizers.vocabulary import VocabularyTokenizer, build_vocabulary

# A word is a run of non-whitespace (what str.split() gives); "\n" is kept as its own token so
# one regex pass in C finds words and line ends together, far faster than splitting line by line.
_WORD_OR_NEWLINE = re.compile(r"\n|\S+")


class WordTokenizer(VocabularyTokenizer, kinds=("word",)):
    """One token per whitespace-separated word; every ``"\\n"`` is an ``<eos>``.

    As in Zaremba et al.'s Penn Treebank reader, each line end becomes ``<eos>``, so a file
    ending with ``"\\n"`` gives an ``<eos>`` after every line. Words are case-sensitive and kept as
    they are (tokenize punctuation beforehand if you want it split). A literal ``<unk>`` in the
    text, as in the PTB files, is the unknown id, and is not reported as unknown; likewise the
    other special tokens' spellings map to their ids.

    :meth:`decode` joins words with single spaces and writes ``<eos>`` as ``"\\n"``, so
    ``decode(encode(s)) == s`` for a text of known words with single spaces and no spaces at line
    ends; ``<pad>`` and ``<bos>`` are dropped and ``<unk>`` is written as ``"<unk>"``.

    Args:
        tokens: the vocabulary in id order: ``<pad> <unk> <bos> <eos>``, then words without
            whitespace. :meth:`train` builds it from a text.

    Example:
        >>> tok = WordTokenizer.train("the cat\\nthe <unk>\\n")
        >>> tok.vocabulary[4:], tok.encode("the dog\\n")
        (['the', 'cat'], [4, 1, 3])
        >>> tok.decode([4, 5, 3, 4])
        'the cat\\nthe'
    """

    kind = "word"
    token_form = "words without whitespace"

    def __init__(self, tokens: Sequence[str]) -> None:
        super().__init__(tokens)
        # encode finds "\n" as a token; mapping it here saves a branch per word
        self._ids["\n"] = self.eos_id

    @staticmethod
    def is_token(token: str) -> bool:
        return token.split() == [token]

    @classmethod
    def train(
        cls,
        texts: str | Iterable[str],
        *,
        vocab_size: int | None = None,
        min_freq: int = 1,
    ) -> WordTokenizer:
        """Learn the words of ``texts``: most frequent first, ties in alphabetical order.

        Args:
            texts: one string or an iterable of strings (files' contents, or lines).
            vocab_size: at most this many ids, the 4 special tokens included; None: no limit.
            min_freq: keep only words seen at least this many times.

        Raises:
            UserError: naming ``vocab_size`` or ``min_freq`` for a bad value or one that would
                keep no word, ``texts`` for a text without words.
        """
        check_vocab_size(vocab_size)
        check_min_freq(min_freq)
        counts: Counter[str] = Counter()
        for text in iter_texts(texts):
            counts.update(text.split())
        for special in SPECIAL_TOKENS:  # a literal "<unk>" in PTB is the unknown id, not a word
            counts.pop(special, None)
        return cls(build_vocabulary(counts, vocab_size, min_freq))

    def encode(self, text: str) -> list[int]:
        get, unk = self._ids.get, self.unk_id
        return [get(token, unk) for token in _WORD_OR_NEWLINE.findall(text)]

    def encode_with_unknowns(self, text: str) -> tuple[list[int], list[str]]:
        tokens = _WORD_OR_NEWLINE.findall(text)
        get, unk = self._ids.get, self.unk_id
        ids = [get(token, unk) for token in tokens]
        unknowns = [token for token in dict.fromkeys(tokens) if token not in self._ids]
        return ids, unknowns

    def decode(self, ids: Sequence[int]) -> str:
        check_ids(ids, len(self._tokens))
        tokens, lines, words = self._tokens, [], []
        for i in ids:
            if i == EOS_ID:
                lines.append(" ".join(words))
                words = []
            elif i != PAD_ID and i != BOS_ID:
                words.append(tokens[i])
        lines.append(" ".join(words))
        return "\n".join(lines)
