"""Batches of similar length: sort by length, cut, shuffle the batches (seq2seq pairs, speech
utterances).

Bucketing keeps padding small, so a batch of short sequences does not pay for one long one; the
order of the batches, and of equal-length items, comes from a generator seeded by the caller
(the run's seed and the epoch), so a resumed run sees exactly the batches of one that never
stopped.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from lstmkit.errors import UserError


def bucketed_batches(
    lengths: Sequence[tuple[int, int]], batch_size: int, seed: int | str
) -> list[list[int]]:
    """Indices of items cut into batches of similar length, in a seeded random order.

    Items are sorted by their length tuple (a pair's (source, target) lengths, an utterance's
    (frames, characters)) with random tie-breaking, cut into consecutive batches of
    ``batch_size``, and the batches shuffled.

    Example:
        >>> batches = bucketed_batches([(5, 5), (1, 1), (5, 4), (2, 1)], 2, seed=0)
        >>> sorted(sorted(b) for b in batches)
        [[0, 2], [1, 3]]
    """
    rng = random.Random(seed)
    noise = [rng.random() for _ in lengths]
    order = sorted(range(len(lengths)), key=lambda i: (*lengths[i], noise[i]))
    batches = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def batch_seed(seed: int, epoch: int, batch: int) -> int:
    """A 63-bit seed for what one batch draws (augmentation, a caption among references), a
    function of the three numbers alone (Python's ``hash`` of strings changes between
    processes, so it cannot be used).

    Example:
        >>> batch_seed(1, 2, 3) == batch_seed(1, 2, 3) != batch_seed(1, 3, 2)
        True
    """
    digest = hashlib.sha256(f"{seed}-{epoch}-{batch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def split_indices(
    n: int, valid_fraction: float, test_fraction: float, seed: int | str, what: str
) -> tuple[list[int], list[int], list[int]]:
    """Training, validation and test indices of ``n`` items (``what``: their name in messages),
    a seeded shuffle cut by the fractions; a fraction > 0 of three or more items gets at least
    one.

    Raises:
        UserError: a fraction outside [0, 1), fractions leaving nothing to train on.

    Example:
        >>> train, valid, test = split_indices(5, 0.2, 0.2, 0, "items")
        >>> len(train), len(valid), len(test), sorted(train + valid + test)
        (3, 1, 1, [0, 1, 2, 3, 4])
    """
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise UserError(f"{name}: expected a number in [0, 1), got {value!r}")
    if valid_fraction + test_fraction >= 1:
        raise UserError(
            f"valid_fraction + test_fraction: expected less than 1 to leave {what} for "
            f"training, got {valid_fraction} + {test_fraction}"
        )

    def count(fraction: float) -> int:
        k = int(n * fraction + 0.5)
        return max(k, 1) if fraction > 0 and n >= 3 else k

    n_valid, n_test = count(valid_fraction), count(test_fraction)
    if n - n_valid - n_test < 1:
        raise UserError(
            f"{what} too few to split: expected at least {n_valid + n_test + 1} (one or more "
            f"to train on), got {n}"
        )
    order = list(range(n))
    random.Random(seed).shuffle(order)
    valid, test = order[:n_valid], order[n_valid : n_valid + n_test]
    return sorted(order[n_valid + n_test :]), sorted(valid), sorted(test)


__all__ = ["batch_seed", "bucketed_batches", "split_indices"]
