"""The notes' keyword-memory task as a generated corpus: remember a food, name its cuisine later.

A passage introduces one to four people. Each says what they eat — ``my friend eats samosa .``,
one in four without the full stop, one in four naming two foods — then comes filler (0 to
``max_filler`` words of everyday sentences that say nothing about food), then the question and
its answer: ``his favourite cuisine is INDIAN .``. A language model can only
predict the answer by keeping the food in its memory across the filler, and must replace it when
the next person speaks: the LSTM's forget and input gates at work. The filler length is uniform,
so accuracy by distance (:func:`cuisine_accuracy_by_distance`) shows how far the memory reaches.

Every word is lower case except the cuisines, which are upper case so that the answers stand out;
words are separated by single spaces, so a word tokenizer gives one token per word.

Example:
    >>> passage = generate_passages(1, seed=2, max_filler=8, max_people=1)[0]
    >>> print(passage.text)
    my brother likes curry . he often sleeps late his favourite cuisine is INDIAN .
    >>> [(a.food, a.cuisine, a.position, a.distance) for a in passage.answers]
    [('curry', 'INDIAN', 13, 4)]
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lstmkit.errors import UserError

CUISINES: dict[str, tuple[str, ...]] = {
    "INDIAN": ("samosa", "curry", "dosa", "naan"),
    "ITALIAN": ("pasta", "pizza", "cheese", "risotto"),
    "JAPANESE": ("sushi", "ramen", "tempura"),
    "MEXICAN": ("tacos", "burritos", "nachos"),
    "CHINESE": ("dumplings", "wontons", "congee"),
    "FRENCH": ("croissants", "crepes", "baguettes"),
}
FOOD_CUISINE = {food: cuisine for cuisine, foods in CUISINES.items() for food in foods}
# Person → possessive; the filler's subject pronoun follows it (he/she).
PERSONS: dict[str, str] = {
    "friend": "his",
    "brother": "his",
    "father": "his",
    "uncle": "his",
    "sister": "her",
    "mother": "her",
    "aunt": "her",
    "daughter": "her",
}
VERBS = ("eats", "likes", "loves", "cooks")
QUESTION = ("favourite", "cuisine", "is")  # after "his"/"her"
_SUBJECT = {"his": "he", "her": "she"}
# Sentence-like runs of plain words; "{he}" takes the person's pronoun. One-word runs let the
# filler reach any length exactly without cutting a run in the middle; runs are drawn with weight
# their length, so that most filler reads as whole sentences rather than "and so then".
FILLER = (
    "every day {he} walks to work",
    "and it should not be hard to guess that",
    "on weekends {he} often visits the park",
    "after work {he} goes home early",
    "in the evening {he} reads a book",
    "sometimes we talk about music",
    "the weather was nice",
    "{he} often sleeps late",
    "{he} works in a small shop",
    "it was a long day",
    "with friends",
    "at night",
    "of course",
    "every morning",
    "and",
    "so",
    "then",
)
_RUNS = tuple(tuple(run.split()) for run in FILLER)
VOCAB: tuple[str, ...] = tuple(
    sorted(
        {"my", ".", "and", *QUESTION, *PERSONS, *VERBS, *FOOD_CUISINE, *CUISINES}
        | {*PERSONS.values(), *_SUBJECT.values()}
        | {word for run in _RUNS for word in run if word != "{he}"}
    )
)
DISTANCE_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 10),
    (11, 20),
    (21, 30),
    (31, 40),
    (41, 50),
    (51, None),
)
NOTES_EXAMPLE = (
    "my friend eats samosa every day and it should not be hard to guess that "
    "his favourite cuisine is INDIAN . "
    "my brother likes pasta and cheese and after work he goes home early so "
    "his favourite cuisine is ITALIAN ."
)


@dataclass(frozen=True)
class Answer:
    """One question of a passage and where its answer and keyword are.

    Attributes:
        position: index in the passage's words of the cuisine to predict; the prefix to give a
            model is ``words[:position]``, which ends with "is".
        cuisine: the answer, e.g. ``"INDIAN"``.
        food: the keyword it follows from: the last food named before the question.
        food_position: index of ``food`` in the words.
        distance: the filler between keyword and question, in words: those between ``food`` and
            the question's first word, not counting ``"."``. ``position - food_position`` is
            ``distance + 5`` in generated passages (the full stop and the question's 4 words).
    """

    position: int
    cuisine: str
    food: str
    food_position: int
    distance: int


@dataclass(frozen=True)
class Passage:
    """A passage's words and its questions' answers, in order."""

    words: tuple[str, ...]
    answers: tuple[Answer, ...]

    @property
    def text(self) -> str:
        """The words joined by single spaces."""
        return " ".join(self.words)


def parse_passage(text: str | Sequence[str]) -> Passage:
    """Find the questions of a passage (``his|her favourite cuisine is X``) and their keywords.

    Args:
        text: a passage, as a string of space-separated words or as a list of words.

    Returns:
        The passage with one :class:`Answer` per question, the answer being the word written
        after "is" and the keyword the last food named before the question.

    Raises:
        UserError: a question comes before any food, or ends the text without an answer.

    Example:
        >>> [(a.food, a.cuisine, a.distance) for a in parse_passage(NOTES_EXAMPLE).answers]
        [('samosa', 'INDIAN', 11), ('cheese', 'ITALIAN', 8)]
    """
    words = tuple(text.split()) if isinstance(text, str) else tuple(text)
    answers, food_at = [], None
    for k, word in enumerate(words):
        if word in FOOD_CUISINE:
            food_at = k
        if k < 3 or words[k - 3] not in _SUBJECT or words[k - 2 : k + 1] != QUESTION:
            continue
        if food_at is None:
            raise UserError(f"passage word {k + 1} ('is'): a question before any food is named")
        if k + 1 == len(words):
            raise UserError(f"passage word {k + 1} ('is'): the question has no answer after it")
        filler = words[food_at + 1 : k - 3]
        answers.append(
            Answer(k + 1, words[k + 1], words[food_at], food_at, sum(w != "." for w in filler))
        )
    return Passage(words, tuple(answers))


def generate_passages(
    n: int, seed: int | str, max_filler: int = 60, max_people: int = 4
) -> list[Passage]:
    """Generate ``n`` passages, the same for the same arguments on every machine.

    Args:
        n: how many passages.
        seed: seed of the generator's own ``random.Random`` (the global RNG is left alone); a
            string seed is hashed with SHA-512, so it too is the same on every run.
        max_filler: the most filler words between a keyword and its question; each person's
            filler length is uniform over 0..max_filler (default 60).
        max_people: the most people per passage; each passage has 1..max_people, uniformly,
            all different (default 4).

    Returns:
        The passages.

    Raises:
        UserError: a negative ``n`` or ``max_filler``, or ``max_people`` outside 1..8.
    """
    limits = (("n", n, 0), ("max_filler", max_filler, 0), ("max_people", max_people, 1))
    for name, value, low in limits:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UserError(f"{name}: expected an integer ≥ {low}, got {value!r}")
    if max_people > len(PERSONS):
        raise UserError(f"max_people: expected at most {len(PERSONS)}, got {max_people}")
    rng = random.Random(seed)
    passages = []
    for _ in range(n):
        words: list[str] = []
        for person in rng.sample(tuple(PERSONS), rng.randint(1, max_people)):
            words += _person(rng, person, max_filler)
        passages.append(parse_passage(words))
    return passages


def _person(rng: random.Random, person: str, max_filler: int) -> list[str]:
    """``my <person> <verb> <food> [and <food>] [.] <filler> his|her favourite cuisine is X .``"""
    cuisine = rng.choice(tuple(CUISINES))
    # One person in four names two foods, as the notes' brother does ("pasta and cheese"), and
    # one in four runs on into the filler without a full stop, as the notes' friend does ("eats
    # samosa every day and ...").
    foods = rng.sample(CUISINES[cuisine], 2 if rng.random() < 0.25 else 1)
    named = foods if len(foods) == 1 else [foods[0], "and", foods[1]]
    stop = [] if rng.random() < 0.25 else ["."]
    possessive = PERSONS[person]
    filler = _filler(rng, rng.randint(0, max_filler), _SUBJECT[possessive])
    return [
        "my",
        person,
        rng.choice(VERBS),
        *named,
        *stop,
        *filler,
        possessive,
        *QUESTION,
        cuisine,
        ".",
    ]


def _filler(rng: random.Random, length: int, subject: str) -> list[str]:
    """Exactly ``length`` words of whole filler runs, ``{he}`` replaced by ``subject``."""
    words: list[str] = []
    while len(words) < length:
        fits = [run for run in _RUNS if len(run) <= length - len(words)]
        (run,) = rng.choices(fits, weights=[len(run) for run in fits])
        words += [subject if word == "{he}" else word for word in run]
    return words


def keywords_corpus(
    n_train: int, n_valid: int, n_test: int, seed: int = 0, max_filler: int = 60
) -> tuple[str, str, str]:
    """Train, valid and test texts of generated passages, one passage per line.

    Each part has its own generator (seeded from ``seed`` and the part's name), so the valid and
    test passages do not change when ``n_train`` does.

    Args:
        n_train, n_valid, n_test: passages in each part.
        seed: the corpus seed (default 0).
        max_filler: as :func:`generate_passages` (default 60).

    Returns:
        ``(train, valid, test)``, each a string of lines ending in ``"\\n"``.

    Example:
        >>> train, valid, test = keywords_corpus(3, 1, 1, seed=0)
        >>> len(train.splitlines()), valid.split()[0], valid.split()[-1]
        (3, 'my', '.')
    """
    texts = []
    for part, n in (("train", n_train), ("valid", n_valid), ("test", n_test)):
        passages = generate_passages(n, f"keywords-{seed}-{part}", max_filler)
        texts.append("".join(p.text + "\n" for p in passages))
    return texts[0], texts[1], texts[2]


class BucketScore(NamedTuple):
    """Answers right and asked in one distance bucket."""

    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        """``correct / total``; NaN for an empty bucket."""
        return self.correct / self.total if self.total else math.nan


def cuisine_accuracy_by_distance(
    predict_fn: Callable[[list[str]], str],
    passages: Iterable[Passage],
    buckets: Sequence[tuple[int, int | None]] = DISTANCE_BUCKETS,
) -> dict[str, BucketScore]:
    """Score a predictor's answers, bucketed by the keyword's distance.

    The model is the caller's: ``predict_fn`` gets the words up to and including a question's
    "is" and returns its guess of the next word.

    Args:
        predict_fn: prefix words → predicted next word.
        passages: passages to ask, e.g. from :func:`generate_passages`.
        buckets: inclusive ``(low, high)`` distance ranges, ``high`` None for no upper bound;
            answers in no bucket are not asked. Default 0-10, 11-20, ..., 51+.

    Returns:
        Bucket label (``"0-10"``, ``"51+"``) → :class:`BucketScore`, in the order of ``buckets``.

    Example:
        >>> passages = generate_passages(20, seed=0)
        >>> scores = cuisine_accuracy_by_distance(lambda prefix: "INDIAN", passages)
        >>> list(scores)
        ['0-10', '11-20', '21-30', '31-40', '41-50', '51+']
    """
    labels = [f"{low}+" if high is None else f"{low}-{high}" for low, high in buckets]
    correct = dict.fromkeys(labels, 0)
    total = dict.fromkeys(labels, 0)
    for passage in passages:
        for answer in passage.answers:
            for label, (low, high) in zip(labels, buckets, strict=True):
                if low <= answer.distance and (high is None or answer.distance <= high):
                    guess = predict_fn(list(passage.words[: answer.position]))
                    correct[label] += guess == answer.cuisine
                    total[label] += 1
                    break
    return {label: BucketScore(correct[label], total[label]) for label in labels}
