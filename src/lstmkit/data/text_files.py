"""Reading plain text: whole (:func:`read_text`), or piece by piece for corpora of any size.

Reading is strict at the boundary: a missing path, an empty corpus, a binary file or a byte that is
not UTF-8 raises :class:`~lstmkit.errors.UserError` naming the file, line and column, so that a
user sees the problem before a training run rather than as a strange vocabulary after it.

Files are read in pieces of about :data:`CHUNK_BYTES`, each cut at a line end, and decoded one
piece at a time; since a line end is one byte that no UTF-8 character contains, and ``"\\r\\n"``
never straddles a cut, the pieces joined are exactly the whole file decoded. :func:`scan_text`
reads a corpus once to check it and count its lines, and gives a :class:`TextSource`: lines of
the text that are read again, piece by piece, when they are needed (tokenised into a file of
ids by the language model), so that a corpus never has to fit in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from lstmkit.errors import UserError

CHUNK_BYTES = 1 << 20  # a piece of a file read at once, extended to the next line end


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
    corpus = [(file, _file_text(file)) for file in _files(root, option)]
    if not any(text.strip() for _, text in corpus):
        raise _no_text(root, option)
    return corpus


@dataclass(frozen=True)
class TextSource:
    """Lines ``start`` to ``stop`` of the text of some files, read piece by piece when needed.

    :func:`scan_text` makes one, checked; its text is what :func:`read_text` returns for the same
    path (a folder's files joined, each ending with a newline), and :meth:`lines` cuts it on the
    line boundaries :func:`~lstmkit.data.split_text` cuts a string on.

    Attributes:
        files: the files, in reading order.
        joined: whether each file's text ends with a newline (a folder's files are joined so).
        start, stop: the lines ``[start, stop)`` of the files' text, 0-based.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = (Path(folder) / "a.txt").write_text("one\\ntwo\\nthree")
        ...     source = scan_text(Path(folder) / "a.txt")
        ...     source.num_lines, source.lines(1, 3).read()
        (3, 'two\\nthree')
    """

    files: tuple[Path, ...]
    joined: bool
    start: int
    stop: int

    @property
    def num_lines(self) -> int:
        """How many lines the text has (a last line without ``"\\n"`` counts)."""
        return self.stop - self.start

    def lines(self, start: int, stop: int) -> TextSource:
        """Lines ``[start, stop)`` of this text (0-based, within it)."""
        if not 0 <= start <= stop <= self.num_lines:
            raise UserError(f"lines: expected 0 <= start <= stop <= {self.num_lines}")
        return replace(self, start=self.start + start, stop=self.start + stop)

    def pieces(self) -> Iterator[str]:
        """The text in pieces of about :data:`CHUNK_BYTES`, each but the last ending a line.

        Raises:
            UserError: as :func:`read_corpus`, if a file changed since it was scanned.
        """
        if self.start >= self.stop:
            return
        line = 0  # the line the piece starts
        for text in self._file_pieces():
            count = text.count("\n") + (not text.endswith("\n"))
            if line + count > self.start:
                begin = _line_offset(text, self.start - line) if self.start > line else 0
                end = (
                    len(text) if self.stop >= line + count else _line_offset(text, self.stop - line)
                )
                yield text[begin:end]
            line += count
            if line >= self.stop:
                return

    def read(self) -> str:
        """The whole text, as one string (for a part small enough to hold)."""
        return "".join(self.pieces())

    def has_text(self) -> bool:
        """Whether the text holds anything but whitespace (reading only until it does)."""
        return any(piece and not piece.isspace() for piece in self.pieces())

    def sha256(self) -> str:
        """sha256 of the text in UTF-8: the same as of :meth:`read`'s string."""
        digest = hashlib.sha256()
        for piece in self.pieces():
            digest.update(piece.encode("utf-8"))
        return digest.hexdigest()

    def _file_pieces(self) -> Iterator[str]:
        """The whole text of the files, in decoded pieces (none empty)."""
        for file in self.files:
            line = offset = 0
            for data in _byte_pieces(file):
                text = _decode(file, data, line, offset)
                line, offset = line + data.count(b"\n"), offset + len(data)
                if self.joined and text and not text.endswith("\n"):
                    text += "\n"  # only a file's last piece lacks one: files never run together
                if text:
                    yield text


