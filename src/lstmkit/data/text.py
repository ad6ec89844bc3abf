"""Plain-text corpora: read them, split them, and cut them into TBPTT batches for a language model.

Reading is strict at the boundary: a missing path, an empty corpus, a binary file or a byte that is
not UTF-8 raises :class:`~lstmkit.errors.UserError` naming the file, line and column, so that a
user sees the problem before a training run rather than as a strange vocabulary after it.

Batching follows Zaremba et al. (2014) and AWD-LSTM (Merity et al. 2018): the token stream is cut
into B parallel streams, each contiguous in time, and read T tokens at a time; the hidden state is
carried from one window to the next, so the model sees each stream as one long sequence while
gradients flow back at most T steps (truncated backpropagation through time).

Legend: B batch_size (streams), T bptt, N tokens per stream (the corpus's n tokens // B).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from torch import Tensor

from lstmkit.errors import UserError


def read_text(path: str | os.PathLike, *, option: str = "path") -> str:
    """The text of a UTF-8 file, or of all the files in a folder, ``"\\r\\n"`` made ``"\\n"``.

    A folder's files are read as :func:`read_corpus` reads them and joined in that order, each
    ending with a newline so that the last line of one file never runs into the next.

    Args:
        path: a file (``.gz`` is decompressed) or a folder.
        option: the name the user gave the path under, for error messages.

    Returns:
        The text; never empty or whitespace only.

    Raises:
        UserError: as :func:`read_corpus`.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = (Path(folder) / "a.txt").write_bytes(b"one\\r\\ntwo")
        ...     read_text(Path(folder) / "a.txt")
        'one\\ntwo'
    """
    corpus = read_corpus(path, option=option)
    if not Path(path).is_dir():
        return corpus[0][1]
    return "".join(text if text.endswith("\n") else text + "\n" for _, text in corpus if text)


def read_corpus(path: str | os.PathLike, *, option: str = "path") -> list[tuple[Path, str]]:
    """The files of a corpus and their text: one file, or every file under a folder.

    A folder is searched recursively; hidden files and folders (names starting with ``"."``) are
    skipped, and the files come sorted by their path inside the folder, so the order, and with it
    every split and batch made from it, is the same on every machine.

    Args:
        path: a file or a folder. Files ending in ``.gz`` are decompressed.
        option: the name the user gave the path under, for error messages.

    Returns:
        ``(file, text)`` pairs in reading order; text is decoded UTF-8 (a leading byte-order mark
        dropped) with ``"\\r\\n"`` made ``"\\n"``.

    Raises:
        UserError: the path does not exist; the corpus holds no text (an empty file, or a folder
            with no non-blank file); a file holds a NUL byte (binary) or is not UTF-8 — these name
            the file, line and column.
    """
    root = Path(path)
    if not root.exists():
        raise UserError(f"{option}: no such file or folder: {root}")
    if root.is_dir():
        files = _corpus_files(root)
        if not files:
            raise UserError(f"{option}: folder {root} has no files (hidden ones are skipped)")
    else:
        files = [root]
    corpus = [(file, _decode(file, _read_bytes(file))) for file in files]
    if not any(text.strip() for _, text in corpus):
        what = "folder" if root.is_dir() else "file"
        raise UserError(f"{option}: {what} {root} holds no text; expected some words")
    return corpus


def _corpus_files(root: Path) -> list[Path]:
    """Non-hidden regular files under ``root``, sorted by their path relative to it."""
    found = []
    for folder, subfolders, names in os.walk(root):
        # Pruning in place stops os.walk from descending into hidden folders (.git, .cache).
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found += [Path(folder, name) for name in names if not name.startswith(".")]
    return sorted((f for f in found if f.is_file()), key=lambda f: f.relative_to(root).parts)


def _read_bytes(file: Path) -> bytes:
    data = file.read_bytes()
    if file.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise UserError(f"{file}: not a valid gzip file ({error})") from None


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of byte ``offset``, the column counted in UTF-8 characters."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _decode(file: Path, data: bytes) -> str:
    """UTF-8 text of a file's bytes, or a UserError naming where the first bad byte is."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{file}:1:1: UTF-16 text (byte-order mark); expected UTF-8")
    nul = data.find(b"\x00")
    if nul != -1:
        # NUL never appears in text, so it marks a binary file; checked before the encoding
        # because binary formats also hold bytes that are not UTF-8, and "binary" is the clue.
        line, column = _position(data, nul)
        raise UserError(
            f"{file}:{line}:{column}: binary file (NUL byte at offset {nul}); expected UTF-8 text"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _position(data, error.start)
        raise UserError(
            f"{file}:{line}:{column}: not UTF-8 (byte 0x{data[error.start]:02x}); "
            "expected UTF-8 text"
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def split_text(
    text: str, valid_fraction: float = 0.05, test_fraction: float = 0.05
) -> tuple[str, str, str]:
    """Split a text on line boundaries into train, valid and test: contiguous blocks, in that order.

    Contiguous blocks rather than shuffled lines, because neighbouring lines share words and
    topics: a shuffled split would leak the test set's context into training and flatter the test
    perplexity. Each part gets ``round(fraction * lines)`` lines, at least one unless its fraction
    is 0; the three parts joined give back ``text``.

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
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise UserError(f"{name}: expected a number in [0, 1), got {value!r}")
    if valid_fraction + test_fraction >= 1:
        raise UserError(
            "valid_fraction + test_fraction: expected less than 1 to leave lines for training, "
            f"got {valid_fraction} + {test_fraction}"
        )
    # str.splitlines would also cut at "\r", form feeds and U+2028; lines here end at "\n" only.
    pieces = text.split("\n")
    lines = [line + "\n" for line in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    n = len(lines)
    n_valid = max(1, int(n * valid_fraction + 0.5)) if valid_fraction else 0
    n_test = max(1, int(n * test_fraction + 0.5)) if test_fraction else 0
    n_train = n - n_valid - n_test
    if n_train < 1:
        needed = 1 + (valid_fraction > 0) + (test_fraction > 0)
        raise UserError(
            f"text too short to split: expected at least {needed} lines (one for each part), "
            f"got {n}"
        )
    train = "".join(lines[:n_train])
    valid = "".join(lines[n_train : n_train + n_valid])
    return train, valid, "".join(lines[n_train + n_valid :])


def batchify(ids: Tensor, batch_size: int) -> Tensor:
    """Cut a token stream into ``batch_size`` parallel streams, each contiguous in time.

    Stream ``b`` holds tokens ``b * N`` to ``(b + 1) * N - 1``; the last ``n % B`` tokens are
    dropped. Read with :func:`bptt_batches`, carrying the hidden state between windows.

    Args:
        ids: token ids, shape (n,).
        batch_size: B, the number of streams.

    Returns:
        A view of ``ids`` shaped (B, N) with N = n // B.

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
    if ids.dim() != 1:
        raise UserError(f"ids: expected a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    _check_positive("batch_size", batch_size)
    per_stream = ids.numel() // batch_size
    if per_stream == 0:
        raise UserError(
            f"batch_size {batch_size} is larger than the data: {ids.numel()} tokens; "
            "expected at least one token per stream"
        )
    return ids[: per_stream * batch_size].view(batch_size, per_stream)  # (B, N)


def num_windows(streams: Tensor, bptt: int) -> int:
    """How many windows :func:`bptt_batches` yields for ``streams`` (B, N): ceil((N - 1) / T)."""
    _check_positive("bptt", bptt)
    return -(-(streams.shape[-1] - 1) // bptt)


def bptt_batches(streams: Tensor, bptt: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
    """Windows of T steps over the streams, each input paired with its next-token targets.

    Window ``k`` covers steps ``k * T`` to ``k * T + T - 1``: ``x = streams[:, kT : kT + T]`` and
    ``y = streams[:, kT + 1 : kT + T + 1]``, so window ``k + 1`` starts where window ``k``'s
    targets end, and ``y`` is ``x`` shifted by one across window boundaries too. The last window
    is shorter when ``N - 1`` is not a multiple of T.

    Args:
        streams: (B, N) token ids, as :func:`batchify` makes them.
        bptt: T, the number of steps to backpropagate through.
        start: the index of the first window to yield. A run resumed from a checkpoint taken
            after ``k`` windows of an epoch passes ``start=k`` to continue with the same data it
            would have seen; ``start`` equal to :func:`num_windows` yields nothing.

    Returns:
        An iterator over ``(x, y)``, both (B, T) views of ``streams``; T is smaller in the last
        window.

    Raises:
        UserError: ``bptt`` is not a positive integer or is longer than the data (T > N - 1),
            or ``start`` is not a window index.

    Example:
        >>> import torch
        >>> [x.tolist() for x, y in bptt_batches(torch.arange(8).view(2, 4), 2)]
        [[[0, 1], [4, 5]], [[2], [6]]]
    """
    if streams.dim() != 2:
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


def _windows(streams: Tensor, bptt: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
    N = streams.shape[1]
    for i in range(start * bptt, N - 1, bptt):
        T = min(bptt, N - 1 - i)
        yield streams[:, i : i + T], streams[:, i + 1 : i + 1 + T]  # (B, T), (B, T)


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{name}: expected a positive integer, got {value!r}")
