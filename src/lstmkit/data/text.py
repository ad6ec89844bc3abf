"""Plain-text corpora: split them, and cut them into TBPTT batches for a language model.

Reading them is :mod:`lstmkit.data.text_files` (:func:`read_text` and :func:`read_corpus` are
also importable from here).

Batching follows Zaremba et al. (2014) and AWD-LSTM (Merity et al. 2018): the token stream is cut
into B parallel streams, each contiguous in time, and read T tokens at a time; the hidden state is
carried from one window to the next, so the model sees each stream as one long sequence while
gradients flow back at most T steps (truncated backpropagation through time).

Legend: B batch_size (streams), T bptt, N tokens per stream (the corpus's n tokens // B).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from lstmkit.data.text_files import TextSource, read_corpus, read_text
from lstmkit.errors import UserError

Ids = Tensor | np.ndarray  # token ids: in memory, or a numpy memmap of a file of ids
Text = str | TextSource  # a text in memory, or lines of files read piece by piece


def split_text(
    text: Text, valid_fraction: float = 0.05, test_fraction: float = 0.05
) -> tuple[Text, Text, Text]:
    """Split a text on line boundaries into train, valid and test: contiguous blocks, in that order.

    Contiguous blocks rather than shuffled lines, because neighbouring lines share words and
    topics: a shuffled split would leak the test set's context into training and flatter the test
    perplexity. Each part gets ``round(fraction * lines)`` lines, at least one unless its fraction
    is 0; the three parts joined give back ``text``.

    A :class:`~lstmkit.data.text_files.TextSource` (a text in files) is split alike without being
    read: its parts are TextSources of its lines, an empty one ``""``.

    Args:
        text: the corpus. A final newline does not count as an extra (empty) line.
        valid_fraction: the share of lines for validation (default 0.05).
        test_fraction: the share of lines for testing (default 0.05).

    Returns:
        ``(train, valid, test)``.

    Raises:
        UserError: a fraction outside [0, 1), fractions summing to 1 or more, or a text too short
            to give every part at least one line.

    Example:
        >>> split_text("a\\nb\\nc\\nd\\n", valid_fraction=0.25, test_fraction=0.25)
        ('a\\nb\\n', 'c\\n', 'd\\n')
    """
    if isinstance(text, TextSource):
        counts = split_counts(text.num_lines, valid_fraction, test_fraction)
        cuts = list(itertools.accumulate(counts, initial=0))
        return tuple(text.lines(a, b) if b > a else "" for a, b in itertools.pairwise(cuts))
    # str.splitlines would also cut at "\r", form feeds and U+2028; lines here end at "\n" only.
    pieces = text.split("\n")
    lines = [line + "\n" for line in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    n_train, n_valid, _ = split_counts(len(lines), valid_fraction, test_fraction)
    train = "".join(lines[:n_train])
    valid = "".join(lines[n_train : n_train + n_valid])
    return train, valid, "".join(lines[n_train + n_valid :])


def split_counts(
    lines: int, valid_fraction: float = 0.05, test_fraction: float = 0.05
) -> tuple[int, int, int]:
    """How many of ``lines`` lines :func:`split_text` gives to train, valid and test.

    Raises:
        UserError: as :func:`split_text`.

    Example:
        >>> split_counts(100, valid_fraction=0.1, test_fraction=0.2)
        (70, 10, 20)
    """
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise UserError(f"{name}: expected a number in [0, 1), got {value!r}")
    if valid_fraction + test_fraction >= 1:
        raise UserError(
            "valid_fraction + test_fraction: expected less than 1 to leave lines for training, "
            f"got {valid_fraction} + {test_fraction}"
        )
    n_valid = max(1, int(lines * valid_fraction + 0.5)) if valid_fraction else 0
    n_test = max(1, int(lines * test_fraction + 0.5)) if test_fraction else 0
    n_train = lines - n_valid - n_test
    if n_train < 1:
        needed = 1 + (valid_fraction > 0) + (test_fraction > 0)
        raise UserError(
            f"text too short to split: expected at least {needed} lines (one for each part), "
            f"got {lines}"
        )
    return n_train, n_valid, n_test


def batchify(ids: Ids, batch_size: int) -> Ids:
    """Cut a token stream into ``batch_size`` parallel streams, each contiguous in time.

    Stream ``b`` holds tokens ``b * N`` to ``(b + 1) * N - 1``; the last ``n % B`` tokens are
    dropped. Read with :func:`bptt_batches`, carrying the hidden state between windows.

    Args:
        ids: token ids, shape (n,): a tensor, or a numpy array (a ``np.memmap`` of a corpus's
            ids stays on disk: the streams are a view of the file).
        batch_size: B, the number of streams.

    Returns:
        A view of ``ids`` shaped (B, N) with N = n // B, of the same kind as ``ids``.

    Raises:
        UserError: ``ids`` is not 1-D, ``batch_size`` is not a positive integer, or there are
            fewer tokens than streams.

    Example:
        >>> import torch
        >>> batchify(torch.arange(10), 3)
        tensor([[0, 1, 2],
                [3, 4, 5],
                [6, 7, 8]])
    """
    if ids.ndim != 1:
        raise UserError(f"ids: expected a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    _check_positive("batch_size", batch_size)
    per_stream = ids.shape[0] // batch_size
    if per_stream == 0:
        raise UserError(
            f"batch_size {batch_size} is larger than the data: {ids.shape[0]} tokens; "
            "expected at least one token per stream"
        )
    return ids[: per_stream * batch_size].reshape(batch_size, per_stream)  # (B, N), a view


def num_windows(streams: Ids, bptt: int) -> int:
    """How many windows :func:`bptt_batches` yields for ``streams`` (B, N): ceil((N - 1) / T)."""
    _check_positive("bptt", bptt)
    return -(-(streams.shape[-1] - 1) // bptt)


def bptt_batches(streams: Ids, bptt: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
    """Windows of T steps over the streams, each input paired with its next-token targets.

    Window ``k`` covers steps ``k * T`` to ``k * T + T - 1``: ``x = streams[:, kT : kT + T]`` and
    ``y = streams[:, kT + 1 : kT + T + 1]``, so window ``k + 1`` starts where window ``k``'s
    targets end, and ``y`` is ``x`` shifted by one across window boundaries too. The last window
    is shorter when ``N - 1`` is not a multiple of T.

    Args:
        streams: (B, N) token ids, as :func:`batchify` makes them: a tensor, or a numpy array
            whose windows are read as they are needed (int64 tensors, the same values).
        bptt: T, the number of steps to backpropagate through.
        start: the index of the first window to yield. A run resumed from a checkpoint taken
            after ``k`` windows of an epoch passes ``start=k`` to continue with the same data it
            would have seen; ``start`` equal to :func:`num_windows` yields nothing.

    Returns:
        An iterator over ``(x, y)``, both (B, T) views of ``streams`` (of one int64 copy of the
        window for a numpy array); T is smaller in the last window.

    Raises:
        UserError: ``bptt`` is not a positive integer or is longer than the data (T > N - 1),
            or ``start`` is not a window index.

    Example:
        >>> import torch
        >>> [x.tolist() for x, y in bptt_batches(torch.arange(8).view(2, 4), 2)]
        [[[0, 1], [4, 5]], [[2], [6]]]
    """
    if streams.ndim != 2:
        raise UserError(f"streams: expected shape (B, N), got {tuple(streams.shape)}")
    total = num_windows(streams, bptt)  # checks bptt
    B, N = streams.shape
    if bptt > N - 1:
        raise UserError(
            f"bptt {bptt} is longer than the data: {N} tokens per stream at batch size {B} "
            f"(expected at most {max(N - 1, 0)})"
        )
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= total:
        raise UserError(f"start: expected a window index in [0, {total}], got {start!r}")
    # Validated above, outside the generator, so that a bad argument fails at the call.
    return _windows(streams, bptt, start)


def _windows(streams: Ids, bptt: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
    N = streams.shape[1]
    for i in range(start * bptt, N - 1, bptt):
        T = min(bptt, N - 1 - i)
        if isinstance(streams, np.ndarray):  # only this window is read from a memmap
            window = torch.from_numpy(streams[:, i : i + T + 1].astype(np.int64))  # (B, T + 1)
            yield window[:, :T], window[:, 1:]
        else:
            yield streams[:, i : i + T], streams[:, i + 1 : i + 1 + T]  # (B, T), (B, T)


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{name}: expected a positive integer, got {value!r}")


__all__ = [
    "Ids",
    "Text",
    "batchify",
    "bptt_batches",
    "num_windows",
    "read_corpus",
    "read_text",
    "split_counts",
    "split_text",
]