def scan_text(path: str | os.PathLike, *, option: str = "path") -> TextSource:
    """A file's or a folder's text as a :class:`TextSource`, read once, in pieces, to check it.

    The checks and their messages are :func:`read_corpus`'s, but the text is not kept: memory
    stays at a piece of :data:`CHUNK_BYTES` whatever the size of the corpus.

    Args:
        path: a file (``.gz`` is decompressed) or a folder.
        option: the name the user gave the path under, for error messages.

    Raises:
        UserError: as :func:`read_corpus`.
    """
    root = Path(path)
    files = tuple(_files(root, option))
    whole = TextSource(files, root.is_dir(), 0, 0)
    lines, blank = 0, True
    for text in whole._file_pieces():
        lines += text.count("\n") + (not text.endswith("\n"))
        blank = blank and text.isspace()
    if blank:
        raise _no_text(root, option)
    return replace(whole, stop=lines)


def _files(root: Path, option: str) -> list[Path]:
    """The files of a corpus: ``root``, or the files under the folder ``root``."""
    if not root.exists():
        raise UserError(f"{option}: no such file or folder: {root}")
    if not root.is_dir():
        return [root]
    files = _corpus_files(root)
    if not files:
        raise UserError(f"{option}: folder {root} has no files (hidden ones are skipped)")
    return files


def _no_text(root: Path, option: str) -> UserError:
    what = "folder" if root.is_dir() else "file"
    return UserError(f"{option}: {what} {root} holds no text; expected some words")


def _corpus_files(root: Path) -> list[Path]:
    """Non-hidden regular files under ``root``, sorted by their path relative to it."""
    found = []
    for folder, subfolders, names in os.walk(root):
        # Pruning in place stops os.walk from descending into hidden folders (.git, .cache).
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found += [Path(folder, name) for name in names if not name.startswith(".")]
    return sorted((f for f in found if f.is_file()), key=lambda f: f.relative_to(root).parts)


def _byte_pieces(file: Path) -> Iterator[bytes]:
    """A file's bytes (decompressed for ``.gz``) in pieces of about :data:`CHUNK_BYTES`, each
    extended to the next line end, so that no line and no character is cut."""
    gz = file.suffix == ".gz"
    with gzip.open(file) if gz else open(file, "rb") as f:
        while True:
            try:
                data = f.read(CHUNK_BYTES)
                if data and not data.endswith(b"\n"):
                    data += f.readline()
            except (OSError, EOFError, zlib.error) as error:
                if not gz:
                    raise
                raise UserError(f"{file}: not a valid gzip file ({error})") from None
            if not data:
                return
            yield data


def _file_text(file: Path) -> str:
    """A file's whole text, decoded and checked piece by piece."""
    line = offset = 0
    texts = []
    for data in _byte_pieces(file):
        texts.append(_decode(file, data, line, offset))
        line, offset = line + data.count(b"\n"), offset + len(data)
    return "".join(texts)


def _line_offset(text: str, line: int) -> int:
    """Where line ``line`` (0-based) of ``text`` starts."""
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of byte ``offset``, the column counted in UTF-8 characters."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _decode(file: Path, data: bytes, line: int = 0, offset: int = 0) -> str:
    """UTF-8 text of a file's bytes, or a UserError naming where the first bad byte is.

    ``data`` may be a piece of the file that starts a line: ``line`` lines and ``offset`` bytes
    come before it (the byte-order marks are looked for at the file's start only).
    """
    if offset == 0 and data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{file}:1:1: UTF-16 text (byte-order mark); expected UTF-8")
    nul = data.find(b"\x00")
    if nul != -1:
        # NUL never appears in text, so it marks a binary file; checked before the encoding
        # because binary formats also hold bytes that are not UTF-8, and "binary" is the clue.
        row, column = _position(data, nul)
        raise UserError(
            f"{file}:{line + row}:{column}: binary file (NUL byte at offset {offset + nul}); "
            "expected UTF-8 text"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        row, column = _position(data, error.start)
        raise UserError(
            f"{file}:{line + row}:{column}: not UTF-8 (byte 0x{data[error.start]:02x}); "
            "expected UTF-8 text"
        ) from None
    if offset == 0:
        text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n")


__all__ = ["CHUNK_BYTES", "TextSource", "read_corpus", "read_text", "scan_text"]
