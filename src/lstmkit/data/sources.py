"""Where a run's text comes from: one ``data`` source split, or ``train``/``valid``/``test`` files.

A source is a file, a folder of files, or the name of a built-in corpus (``keywords``, ``pydoc``).
A path that exists wins over a built-in name, so a file called ``keywords`` is still yours. What a
corpus was made from is recorded (:meth:`Corpus.spec`) so that ``--resume`` and ``eval`` read the
same text again, and its fingerprint (:meth:`Corpus.fingerprint`) tells when it changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from lstmkit.data.builtin import BUILTIN, builtin_corpus
from lstmkit.data.text import Text, split_text
from lstmkit.data.text_files import scan_text
from lstmkit.errors import UserError


class Corpus:
    """Train, valid and test texts, and the sources they were read from.

    A part is a string or, as :func:`load_corpus` reads files, a
    :class:`~lstmkit.data.text_files.TextSource`: lines of the files, read piece by piece when
    they are needed, so that a corpus larger than memory is never held whole.
    ``corpus.train`` (``valid``, ``test``) is a part's text as one string either way (a
    TextSource is read); :meth:`stream` gives the part as it is held, for the readers that take
    it in pieces (the language model's ``fit`` and ``evaluate``).

    Args:
        train, valid, test: the texts (``""``: none).
        sources: what they were read from (:meth:`spec`).
    """

    def __init__(self, train: Text, valid: Text, test: Text, sources: dict | None = None) -> None:
        self._parts = {"train": train, "valid": valid, "test": test}
        self.sources = dict(sources or {})
        self._fingerprint: str | None = None

    @property
    def train(self) -> str:
        """The training text."""
        return _read(self._parts["train"])

    @property
    def valid(self) -> str:
        """The validation text (``""``: none)."""
        return _read(self._parts["valid"])

    @property
    def test(self) -> str:
        """The test text (``""``: none)."""
        return _read(self._parts["test"])

    @property
    def builtin(self) -> str | None:
        """The built-in corpus's name, or None for the user's files."""
        return self.sources.get("builtin")

    def stream(self, name: str) -> Text:
        """The part ``name`` (``"train"``, ``"valid"``, ``"test"``) as held: a string, or a
        TextSource that reads it piece by piece."""
        if name not in self._parts:
            raise UserError(f"name: expected train, valid or test, got {name!r}")
        return self._parts[name]

    def has(self, name: str) -> bool:
        """Whether the part ``name`` holds any text but whitespace (a TextSource is read only
        until it does)."""
        text = self.stream(name)
        return bool(text.strip()) if isinstance(text, str) else text.has_text()

    def spec(self) -> dict:
        """The sources as plain data: :func:`load_corpus` ``(**spec)`` reads the corpus again."""
        return dict(self.sources)

    def fingerprint(self) -> str:
        """sha256 of the training text: a resumed run must train on the same text."""
        if self._fingerprint is None:
            text = self._parts["train"]
            self._fingerprint = (
                hashlib.sha256(text.encode("utf-8")).hexdigest()
                if isinstance(text, str)
                else text.sha256()
            )
        return self._fingerprint

    def part(self, name: str) -> str:
        """``"train"``, ``"valid"`` or ``"test"``; raises when the corpus has no such text."""
        return _part(self, name, "name")

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={_size(text)}" for name, text in self._parts.items())
        return f"Corpus({sizes}, sources={self.sources!r})"


def _read(text: Text) -> str:
    return text if isinstance(text, str) else text.read()


def _size(text: Text) -> str:
    return f"<{len(text)} characters>" if isinstance(text, str) else f"<{text.num_lines} lines>"


@dataclass
class _Spec:
    data: str | None = None
    train: str | None = None
    valid: str | None = None
    test: str | None = None
    seed: int = 0
    valid_fraction: float = 0.05
    test_fraction: float = 0.05


def load_corpus(
    data: str | Path | None = None,
    *,
    train: str | Path | None = None,
    valid: str | Path | None = None,
    test: str | Path | None = None,
    seed: int = 0,
    valid_fraction: float = 0.05,
    test_fraction: float = 0.05,
    **ignored: object,
) -> Corpus:
    """Read a corpus from one source, split, or from separate train/valid/test files.

    Args:
        data: a file, folder or built-in name (:data:`~lstmkit.data.BUILTIN`), split into train,
            valid and test on line boundaries (:func:`~lstmkit.data.split_text`); a built-in
            corpus comes with its own split.
        train, valid, test: files or folders instead of ``data``. Without ``valid``, the last
            ``valid_fraction`` of the training lines validate; ``test`` is optional.
        seed: the ``keywords`` corpus's seed.
        valid_fraction, test_fraction: shares of lines split off (``data``, or ``train`` alone).
        ignored: other keys of a recorded spec (e.g. ``builtin``), accepted and unused.

    Raises:
        UserError: naming ``data``/``train``/... for a missing, empty, binary or non-UTF-8
            source, both ``data`` and ``train``, or neither.

    Example:
        >>> corpus = load_corpus("keywords")
        >>> corpus.builtin, len(corpus.valid.splitlines())
        ('keywords', 500)
    """
    spec = _Spec(
        None if data is None else str(data),
        *(None if p is None else str(p) for p in (train, valid, test)),
        seed,
        valid_fraction,
        test_fraction,
    )
    if spec.data is not None and spec.train is not None:
        raise UserError("data and train: expected one of them, got both")
    if spec.data is None and spec.train is None:
        raise UserError(
            "data: expected a file, a folder or a built-in corpus "
            f"({', '.join(BUILTIN)}), or `train=FILE`; got neither"
        )
    sources = {k: v for k, v in asdict(spec).items() if v is not None}
    if spec.data is not None:
        if spec.valid is not None or spec.test is not None:
            raise UserError("valid/test: go with `train`; `data` is split by itself")
        if not Path(spec.data).exists() and spec.data in BUILTIN:
            return Corpus(*builtin_corpus(spec.data, seed), {**sources, "builtin": spec.data})
        text = scan_text(spec.data, option="data")
        parts = _split(text, valid_fraction, test_fraction, f"data {spec.data}")
        return Corpus(*parts, sources)
    train_text: Text = scan_text(spec.train, option="train")
    if spec.valid is None:
        train_text, valid_text, _ = _split(train_text, valid_fraction, 0.0, f"train {spec.train}")
    else:
        valid_text = scan_text(spec.valid, option="valid")
    test_text = "" if spec.test is None else scan_text(spec.test, option="test")
    return Corpus(train_text, valid_text, test_text, sources)


def _split(text: Text, valid_fraction: float, test_fraction: float, where: str):
    try:
        return split_text(text, valid_fraction, test_fraction)
    except UserError as error:
        raise UserError(f"{where}: {error}") from None


def read_eval_text(data: str | Path, split: str | None = None, seed: int = 0) -> tuple[str, str]:
    """The text ``lstmkit lm eval --data`` scores, and what it is called.

    A built-in name gives its ``split`` (default ``test``); a file or folder is scored whole
    (``split`` must be None).
    """
    text, name = eval_source(data, split, seed)
    return _read(text), name


def eval_source(data: str | Path, split: str | None = None, seed: int = 0) -> tuple[Text, str]:
    """As :func:`read_eval_text`, but a file or folder comes as a
    :class:`~lstmkit.data.text_files.TextSource`, checked and scored piece by piece."""
    if not Path(data).exists() and str(data) in BUILTIN:
        corpus = load_corpus(data, seed=seed)
        name = split or "test"
        return _part(corpus, name, "split"), f"{data} ({name})"
    if split is not None:
        raise UserError(f"split: only for a built-in corpus ({', '.join(BUILTIN)}), got a path")
    return scan_text(data, option="data"), str(data)


def _part(corpus: Corpus, name: str, argument: str) -> str:
    """The corpus's text ``name``, or a UserError naming ``argument``, the caller's argument."""
    text = getattr(corpus, name, None) if name in ("train", "valid", "test") else None
    if text is None:
        raise UserError(f"{argument}: expected train, valid or test, got {name!r}")
    if not text.strip():
        raise UserError(f"{argument} {name}: the data has no {name} text")
    return text


__all__ = ["Corpus", "eval_source", "load_corpus", "read_eval_text"]
