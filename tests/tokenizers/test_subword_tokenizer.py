"""SentencePiece tokenizer: BPE and unigram, line ends as <eos>, determinism, errors."""

import re

import pytest

from lstmkit.errors import UserError
from lstmkit.tokenizers import SentencePieceTokenizer

SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]
TEXT = (
    "the quick brown fox jumps over the lazy dog\n"
    "a lazy dog sleeps in the sun\n"
    "the fox is quick and the dog is lazy\n"
    "quick thinking beats lazy thinking\n"
) * 3
KINDS = ["bpe", "unigram"]


@pytest.fixture(scope="module", params=KINDS)
def tok(request):
    return SentencePieceTokenizer.train(TEXT, kind=request.param, vocab_size=60)


def test_special_pieces_have_ids_0_to_3(tok):
    assert tok.vocabulary[:4] == SPECIALS
    assert [tok.token_to_id(t) for t in SPECIALS] == [0, 1, 2, 3]
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)


def test_round_trip_and_line_ends_as_eos(tok):
    text = "the lazy fox\nquick dog\n"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert ids.count(tok.eos_id) == 2
    assert ids[-1] == tok.eos_id
    first_line = tok.encode("the lazy fox")
    assert ids[: len(first_line) + 1] == [*first_line, tok.eos_id]
    assert tok.encode("") == []
    assert tok.encode("\n\n") == [3, 3]
    assert tok.decode([3, 3]) == "\n\n"


def test_pieces_are_subwords_not_only_characters(tok):
    ids = tok.encode("the quick brown fox")
    assert len(ids) < len("the quick brown fox")


def test_unknown_characters_become_unk_and_are_reported(tok):
    ids, unknowns = tok.encode_with_unknowns("the жü dog\nж fox")
    assert ids == tok.encode("the жü dog\nж fox")
    assert tok.unk_id in ids
    assert unknowns == ["ж", "ü"]
    assert tok.decode(ids) == "the <unk> dog\n<unk> fox"


def test_decode_drops_pad_and_bos_and_rejects_ids_out_of_range(tok):
    ids = tok.encode("the dog")
    assert tok.decode([2, *ids, 0, 0]) == "the dog"
    with pytest.raises(UserError, match=re.escape(f"ids: expected ids in [0, {tok.vocab_size})")):
        tok.decode([*ids, tok.vocab_size])


@pytest.mark.parametrize("kind", KINDS)
def test_training_twice_gives_identical_model_bytes(kind):
    a = SentencePieceTokenizer.train(TEXT, kind=kind, vocab_size=50)
    b = SentencePieceTokenizer.train(TEXT.splitlines(keepends=True), kind=kind, vocab_size=50)
    assert a.model == b.model
    c = SentencePieceTokenizer.train(TEXT + "zebra\n", kind=kind, vocab_size=50)
    assert c.model != a.model


@pytest.mark.parametrize("kind", KINDS)
def test_vocab_size_is_a_ceiling_and_a_small_text_gives_fewer_pieces(kind):
    sizes = [
        SentencePieceTokenizer.train(TEXT, kind=kind, vocab_size=n).vocab_size for n in (32, 45)
    ]
    assert sizes[0] == 32  # 26 letters, the word-start mark ▁ and 4 specials need 31
    assert sizes[0] < sizes[1] <= 45
    if kind == "bpe":  # BPE merges until it has them all; unigram prunes its seeds to fit
        assert sizes[1] == 45
    small = SentencePieceTokenizer.train("ab ba\n", kind=kind, vocab_size=1000)
    assert 4 + 3 <= small.vocab_size < 1000  # a, b and the word-start mark at least


@pytest.mark.parametrize(
    ("texts", "options", "message"),
    [
        ("\n \n", {}, "texts: expected some text to learn subwords from, got only blank text"),
        (TEXT, {"kind": "wordpiece"}, "kind: expected one of bpe, unigram, got 'wordpiece'"),
        (TEXT, {"vocab_size": 3}, "vocab_size: expected an integer >= 5"),
        (TEXT, {"vocab_size": None}, "vocab_size: expected an integer, got None"),
        # 26 distinct characters + the word-start mark + 4 specials
        ("abcdefghijklmnopqrstuvwxyz z", {"vocab_size": 20}, "vocab_size: expected at least 31"),
    ],
)
def test_bad_training_input_names_the_argument(texts, options, message):
    with pytest.raises(UserError, match=re.escape(message)):
        SentencePieceTokenizer.train(texts, **options)


def test_constructor_rejects_bytes_that_are_not_a_model():
    with pytest.raises(UserError, match=re.escape("model: expected a SentencePiece model")):
        SentencePieceTokenizer(b"not a protobuf")
    with pytest.raises(UserError, match=re.escape("kind: expected one of bpe, unigram")):
        SentencePieceTokenizer(b"", kind="char")


def test_lines_longer_than_sentencepiece_default_limit_are_learned():
    long_line = "ab ba " * 1000 + "q"  # 6001 bytes; SentencePiece's default skips lines > 4192
    tok = SentencePieceTokenizer.train([long_line, "ab ab"], vocab_size=12)
    assert tok.encode_with_unknowns("q ab")[1] == []
