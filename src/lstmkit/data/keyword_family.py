"""A family of keyword-memory corpora: the notes' task with other words, people and sentences.

The built-in ``keywords`` corpus (:mod:`lstmkit.data.keywords`) is one member of a family: a
person names a keyword (a food, an instrument, a city …), filler follows, and a question later
asks for the keyword's category (the cuisine, the music, the country …), written in capitals.
:func:`keyword_variant` draws a member from a seed — its theme (or made-up words), which
categories and keywords, the people (relatives or first names), the sentence shapes of the
introduction and the question, the filler sentences, the longest filler and the most people in a
passage — and :func:`variant_corpus` writes its train, valid and test texts. Defaults chosen on
one member can then be checked on others, as a user's own corpus of this kind would be.

Example:
    >>> variant = keyword_variant(3)
    >>> passage = variant.passages(1, seed=0)[0]
    >>> answer = passage.answers[0]
    >>> passage.words[answer.position] == answer.cuisine
    True
    >>> answer.cuisine == variant.category_of[answer.food]
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from lstmkit.data.keywords import Answer, Passage
from lstmkit.errors import UserError

# theme → (question noun, verbs, {CATEGORY: keywords}); the keyword's category is the answer.
THEMES: dict[str, tuple[str, tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "cuisine": (
        "cuisine",
        ("eats", "orders", "cooks", "loves"),
        {
            "INDIAN": ("samosa", "curry", "dosa", "naan", "biryani"),
            "ITALIAN": ("pasta", "pizza", "risotto", "lasagne", "gnocchi"),
            "JAPANESE": ("sushi", "ramen", "tempura", "udon"),
            "MEXICAN": ("tacos", "burritos", "nachos", "quesadillas"),
            "GREEK": ("moussaka", "souvlaki", "feta", "gyros"),
            "THAI": ("satay", "laksa", "pad", "larb"),
        },
    ),
    "music": (
        "music",
        ("plays", "practises", "bought", "tunes"),
        {
            "CLASSICAL": ("violin", "cello", "harpsichord", "oboe"),
            "JAZZ": ("saxophone", "trumpet", "clarinet", "vibraphone"),
            "ROCK": ("guitar", "drums", "bass", "amplifier"),
            "FOLK": ("banjo", "fiddle", "accordion", "mandolin"),
            "ELECTRONIC": ("synthesizer", "sampler", "turntables", "sequencer"),
        },
    ),
    "travel": (
        "country",
        ("visited", "remembers", "photographed", "describes"),
        {
            "FRANCE": ("paris", "lyon", "marseille", "bordeaux"),
            "ITALY": ("rome", "milan", "venice", "naples"),
            "JAPAN": ("tokyo", "kyoto", "osaka", "sapporo"),
            "SPAIN": ("madrid", "seville", "valencia", "granada"),
            "GERMANY": ("berlin", "munich", "hamburg", "cologne"),
            "PERU": ("lima", "cusco", "arequipa", "iquitos"),
            "KENYA": ("nairobi", "mombasa", "kisumu", "nakuru"),
        },
    ),
    "sport": (
        "sport",
        ("carries", "cleans", "repairs", "packs"),
        {
            "TENNIS": ("racket", "headband", "wristband"),
            "GOLF": ("putter", "tee", "caddie"),
            "SKIING": ("skis", "poles", "goggles"),
            "CYCLING": ("bicycle", "pedals", "helmet"),
            "CRICKET": ("bat", "stumps", "pads"),
            "ROWING": ("oars", "scull", "rudder"),
        },
    ),
    "pets": (
        "animal",
        ("feeds", "walks", "brushes", "adopted"),
        {
            "CAT": ("kitten", "tabby", "siamese"),
            "DOG": ("puppy", "poodle", "terrier", "beagle"),
            "BIRD": ("parrot", "canary", "budgie"),
            "FISH": ("goldfish", "guppy", "koi"),
            "HORSE": ("pony", "foal", "stallion"),
        },
    ),
}
RELATIVES = {
    "friend": "he",
    "brother": "he",
    "father": "he",
    "uncle": "he",
    "cousin": "she",
    "sister": "she",
    "mother": "she",
    "aunt": "she",
    "daughter": "she",
    "grandson": "he",
}
NAMES = {
    "anna": "she",
    "omar": "he",
    "lena": "she",
    "ravi": "he",
    "maya": "she",
    "tom": "he",
    "ines": "she",
    "kofi": "he",
    "yuki": "she",
    "paul": "he",
}
POSSESSIVE = {"he": "his", "she": "her"}
# Introductions: {who} is "my brother" or "anna", {verb} the theme's verb, {kw} the keyword(s).
INTROS = (
    "{who} {verb} {kw}",
    "yesterday {who} {verb} {kw}",
    "every week {who} {verb} {kw}",
    "i know that {who} {verb} {kw}",
    "{who} always {verb} {kw}",
)
# Questions end with the answer; {pos} his/her, {subj} he/she, {noun} the theme's noun.
QUESTIONS = (
    "{pos} favourite {noun} is",
    "so the {noun} {subj} likes best is",
    "which tells us that {pos} {noun} is",
    "ask {pos} friends and they say {pos} {noun} is",
    "no doubt {pos} {noun} of choice is",
)
# Filler pools: sentence-like runs; {subj} takes the person's pronoun. One-word runs let the
# filler reach any length.
FILLERS = (
    (
        "every day {subj} walks to work",
        "on weekends {subj} often visits the park",
        "in the evening {subj} reads a book",
        "the weather was nice",
        "it was a long day",
        "{subj} works in a small shop",
        "at night",
        "of course",
        "and",
        "so",
        "then",
    ),
    (
        "the train was late again this morning",
        "{subj} lives near the old bridge",
        "last summer {subj} moved to a new flat",
        "the neighbours are quiet people",
        "{subj} says the coffee there is bad",
        "nobody knows why",
        "after lunch",
        "as usual",
        "well",
        "but",
        "still",
    ),
    (
        "{subj} keeps a diary of small things",
        "the garden needs water every evening",
        "on rainy days {subj} stays inside",
        "we met at the station once",
        "{subj} has two old bicycles",
        "the shop closes at six",
        "in winter",
        "by the way",
        "yes",
        "now",
        "later",
    ),
)
_SYLLABLES = ("ka", "lo", "mi", "ru", "te", "sa", "po", "ne", "vi", "du", "ba", "zo", "fe", "gi")


@dataclass(frozen=True)
class KeywordVariant:
    """One member of the family: its words and shapes; :meth:`passages` writes text with them.

    Attributes:
        seed: the seed it was drawn from.
        theme: the theme's name, or ``"madeup"`` for generated words.
        noun: the question's noun ("cuisine", "music" …).
        verbs: the introduction's verbs.
        categories: category (the answer, in capitals) → its keywords.
        people: person → subject pronoun ("he"/"she"); relatives are written "my brother".
        relatives: whether the people are relatives ("my sister") or first names ("anna").
        intros, questions: the sentence shapes in use (see :data:`INTROS`, :data:`QUESTIONS`).
        filler: the filler runs in use.
        max_filler: the most filler words between a keyword and its question.
        max_people: the most people in a passage.
    """

    seed: int
    theme: str
    noun: str
    verbs: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    people: dict[str, str]
    relatives: bool
    intros: tuple[str, ...]
    questions: tuple[str, ...]
    filler: tuple[tuple[str, ...], ...]
    max_filler: int
    max_people: int
    category_of: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = {kw: cat for cat, kws in self.categories.items() for kw in kws}
        object.__setattr__(self, "category_of", table)

    def passages(self, n: int, seed: int | str) -> list[Passage]:
        """``n`` passages, the same for the same variant and seed on every machine."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise UserError(f"n: expected an integer ≥ 0, got {n!r}")
        rng = random.Random(f"{self.seed}-{seed}")
        out = []
        for _ in range(n):
            words: list[str] = []
            answers: list[Answer] = []
            people = rng.sample(tuple(self.people), rng.randint(1, self.max_people))
            for person in people:
                self._person(rng, person, words, answers)
            out.append(Passage(tuple(words), tuple(answers)))
        return out

    def _person(
        self, rng: random.Random, person: str, words: list[str], answers: list[Answer]
    ) -> None:
        """Appends one person's introduction, filler and question to ``words``."""
        subj = self.people[person]
        category = rng.choice(tuple(self.categories))
        keywords = rng.sample(self.categories[category], 2 if rng.random() < 0.25 else 1)
        who = f"my {person}" if self.relatives else person
        intro = rng.choice(self.intros).format(who=who, verb=rng.choice(self.verbs), kw="{kw}")
        before, _, after = intro.partition("{kw}")
        words += before.split()
        words += keywords if len(keywords) == 1 else [keywords[0], "and", keywords[1]]
        keyword_at = len(words) - 1
        words += after.split()
        if rng.random() < 0.75:
            words.append(".")
        distance = rng.randint(0, self.max_filler)
        words += self._filler(rng, distance, subj)
        question = rng.choice(self.questions)
        words += question.format(pos=POSSESSIVE[subj], subj=subj, noun=self.noun).split()
        answers.append(Answer(len(words), category, words[keyword_at], keyword_at, distance))
        words += [category, "."]

    def _filler(self, rng: random.Random, length: int, subj: str) -> list[str]:
        """Exactly ``length`` words of whole runs, most read as sentences (weight: length)."""
        words: list[str] = []
        while len(words) < length:
            fits = [run for run in self.filler if len(run) <= length - len(words)]
            (run,) = rng.choices(fits, weights=[len(run) for run in fits])
            words += [subj if word == "{subj}" else word for word in run]
        return words


