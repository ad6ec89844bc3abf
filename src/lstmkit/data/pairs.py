"""Sentence pairs for sequence-to-sequence models: read them, split them, filter them by length.

Pairs come from a Tatoeba/Anki TSV file (``english<TAB>french<TAB>attribution``:
:func:`read_tsv`), from two line-aligned files (``--src train.en --tgt train.fr``:
:func:`read_parallel`) or from a built-in task (:mod:`lstmkit.data.numbers`);
:func:`lstmkit.data.pair_sources.load_pairs` picks by its arguments. Files are read as
:func:`~lstmkit.data.read_corpus` reads them (UTF-8, ``.gz`` decompressed), so a missing, empty,
binary or non-UTF-8 file gives the same message with file, line and column; a line that is not a
pair names its file and line too.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lstmkit.data.text import read_corpus
from lstmkit.errors import UserError


@dataclass
class Pairs:
    """Source sentences and their targets, ``tgt[i]`` the translation of ``src[i]``.

    Raises:
        UserError: ``src`` and ``tgt`` differ in length.

    Example:
        >>> pairs = Pairs(["Go.", "Hi."], ["Va !", "Salut !"])
        >>> len(pairs), list(pairs)[1]
        (2, ('Hi.', 'Salut !'))
    """

    src: list[str]
    tgt: list[str]

    def __post_init__(self) -> None:
        if len(self.src) != len(self.tgt):
            raise UserError(
                "Pairs: expected as many targets as sources, "
                f"got {len(self.src)} sources and {len(self.tgt)} targets"
            )

    def __len__(self) -> int:
        return len(self.src)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return zip(self.src, self.tgt, strict=True)

    def _take(self, indices: list[int]) -> Pairs:
        return Pairs([self.src[i] for i in indices], [self.tgt[i] for i in indices])


def read_tsv(path: str | os.PathLike, option: str = "path") -> Pairs:
    """Pairs from a tab-separated file: column 1 the source, column 2 the target.

    Further columns (Tatoeba's attribution) are ignored; fields are stripped of surrounding
    spaces; blank lines at the end of a file are ignored. A folder is read file by file in
    :func:`~lstmkit.data.read_corpus`'s order.

    Args:
        path: a file (``.gz`` is decompressed) or a folder of them.
        option: the name the user gave the path under, for error messages.

    Returns:
        The pairs in file order.

    Raises:
        UserError: as :func:`~lstmkit.data.read_corpus` (missing, empty, binary, not UTF-8), or
            a line with fewer than two columns or a blank source or target, naming
            file:line:column.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     file = Path(folder) / "eng-fra.tsv"
        ...     _ = file.write_text("Go.\\tVa !\\tCC-BY 2.0\\nHi.\\tSalut !\\tCC-BY 2.0\\n\\n")
        ...     read_tsv(file)
        Pairs(src=['Go.', 'Hi.'], tgt=['Va !', 'Salut !'])
    """
    src, tgt = [], []
    for file, text in read_corpus(path, option=option):
        for number, line in enumerate(_lines(text), start=1):
            fields = line.split("\t")
            if len(fields) < 2:
                got = "a blank line" if not line.strip() else f"1: {_snippet(line)}"
                raise UserError(
                    f"{file}:{number}:{len(line) + 1}: expected at least 2 tab-separated "
                    f"columns (source, target), got {got}"
                )
            for k, role in ((0, "source"), (1, "target")):
                if not fields[k].strip():
                    column = len(fields[0]) + 2 if k else 1
                    raise UserError(
                        f"{file}:{number}:{column}: expected a {role} sentence in column "
                        f"{k + 1}, got {fields[k]!r}"
                    )
            src.append(fields[0].strip())
            tgt.append(fields[1].strip())
    return Pairs(src, tgt)


def read_parallel(
    src_path: str | os.PathLike,
    tgt_path: str | os.PathLike,
    *,
    src_option: str = "src_path",
    tgt_option: str = "tgt_path",
) -> Pairs:
    """Pairs from two line-aligned files: line ``i`` of ``tgt_path`` translates line ``i`` of
    ``src_path``.

    Lines are stripped of surrounding spaces; blank lines at the end of a file are ignored.

    Args:
        src_path, tgt_path: the source and target files (``.gz`` is decompressed).
        src_option, tgt_option: the names the user gave the files under, for error messages.

    Returns:
        The pairs in file order.

    Raises:
        UserError: as :func:`~lstmkit.data.read_corpus`; a folder; a blank line (naming
            file:line); files with different numbers of lines.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = (Path(folder) / "a.en").write_text("Hello.\\nThanks.\\n")
        ...     _ = (Path(folder) / "a.fr").write_text("Bonjour.\\nMerci.\\n")
        ...     read_parallel(Path(folder) / "a.en", Path(folder) / "a.fr").tgt
        ['Bonjour.', 'Merci.']
    """
    sides = []
    for path, option in ((src_path, src_option), (tgt_path, tgt_option)):
        if Path(path).is_dir():
            raise UserError(
                f"{option}: expected a file with one sentence a line, got folder {path}"
            )
        [(file, text)] = read_corpus(path, option=option)
        lines = _lines(text)
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                raise UserError(
                    f"{file}:{number}:1: expected a sentence on every line, got a blank line"
                )
        sides.append([line.strip() for line in lines])
    if len(sides[0]) != len(sides[1]):
        raise UserError(
            f"{src_option} {src_path} has {len(sides[0])} lines, {tgt_option} {tgt_path} has "
            f"{len(sides[1])}; expected the same number"
        )
    return Pairs(*sides)


def _lines(text: str) -> list[str]:
    """The lines of ``text``, blank lines at its end dropped."""
    # str.splitlines would also cut at "\r", form feeds and U+2028; lines end at "\n" only.
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _snippet(line: str, width: int = 40) -> str:
    return repr(line if len(line) <= width else line[:width] + "...")


def split_pairs(
    pairs: Pairs, valid_fraction: float = 0.05, test_fraction: float = 0.05, seed: int = 0
) -> tuple[Pairs, Pairs, Pairs]:
    """Split pairs at random into train, valid and test, the same way on every machine.

    At random, not in blocks, because corpora such as Tatoeba are sorted by length: a block split
    would test on the longest sentences only. Identical pairs (same source and same target) are
    kept once, at their first occurrence. What is split are source sentences, each with all its
    translations, so that no test source is seen in training, not even with another translation:
    2 of 3 test sources of the Tatoeba sample would be, were pairs split one by one. Each part
    gets ``round(fraction * distinct sources)`` sources, at least one unless its fraction is 0,
    and keeps the input's order.

    Args:
        pairs: the pairs.
        valid_fraction: the share of source sentences for validation (default 0.05).
        test_fraction: the share of source sentences for testing (default 0.05).
        seed: seed of the permutation (``random.Random(seed)``; the global RNG is left alone).

    Returns:
        ``(train, valid, test)``.

    Raises:
        UserError: a fraction outside [0, 1), fractions summing to 1 or more, or too few
            distinct sources to give every part at least one.

    Example:
        >>> src = ["Go.", "Go.", "Hi.", "Run!", "Go."]
        >>> pairs = Pairs(src, ["Va !", "Bouge !", "Salut.", "Cours !", "Va !"])
        >>> train, valid, test = split_pairs(pairs, 0.3, 0.3, seed=1)
        >>> train.src, valid.src, test.src
        (['Go.', 'Go.'], ['Hi.'], ['Run!'])
    """
    _check_fractions(valid_fraction, test_fraction)
    first: dict[tuple[str, str], int] = {}
    for i, pair in enumerate(pairs):
        first.setdefault(pair, i)
    by_source: dict[str, list[int]] = {}
    for (src, _), i in first.items():
        by_source.setdefault(src, []).append(i)
    groups = list(by_source.values())
    n = len(groups)
    n_valid = max(1, int(n * valid_fraction + 0.5)) if valid_fraction else 0
    n_test = max(1, int(n * test_fraction + 0.5)) if test_fraction else 0
    if n - n_valid - n_test < 1:
        needed = 1 + (valid_fraction > 0) + (test_fraction > 0)
        raise UserError(
            f"pairs too few to split: expected at least {needed} distinct source sentences (one "
            f"for each part), got {n}"
        )
    random.Random(seed).shuffle(groups)
    parts = groups[n_valid + n_test :], groups[:n_valid], groups[n_valid : n_valid + n_test]
    return tuple(pairs._take(sorted(i for group in part for i in group)) for part in parts)


def _check_fractions(valid_fraction: float, test_fraction: float) -> None:
    # The same checks and messages as split_text's.
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise UserError(f"{name}: expected a number in [0, 1), got {value!r}")
    if valid_fraction + test_fraction >= 1:
        raise UserError(
            "valid_fraction + test_fraction: expected less than 1 to leave pairs for training, "
            f"got {valid_fraction} + {test_fraction}"
        )


def _words(sentence: str) -> int:
    return len(sentence.split())


def filter_by_length(
    pairs: Pairs,
    max_src_len: int | None,
    max_tgt_len: int | None,
    count: Callable[[str], int] = _words,
) -> tuple[Pairs, int]:
    """The pairs whose source and target are both short enough, and how many were dropped.

    Args:
        pairs: the pairs.
        max_src_len, max_tgt_len: the longest source and target kept, in ``count``'s units;
            None for no limit.
        count: the length of a sentence, e.g. a tokenizer's token count (default: words, i.e.
            ``len(sentence.split())``).

    Returns:
        ``(kept, dropped)``: the pairs kept, in order, and the number dropped.

    Raises:
        UserError: a limit that is not a positive integer or None.

    Example:
        >>> pairs = Pairs(["a b", "a b c"], ["x", "x y"])
        >>> filter_by_length(pairs, max_src_len=2, max_tgt_len=None)
        (Pairs(src=['a b'], tgt=['x']), 1)
    """
    for name, value in (("max_src_len", max_src_len), ("max_tgt_len", max_tgt_len)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise UserError(f"{name}: expected a positive integer or None, got {value!r}")
    keep = [
        i
        for i, (src, tgt) in enumerate(pairs)
        if (max_src_len is None or count(src) <= max_src_len)
        and (max_tgt_len is None or count(tgt) <= max_tgt_len)
    ]
    return pairs._take(keep), len(pairs) - len(keep)


__all__ = ["Pairs", "filter_by_length", "read_parallel", "read_tsv", "split_pairs"]
