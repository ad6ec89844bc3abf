"""The keyword-memory corpus: answers follow from the keyword, distances cover 0..max_filler."""

import math
import random

import pytest

from lstmkit.data import (
    CUISINES,
    NOTES_EXAMPLE,
    VOCAB,
    cuisine_accuracy_by_distance,
    generate_passages,
    keywords_corpus,
    parse_passage,
)
from lstmkit.data.keywords import FOOD_CUISINE, PERSONS
from lstmkit.errors import UserError


@pytest.fixture(scope="module")
def passages():
    return generate_passages(800, seed=0)


def test_deterministic_for_a_seed_and_global_rng_untouched():
    random.seed(123)
    state = random.getstate()
    first = generate_passages(30, seed=7)
    assert random.getstate() == state
    assert generate_passages(30, seed=7) == first
    assert generate_passages(30, seed=8) != first


def test_every_distance_occurs_and_none_beyond_max(passages):
    distances = {a.distance for p in passages for a in p.answers}
    assert distances == set(range(61))
    short = generate_passages(100, seed=1, max_filler=5)
    assert {a.distance for p in short for a in p.answers} == set(range(6))


def test_answers_follow_from_the_food_and_the_person(passages):
    for passage in passages:
        words = passage.words
        for a in passage.answers:
            assert a.cuisine == FOOD_CUISINE[a.food] == words[a.position]
            assert words[a.food_position] == a.food
            assert words[a.position - 4 : a.position] == (
                words[a.position - 4],
                "favourite",
                "cuisine",
                "is",
            )
            # The question's "his"/"her" agrees with the person the food belongs to.
            person = words[max(k for k in range(a.food_position) if words[k] == "my") + 1]
            assert words[a.position - 4] == PERSONS[person]
            # Generated layout: food ["."] filler question; distance counts the filler only.
            stop = words[a.food_position + 1] == "."
            assert a.distance == (a.position - 4) - (a.food_position + 1 + stop)


def test_several_people_with_different_cuisines(passages):
    counts = [len(p.answers) for p in passages]
    assert set(counts) == {1, 2, 3, 4}
    assert any(len({a.cuisine for a in p.answers}) > 1 for p in passages)
    for passage in passages:
        people = [passage.words[k + 1] for k, w in enumerate(passage.words) if w == "my"]
        assert len(people) == len(set(people)) == len(passage.answers)
    # Some people name two foods of one cuisine, as the notes' brother does, and some run on
    # into the filler without a full stop, as the notes' friend does.
    assert any(p.words[a.food_position - 1] == "and" for p in passages for a in p.answers)
    stops = [p.words[a.food_position + 1] == "." for p in passages for a in p.answers]
    assert any(stops)
    assert not all(stops)


def test_words_are_in_the_vocabulary(passages):
    words = {w for p in passages for w in p.words}
    assert words == set(VOCAB)
    assert set(CUISINES) <= words
    assert {"samosa", "pasta", "cheese"} <= words


def test_notes_example_parses():
    assert set(NOTES_EXAMPLE.split()) <= set(VOCAB)
    passage = parse_passage(NOTES_EXAMPLE)
    assert [(a.food, a.cuisine, a.distance) for a in passage.answers] == [
        ("samosa", "INDIAN", 11),
        ("cheese", "ITALIAN", 8),
    ]
    assert passage.text == NOTES_EXAMPLE


def test_parse_errors():
    with pytest.raises(UserError, match=r"^passage word 4 \('is'\): a question before any food"):
        parse_passage("his favourite cuisine is INDIAN .")
    with pytest.raises(UserError, match=r"^passage word 9 \('is'\): the question has no answer"):
        parse_passage("my friend eats samosa . his favourite cuisine is")


def test_generator_argument_errors():
    with pytest.raises(UserError, match=r"^n: expected an integer ≥ 0, got -1"):
        generate_passages(-1, seed=0)
    with pytest.raises(UserError, match=r"^max_people: expected at most 8, got 9"):
        generate_passages(1, seed=0, max_people=9)


def test_corpus_one_passage_per_line():
    train, valid, test = keywords_corpus(20, 5, 4, seed=3)
    assert [len(t.splitlines()) for t in (train, valid, test)] == [20, 5, 4]
    for line in (train + valid + test).splitlines():
        assert line == " ".join(line.split())  # single spaces: one token per word
        assert parse_passage(line).answers
    assert keywords_corpus(20, 5, 4, seed=3) == (train, valid, test)
    # Each part has its own generator: more training passages leave valid and test alone.
    assert keywords_corpus(30, 5, 4, seed=3)[1:] == (valid, test)
    assert keywords_corpus(20, 5, 4, seed=4)[1] != valid


def _oracle(prefix):
    # Independent of Answer: the cuisine of the last food word in the prefix.
    return FOOD_CUISINE[next(w for w in reversed(prefix) if w in FOOD_CUISINE)]


def test_accuracy_by_distance_oracle_and_constant(passages):
    asked = []

    def constant(prefix):
        asked.append(prefix)
        return "INDIAN"

    scores = cuisine_accuracy_by_distance(_oracle, passages)
    assert list(scores) == ["0-10", "11-20", "21-30", "31-40", "41-50", "51+"]
    assert all(s.accuracy == 1.0 and s.total > 0 for s in scores.values())
    assert sum(s.total for s in scores.values()) == sum(len(p.answers) for p in passages)

    scores = cuisine_accuracy_by_distance(constant, passages)
    assert all(prefix[-1] == "is" for prefix in asked)
    overall = sum(s.correct for s in scores.values()) / len(asked)
    assert abs(overall - 1 / len(CUISINES)) < 0.04


def test_accuracy_custom_buckets():
    passages = generate_passages(50, seed=2, max_filler=8)
    scores = cuisine_accuracy_by_distance(_oracle, passages, buckets=[(0, 3), (20, None)])
    in_range = sum(a.distance <= 3 for p in passages for a in p.answers)
    assert scores["0-3"].total == in_range
    assert scores["20+"].total == 0
    assert math.isnan(scores["20+"].accuracy)
