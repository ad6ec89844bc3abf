"""Caption scores: CIDEr-D and ROUGE-L against values worked out by hand from the COCO toolkit's
formulas (and against pycocoevalcap itself where it is installed), their known properties, and
caption_scores reading the words BLEU reads."""

import math
import random

import pytest

from lstmkit.caption.scores import caption_scores, cider_d, rouge_l
from lstmkit.errors import UserError

BETA2 = 1.2**2


def f_beta(precision, recall):
    return (1 + BETA2) * precision * recall / (recall + BETA2 * precision)


def test_rouge_l_of_a_caption_equal_to_its_one_reference_is_one():
    assert rouge_l(["a red star above a blue circle"], [["a red star above a blue circle"]]) == [
        1.0
    ]


def test_rouge_l_is_the_f_of_the_longest_common_subsequence():
    # "the cat on mat": 4 words in order, not contiguous; 6 caption words, 5 reference words.
    found = rouge_l(["the cat sat on the mat"], [["the cat on a mat"]])
    assert found == pytest.approx([f_beta(4 / 6, 4 / 5)])
    assert rouge_l(["a dog"], [["the cat"]]) == [0.0]
    assert rouge_l([""], [["the cat"]]) == [0.0]


def test_rouge_l_takes_the_best_precision_and_the_best_recall_over_the_references():
    # As the toolkit does: precision 4/4 from the long reference, recall 2/2 from the short one.
    found = rouge_l(["a b c d"], [["a b", "a b c d e f g h"]])
    assert found == pytest.approx([f_beta(1.0, 1.0)]) == [1.0]
    # Against each alone: F(2/4, 2/2) and F(4/4, 4/8).
    assert rouge_l(["a b c d"] * 2, [["a b"], ["a b c d e f g h"]]) == pytest.approx(
        [f_beta(0.5, 1.0), f_beta(1.0, 0.5)]
    )


def test_cider_d_clips_counts_and_penalises_length_by_hand():
    # Three images, every n-gram in one image's references only: each weighs log 3 (idf) times
    # its count, and the weights cancel in the cosines.
    found = cider_d(["a b", "c c", "e"], [["a b"], ["c d"], ["e f"]])
    # "a b": unigram and bigram cosines 1, no 3- or 4-grams: 10 * (1 + 1 + 0 + 0) / 4.
    # "c c" against "c d": unigrams (2w, 0) and (w, w) clip to min(2w, w) * w / (2w * √2 w)
    # (unclipped: 1/√2); bigrams "c c" and "c d" share none; both have one bigram, no penalty.
    # "e" against "e f": unigram cosine w² / (w * √2 w); one bigram fewer: exp(-1 / (2 * 6²)).
    expected = [
        10 * 2 / 4,
        10 * (1 / (2 * math.sqrt(2))) / 4,
        10 * (1 / math.sqrt(2)) * math.exp(-1 / 72) / 4,
    ]
    assert found == pytest.approx(expected, rel=1e-12)


def test_cider_d_weighs_an_n_gram_by_how_few_images_have_it_by_hand():
    # "a" is in two of the three images' references: log 3 - log 2; "cat" in none and "dog",
    # "bird", "fish" in one: log 3 - log 1 (an n-gram no reference has counts as one image).
    found = cider_d(["a cat", "a bird", "fish"], [["a dog"], ["a bird"], ["fish"]])
    a, other = math.log(3) - math.log(2), math.log(3)
    unigram = a * a / (a * a + other * other)  # only "a" shared; both vectors (a, other)
    assert found == pytest.approx([10 * unigram / 4, 10 * 2 / 4, 10 * 1 / 4], rel=1e-12)
    assert cider_d(["a b c d e"], [["a b c d e"]]) == [0.0]  # one image: every idf is 0


def test_cider_d_averages_over_references_and_of_captions_equal_to_theirs_is_ten():
    refs = [["a red star above a blue circle"] * 3, ["two green squares left of it"] * 2]
    assert cider_d([r[0] for r in refs], refs) == pytest.approx([10.0, 10.0], rel=1e-12)
    # Against a second, unrelated reference the sum over references is halved.
    found = cider_d(["a b", "x y"], [["a b", "q r"], ["x y"]])
    assert found == pytest.approx([10 * 2 / 4 / 2, 10 * 2 / 4], rel=1e-12)


def test_caption_scores_reports_them_in_percent_on_bleu_s_words():
    scores = caption_scores(["a b", "c c", "e"], [["a b"], ["c d"], ["e f"]])
    hand = [5.0, 10 / (8 * math.sqrt(2)), 10 / (4 * math.sqrt(2)) * math.exp(-1 / 72)]
    assert scores["cider"] == pytest.approx(100 * sum(hand) / 3, rel=1e-12)
    assert scores["rouge_l"] == pytest.approx(
        100 * (1 + f_beta(1 / 2, 1 / 2) + f_beta(1, 1 / 2)) / 3
    )
    # sacrebleu's 13a tokenizer splits "dog." as BLEU reads it: the same words as "dog .".
    scores = caption_scores(["a dog."], [["a dog ."]])
    assert scores["rouge_l"] == 100.0
    assert scores["bleu3"] == pytest.approx(100.0)
    assert scores["exact"] == 0.0  # the strings differ


def test_caption_scores_refuses_a_count_that_differs():
    with pytest.raises(UserError, match=r"hypotheses: expected one per image \(2\), got 1"):
        caption_scores(["a"], [["a"], ["b"]])
    with pytest.raises(UserError, match="references: expected at least one caption per image"):
        caption_scores(["a"], [[]])


def test_cider_d_and_rouge_l_agree_with_pycocoevalcap():
    cider = pytest.importorskip(
        "pycocoevalcap.cider.cider", reason="pip install --no-deps pycocoevalcap (104 MB)"
    )
    rouge = pytest.importorskip("pycocoevalcap.rouge.rouge")
    rng = random.Random(0)
    words = "a the dog cat man red blue on in sits runs grass table".split()

    def caption():
        return " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))

    for _ in range(20):
        images = rng.randint(2, 12)
        hyps = [caption() for _ in range(images)]
        refs = [[caption() for _ in range(rng.randint(1, 5))] for _ in range(images)]
        gts, res = dict(enumerate(refs)), {i: [h] for i, h in enumerate(hyps)}
        _, expected = cider.Cider().compute_score(gts, res)
        assert cider_d(hyps, refs) == pytest.approx(list(expected), rel=1e-9, abs=1e-12)
        _, expected = rouge.Rouge().compute_score(gts, res)
        assert rouge_l(hyps, refs) == pytest.approx(list(expected), rel=1e-12)
