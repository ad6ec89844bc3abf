"""Transcript normalisation and error rates: edit distances counted by hand."""

import pytest

from lstmkit.errors import UserError
from lstmkit.speech.scores import error_counts, recognition_scores
from lstmkit.speech.text import TranscriptNormalizer, dropped_note, normalize_transcript


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("don\u2019t   STOP", "don't stop"),
        ("'quoted' words", "quoted words"),
        ("well-known e-mail", "well known e mail"),
        ("Ünïcödé café", "ünïcödé café"),
        ("ﬁve", "five"),  # NFKC unfolds the ligature
        ("room 101.", "room 101"),
        ("?!", ""),
    ],
)
def test_normal_form(text, expected):
    assert normalize_transcript(text) == expected


def test_removed_characters_are_counted_for_the_note():
    texts, dropped = TranscriptNormalizer().normalize_all(["Hi, there!", "'ok' ok."])
    assert texts == ["hi there", "ok ok"]
    assert dropped == {",": 1, "!": 1, "'": 2, ".": 1}
    note = dropped_note(dropped, "training transcripts")
    assert note.startswith("training transcripts: removed 5 characters")
    assert dropped_note({}, "x") is None


def test_error_counts_against_hand_alignments():
    # ref "the cat sat on the mat" (6 words), hyp "the cat sit on mat mat mat":
    # sat->sit (S), the->mat (S), one inserted mat (I): 3 errors / 6 words.
    s = error_counts(["the cat sit on mat mat mat"], ["the cat sat on the mat"])
    assert (s["substitutions"], s["deletions"], s["insertions"]) == (2, 0, 1)
    assert s["wer"] == pytest.approx(50.0)
    assert s["words"] == 6
    # characters: "abc" vs "abd": one substitution of three
    assert error_counts(["abd"], ["abc"])["cer"] == pytest.approx(100 / 3)


def test_corpus_rates_sum_errors_over_utterances_not_average_them():
    s = error_counts(["a", "x y z w"], ["a", "b c d e"])  # 0/1 and 4/4 words wrong
    assert s["wer"] == pytest.approx(100 * 4 / 5)  # not the mean of 0% and 100%


def test_by_length_groups_utterances_by_reference_words():
    refs = ["one", "one two three four", "a b c d e f g h"]
    scores = recognition_scores(["one", "one two three", "a b c d e f g h"], refs)
    assert set(scores["by_length"]) == {"1-3", "4-6", "7-10"}
    assert scores["by_length"]["4-6"]["deletions"] == 1
    assert scores["by_length"]["1-3"]["wer"] == 0.0


def test_bad_inputs_are_named():
    with pytest.raises(UserError, match="hypotheses: expected one per reference"):
        error_counts(["a"], ["a", "b"])
    with pytest.raises(UserError, match="references: expected non-empty transcripts"):
        error_counts(["a"], [" "])
