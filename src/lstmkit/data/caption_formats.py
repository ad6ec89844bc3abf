"""The captions file formats: which image and caption each entry of a captions file gives.

Three formats, told apart by the file's suffix and content (:func:`caption_rows`):

* COCO's captions JSON — the suffix is ``.json`` or the text starts with ``{``: an object with
  ``images`` (``[{"id": 42, "file_name": "a.jpg"}, ...]``) and ``annotations``
  (``[{"image_id": 42, "caption": "..."}, ...]``). Entries are named ``file: images[3]`` and
  ``file: annotations[7]``; images without a caption are left out, with a note.
* Flickr8k's token file (also Flickr30k's) — tab-separated, and the first field of the first row
  ends in ``#`` and a number: ``1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress ...``.
  The ``#0`` (the reference's number) is dropped; every row must have it.
* A table of ``image<TAB>caption`` (TSV) or ``image,caption`` (CSV) — TSV when the first
  non-blank line holds a tab, else CSV when the suffix is ``.csv`` or that line holds a comma.
  A header naming an image column (:data:`IMAGE_COLUMNS`) and a caption column
  (:data:`CAPTION_COLUMNS`) is optional (Kaggle's Flickr8k ``captions.txt`` has
  ``image,caption``). TSV fields are literal; CSV fields may be quoted (Python's ``csv``
  dialect), and a two-column row with more commas keeps them in its caption, since captions are
  often written unquoted.

Several entries naming one image are several reference captions of it. This module parses the
text only; :func:`lstmkit.data.captions.read_captions` reads the file, finds the images and
checks the captions.

Example:
    >>> text = "a.png#0\\tA dog runs .\\na.png#1\\tA brown dog .\\n"
    >>> [(row.image, row.caption) for row in caption_rows(Path("Flickr8k.token.txt"), text)]
    [('a.png', 'A dog runs .'), ('a.png', 'A brown dog .')]
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from lstmkit.errors import Notice, UserError

IMAGE_COLUMNS = ("image", "image_name", "file_name", "filename", "file", "path")
CAPTION_COLUMNS = ("caption", "comment", "text", "sentence")
CAPTION_FORMATS = (
    "a captions file in one of the formats: TSV or CSV with an image and a caption a row "
    "(image<TAB>caption or image,caption, a header naming the columns optional), Flickr8k's "
    "token file (name.jpg#0<TAB>caption) or COCO's captions JSON (images and annotations)"
)
_FLICKR = re.compile(r"^(.+)#(\d+)$")


class CaptionRow(NamedTuple):
    """One caption of a captions file, as written there.

    Attributes:
        where: where its image is named, for messages: ``"captions.tsv:3"``, or
            ``"captions.json: images[2]"`` (COCO).
        image: the image's name, as written (relative to the images folder).
        caption: the caption, unstripped.
        caption_where: where the caption is written: ``where`` for a table, else
            ``"captions.json: annotations[7]"``.
    """

    where: str
    image: str
    caption: str
    caption_where: str


def caption_rows(path: Path, text: str) -> Iterator[CaptionRow]:
    """The captions of a TSV, CSV, Flickr8k token or COCO JSON file (see the module's text).

    Args:
        path: the captions file: its suffix helps to pick the format, and messages name it.
        text: its text as read; a byte order mark and Windows line ends are allowed.

    Yields:
        The captions in file order (COCO: by image, in the order of ``images``); blank lines
        and a header are skipped.

    Raises:
        UserError: a file in none of the formats (naming what was expected and what came);
            naming ``file:line`` or the JSON entry: a row with another number of columns, a
            Flickr8k row without ``#N``, malformed CSV or JSON, a COCO entry without its keys,
            an annotation naming an image id that ``images`` lacks, an id given twice.

    Example:
        >>> [row.caption for row in caption_rows(Path("c.csv"), 'image,caption\\na.png,"x, y"\\n')]
        ['x, y']
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        yield from _coco_rows(path, text)
        return
    first = next((line for line in text.split("\n") if line.strip()), None)
    if first is None:
        return
    if "\t" in first:
        yield from _table_rows(path, _tsv_lines(text), "tab")
    elif path.suffix.lower() == ".csv" or "," in first:
        yield from _table_rows(path, _csv_lines(path, text), "comma")
    else:
        line = text.split("\n").index(first) + 1
        raise UserError(
            f"{path}:{line}: expected {CAPTION_FORMATS}; got a line with neither a tab nor a "
            f"comma: {_cut(first)!r}"
        )


def _table_rows(
    path: Path, lines: Iterator[tuple[int, list[str]]], sep: str
) -> Iterator[CaptionRow]:
    """The captions of a TSV (Flickr8k's token file among them) or CSV file."""
    image_at, caption_at, width, flickr = 0, 1, 2, None
    first = True
    for line, row in lines:
        if not any(field.strip() for field in row):
            continue
        place = f"{path}:{line}"
        if first:
            first = False
            columns = [field.strip().lower() for field in row]
            found = _named(columns, IMAGE_COLUMNS), _named(columns, CAPTION_COLUMNS)
            if None not in found:
                (image_at, caption_at), width = found, len(row)
                continue
            if len(row) < 2:
                raise UserError(f"{place}: expected {CAPTION_FORMATS}; got one column")
            flickr = sep == "tab" and _FLICKR.match(row[0].strip()) is not None
        if sep == "comma" and width == 2 and len(row) > 2:  # an unquoted caption with commas
            row = [row[0], ",".join(row[1:])]
        if len(row) != width:
            what = "(image, caption)" if width == 2 else "as the header has"
            raise UserError(
                f"{place}: expected {width} {sep}-separated columns {what}, got {len(row)}"
            )
        image = row[image_at]
        if flickr:
            match = _FLICKR.match(image.strip())
            if match is None:
                raise UserError(
                    f"{place}: expected name#N as in Flickr8k's token file (as on the first "
                    f"row), got {_cut(image)!r}"
                )
            image = match[1]
        yield CaptionRow(place, image, row[caption_at], place)


def _tsv_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)``: each line cut at its tabs, fields taken literally (no quoting)."""
    for line, content in enumerate(text.split("\n"), start=1):
        yield line, content.split("\t")


def _csv_lines(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line, fields)`` of each CSV record; a quoted field may span lines."""
    reader = csv.reader(io.StringIO(text), strict=True)
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as error:
        raise UserError(f"{path}:{reader.line_num}: expected CSV fields, got {error}") from None


