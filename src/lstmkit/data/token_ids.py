"""Token ids in a file: a corpus tokenised piece by piece and read back as a ``np.memmap``.

A corpus's ids written as they are made and mapped from disk keep a training run's memory bounded
by its batches, not by the corpus: the operating system pages in the windows a batch reads (see
:func:`~lstmkit.data.bptt_batches`). Ids are stored in the smallest unsigned type that holds the
vocabulary (``uint16`` up to 65,536 ids, else ``uint32``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

from lstmkit.errors import UserError


def ids_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds ids ``0 .. vocab_size - 1``.

    Example:
        >>> ids_dtype(8000), ids_dtype(70000)
        (dtype('uint16'), dtype('uint32'))
    """
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    if vocab_size <= 1 << 32:
        return np.dtype(np.uint32)
    raise UserError(f"vocab_size: expected at most 2**32 ids, got {vocab_size}")


def write_ids(
    pieces: Iterable[Sequence[int]], path: str | os.PathLike, vocab_size: int
) -> np.ndarray:
    """Writes the ids of ``pieces``, one after the other, to ``path``; returns them, mapped.

    Only one piece's ids are in memory at a time.

    Args:
        pieces: the ids of a text, piece by piece (e.g. a tokenizer's ``encode`` of each piece).
        path: the file to write (replaced if it exists).
        vocab_size: every id is below it; chooses the type (:func:`ids_dtype`).

    Returns:
        (N,) a read-only ``np.memmap`` of the file (an empty array for no ids).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     ids = write_ids([[5, 6], [], [7]], f"{folder}/train.ids", vocab_size=8)
        ...     ids.tolist(), ids.dtype.name, type(ids).__name__
        ([5, 6, 7], 'uint16', 'memmap')
    """
    dtype = ids_dtype(vocab_size)
    count = 0
    with open(path, "wb") as f:
        for ids in pieces:
            array = np.asarray(ids, dtype=np.int64)
            low, high = (array.min(), array.max()) if array.size else (0, 0)
            if low < 0 or high >= vocab_size:
                raise UserError(f"ids: expected ids in [0, {vocab_size}), got {low} to {high}")
            array.astype(dtype).tofile(f)
            count += array.size
    if count == 0:  # an empty file cannot be mapped
        return np.empty(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))


__all__ = ["ids_dtype", "write_ids"]
