"""The tokenizer interface: text to ids and back, four special tokens at fixed ids, files on disk.

Every tokenizer, whatever its kind, reserves the same ids for the special tokens::

    0 <pad>   padding of seq2seq batches
    1 <unk>   anything the vocabulary does not hold
    2 <bos>   start of a target sequence
    3 <eos>   end of a line (language model) or of a sentence (seq2seq)

so models, batching and decoding use the ids without asking which tokenizer made them.

A saved tokenizer is a directory holding ``tokenizer.json`` (format version, kind, vocabulary or
settings) and, for SentencePiece, ``tokenizer.model`` (its protobuf model). Nothing is pickled, so
loading a tokenizer never runs code from the file.
"""

from __future__ import annotations

import inspect
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from lstmkit.errors import UserError
from lstmkit.tokenizers.files import JSON_LIMIT, read_inside

KINDS = ("char", "word", "bpe", "unigram")
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")
CONFIG_FILE = "tokenizer.json"
FORMAT_VERSION = 1
MIN_VOCAB_SIZE = len(SPECIAL_TOKENS) + 1

_CLASSES: dict[str, type[Tokenizer]] = {}


class Tokenizer(ABC):
    """Turns text into a list of ids and back; subclasses are one per kind of vocabulary.

    Subclasses register the kinds they load with ``class X(Tokenizer, kinds=("x",))`` and provide
    a classmethod ``train(texts, *, ...)`` whose keyword options :func:`train_tokenizer` accepts.
    """

    kind: str
    """``"char"``, ``"word"``, ``"bpe"`` or ``"unigram"``: what a token is, and the saved kind."""
    pad_id: ClassVar[int] = PAD_ID
    unk_id: ClassVar[int] = UNK_ID
    bos_id: ClassVar[int] = BOS_ID
    eos_id: ClassVar[int] = EOS_ID

    def __init_subclass__(cls, kinds: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for kind in kinds:
            _CLASSES[kind] = cls

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids, the special tokens included: ids are ``0 .. vocab_size - 1``."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """The ids of ``text``; what the vocabulary does not hold becomes ``unk_id``."""

    @abstractmethod
    def encode_with_unknowns(self, text: str) -> tuple[list[int], list[str]]:
        """``encode(text)`` and the distinct unknown characters or words, in order of appearance.

        Lets a caller tell the user what became ``<unk>`` (see :func:`format_unknowns`).
        """

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``; ``<pad>`` and ``<bos>`` are dropped, ``<unk>`` is written out.

        Raises:
            UserError: naming ``ids`` if one is outside ``[0, vocab_size)``.
        """

    def decode_after(self, prompt: str, ids: Sequence[int]) -> str:
        """The text of ``ids`` as it continues ``prompt``: ``prompt + decode_after(prompt, ids)``
        reads as the tokenizer writes the two together, with the space a word tokenizer puts
        between words, or SentencePiece at a word's start, and none between characters.

        Example:
            >>> from lstmkit.tokenizers import train_tokenizer
            >>> tok = train_tokenizer("word", "my brother loves crepes")
            >>> tok.decode_after("my brother", tok.encode("loves crepes"))
            ' loves crepes'
        """
        head = self.encode(prompt)
        before, whole = self.decode(head), self.decode([*head, *ids])
        text = whole[len(before) :] if whole.startswith(before) else self.decode(ids)
        if prompt[-1:].isspace() and not before[-1:].isspace():  # the prompt has the space
            text = text.removeprefix(" ")
        return text

    @abstractmethod
    def token_to_id(self, token: str) -> int:
        """The id of one token (a character, word or piece); ``unk_id`` if it is unknown."""

    @abstractmethod
    def id_to_token(self, id: int) -> str:
        """The token of one id (special tokens as ``"<eos>"`` etc.).

        Raises:
            UserError: naming ``id`` if it is outside ``[0, vocab_size)``.
        """

    @property
    def vocabulary(self) -> list[str]:
        """All tokens in id order, the four special tokens first."""
        return [self.id_to_token(i) for i in range(self.vocab_size)]

    def files(self) -> dict[str, bytes]:
        """The saved form: file name to contents, ``tokenizer.json`` last.

        What :meth:`save` writes, for callers that store the files themselves (a checkpoint's
        ``tokenizer/`` folder); :func:`load_tokenizer` reads them back from a directory.
        """
        settings, files = self._contents()
        config = {"format_version": FORMAT_VERSION, "kind": self.kind, **settings}
        # ASCII escapes keep the file writable whatever the vocabulary holds (lone surrogates too);
        # one entry per line keeps a vocabulary diffable.
        text = json.dumps(config, indent=1, ensure_ascii=True) + "\n"
        return {**files, CONFIG_FILE: text.encode("utf-8")}

    def save(self, directory: str | Path) -> None:
        """Write ``tokenizer.json`` (and any model file) into ``directory``, creating it.

        :func:`load_tokenizer` reads it back into a tokenizer that encodes identically.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # tokenizer.json comes last: a save cut short leaves no half-described tokenizer behind
        for name, data in self.files().items():
            (directory / name).write_bytes(data)

    @abstractmethod
    def _contents(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The settings for ``tokenizer.json``, and any other files by name."""

    @classmethod
    @abstractmethod
    def _read(cls, config: dict[str, Any], path: Path) -> Tokenizer:
        """Rebuild from the parsed ``tokenizer.json`` at ``path``; UserErrors name that file."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, vocab_size={self.vocab_size})"


def load_tokenizer(directory: str | Path, *, root: str | Path | None = None) -> Tokenizer:
    """Load the tokenizer that :meth:`Tokenizer.save` wrote into ``directory``.

    The folder may come from anyone: only regular files inside ``root`` are read (links are
    resolved first), ``tokenizer.json`` of at most 64 MiB and a model file of at most 256 MiB
    (see :mod:`lstmkit.tokenizers.files`).

    Args:
        directory: the folder ``save`` wrote.
        root: the folder whose files may be read (a checkpoint holding ``directory``); default
            ``directory`` itself.

    Raises:
        UserError: naming the file when ``tokenizer.json`` (or the model file it names) is missing,
            outside ``root``, not a regular file, too large or malformed, or of an unknown kind
            or format version.

    Example:
        >>> import tempfile
        >>> tok = train_tokenizer("char", "abc")
        >>> with tempfile.TemporaryDirectory() as directory:
        ...     tok.save(directory)
        ...     load_tokenizer(directory).encode("cab")
        [6, 4, 5]
    """
    path = Path(directory) / CONFIG_FILE
    if not os.path.lexists(path):
        raise UserError(f"{path}: expected a saved tokenizer, got no such file")
    data = read_inside(path, directory if root is None else root, JSON_LIMIT)
    try:
        config = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: expected a UTF-8 JSON file, got byte {error.start}") from None
    except json.JSONDecodeError as error:
        raise UserError(
            f"{path}:{error.lineno}:{error.colno}: expected JSON, got {error.msg}"
        ) from None
    except RecursionError:
        raise UserError(f"{path}: expected JSON nested at most a few levels, got deeper") from None
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(config).__name__}")
    version = config.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise UserError(f"{path}: format_version: expected {FORMAT_VERSION}, got {version!r}")
    kind = config.get("kind")
    if kind not in KINDS:
        raise UserError(f"{path}: kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    return _CLASSES[kind]._read(config, path)


def train_tokenizer(kind: str, texts: str | Iterable[str], **options: Any) -> Tokenizer:
    """Train a tokenizer of ``kind`` on ``texts``, with that kind's ``train`` options.

    Args:
        kind: ``"char"``, ``"word"``, ``"bpe"`` or ``"unigram"``.
        texts: the training text: one string, or an iterable of strings (files' contents or lines
            with their ``"\\n"``).
        **options: keyword options of the kind's ``train`` (``vocab_size``, ``min_freq``, ...).

    Raises:
        UserError: naming ``tokenizer`` for an unknown kind, an option the kind does not take, or
            (from ``train``) a bad option value or an empty text.

    Example:
        >>> train_tokenizer("char", "abba\\n").vocabulary
        ['<pad>', '<unk>', '<bos>', '<eos>', 'a', 'b', '\\n']
    """
    if kind not in KINDS:
        raise UserError(f"tokenizer: expected one of {', '.join(KINDS)}, got {kind!r}")
    train = _CLASSES[kind].train  # type: ignore[attr-defined]
    parameters = inspect.signature(train).parameters
    allowed = [name for name in parameters if name not in ("texts", "kind")]
    for name in options:
        if name not in allowed:
            raise UserError(
                f"{name}: not an option of the {kind} tokenizer; "
                f"expected one of {', '.join(allowed)}"
            )
    if "kind" in parameters:  # one class trains several kinds (SentencePiece: bpe, unigram)
        options = {**options, "kind": kind}
    return train(texts, **options)


def format_unknowns(unknowns: Sequence[str], limit: int = 10) -> str:
    """The notice for what became ``<unk>``, e.g. ``"mapped to <unk>: 'ж', 'ü'"``.

    Example:
        >>> format_unknowns(["ж", "ü", "ß"], limit=2)
        "mapped to <unk>: 'ж', 'ü' and 1 more"
    """
    shown = ", ".join(repr(u) for u in unknowns[:limit])
    more = f" and {len(unknowns) - limit} more" if len(unknowns) > limit else ""
    return f"mapped to <unk>: {shown}{more}"


# ---------------------------------------------------------------- argument checks
def iter_texts(texts: str | Iterable[str]) -> Iterator[str]:
    """The strings of ``texts``; a single string is one text, not an iterable of characters."""
    if isinstance(texts, str):
        yield texts
        return
    if not isinstance(texts, Iterable):
        raise UserError(f"texts: expected a string or an iterable of strings, got {texts!r}")
    for text in texts:
        if not isinstance(text, str):
            raise UserError(f"texts: expected strings, got an item of type {type(text).__name__}")
        yield text


def check_vocab_size(vocab_size: int | None) -> None:
    """``vocab_size`` is None (no limit) or room for the special tokens and one more."""
    if vocab_size is None:
        return
    valid = isinstance(vocab_size, int) and not isinstance(vocab_size, bool)
    if not valid or vocab_size < MIN_VOCAB_SIZE:
        raise UserError(
            f"vocab_size: expected an integer >= {MIN_VOCAB_SIZE} (the {len(SPECIAL_TOKENS)} "
            f"special tokens and at least one more), got {vocab_size!r}"
        )


def check_min_freq(min_freq: int) -> None:
    """``min_freq`` is a count of at least 1."""
    if not isinstance(min_freq, int) or isinstance(min_freq, bool) or min_freq < 1:
        raise UserError(f"min_freq: expected an integer >= 1, got {min_freq!r}")


def check_id(id: int, vocab_size: int, name: str = "id") -> None:
    """``id`` is in ``[0, vocab_size)``."""
    if not 0 <= id < vocab_size:
        raise UserError(f"{name}: expected ids in [0, {vocab_size}), got {id!r}")


def check_ids(ids: Sequence[int], vocab_size: int) -> None:
    """Every id of ``ids`` is in ``[0, vocab_size)``; one min and max, not a loop in Python."""
    if len(ids) == 0:
        return
    low, high = min(ids), max(ids)
    check_id(low if low < 0 else high, vocab_size, name="ids")
