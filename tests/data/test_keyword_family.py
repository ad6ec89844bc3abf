"""The keyword-memory family: members differ, and every answer follows from its keyword alone."""

from __future__ import annotations

import pytest

from lstmkit.data import keywords
from lstmkit.data.keyword_family import (
    POSSESSIVE,
    distance_buckets,
    keyword_variant,
    variant_corpus,
)
from lstmkit.errors import UserError

SEEDS = range(12)


def test_a_seed_gives_the_same_variant_and_text():
    a, b = keyword_variant(4), keyword_variant(4)
    assert a == b
    assert variant_corpus(a, 20, 5, 5) == variant_corpus(b, 20, 5, 5)


def test_members_differ_in_words_and_shapes():
    variants = [keyword_variant(s) for s in SEEDS]
    assert len({v.theme for v in variants}) >= 4
    assert "madeup" in {v.theme for v in variants}
    assert len({v.max_filler for v in variants}) >= 3
    assert len({v.questions for v in variants}) >= 8
    builtin = set(keywords.VOCAB)
    for v in variants:
        words = set(variant_corpus(v, 50, 0, 0)[0].split())
        assert len(words - builtin) >= 10, v.theme  # not the built-in corpus renamed


@pytest.mark.parametrize("seed", SEEDS)
def test_every_answer_is_the_category_of_the_last_keyword_before_it(seed):
    variant = keyword_variant(seed)
    for passage in variant.passages(40, "test"):
        words = passage.words
        assert 1 <= len(passage.answers) <= variant.max_people
        asked = 0
        for k, word in enumerate(words):
            if word.isupper():  # an answer: the only capitalised words
                keyword = next(w for w in reversed(words[:k]) if w in variant.category_of)
                assert word == variant.category_of[keyword]
                answer = passage.answers[asked]
                assert (answer.position, answer.cuisine, answer.food) == (k, word, keyword)
                asked += 1
        assert asked == len(passage.answers)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_distance_counts_the_filler_between_keyword_and_question(seed):
    variant = keyword_variant(seed)
    questions = [
        tuple(q.format(pos=pos, subj=subj, noun=variant.noun).split())
        for subj, pos in POSSESSIVE.items()
        for q in variant.questions
    ]
    for passage in variant.passages(40, "test"):
        for a in passage.answers:
            (question,) = [
                q for q in questions if passage.words[a.position - len(q) : a.position] == q
            ]
            between = passage.words[a.food_position + 1 : a.position - len(question)]
            assert len([w for w in between if w != "."]) == a.distance
            assert 0 <= a.distance <= variant.max_filler


def test_distances_span_zero_to_the_longest_filler():
    variant = keyword_variant(1)
    distances = {a.distance for p in variant.passages(400, "x") for a in p.answers}
    assert min(distances) == 0
    assert max(distances) == variant.max_filler


def test_distance_buckets_cover_every_distance_once():
    for longest in (30, 45, 75):
        buckets = distance_buckets(longest)
        covered = [d for low, high in buckets for d in range(low, high + 1)]
        assert covered == list(range(longest + 1))


def test_bad_arguments_are_refused():
    with pytest.raises(UserError, match="seed"):
        keyword_variant(-1)
    with pytest.raises(UserError, match="n: "):
        keyword_variant(0).passages(-2, "x")
