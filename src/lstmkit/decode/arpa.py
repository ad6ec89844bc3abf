"""The ARPA format of backoff n-gram tables: read from untrusted files, written exactly.

An ARPA file, as SRILM and KenLM write it, declares how many n-grams of each order it holds and
then lists them, one a line, by order: the log10 probability, the words, and below the highest
order the log10 backoff weight when there is one::

    \\data\\
    ngram 1=5
    ngram 2=6

    \\1-grams:
    -1.0    </s>
    -99     <s>     -0.3
    ...

    \\end\\

The table is kept apart from :class:`~lstmkit.decode.ngram.NGramLM`, which scores with it, so
that the parsing of untrusted files (sizes checked before anything is kept, every malformed
line named by ``file:line``) is read and tested on its own. ``<s>`` starts a sentence, ``</s>``
ends it and ``<unk>`` stands for words outside the vocabulary, as in SRILM and KenLM.

Example:
    >>> import tempfile
    >>> table = ArpaTable(1, {("<s>",): -99.0, ("</s>",): -0.3, ("a",): -0.3}, {})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_arpa(table, Path(folder) / "lm.arpa")
    ...     read_arpa(Path(folder) / "lm.arpa") == table
    True
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from lstmkit.errors import UserError

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
MAX_ARPA_BYTES = 2 * 1024**3


class ArpaTable(NamedTuple):
    """A backoff n-gram table as an ARPA file holds it.

    Attributes:
        order: the longest n-gram (the number of ``ngram N=COUNT`` lines).
        probs: log10 probability of each n-gram (a tuple of words).
        backoffs: log10 backoff weight of the n-grams that have one.
    """

    order: int
    probs: dict[tuple[str, ...], float]
    backoffs: dict[tuple[str, ...], float]


def write_arpa(table: ArpaTable, path: str | os.PathLike) -> None:
    """Write a table as an ARPA file, n-grams sorted within each order, numbers written exactly
    (their ``repr``), so that :func:`read_arpa` gives the same table back.

    Args:
        table: the table.
        path: the file, replaced if it exists.

    Raises:
        UserError: the file cannot be written.

    Example:
        >>> import tempfile
        >>> table = ArpaTable(1, {("<s>",): -99.0, ("</s>",): -0.3, ("a",): -0.3}, {})
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     write_arpa(table, Path(folder) / "lm.arpa")
        ...     (Path(folder) / "lm.arpa").read_text().split("\\n")[:5]
        ['', '\\\\data\\\\', 'ngram 1=3', '', '\\\\1-grams:']
    """
    counts = Counter(map(len, table.probs))
    lines = ["", "\\data\\"]
    lines += [f"ngram {n}={counts[n]}" for n in range(1, table.order + 1)]
    by_order: dict[int, list[tuple[str, ...]]] = defaultdict(list)
    for gram in table.probs:
        by_order[len(gram)].append(gram)
    for n in range(1, table.order + 1):
        lines += ["", f"\\{n}-grams:"]
        for gram in sorted(by_order[n]):
            line = f"{table.probs[gram]!r}\t{' '.join(gram)}"
            if gram in table.backoffs:
                line += f"\t{table.backoffs[gram]!r}"
            lines.append(line)
    lines += ["", "\\end\\", ""]
    try:
        Path(path).write_text("\n".join(lines), encoding="utf-8")
    except OSError as error:
        raise UserError(f"{path}: cannot write the ARPA file: {error.strerror}") from None


def read_arpa(
    path: str | os.PathLike, *, max_bytes: int = MAX_ARPA_BYTES, max_order: int | None = None
) -> ArpaTable:
    """Read an ARPA file, as SRILM, KenLM or :func:`write_arpa` write them.

    Lines before ``\\data\\`` and after ``\\end\\`` are ignored, blank lines anywhere. The file
    is untrusted: it is read line by line, and its size, the counts ``\\data\\`` declares
    and every entry are checked.

    Args:
        path: the file.
        max_bytes: refuse larger files (default 2 GiB).
        max_order: refuse files that declare longer n-grams; None: any order.

    Returns:
        The table.

    Raises:
        UserError: a missing or too large file, or naming ``file:line`` and what was expected
            there: a malformed count or entry, a number that is not a log10 probability, an
            n-gram twice, counts that differ from the entries, an order above ``max_order``, a
            missing ``\\end\\``; or 1-grams without ``<s>`` or ``</s>``.

    Example:
        >>> import tempfile
        >>> table = ArpaTable(1, {("<s>",): -99.0, ("</s>",): -0.3, ("a",): -0.3}, {})
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     write_arpa(table, Path(folder) / "lm.arpa")
        ...     read_arpa(Path(folder) / "lm.arpa", max_order=3)
        ArpaTable(order=1, probs={('</s>',): -0.3, ('<s>',): -99.0, ('a',): -0.3}, backoffs={})
    """
    path = Path(path)
    if not path.is_file():
        got = "a folder" if path.is_dir() else "no such file"
        raise UserError(f"{path}: expected an ARPA file, got {got}")
    size = path.stat().st_size
    if size > max_bytes:
        raise UserError(f"{path}: expected an ARPA file of at most {max_bytes} bytes, got {size}")
    reader = _ArpaReader(path, size, max_order)
    for number, line in _numbered_lines(path):
        if reader.feed(number, line):
            break
    else:
        raise UserError(f"{path}: expected a \\end\\ line, got the end of the file")
    missing = [w for w in (BOS, EOS) if (w,) not in reader.probs]
    if missing:
        raise UserError(
            f"{path}: expected the 1-grams to include <s> and </s>, got no {missing[0]}"
        )
    return ArpaTable(len(reader.declared), reader.probs, reader.backoffs)


_COUNT = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)")
_SECTION = re.compile(r"\\(\d+)-grams:")


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines, stripped, numbered from 1; bytes that are not UTF-8 name their line."""
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            try:
                yield number, raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise UserError(f"{path}:{number}: expected UTF-8 text, got {raw[:40]!r}") from None


