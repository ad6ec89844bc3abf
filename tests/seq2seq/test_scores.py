"""Translation scores: exact match, buckets by source length, and sacrebleu's BLEU/chrF."""

import pytest
import sacrebleu

from lstmkit.errors import UserError
from lstmkit.seq2seq.scores import translation_scores


def test_scores_and_buckets():
    sources = ["a", "a b c d e f", "a b c d e f g", "one two"]
    refs = ["x", "the cat sat on the mat", "a dog ran", "y z"]
    hyps = ["x", "the cat sat on a mat", "a dog ran", "y"]
    s = translation_scores(hyps, refs, sources)
    assert s["exact"] == 50.0
    assert s["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert s["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert list(s["by_length"]) == ["1-5", "6-10"]
    assert s["by_length"]["1-5"]["sentences"] == 2
    assert s["by_length"]["1-5"]["exact"] == 50.0  # "x" right, "y" for "y z" wrong
    assert s["by_length"]["6-10"]["exact"] == 50.0


def test_mismatched_references_are_named():
    with pytest.raises(UserError, match="references: expected one per hypothesis"):
        translation_scores(["a"], ["a", "b"])
