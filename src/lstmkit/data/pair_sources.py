"""Where a seq2seq run's pairs come from: a TSV, two aligned files or a built-in task, split.

:func:`load_pairs` picks by its arguments and records them (:meth:`PairCorpus.spec`) so that a
resumed run or an evaluation reads the same pairs again; :meth:`PairCorpus.fingerprint` tells when
the training pairs changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from lstmkit.data.numbers import NUMBER_TASKS, numbers_corpus
from lstmkit.data.pairs import Pairs, read_parallel, read_tsv, split_pairs
from lstmkit.errors import UserError


@dataclass
class PairCorpus:
    """Train, valid and test pairs, and the sources they were read from."""

    train: Pairs
    valid: Pairs
    test: Pairs
    sources: dict = field(default_factory=dict)

    @property
    def builtin(self) -> str | None:
        """The built-in task's name, or None for the user's files."""
        return self.sources.get("builtin")

    def spec(self) -> dict:
        """The sources as plain data: :func:`load_pairs` ``(**spec)`` reads the pairs again."""
        return {k: v for k, v in self.sources.items() if k != "builtin"}

    def fingerprint(self) -> str:
        """sha256 of the training pairs: a resumed run must train on the same pairs."""
        text = json.dumps([self.train.src, self.train.tgt], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def part(self, name: str) -> Pairs:
        """``"train"``, ``"valid"`` or ``"test"``; raises when the corpus has no such pairs."""
        pairs = getattr(self, name) if name in ("train", "valid", "test") else None
        if pairs is None:
            raise UserError(f"name: expected train, valid or test, got {name!r}")
        if not len(pairs):
            raise UserError(f"name {name}: the data has no {name} pairs")
        return pairs


def load_pairs(
    data: str | os.PathLike | None = None,
    *,
    src: str | os.PathLike | None = None,
    tgt: str | os.PathLike | None = None,
    valid: str | os.PathLike | tuple | list | None = None,
    test: str | os.PathLike | tuple | list | None = None,
    seed: int = 0,
    valid_fraction: float = 0.05,
    test_fraction: float = 0.05,
) -> PairCorpus:
    """Read pairs from a TSV file, two line-aligned files or a built-in task, and split them.

    A path that exists wins over a built-in name, so a file called ``numbers-fr`` is still yours.

    Args:
        data: a TSV file (:func:`read_tsv`) or a built-in task (``"numbers-fr"``,
            ``"numbers-de"``: :func:`~lstmkit.data.numbers.numbers_corpus`, its own split).
        src, tgt: line-aligned source and target files (:func:`read_parallel`) instead of
            ``data``.
        valid, test: held-out pairs: a TSV file with ``data``, a ``(source, target)`` pair of
            files with ``src``/``tgt``. A part not given is split off the training pairs
            (:func:`split_pairs`) with its fraction.
        seed: the seed of the split, or of a built-in task.
        valid_fraction, test_fraction: the shares split off when ``valid``/``test`` are absent.

    Returns:
        A :class:`PairCorpus`.

    Raises:
        UserError: naming ``data``/``src``/... for a missing, empty or malformed source,
            ``data`` with ``src``/``tgt``, ``src`` without ``tgt``, neither, or a ``valid``/
            ``test`` of the wrong kind.

    Example:
        >>> corpus = load_pairs("numbers-de")
        >>> corpus.builtin, len(corpus.valid), corpus.spec()["data"]
        ('numbers-de', 1000, 'numbers-de')
    """
    data, src, tgt = (None if p is None else str(p) for p in (data, src, tgt))
    _check_sources(data, src, tgt, NUMBER_TASKS)
    held = {
        name: _held_paths(name, value, pair=data is None)
        for name, value in (("valid", valid), ("test", test))
    }
    sources = {"data": data, "src": src, "tgt": tgt, **held, "seed": seed}
    sources = {k: v for k, v in sources.items() if v is not None}
    sources.update(valid_fraction=valid_fraction, test_fraction=test_fraction)
    if data is not None and not Path(data).exists():
        if data not in NUMBER_TASKS:
            raise UserError(
                f"data: no such file or folder: {data} (built-in tasks: {', '.join(NUMBER_TASKS)})"
            )
        if valid is not None or test is not None:
            raise UserError(f"valid/test: expected none with built-in task {data}, got one")
        return PairCorpus(*numbers_corpus(data, seed), {**sources, "builtin": data})
    if data is not None:
        pairs, where = read_tsv(data, option="data"), f"data {data}"
        read = {k: read_tsv(v, option=k) for k, v in held.items() if v is not None}
    else:
        pairs, where = read_parallel(src, tgt, src_option="src", tgt_option="tgt"), f"src {src}"
        read = {
            k: read_parallel(*v, src_option=k, tgt_option=k)
            for k, v in held.items()
            if v is not None
        }
    # A part given as a file is not split off the training pairs.
    fractions = (
        0.0 if "valid" in read else valid_fraction,
        0.0 if "test" in read else test_fraction,
    )
    try:
        train, valid_pairs, test_pairs = split_pairs(pairs, *fractions, seed=seed)
    except UserError as error:
        raise UserError(f"{where}: {error}") from None
    valid_pairs, test_pairs = read.get("valid", valid_pairs), read.get("test", test_pairs)
    return PairCorpus(train, valid_pairs, test_pairs, sources)


def _check_sources(
    data: str | None, src: str | None, tgt: str | None, builtin: tuple[str, ...]
) -> None:
    """One of ``data`` or ``src`` with ``tgt``, else a UserError naming the arguments."""
    if data is not None and (src is not None or tgt is not None):
        raise UserError("data and src/tgt: expected one of them, got both")
    if data is None and src is None and tgt is None:
        raise UserError(
            f"data: expected a TSV file or a built-in task ({', '.join(builtin)}), "
            "or `src=FILE, tgt=FILE`; got neither"
        )
    if data is None and (src is None or tgt is None):
        given, missing = ("src", "tgt") if tgt is None else ("tgt", "src")
        raise UserError(f"src and tgt: expected both, got `{given}` without `{missing}`")


def _held_paths(name: str, value: object, *, pair: bool) -> str | list[str] | None:
    """``valid``/``test`` as recorded: one path (TSV) or ``[source, target]``."""
    if value is None:
        return None
    is_pair = isinstance(value, tuple | list)
    if pair and not (is_pair and len(value) == 2):
        raise UserError(
            f"{name}: expected two files (source, target) with `src`/`tgt`, got {value!r}"
        )
    if not pair and is_pair:
        raise UserError(f"{name}: expected one TSV file with `data`, got {len(value)} paths")
    return [str(p) for p in value] if pair else str(value)


__all__ = ["PairCorpus", "load_pairs"]
