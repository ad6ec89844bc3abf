"""A continuation's text as it follows its prompt: ``prompt + decode_after(prompt, ids)`` reads
as one text for every kind of tokenizer (the space between words, none between characters)."""

import pytest

from lstmkit.tokenizers import train_tokenizer

TEXT = "my brother loves crepes\nmy sister loves tea\nthe brother of my sister\n" * 5


@pytest.fixture(scope="module", params=["word", "char", "bpe", "unigram"])
def tok(request):
    options = {"vocab_size": 40} if request.param in ("bpe", "unigram") else {}
    return train_tokenizer(request.param, TEXT, **options)


@pytest.mark.parametrize(
    ("prompt", "continuation"),
    [
        ("my brother", " loves crepes"),
        ("my brother ", "loves crepes"),  # the prompt has the space already
        ("my brother\n", "my sister"),  # a line end: no space
        ("", "my sister loves tea"),
    ],
)
def test_prompt_and_continuation_read_as_one_text(tok, prompt, continuation):
    ids = tok.encode(prompt + continuation)[len(tok.encode(prompt)) :]
    if tok.kind == "char":  # a character model writes the space itself
        assert tok.decode(ids) == continuation
    assert prompt + tok.decode_after(prompt, ids) == prompt + continuation


def test_a_word_continuation_after_a_word_starts_with_a_space():
    tok = train_tokenizer("word", TEXT)
    assert tok.decode(tok.encode("loves crepes")) == "loves crepes"  # no space of its own
    assert tok.decode_after("my brother", tok.encode("loves crepes")) == " loves crepes"
    assert tok.decode_after("my brother\n", tok.encode("loves")) == "loves"


def test_characters_join_as_they_are():
    tok = train_tokenizer("char", TEXT)
    assert tok.decode_after("my bro", tok.encode("ther")) == "ther"
    assert tok.decode_after("my brother ", tok.encode(" my")) == " my"  # two spaces kept