def keyword_variant(seed: int) -> KeywordVariant:
    """The family member drawn from ``seed`` (an integer ≥ 0), the same on every machine.

    One seed in six uses made-up words (keywords, categories and verbs of random syllables);
    the others a theme of :data:`THEMES` with 3 to all of its categories and 2 to all of their
    keywords. People are relatives or first names (2 to 10 of them, 1 to 5 in a passage), 2 to
    5 introduction and 1 to 4 question shapes, one of three filler pools, and a longest filler
    of 30, 45, 60 or 75 words.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"seed: expected an integer ≥ 0, got {seed!r}")
    rng = random.Random(f"keyword-variant-{seed}")
    if seed % 6 == 5:
        theme, (noun, verbs, categories) = "madeup", _madeup(rng)
    else:
        theme = tuple(THEMES)[rng.randrange(len(THEMES))]
        noun, verbs, pool = THEMES[theme]
        chosen = rng.sample(tuple(pool), rng.randint(3, len(pool)))
        categories = {
            cat: tuple(rng.sample(pool[cat], rng.randint(2, len(pool[cat])))) for cat in chosen
        }
    relatives = rng.random() < 0.5
    names = RELATIVES if relatives else NAMES
    people = {p: names[p] for p in rng.sample(tuple(names), rng.randint(2, len(names)))}
    filler = rng.choice(FILLERS)
    return KeywordVariant(
        seed=seed,
        theme=theme,
        noun=noun,
        verbs=tuple(verbs),
        categories=categories,
        people=people,
        relatives=relatives,
        intros=tuple(rng.sample(INTROS, rng.randint(2, len(INTROS)))),
        questions=tuple(rng.sample(QUESTIONS, rng.randint(1, 4))),
        filler=tuple(tuple(run.split()) for run in filler),
        max_filler=rng.choice((30, 45, 60, 75)),
        max_people=min(len(people), rng.randint(1, 5)),
    )


def _madeup(rng: random.Random) -> tuple[str, tuple[str, ...], dict[str, tuple[str, ...]]]:
    """A theme of made-up words: 3-6 categories of 2-4 keywords, all different."""
    seen: set[str] = set()

    def word(syllables: int) -> str:
        while True:
            w = "".join(rng.choice(_SYLLABLES) for _ in range(syllables))
            if w not in seen:
                seen.add(w)
                return w

    categories = {
        word(2).upper(): tuple(word(rng.randint(2, 3)) for _ in range(rng.randint(2, 4)))
        for _ in range(rng.randint(3, 6))
    }
    verbs = tuple(word(2) + "s" for _ in range(3))
    return word(3), verbs, categories


def variant_corpus(
    variant: KeywordVariant, n_train: int = 5000, n_valid: int = 500, n_test: int = 500
) -> tuple[str, str, str]:
    """Train, valid and test texts of ``variant``, one passage per line, each part from its own
    generator (so valid and test do not change with ``n_train``)."""
    return tuple(
        "".join(p.text + "\n" for p in variant.passages(n, part))
        for part, n in (("train", n_train), ("valid", n_valid), ("test", n_test))
    )


def distance_buckets(max_filler: int, width: int = 10) -> tuple[tuple[int, int], ...]:
    """Buckets ``0-9, 10-19, …`` up to ``max_filler`` (the last one closed at it), for
    :func:`~lstmkit.data.cuisine_accuracy_by_distance`."""
    return tuple((low, min(low + width - 1, max_filler)) for low in range(0, max_filler + 1, width))


__all__ = [
    "THEMES",
    "KeywordVariant",
    "distance_buckets",
    "keyword_variant",
    "variant_corpus",
]
