"""The built-in ``digits`` of the captioning task: strips of real handwritten digits.

Each 32x160 grey image shows 3 to 5 handwritten digits side by side, captioned with their
words (``"three one four"``). The digits are scikit-learn's copy of the UCI optical digits
(:func:`sklearn.datasets.load_digits`, nothing downloaded): 1797 digits of 8x8 cells, each the
count (0..16) of ink pixels in a 4x4 block of a 32x32 bitmap. Each is scaled up (bicubic) to a
square of 20 to 26 pixels, in dark ink on light paper of a random shade, at a random height,
3 to 5 per strip with 0 to 4 pixels between them.

Writers. That copy is UCI's test set, written by people other than the UCI training set's,
in the order of the forms they filled in: every form asks for 0-9 three times and then a fixed
sequence of 100 digits (:data:`FORM_TEMPLATE`), so the labels repeat that 130-digit pattern,
and the 14 forms start at :data:`FORM_STARTS` (a few digits are missing where NIST's
segmentation dropped them). The strips of each split use the digits of its forms only
(:data:`DIGIT_FORMS`: 10 forms for training, 2 for validation, 2 for testing), so no test
digit was ever seen in training, and no form filled in by one hand is shared. UCI says 13
people wrote the test set, one fewer than its 14 forms: one person may have filled two forms,
so the writers of valid or test may include at most one who also wrote training digits.

Example:
    >>> strip_caption((3, 1, 4))
    'three one four'
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image

from lstmkit.errors import UserError

STRIP_SIZE = (32, 160)  # (height, width)
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FORM_TEMPLATE = "0123456789" * 3 + (
    "0955650989841773510022782012633733466649150952820017632174631391768431405369617544728225"
    "795488490898"
)
FORM_STARTS = (0, 130, 256, 386, 516, 646, 776, 906, 1029, 1157, 1287, 1415, 1545, 1667)
DIGIT_FORMS = {"train": tuple(range(10)), "valid": (10, 11), "test": (12, 13)}
_COUNT = 1797
_SIDES = (20, 26)  # a digit's side, pixels
_GAPS = (0, 4)
_INK_BOX = 64  # ink at least this (of 255) counts for a digit's box: bicubic leaves a faint halo


@dataclass(frozen=True)
class HandwrittenDigits:
    """scikit-learn's optical digits: ``cells`` (N, 8, 8) of ink counts 0..16, their
    ``labels`` (N,) and the ``forms`` (N,) they were written on (0..13)."""

    cells: np.ndarray
    labels: np.ndarray
    forms: np.ndarray


@functools.cache
def handwritten_digits() -> HandwrittenDigits:
    """The 1797 optical digits with the form each was written on (see the module's text),
    read once (the arrays are read-only).

    Raises:
        UserError: scikit-learn's copy does not have the 1797 digits in form order.
    """
    from sklearn.datasets import load_digits  # only the built-in digits need scikit-learn

    data = load_digits()
    cells, labels = np.asarray(data.images), np.asarray(data.target)
    heads = "".join(str(d) for d in labels[list(FORM_STARTS)])
    if len(labels) != _COUNT or heads.count("0") < 13:
        raise UserError(
            f"scikit-learn's optical digits: expected {_COUNT} digits written on 14 forms, each "
            f"starting with 0 (one with 1), got {len(labels)} digits starting {heads!r}"
        )
    forms = np.searchsorted(FORM_STARTS, np.arange(len(labels)), side="right") - 1
    for array in (cells, labels, forms):
        array.flags.writeable = False
    return HandwrittenDigits(cells, labels, forms)


@dataclass(frozen=True)
class Strip:
    """One strip: which digits (their labels and sample indices) go where, in what shades."""

    labels: tuple[int, ...]
    samples: tuple[int, ...]
    places: tuple[tuple[int, int, int], ...]  # (x, y, side) of each digit's square
    paper: int
    ink: int


def strip_plan(count: int, seed: int, split: str, digits: HandwrittenDigits) -> list[Strip]:
    """``count`` strips drawn from ``seed`` and ``split`` alone, of the split's forms' digits.

    Example:
        >>> digits = handwritten_digits()  # doctest: +SKIP
        >>> strip_plan(1, 0, "test", digits)[0].labels  # doctest: +SKIP
        (0, 4, 1)
    """
    rng = random.Random(f"digits-{seed}-{split}")
    mine = np.isin(digits.forms, DIGIT_FORMS[split])
    by_label = [np.flatnonzero(mine & (digits.labels == d)).tolist() for d in range(10)]
    height, width = STRIP_SIZE
    strips = []
    for _ in range(count):
        labels = tuple(rng.randrange(10) for _ in range(rng.randint(3, 5)))
        samples = tuple(rng.choice(by_label[d]) for d in labels)
        sides = [rng.randint(*_SIDES) for _ in labels]
        gaps = [rng.randint(*_GAPS) for _ in labels[1:]]
        x = rng.randint(2, width - 2 - sum(sides) - sum(gaps))
        places = []
        for side, gap in zip(sides, [*gaps, 0], strict=True):
            places.append((x, rng.randint(1, height - 1 - side), side))
            x += side + gap
        strips.append(
            Strip(labels, samples, tuple(places), rng.randint(200, 255), rng.randint(0, 70))
        )
    return strips


def strip_caption(labels: tuple[int, ...]) -> str:
    """The digits' words, ``"three one four"``."""
    return " ".join(DIGIT_WORDS[d] for d in labels)


def draw_strip(strip: Strip, digits: HandwrittenDigits) -> tuple[Image.Image, list[list[int]]]:
    """The strip's grey image and each digit's box ``[x0, y0, x1, y1]`` (``x1``, ``y1``
    exclusive: the smallest holding the digit's ink of at least a quarter)."""
    height, width = STRIP_SIZE
    ink = np.zeros((height, width), dtype=np.float32)  # (H, W) in [0, 1]
    boxes = []
    for sample, (x, y, side) in zip(strip.samples, strip.places, strict=True):
        cell = Image.fromarray(np.uint8(np.rint(digits.cells[sample] * 255 / 16)), "L")
        scaled = cell.resize((side, side), Image.Resampling.BICUBIC)
        patch = np.asarray(scaled, dtype=np.float32) / 255  # (side, side)
        rows = np.flatnonzero((patch >= _INK_BOX / 255).any(axis=1))
        cols = np.flatnonzero((patch >= _INK_BOX / 255).any(axis=0))
        boxes.append(
            [x + int(cols[0]), y + int(rows[0]), x + int(cols[-1]) + 1, y + int(rows[-1]) + 1]
        )
        ink[y : y + side, x : x + side] = np.maximum(ink[y : y + side, x : x + side], patch)
    pixels = strip.paper - ink * (strip.paper - strip.ink)
    return Image.fromarray(np.uint8(np.rint(pixels)), "L"), boxes


__all__ = [
    "DIGIT_FORMS",
    "DIGIT_WORDS",
    "FORM_STARTS",
    "FORM_TEMPLATE",
    "STRIP_SIZE",
    "HandwrittenDigits",
    "Strip",
    "draw_strip",
    "handwritten_digits",
    "strip_caption",
    "strip_plan",
]
