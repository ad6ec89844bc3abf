"""The built-in translation task: English number words into French or German number words.

``"numbers-fr"`` pairs ``forty-two`` with ``quarante-deux``; ``"numbers-de"`` pairs it with
``zweiundvierzig``. German says the units before the tens and writes the whole number as one word,
so a model must reorder and not just look words up: the task attention exists for, with no
download and exact answers. The words are num2words's (English without its commas:
``one thousand two hundred and thirty-four``). Because a German number is a single word, a word
vocabulary cannot generalise to unseen German numbers; use characters or subwords on that side.

Example:
    >>> train, valid, test = numbers_corpus("numbers-de", n_train=40, n_valid=5, n_test=5)
    >>> len(train), len(valid), len(test)
    (40, 5, 5)
    >>> number_words(42, "en"), number_words(42, "fr"), number_words(42, "de")
    ('forty-two', 'quarante-deux', 'zweiundvierzig')
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from functools import cache

from num2words import num2words

from lstmkit.data.pairs import Pairs
from lstmkit.errors import UserError

NUMBER_TASKS = ("numbers-fr", "numbers-de")
# (train, valid, test) pairs: small enough for a small attention model to train in about ten
# minutes on two CPU cores, large enough that every thousands prefix is seen about 40 times.
NUMBERS_SIZES = (40_000, 1000, 2000)
# Numbers are drawn below this; the words of 1,000,000 and above are not composed here.
NUMBERS_HIGH = 1_000_000
# The numbers every other name is built from (zero to twenty, the tens, hundred, thousand): they
# are always in training, so no test number needs a word the model has never seen.
BUILDING_BLOCKS = (*range(21), *range(30, 100, 10), 100, 1000)
_BLOCK_SET = frozenset(BUILDING_BLOCKS)
_LANGUAGES = ("en", "fr", "de")


def number_words(n: int, lang: str) -> str:
    """The cardinal ``n`` in words, as num2words writes it (English without commas).

    Composed from num2words's names of 0–999 and of the thousands (cached), which gives the same
    words (checked in the tests against num2words) far faster than calling num2words for every
    number of the built-in corpus.

    Args:
        n: an integer in [0, 1000000).
        lang: ``"en"``, ``"fr"`` or ``"de"``.

    Returns:
        The words, e.g. ``"quatre-vingt-dix-neuf"`` for 99 in French.

    Raises:
        UserError: ``n`` out of range or an unknown ``lang``.

    Example:
        >>> number_words(1234, "en")
        'one thousand two hundred and thirty-four'
        >>> number_words(71, "fr"), number_words(21000, "de")
        ('soixante et onze', 'einundzwanzigtausend')
    """
    if lang not in _LANGUAGES:
        raise UserError(f"lang: expected one of {', '.join(_LANGUAGES)}, got {lang!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < NUMBERS_HIGH:
        raise UserError(f"n: expected an integer in [0, {NUMBERS_HIGH}), got {n!r}")
    below_thousand, thousands = _tables(lang)
    high, low = divmod(n, 1000)
    if high == 0 or low == 0:
        return thousands[high] if high else below_thousand[low]
    # num2words's own joins: "mille deux", "tausendzwei", "thousand and two", "thousand, two
    # hundred" (the comma dropped here).
    joiner = {"en": " and " if low < 100 else " ", "fr": " ", "de": ""}[lang]
    return thousands[high] + joiner + below_thousand[low]


@cache
def _tables(lang: str) -> tuple[list[str], list[str]]:
    """num2words of 0–999 and of 1000·k for k in 0–999 (index 0 unused), in ``lang``."""
    below_thousand = [num2words(n, lang=lang) for n in range(1000)]
    thousands = [""] + [num2words(1000 * k, lang=lang).replace(",", "") for k in range(1, 1000)]
    return below_thousand, thousands


def sample_numbers(
    name: str,
    seed: int = 0,
    n_train: int = NUMBERS_SIZES[0],
    n_valid: int = NUMBERS_SIZES[1],
    n_test: int = NUMBERS_SIZES[2],
    high: int = NUMBERS_HIGH,
) -> tuple[list[int], list[int], list[int]]:
    """The integers behind :func:`numbers_corpus`'s pairs, part by part and in the same order.

    The three parts are disjoint. Valid and test are drawn uniformly from [0, ``high``) less the
    :data:`BUILDING_BLOCKS`, so they measure the task as defined (almost all test numbers have
    four to six digits) on numbers never seen in training. Training holds the building blocks,
    every other number below 1000 that is not held out (the patterns every larger name repeats:
    French ``soixante et onze``, ``quatre-vingts``, German ``einundzwanzig``), and a uniform
    sample of [1001, ``high``) for the rest, shuffled. A small ``n_train`` keeps the building
    blocks and as many smaller numbers as fit.

    The generator is ``random.Random(f"{name}-{seed}")``: the same numbers on every machine.

    Args:
        name: one of :data:`NUMBER_TASKS`.
        seed: the seed (default 0).
        n_train, n_valid, n_test: the sizes of the parts (default :data:`NUMBERS_SIZES`).
        high: numbers are drawn below it; an integer in [1001, 1000000] (default 1000000).

    Returns:
        ``(train, valid, test)`` lists of distinct integers.

    Raises:
        UserError: an unknown name; sizes that are negative, leave too few numbers below
            ``high``, or give training fewer than the building blocks.

    Example:
        >>> train, valid, test = sample_numbers("numbers-fr", n_train=100, n_valid=3, n_test=3)
        >>> set(BUILDING_BLOCKS) <= set(train), set(train).isdisjoint(valid + test)
        (True, True)
    """
    _language(name)
    if isinstance(high, bool) or not isinstance(high, int) or not 1001 <= high <= NUMBERS_HIGH:
        raise UserError(f"high: expected an integer in [1001, {NUMBERS_HIGH}], got {high!r}")
    for option, value in (("n_train", n_train), ("n_valid", n_valid), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(f"{option}: expected a non-negative integer, got {value!r}")
    if n_train < len(BUILDING_BLOCKS):
        raise UserError(
            f"n_train: expected at least {len(BUILDING_BLOCKS)} (the building blocks, which "
            f"training always holds), got {n_train}"
        )
    if n_train + n_valid + n_test > high:
        raise UserError(
            f"n_train + n_valid + n_test: expected at most high = {high} distinct numbers, "
            f"got {n_train} + {n_valid} + {n_test}"
        )
    rng = random.Random(f"{name}-{seed}")
    held = n_valid + n_test
    # Sampling extra and filtering keeps one rng.sample call (fast, no rejection loop).
    drawn = rng.sample(range(high), held + len(BUILDING_BLOCKS))
    held_out = [n for n in drawn if n not in _BLOCK_SET][:held]
    held_set = set(held_out)
    smaller = [n for n in range(1000) if n not in _BLOCK_SET and n not in held_set]
    rng.shuffle(smaller)
    train = [*BUILDING_BLOCKS, *smaller][:n_train]
    need = n_train - len(train)
    if need:
        drawn = rng.sample(range(1001, high), min(need + held, high - 1001))
        train += [n for n in drawn if n not in held_set][:need]
    rng.shuffle(train)
    return train, held_out[:n_valid], held_out[n_valid:]


def numbers_corpus(
    name: str,
    seed: int = 0,
    n_train: int = NUMBERS_SIZES[0],
    n_valid: int = NUMBERS_SIZES[1],
    n_test: int = NUMBERS_SIZES[2],
    high: int = NUMBERS_HIGH,
) -> tuple[Pairs, Pairs, Pairs]:
    """Train, valid and test pairs of a number task: English words → French or German words.

    The numbers are :func:`sample_numbers`'s (same arguments, same order), so
    ``sample_numbers(name, seed)[2][i]`` is the integer of test pair ``i``, e.g. to score a model
    by the size of the number. The default corpus takes about half a second to make.

    Args:
        name: ``"numbers-fr"`` or ``"numbers-de"``.
        seed, n_train, n_valid, n_test, high: as :func:`sample_numbers`.

    Returns:
        ``(train, valid, test)`` :class:`~lstmkit.data.pairs.Pairs`, English source.

    Raises:
        UserError: as :func:`sample_numbers`.

    Example:
        >>> train, _, _ = numbers_corpus("numbers-fr", n_train=30, n_valid=1, n_test=1)
        >>> "quatre-vingts" in train.tgt, len(train)
        (True, 30)
    """
    lang = _language(name)
    parts = sample_numbers(name, seed, n_train, n_valid, n_test, high)
    return tuple(_pairs(numbers, lang) for numbers in parts)


def _pairs(numbers: Iterable[int], lang: str) -> Pairs:
    numbers = list(numbers)
    return Pairs([number_words(n, "en") for n in numbers], [number_words(n, lang) for n in numbers])


def _language(name: str) -> str:
    if name not in NUMBER_TASKS:
        raise UserError(f"number task: expected one of {', '.join(NUMBER_TASKS)}, got {name!r}")
    return name.removeprefix("numbers-")


__all__ = [
    "BUILDING_BLOCKS",
    "NUMBERS_HIGH",
    "NUMBERS_SIZES",
    "NUMBER_TASKS",
    "number_words",
    "numbers_corpus",
    "sample_numbers",
]
