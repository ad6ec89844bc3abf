"""The manifest formats: which audio path and transcript each row of a manifest's text gives.

A manifest is a table with one utterance a row:

* TSV (``.tsv``) or CSV (``.csv``); another suffix is read as TSV when its first line holds a
  tab, else as CSV. A TSV's fields are taken literally — no quoting, as Common Voice writes them,
  whose sentences hold quotes (``"Hello," she said.``) — while a CSV's quoted fields may hold
  commas, doubled quotes and line breaks (Python's ``csv`` dialect).
* With a header naming a path column (:data:`PATH_COLUMNS`) and a text column
  (:data:`TEXT_COLUMNS`) — Common Voice's ``path`` and ``sentence`` among its other columns —
  or without one: ``path<TAB>text``, two columns on every row.
* JSON lines (``.json``, ``.jsonl``), one object a line, as NeMo writes them:
  ``{"audio_filepath": "a.wav", "text": "hello"}``.

This module parses the text only; :func:`lstmkit.data.utterances.read_manifest` reads the file
(its size capped), finds the audio files the rows name and checks the transcripts.

Example:
    >>> text = 'client_id\\tpath\\tsentence\\nc1\\ta.mp3\\t"Hi," she said.\\n'
    >>> list(manifest_rows(Path("train.tsv"), text))
    [ManifestRow(line=2, audio='a.mp3', text='"Hi," she said.', hint='')]
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from lstmkit.errors import UserError

PATH_COLUMNS = ("path", "audio", "file", "filename", "audio_filepath", "wav")
TEXT_COLUMNS = ("sentence", "text", "transcript", "transcription")


class ManifestRow(NamedTuple):
    """One utterance of a manifest, as written there.

    Attributes:
        line: the line its row starts on, from 1.
        audio: its path field (an audio file, relative to the manifest's folder or absolute).
        text: its transcript field, unstripped.
        hint: a sentence to add to a message about its audio file: for the first row of a
            table without a known header, what a header would need (it may be one); else ``""``.
    """

    line: int
    audio: str
    text: str
    hint: str


def manifest_rows(path: Path, text: str) -> Iterator[ManifestRow]:
    """The rows of a TSV, CSV or JSON-lines manifest (see the module's description).

    Args:
        path: the manifest: its suffix picks the format, and messages name it.
        text: its text as read; a byte order mark and Windows line ends are allowed.

    Yields:
        The rows in file order; blank lines and a header are skipped.

    Raises:
        UserError: naming ``file:line``: a table without a header naming the needed columns and
            rows that are not ``path<TAB>text`` (the columns found and those expected), a row
            with another number of columns than the header, malformed CSV, a JSON line that is
            not an object with a path key and a text key holding strings.

    Example:
        >>> [row.text for row in manifest_rows(Path("m.csv"), 'file,text\\na.wav,"yes, no"\\n')]
        ['yes, no']
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if path.suffix.lower() in (".json", ".jsonl"):
        yield from _json_rows(path, text)
    else:
        yield from _table_rows(path, text)


def _table_rows(path: Path, text: str) -> Iterator[ManifestRow]:
    """The rows of a TSV or CSV manifest."""
    suffix = path.suffix.lower()
    tab = suffix == ".tsv" or (suffix != ".csv" and "\t" in text.partition("\n")[0])
    header: list[str] | None = None
    path_at, text_at, first = 0, 1, True
    for start, row in _tsv_rows(text) if tab else _csv_rows(path, text):
        if not any(field.strip() for field in row):
            continue
        if first:
            columns = [field.strip().lower() for field in row]
            found = _named(columns, PATH_COLUMNS), _named(columns, TEXT_COLUMNS)
            if None not in found:
                header, (path_at, text_at), first = row, found, False
                continue
            if len(row) != 2:
                raise UserError(
                    f"{path}:{start}: expected a header naming a path column "
                    f"({', '.join(PATH_COLUMNS)}) and a text column ({', '.join(TEXT_COLUMNS)}),"
                    f" or 2 columns (path, text); got {len(row)} columns: {_columns(row)}"
                )
        width = 2 if header is None else len(header)
        if len(row) != width:
            what = "(path, text)" if header is None else "as the header has"
            raise UserError(
                f"{path}:{start}: expected {width} {'tab' if tab else 'comma'}-separated columns "
                f"{what}, got {len(row)}"
            )
        # A first row that is neither a known header nor an existing file may be a header.
        yield ManifestRow(start, row[path_at], row[text_at], _HEADER_HINT if first else "")
        first = False


def _tsv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)``: each line cut at its tabs, fields taken literally (no quoting)."""
    for line, content in enumerate(text.split("\n"), start=1):
        yield line, content.split("\t")


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line, fields)`` of each CSV record; a quoted field may span lines."""
    reader = csv.reader(io.StringIO(text), strict=True)
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as error:
        raise UserError(f"{path}:{reader.line_num}: expected CSV fields, got {error}") from None


def _columns(row: list[str], most: int = 12, width: int = 30) -> str:
    """A row's fields for a message, each and their number cut short."""
    shown = [f if len(f) <= width else f[:width] + "..." for f in row[:most]]
    return ", ".join(shown) + (f", ... ({len(row) - most} more)" if len(row) > most else "")


_HEADER_HINT = (
    " (if the first row is a header, expected a path column named one of "
    f"{', '.join(PATH_COLUMNS)} and a text column named one of {', '.join(TEXT_COLUMNS)})"
)


def _named(columns: list[str], names: tuple[str, ...]) -> int | None:
    """The index of the first of ``names`` (in their order) among ``columns``, or None."""
    return next((columns.index(name) for name in names if name in columns), None)


def _json_rows(path: Path, text: str) -> Iterator[ManifestRow]:
    """The rows of a JSON-lines manifest, one object a line."""
    for line, content in enumerate(text.split("\n"), start=1):
        if not content.strip():
            continue
        try:
            item = json.loads(content)
        except (ValueError, RecursionError) as error:
            raise UserError(
                f"{path}:{line}: expected one JSON object a line (JSON lines), got {error}"
            ) from None
        if not isinstance(item, dict):
            raise UserError(
                f"{path}:{line}: expected a JSON object, got {type(item).__name__} "
                "(JSON lines: one object a line)"
            )
        keys = list(item)
        found = _named(keys, PATH_COLUMNS), _named(keys, TEXT_COLUMNS)
        if None in found:
            raise UserError(
                f"{path}:{line}: expected a path key ({', '.join(PATH_COLUMNS)}) and a text key "
                f"({', '.join(TEXT_COLUMNS)}), got keys: {', '.join(keys) or 'none'}"
            )
        values = [item[keys[i]] for i in found]
        for key, value in zip((keys[i] for i in found), values, strict=True):
            if not isinstance(value, str):
                raise UserError(
                    f"{path}:{line}: expected a string for {key!r}, got {type(value).__name__}"
                )
        yield ManifestRow(line, values[0], values[1], "")


__all__ = ["PATH_COLUMNS", "TEXT_COLUMNS", "ManifestRow", "manifest_rows"]
