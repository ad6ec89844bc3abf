"""train_tokenizer: one entry point for every kind, options checked by name."""

import re

import pytest

from lstmkit.errors import UserError
from lstmkit.tokenizers import (
    KINDS,
    CharTokenizer,
    SentencePieceTokenizer,
    WordTokenizer,
    train_tokenizer,
)

TEXT = "one two three two one\nthree three one\n"


def test_kinds_are_the_four_documented_ones():
    assert KINDS == ("char", "word", "bpe", "unigram")


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("char", CharTokenizer),
        ("word", WordTokenizer),
        ("bpe", SentencePieceTokenizer),
        ("unigram", SentencePieceTokenizer),
    ],
)
def test_each_kind_trains_its_class_with_specials_at_0_to_3(kind, cls):
    tok = train_tokenizer(kind, TEXT, vocab_size=20)
    assert type(tok) is cls
    assert tok.kind == kind
    assert tok.vocabulary[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert tok.vocab_size <= 20


def test_options_reach_the_kind():
    assert train_tokenizer("word", TEXT, min_freq=3).vocabulary[4:] == ["one", "three"]


def test_unknown_kind_names_tokenizer_and_the_choices():
    message = "tokenizer: expected one of char, word, bpe, unigram, got 'bytes'"
    with pytest.raises(UserError, match=re.escape(message)):
        train_tokenizer("bytes", TEXT)


@pytest.mark.parametrize(
    ("kind", "option", "allowed"),
    [("char", "vocab_sise", "vocab_size, min_freq"), ("bpe", "min_freq", "vocab_size")],
)
def test_an_option_the_kind_does_not_take_is_named(kind, option, allowed):
    message = f"{option}: not an option of the {kind} tokenizer; expected one of {allowed}"
    with pytest.raises(UserError, match=re.escape(message)):
        train_tokenizer(kind, TEXT, **{option: 1})


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("vocab_size", [0, 1, 4])
def test_vocab_size_too_small_for_the_specials_is_named(kind, vocab_size):
    with pytest.raises(UserError, match=r"vocab_size: expected an integer >= 5 \(the 4 special"):
        train_tokenizer(kind, TEXT, vocab_size=vocab_size)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("texts", ["", [], ["", "\n"]])
def test_empty_training_text_is_an_error(kind, texts):
    if kind == "char" and texts == ["", "\n"]:
        texts = ["", ""]  # a newline is a character the char tokenizer can learn
    with pytest.raises(UserError, match=r"^texts: expected some text to learn"):
        train_tokenizer(kind, texts)
