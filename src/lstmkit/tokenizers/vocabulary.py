"""Tokenizers that are a list of tokens (characters, words): an id is a position in the list."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lstmkit.errors import UserError
from lstmkit.tokenizers.base import SPECIAL_TOKENS, Tokenizer, check_id


def build_vocabulary(counts: Counter[str], vocab_size: int | None, min_freq: int) -> list[str]:
    """The special tokens, then the tokens counted at least ``min_freq`` times, most frequent first.

    Ties go to the smaller string (by code point), so the same text always gives the same ids.
    ``vocab_size`` (specials included) cuts the list; None keeps every token.

    Raises:
        UserError: naming ``texts`` when nothing was counted, ``min_freq`` when it keeps nothing.

    Example:
        >>> build_vocabulary(Counter("abcab"), vocab_size=6, min_freq=1)
        ['<pad>', '<unk>', '<bos>', '<eos>', 'a', 'b']
    """
    if not counts:
        raise UserError("texts: expected some text to learn a vocabulary from, got only empty text")
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = [token for token, count in ranked if count >= min_freq]
    if not kept:
        raise UserError(
            f"min_freq: expected at most {ranked[0][1]} (the highest count in the text) "
            f"so that the vocabulary keeps a token, got {min_freq}"
        )
    if vocab_size is not None:
        kept = kept[: vocab_size - len(SPECIAL_TOKENS)]
    return [*SPECIAL_TOKENS, *kept]


class VocabularyTokenizer(Tokenizer):
    """A tokenizer whose vocabulary is an explicit list: the four special tokens, then the rest.

    Args:
        tokens: all tokens in id order; the first four must be ``<pad> <unk> <bos> <eos>``.

    Raises:
        UserError: naming ``tokens`` if they are not unique strings of the subclass's form.
    """

    token_form = "tokens"
    """What a non-special token must be, for error messages (see :meth:`is_token`)."""

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        self.check_tokens(tokens, "tokens")
        self._tokens = tokens
        self._ids = {token: i for i, token in enumerate(tokens)}

    @staticmethod
    def is_token(token: str) -> bool:
        """Whether ``token`` is of this tokenizer's form (a character, a word)."""
        return bool(token)

    @classmethod
    def check_tokens(cls, tokens: Any, where: str) -> None:
        """Raise a UserError starting with ``where`` unless ``tokens`` is a valid vocabulary."""
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise UserError(f"{where}: expected a list of strings, got {tokens!r:.80}")
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise UserError(
                f"{where}: expected the special tokens {list(SPECIAL_TOKENS)} first, "
                f"got {tokens[: len(SPECIAL_TOKENS)]}"
            )
        rest = tokens[len(SPECIAL_TOKENS) :]
        bad = next((t for t in rest if not cls.is_token(t) or t in SPECIAL_TOKENS), None)
        if bad is not None:
            raise UserError(f"{where}: expected {cls.token_form}, got {bad!r}")
        if len(set(tokens)) != len(tokens):
            twice = next(t for t, n in Counter(tokens).items() if n > 1)
            raise UserError(f"{where}: expected each token once, got {twice!r} more than once")

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def token_to_id(self, token: str) -> int:
        return self._ids.get(token, self.unk_id)

    def id_to_token(self, id: int) -> str:
        check_id(id, len(self._tokens))
        return self._tokens[id]

    @property
    def vocabulary(self) -> list[str]:
        return list(self._tokens)

    def _contents(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return {"tokens": self._tokens}, {}

    @classmethod
    def _read(cls, config: dict[str, Any], path: Path) -> VocabularyTokenizer:
        tokens = config.get("tokens")
        cls.check_tokens(tokens, f"{path}: tokens")
        return cls(tokens)
