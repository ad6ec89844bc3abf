"""Property tests: any text never crashes the tokenizers; decode(encode(x)) == x where promised."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lstmkit.errors import UserError
from lstmkit.tokenizers import (
    CharTokenizer,
    SentencePieceTokenizer,
    WordTokenizer,
    load_tokenizer,
)

TEXT = (
    "the quick brown fox jumps over the lazy dog\n"
    "a lazy dog sleeps in the sun\n"
    "the fox is quick and the dog is lazy\n"
) * 3
WORDS = sorted(set(TEXT.split()))
LETTERS = sorted(set(TEXT) - {"\n", " "})
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

CHAR = CharTokenizer.train(TEXT)
WORD = WordTokenizer.train(TEXT)


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def subword(request):
    return SentencePieceTokenizer.train(TEXT, kind=request.param, vocab_size=40)


def _all(subword):
    return [CHAR, WORD, subword]


# Any code point, lone surrogates included: Python decodes undecodable command-line bytes to them.
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()))


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


@SETTINGS
@given(text=ANY_TEXT)
@example(text="caf\udce9 <unk>\n\n")  # "café" in Latin-1, as Python decodes it from argv
def test_any_text_encodes_to_ids_in_range_and_decodes(subword, text):
    for tok in _all(subword):
        if tok is subword and _has_surrogate(text):  # SentencePiece takes only valid Unicode
            with pytest.raises(UserError, match=r"^text: expected Unicode text, got a lone"):
                tok.encode(text)
            with pytest.raises(UserError, match=r"^text: expected Unicode text, got a lone"):
                tok.encode_with_unknowns(text)
            continue
        ids = tok.encode(text)
        assert all(0 <= i < tok.vocab_size for i in ids)
        ids2, unknowns = tok.encode_with_unknowns(text)
        assert ids2 == ids
        assert all(isinstance(u, str) and u for u in unknowns)
        assert isinstance(tok.decode(ids), str)


@SETTINGS
@given(ids=st.lists(st.integers(min_value=-(2**40), max_value=2**40), max_size=20))
def test_any_ids_decode_or_raise_the_documented_error(subword, ids):
    for tok in _all(subword):
        if all(0 <= i < tok.vocab_size for i in ids):
            assert isinstance(tok.decode(ids), str)
        else:
            with pytest.raises(UserError, match=r"^ids: "):
                tok.decode(ids)


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from([*LETTERS, " ", "\n"])))
def test_char_round_trips_text_of_known_characters(text):
    assert CHAR.decode(CHAR.encode(text)) == text


@SETTINGS
@given(text=st.text(min_size=1))
def test_char_unknown_characters_become_unk(text):
    ids, unknowns = CHAR.encode_with_unknowns(text)
    known = set(CHAR.vocabulary[4:])
    assert set(unknowns) == {c for c in text if c not in known}
    assert ids.count(CHAR.unk_id) == sum(c not in known for c in text)


# Lines of known words joined by single spaces, no spaces at line ends: what WordTokenizer and
# SentencePiece promise to give back exactly.
LINES = st.lists(st.lists(st.sampled_from(WORDS), max_size=6), max_size=5).map(
    lambda lines: "\n".join(" ".join(words) for words in lines)
)


@SETTINGS
@given(text=LINES)
def test_word_round_trips_single_spaced_known_words(text):
    assert WORD.decode(WORD.encode(text)) == text


@SETTINGS
@given(text=LINES)
def test_subword_round_trips_single_spaced_known_characters(subword, text):
    assert subword.decode(subword.encode(text)) == text


@SETTINGS
@given(
    text=st.lists(
        st.lists(st.text(alphabet=st.sampled_from(LETTERS), min_size=1, max_size=8), max_size=5),
        max_size=4,
    ).map(lambda lines: "\n".join(" ".join(words) for words in lines))
)
def test_subword_round_trips_unseen_words_of_known_letters(subword, text):
    assert subword.decode(subword.encode(text)) == text


@settings(max_examples=30, deadline=None)
@given(text=st.text(min_size=0, max_size=40))
def test_training_on_any_text_gives_a_tokenizer_or_the_documented_error(text):
    for train in (CharTokenizer.train, WordTokenizer.train):
        try:
            tok = train(text)
        except UserError:
            continue
        assert tok.decode(tok.encode(text)) is not None


@SETTINGS
@given(content=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_tokenizer_json_loads_or_raises_the_documented_error(tmp_path, content):
    (tmp_path / "tokenizer.json").write_bytes(content)
    try:
        assert load_tokenizer(tmp_path).vocab_size >= 4
    except UserError as error:
        message = str(error)
        assert message.startswith(str(tmp_path / "tokenizer.json")), message


@SETTINGS
@given(model=st.binary(max_size=200))
def test_any_model_bytes_give_the_documented_error(model):
    with pytest.raises(UserError, match=r"^model: "):
        SentencePieceTokenizer(model)