class _ArpaReader:
    """The state of reading one ARPA file: :meth:`feed` each line until it returns True."""

    def __init__(self, path: Path, size: int, max_order: int | None) -> None:
        self.path, self.size, self.max_order = path, size, max_order
        self.section = "preamble"  # then "data", then "grams"
        self.declared: list[int] = []  # n-grams per order, as \data\ says
        self.n = 0  # the order being read
        self.seen = 0  # its entries read so far
        self.probs: dict[tuple[str, ...], float] = {}
        self.backoffs: dict[tuple[str, ...], float] = {}

    def fail(self, number: int, expected: str, got: str) -> UserError:
        snippet = got if len(got) <= 60 else got[:60] + "..."
        return UserError(f"{self.path}:{number}: expected {expected}, got {snippet!r}")

    def feed(self, number: int, line: str) -> bool:
        """Read one stripped line; True at ``\\end\\``."""
        if self.section == "preamble":
            if line == "\\data\\":
                self.section = "data"
        elif line.startswith("\\"):
            return self.header(number, line)
        elif line and self.section == "data":
            self.count(number, line)
        elif line:
            self.entry(number, line)
        return False

    def header(self, number: int, line: str) -> bool:
        """A section's first line: ``\\N-grams:`` for the next order, or ``\\end\\``."""
        if not self.declared:
            raise self.fail(number, "'ngram 1=COUNT' after \\data\\", line)
        if self.section == "grams" and self.seen != self.declared[self.n - 1]:
            raise UserError(
                f"{self.path}:{number}: expected {self.declared[self.n - 1]} {self.n}-grams as "
                f"\\data\\ declares, got {self.seen}"
            )
        want = self.n + 1
        if want > len(self.declared):
            if line == "\\end\\":
                return True
            raise self.fail(number, "\\end\\", line)
        match = _SECTION.fullmatch(line)
        if match is None or int(match[1]) != want:
            raise self.fail(number, f"\\{want}-grams:", line)
        if self.section == "data" and sum(self.declared) * 4 > self.size:
            raise UserError(
                f"{self.path}:{number}: expected at most {self.size // 4} n-grams in a file of "
                f"{self.size} bytes, got {sum(self.declared)} declared"
            )
        self.section, self.n, self.seen = "grams", want, 0
        return False

    def count(self, number: int, line: str) -> None:
        """A line ``ngram N=COUNT`` of ``\\data\\``."""
        match = _COUNT.fullmatch(line)
        want = len(self.declared) + 1
        if match is None or int(match[1]) != want:
            raise self.fail(number, f"'ngram {want}=COUNT'", line)
        if self.max_order is not None and want > self.max_order:
            raise self.fail(number, f"an order of at most {self.max_order}", line)
        self.declared.append(int(match[2]))

    def entry(self, number: int, line: str) -> None:
        """An n-gram line: log10 probability, the words, a backoff weight below the top order."""
        n = self.n
        top = n == len(self.declared)
        fields = line.split()
        if len(fields) not in ((n + 1,) if top else (n + 1, n + 2)):
            shape = f"'log10-prob w1 .. w{n}'" + ("" if top else " [backoff]")
            raise self.fail(number, f"a {n}-gram entry {shape}", line)
        if self.seen == self.declared[n - 1]:
            raise self.fail(number, f"{self.seen} {n}-grams as \\data\\ declares", line)
        prob = _float(fields[0])
        if prob is None or not prob <= 0:
            raise self.fail(number, "a log10 probability <= 0 first", fields[0])
        gram = tuple(fields[1 : n + 1])
        if gram in self.probs:
            raise self.fail(number, "each n-gram once", " ".join(gram))
        self.probs[gram] = prob
        if len(fields) == n + 2:
            backoff = _float(fields[-1])
            if backoff is None or not math.isfinite(backoff):
                raise self.fail(number, "a finite log10 backoff weight last", fields[-1])
            self.backoffs[gram] = backoff
        self.seen += 1


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


__all__ = ["BOS", "EOS", "MAX_ARPA_BYTES", "UNK", "ArpaTable", "read_arpa", "write_arpa"]
