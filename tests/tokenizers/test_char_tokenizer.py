"""Character tokenizer: vocabulary order, round trips, unknowns, options, Tiny Shakespeare."""

import re
import time
from pathlib import Path

import pytest

from lstmkit.errors import UserError
from lstmkit.tokenizers import CharTokenizer, format_unknowns

SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]
SHAKESPEARE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
)


def test_vocabulary_is_specials_then_characters_by_frequency_then_code_point():
    tok = CharTokenizer.train("bbaac\n")  # a and b twice (a < b), then "\n" (10) < "c" (99)
    assert tok.vocabulary == [*SPECIALS, "a", "b", "\n", "c"]
    assert tok.vocab_size == 8
    assert tok.encode("cab\n") == [7, 4, 5, 6]


def test_special_tokens_have_ids_0_to_3():
    tok = CharTokenizer.train("xyz")
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    assert [tok.token_to_id(t) for t in SPECIALS] == [0, 1, 2, 3]
    assert [tok.id_to_token(i) for i in range(4)] == SPECIALS


def test_round_trip_of_known_characters_keeps_newlines_and_spaces():
    text = "Hello,  wörld!\n\tsecond line\n\n"
    tok = CharTokenizer.train(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode("\n") == [tok.token_to_id("\n")]


def test_unknown_characters_become_unk_and_are_reported_once_in_order():
    tok = CharTokenizer.train("abc")
    ids, unknowns = tok.encode_with_unknowns("ažbüž c")
    assert ids == [4, 1, 5, 1, 1, 1, 6]
    assert unknowns == ["ž", "ü", " "]
    assert ids == tok.encode("ažbüž c")
    assert format_unknowns(unknowns) == "mapped to <unk>: 'ž', 'ü', ' '"
    assert tok.decode(ids) == "a<unk>b<unk><unk><unk>c"


def test_decode_drops_pad_bos_eos_and_rejects_ids_out_of_range():
    tok = CharTokenizer.train("ab")
    assert tok.decode([2, 4, 0, 5, 3, 0]) == "ab"
    with pytest.raises(UserError, match=re.escape("ids: expected ids in [0, 6), got 6")):
        tok.decode([4, 6])
    with pytest.raises(UserError, match=re.escape("ids: expected ids in [0, 6), got -1")):
        tok.decode([-1, 4])
    with pytest.raises(UserError, match=re.escape("id: expected ids in [0, 6), got 9")):
        tok.id_to_token(9)


def test_vocab_size_counts_the_specials_and_keeps_the_most_frequent():
    tok = CharTokenizer.train("aaabbc", vocab_size=6)
    assert tok.vocabulary == [*SPECIALS, "a", "b"]
    assert tok.encode("abc") == [4, 5, 1]


def test_min_freq_drops_rare_characters():
    tok = CharTokenizer.train(["aaab", "bc"], min_freq=2)
    assert tok.vocabulary == [*SPECIALS, "a", "b"]


def test_training_is_deterministic_whatever_the_order_of_the_texts():
    a = CharTokenizer.train(["zyx", "xw\n", "ab"])
    b = CharTokenizer.train(["ab", "xw\n", "zyx"])
    assert a.vocabulary == b.vocabulary == [*SPECIALS, "x", "\n", "a", "b", "w", "y", "z"]


def test_a_string_is_one_text_and_lines_are_the_same_text():
    text = "one\ntwo\n"
    assert (
        CharTokenizer.train(text).vocabulary
        == CharTokenizer.train(text.splitlines(keepends=True)).vocabulary
    )


@pytest.mark.parametrize(
    ("texts", "options", "message"),
    [
        ("", {}, "texts: expected some text to learn a vocabulary from, got only empty text"),
        (["", ""], {}, "texts: expected some text"),
        (["ab", b"cd"], {}, "texts: expected strings, got an item of type bytes"),
        ("ab", {"vocab_size": 4}, "vocab_size: expected an integer >= 5"),
        ("ab", {"vocab_size": 10.0}, "vocab_size: expected an integer >= 5"),
        ("ab", {"min_freq": 0}, "min_freq: expected an integer >= 1, got 0"),
        ("aab", {"min_freq": 3}, "min_freq: expected at most 2 (the highest count in the text)"),
    ],
)
def test_bad_training_input_names_the_argument(texts, options, message):
    with pytest.raises(UserError, match=re.escape(message)):
        CharTokenizer.train(texts, **options)


def test_constructor_checks_the_vocabulary():
    with pytest.raises(UserError, match=re.escape("tokens: expected single characters, got 'ab'")):
        CharTokenizer([*SPECIALS, "a", "ab"])
    with pytest.raises(UserError, match=re.escape("tokens: expected the special tokens")):
        CharTokenizer(["a", *SPECIALS])
    with pytest.raises(UserError, match=re.escape("got 'a' more than once")):
        CharTokenizer([*SPECIALS, "a", "b", "a"])


@pytest.mark.skipif(not SHAKESPEARE.exists(), reason=f"needs the shared data set {SHAKESPEARE}")
def test_tiny_shakespeare_has_65_characters_and_round_trips_quickly():
    text = SHAKESPEARE.read_text(encoding="utf-8")
    tok = CharTokenizer.train(text)
    assert tok.vocab_size == 65 + 4
    assert tok.vocabulary[4:6] == [" ", "e"]  # the most frequent characters
    start = time.perf_counter()
    ids = tok.encode(text)
    seconds = time.perf_counter() - start
    assert len(ids) == len(text) == 1_115_394
    assert tok.unk_id not in ids
    assert tok.decode(ids) == text
    assert seconds < 1.0, f"encoding 1.1M characters took {seconds:.2f} s"
