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


__all__ = ["batch_seed", "bucketed_batches"]
