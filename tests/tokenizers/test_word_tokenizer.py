"""Word tokenizer: whitespace words, line ends as <eos>, the PTB <unk>, options."""

import re
from pathlib import Path

import pytest

from lstmkit.errors import UserError
from lstmkit.tokenizers import WordTokenizer

SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]
PTB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ptb" / "ptb.valid.txt"


def test_vocabulary_is_most_frequent_first_ties_alphabetical():
    tok = WordTokenizer.train("b a c\na b d\n")  # a, b twice; c, d once
    assert tok.vocabulary == [*SPECIALS, "a", "b", "c", "d"]


def test_every_line_end_is_an_eos_and_decodes_back_to_a_newline():
    tok = WordTokenizer.train("a b\nb c\n")
    a, b, c, eos = 5, 4, 6, 3  # b twice, then a < c
    assert tok.encode("a b\nc\n") == [a, b, eos, c, eos]
    assert tok.encode("a b\n\nc") == [a, b, eos, eos, c]
    assert tok.decode([a, b, eos, c, eos]) == "a b\nc\n"
    assert tok.decode([eos, eos]) == "\n\n"


def test_round_trip_normalises_whitespace_within_lines():
    tok = WordTokenizer.train("the cat sat\non the mat\n")
    assert tok.decode(tok.encode("the cat sat\non the mat\n")) == "the cat sat\non the mat\n"
    assert tok.decode(tok.encode("  the \t cat  \r\nsat")) == "the cat\nsat"


def test_literal_unk_is_the_unknown_id_and_not_a_word():
    tok = WordTokenizer.train("<unk> <unk> the <eos>\n")
    assert tok.vocabulary == [*SPECIALS, "the"]
    ids, unknowns = tok.encode_with_unknowns("the <unk> dog\n")
    assert ids == [4, 1, 1, 3]
    assert unknowns == ["dog"]


def test_unknown_words_are_reported_once_in_order_of_appearance():
    tok = WordTokenizer.train("a b c")
    ids, unknowns = tok.encode_with_unknowns("a zebra b Zebra zebra\n")
    assert ids == [4, 1, 5, 1, 1, 3]
    assert ids == tok.encode("a zebra b Zebra zebra\n")
    assert unknowns == ["zebra", "Zebra"]
    assert tok.decode(ids) == "a <unk> b <unk> <unk>\n"


def test_decode_drops_pad_and_bos():
    tok = WordTokenizer.train("hello world")
    assert tok.decode([2, 4, 0, 5, 3, 0]) == "hello world\n"


def test_special_tokens_have_ids_0_to_3():
    tok = WordTokenizer.train("x")
    assert [tok.token_to_id(t) for t in SPECIALS] == [0, 1, 2, 3]
    assert [tok.id_to_token(i) for i in range(4)] == SPECIALS
    assert tok.token_to_id("never-seen") == tok.unk_id == 1


def test_vocab_size_counts_the_specials():
    tok = WordTokenizer.train("b a c a b d", vocab_size=6)
    assert tok.vocabulary == [*SPECIALS, "a", "b"]
    assert tok.encode("a c") == [4, 1]


def test_min_freq_drops_rare_words():
    tok = WordTokenizer.train(["x y x", "z y w"], min_freq=2)
    assert tok.vocabulary == [*SPECIALS, "x", "y"]


def test_training_is_deterministic_whatever_the_order_of_the_texts():
    a = WordTokenizer.train(["to be or", "not to be"])
    b = WordTokenizer.train(["not to be", "to be or"])
    assert a.vocabulary == b.vocabulary == [*SPECIALS, "be", "to", "not", "or"]


@pytest.mark.parametrize(
    ("texts", "options", "message"),
    [
        (" \n\t\n", {}, "texts: expected some text to learn a vocabulary from"),
        ("<unk> <eos>", {}, "texts: expected some text"),
        ("a b", {"vocab_size": 1}, "vocab_size: expected an integer >= 5"),
        ("a b", {"min_freq": -1}, "min_freq: expected an integer >= 1, got -1"),
        ("a b a", {"min_freq": 5}, "min_freq: expected at most 2"),
    ],
)
def test_bad_training_input_names_the_argument(texts, options, message):
    with pytest.raises(UserError, match=re.escape(message)):
        WordTokenizer.train(texts, **options)


def test_constructor_rejects_tokens_with_whitespace():
    with pytest.raises(UserError, match=re.escape("tokens: expected words without whitespace")):
        WordTokenizer([*SPECIALS, "new york"])


@pytest.mark.skipif(not PTB.exists(), reason=f"needs the shared data set {PTB}")
def test_penn_treebank_lines_end_in_eos_and_round_trip():
    text = PTB.read_text(encoding="utf-8")
    tok = WordTokenizer.train(text)
    ids, unknowns = tok.encode_with_unknowns(text)
    assert unknowns == []
    assert ids.count(tok.eos_id) == text.count("\n")
    assert ids.count(tok.unk_id) == text.split().count("<unk>") > 0
    normalised = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    assert tok.decode(ids) == normalised
