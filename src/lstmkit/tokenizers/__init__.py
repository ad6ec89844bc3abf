"""Tokenizers: characters, words or SentencePiece subwords to ids; <pad> <unk> <bos> <eos> are 0-3.

Example:
    >>> tok = train_tokenizer("word", "to be or not to be\\n", vocab_size=6)
    >>> tok.encode("to be\\n"), tok.decode([4, 5, 3])
    ([5, 4, 3], 'be to\\n')
"""

from lstmkit.tokenizers.base import (
    BOS_ID,
    EOS_ID,
    KINDS,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    Tokenizer,
    format_unknowns,
    load_tokenizer,
    train_tokenizer,
)
from lstmkit.tokenizers.char import CharTokenizer
from lstmkit.tokenizers.subword import SentencePieceTokenizer
from lstmkit.tokenizers.word import WordTokenizer

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "KINDS",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "UNK_ID",
    "CharTokenizer",
    "SentencePieceTokenizer",
    "Tokenizer",
    "WordTokenizer",
    "format_unknowns",
    "load_tokenizer",
    "train_tokenizer",
]
