"""The built-in number task: words as num2words writes them, disjoint parts, the same every call."""

import random

import pytest
from num2words import num2words

from lstmkit.data.numbers import (
    BUILDING_BLOCKS,
    NUMBER_TASKS,
    number_words,
    numbers_corpus,
    sample_numbers,
)
from lstmkit.errors import UserError


@pytest.mark.parametrize(
    ("n", "lang", "words"),
    [
        (42, "en", "forty-two"),
        (42, "fr", "quarante-deux"),
        (42, "de", "zweiundvierzig"),
        (71, "fr", "soixante et onze"),
        (80, "fr", "quatre-vingts"),
        (97, "fr", "quatre-vingt-dix-sept"),
        (1234, "en", "one thousand two hundred and thirty-four"),
        (2005, "fr", "deux mille cinq"),
        (200100, "de", "zweihunderttausendeinhundert"),
        (0, "de", "null"),
    ],
)
def test_known_translations(n, lang, words):
    assert number_words(n, lang) == words


def test_words_are_num2words_on_a_sample():
    rng = random.Random(5)
    numbers = [rng.randrange(1_000_000) for _ in range(150)]
    # The joins between thousands and the rest: "and" below 100, none after "mille" etc.
    numbers += [1000 * k + low for k in (1, 21, 80, 200, 999) for low in (0, 1, 21, 80, 100, 999)]
    for n in numbers:
        for lang in ("en", "fr", "de"):
            assert number_words(n, lang) == num2words(n, lang=lang).replace(",", ""), (n, lang)


@pytest.mark.parametrize("name", NUMBER_TASKS)
def test_parts_are_disjoint_sized_and_small_numbers_train(name):
    train, valid, test = sample_numbers(name)
    assert (len(train), len(valid), len(test)) == (40_000, 1000, 2000)
    assert len(set(train) | set(valid) | set(test)) == 43_000
    assert all(0 <= n < 1_000_000 for n in train + valid + test)
    assert set(BUILDING_BLOCKS) <= set(train)
    held = set(valid) | set(test)
    assert {n for n in range(1000) if n not in held} <= set(train)


def test_pairs_are_the_words_of_the_sampled_numbers():
    sizes = {"n_train": 50, "n_valid": 7, "n_test": 9}
    parts = numbers_corpus("numbers-de", seed=3, **sizes)
    for pairs, numbers in zip(parts, sample_numbers("numbers-de", seed=3, **sizes), strict=True):
        assert pairs.src == [num2words(n).replace(",", "") for n in numbers]
        assert pairs.tgt == [num2words(n, lang="de") for n in numbers]


def test_the_same_numbers_on_every_call_and_others_for_another_seed_or_task():
    first = sample_numbers("numbers-fr", seed=1, n_train=40, n_valid=5, n_test=5)
    assert sample_numbers("numbers-fr", seed=1, n_train=40, n_valid=5, n_test=5) == first
    assert sample_numbers("numbers-fr", seed=2, n_train=40, n_valid=5, n_test=5) != first
    assert sample_numbers("numbers-de", seed=1, n_train=40, n_valid=5, n_test=5) != first


def test_small_train_keeps_the_building_blocks():
    train, _, _ = sample_numbers("numbers-fr", n_train=len(BUILDING_BLOCKS), n_valid=1, n_test=1)
    assert sorted(train) == sorted(BUILDING_BLOCKS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "numbers-es"}, "number task: expected one of numbers-fr, numbers-de, got"),
        ({"n_train": 5}, r"n_train: expected at least 30 \(the building blocks"),
        ({"n_valid": -1}, "n_valid: expected a non-negative integer, got -1"),
        ({"high": 2_000_000}, r"high: expected an integer in \[1001, 1000000\], got 2000000"),
        ({"high": 2000}, "expected at most high = 2000 distinct numbers"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(UserError, match=message):
        sample_numbers(**{"name": "numbers-fr", **kwargs})


def test_number_words_range_and_language():
    with pytest.raises(UserError, match=r"n: expected an integer in \[0, 1000000\), got 1000000"):
        number_words(1_000_000, "fr")
    with pytest.raises(UserError, match="lang: expected one of en, fr, de, got 'es'"):
        number_words(1, "es")