def _named(columns: list[str], names: tuple[str, ...]) -> int | None:
    """The index of the first of ``names`` (in their order) among ``columns``, or None."""
    return next((columns.index(name) for name in names if name in columns), None)


def _cut(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width] + "..."


def _coco_rows(path: Path, text: str) -> Iterator[CaptionRow]:
    """The captions of a COCO captions JSON file, by image in the order of ``images``."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise UserError(f"{path}: expected {CAPTION_FORMATS}; got invalid JSON: {error}") from None
    lists = isinstance(data, dict) and all(
        isinstance(data.get(key), list) for key in ("images", "annotations")
    )
    if not lists:
        got = f"keys {', '.join(map(str, data)) or 'none'}" if isinstance(data, dict) else None
        got = got or f"a JSON {type(data).__name__}"
        raise UserError(
            f"{path}: expected {CAPTION_FORMATS}; got JSON without 'images' and 'annotations' "
            f"lists ({got})"
        )
    names: dict[object, tuple[int, str]] = {}
    for j, item in enumerate(data["images"]):
        place = f"{path}: images[{j}]"
        image_id, name = _fields(item, place, ("id", "file_name"), (int, str))
        if image_id in names:
            raise UserError(f"{place}: expected a new image id, got {image_id} again")
        names[image_id] = (j, name)
    captions: dict[object, list[tuple[int, str]]] = {image_id: [] for image_id in names}
    for i, item in enumerate(data["annotations"]):
        place = f"{path}: annotations[{i}]"
        image_id, caption = _fields(item, place, ("image_id", "caption"), (int, str))
        if image_id not in names:
            raise UserError(f"{place}: expected an image_id listed in images, got {image_id}")
        captions[image_id].append((i, caption))
    bare = sum(not found for found in captions.values())
    if bare:
        warnings.warn(f"{path}: left out {bare} images without a caption", Notice, stacklevel=4)
    for image_id, (j, name) in names.items():
        for i, caption in captions[image_id]:
            yield CaptionRow(f"{path}: images[{j}]", name, caption, f"{path}: annotations[{i}]")


def _fields(item: object, place: str, keys: tuple[str, str], types: tuple) -> tuple:
    """The values of two keys of a COCO entry, of the types given (an id is an integer)."""
    if not isinstance(item, dict):
        raise UserError(f"{place}: expected a JSON object, got {type(item).__name__}")
    values = []
    for key, kind in zip(keys, types, strict=True):
        if key not in item:
            raise UserError(
                f"{place}: expected keys {' and '.join(keys)}, got {', '.join(item) or 'none'}"
            )
        value = item[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UserError(
                f"{place}: expected {'an integer' if kind is int else 'a string'} for {key!r}, "
                f"got {type(value).__name__}"
            )
        values.append(value)
    return tuple(values)


__all__ = ["CAPTION_COLUMNS", "CAPTION_FORMATS", "IMAGE_COLUMNS", "CaptionRow", "caption_rows"]
