"""Images and their captions that a user already has: a captions file and a folder of images.

:func:`read_captions` reads a captions file in one of the formats of
:mod:`lstmkit.data.caption_formats` (TSV or CSV ``image<TAB>caption``, Flickr8k's token file,
COCO's captions JSON); several captions of one image are its reference captions. Image names
are relative to the images folder, and every image must be a regular file inside it: a name
that leads out of it (``../``, an absolute path, a symbolic link to elsewhere) is refused.
Only the files' existence is checked here; :mod:`lstmkit.data.images` reads the pixels.
:func:`split_captions` splits by image, so that no image of the validation or test part was
seen in training under another caption.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "a.png").write_bytes(b"")
    ...     captions = Path(folder) / "captions.tsv"
    ...     _ = captions.write_text("a.png\\ta red star\\na.png\\ta star that is red\\n")
    ...     found = read_captions(captions)
    ...     found.references, found.images[0].name, found.where[0][-14:]
    ((('a red star', 'a star that is red'),), 'a.png', 'captions.tsv:1')
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lstmkit.data.batching import split_indices
from lstmkit.data.caption_formats import CAPTION_FORMATS, caption_rows
from lstmkit.data.config_file import read_text
from lstmkit.errors import Notice, UserError

MAX_CAPTIONS_BYTES = 1 << 30  # COCO 2017's training captions are 90 MB of JSON


@dataclass(frozen=True)
class Captions:
    """Images and their reference captions, ``references[i]`` describing ``images[i]``.

    Attributes:
        images: the image files, each once, in the order the captions file first names them.
        references: each image's captions, stripped, in file order (at least one each).
        where: where each image is first named, for messages: ``"data/captions.tsv:12"`` or
            ``"captions.json: images[3]"``.
        source: the captions file.

    Raises:
        UserError: ``images``, ``references`` and ``where`` differ in length, or an image has
            no caption.

    Example:
        >>> caps = Captions((Path("a.png"), Path("b.png")), (("x", "y"), ("z",)), ("1", "2"), "c")
        >>> len(caps), caps.pairs(), caps.subset([1]).images
        (2, [(0, 'x'), (0, 'y'), (1, 'z')], (PosixPath('b.png'),))
    """

    images: tuple[Path, ...]
    references: tuple[tuple[str, ...], ...]
    where: tuple[str, ...]
    source: str

    def __post_init__(self) -> None:
        if not len(self.images) == len(self.references) == len(self.where):
            raise UserError(
                "Captions: expected as many reference lists and places as images, got "
                f"{len(self.images)} images, {len(self.references)} reference lists, "
                f"{len(self.where)} places"
            )
        for image, references in zip(self.images, self.references, strict=True):
            if not references:
                raise UserError(f"Captions: expected a caption of {image}, got none")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int]) -> Captions:
        """The images at ``indices``, in that order, with their captions (the same source)."""
        return Captions(
            tuple(self.images[i] for i in indices),
            tuple(self.references[i] for i in indices),
            tuple(self.where[i] for i in indices),
            self.source,
        )

    def pairs(self) -> list[tuple[int, str]]:
        """Every ``(image index, caption)``: one training example per reference caption."""
        return [(i, text) for i, refs in enumerate(self.references) for text in refs]


def read_captions(
    path: str | os.PathLike, images: str | os.PathLike | None = None, *, skip_missing: bool = False
) -> Captions:
    """Images and captions from a captions file (:mod:`lstmkit.data.caption_formats`).

    Args:
        path: the captions file, UTF-8, at most :data:`MAX_CAPTIONS_BYTES`.
        images: the folder the image names are relative to (default: the captions file's).
        skip_missing: leave out the captions of images that are not found, with a
            :class:`~lstmkit.errors.Notice` (Flickr8k's token file names one image its
            distribution lacks), instead of refusing the file.

    Returns:
        The images in the order first named, each with its captions in file order.

    Raises:
        UserError: the file is missing, not a regular file, too large, not UTF-8 or in none of
            the formats (saying what was expected); naming ``file:line`` (or the JSON entry):
            an image that is not found, not a regular file or outside the images folder, an
            empty caption, a malformed row; no caption at all.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = (Path(folder) / "a.png").write_bytes(b"")
        ...     _ = (Path(folder) / "c.tsv").write_text("a.png\\t \\n")
        ...     read_captions(Path(folder) / "c.tsv")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lstmkit.errors.UserError: ...c.tsv:1: expected a caption of a.png, got an empty one
    """
    path = Path(path)
    folder = path.parent if images is None else Path(images)
    root = folder.resolve()
    if not root.is_dir():
        raise UserError(f"images: expected a folder of images, got no such folder: {folder}")
    text = read_text(path, limit=MAX_CAPTIONS_BYTES)
    found: dict[Path, tuple[str, list[str]]] = {}
    missing: list[str] = []
    for row in caption_rows(path, text):
        caption = row.caption.strip()
        if not caption:
            raise UserError(
                f"{row.caption_where}: expected a caption of {row.image.strip()}, got an empty one"
            )
        try:
            image = _image_path(row.image, folder, root, row.where)
        except FileNotFoundError as error:
            if not skip_missing:
                raise UserError(str(error)) from None
            missing.append(str(error))
            continue
        found.setdefault(image, (row.where, []))[1].append(caption)
    if missing:
        warnings.warn(
            f"left out {len(missing)} captions of images not found, the first: {missing[0]}",
            Notice,
            stacklevel=2,
        )
    if not found:
        raise UserError(f"{path}: expected {CAPTION_FORMATS}; got no captions")
    return Captions(
        tuple(found),
        tuple(tuple(refs) for _, refs in found.values()),
        tuple(where for where, _ in found.values()),
        str(path),
    )


def _image_path(name: str, folder: Path, root: Path, where: str) -> Path:
    """The image file ``name`` inside ``folder`` (whose resolved path is ``root``), resolved.

    Raises:
        FileNotFoundError: no such file (its message is the one to show).
        UserError: an empty name, a name leading outside the folder, a folder or a special file.
    """
    name = name.strip()
    if not name:
        raise UserError(f"{where}: expected an image file name, got an empty field")
    try:
        resolved = (root / name).resolve()
    except (OSError, RuntimeError, ValueError) as error:  # a NUL byte, a loop of links
        raise UserError(f"{where}: expected an image file name, got {name!r} ({error})") from None
    if not resolved.is_relative_to(root):  # ../, an absolute path, a link to elsewhere
        raise UserError(
            f"{where}: expected an image inside the images folder {folder}, got {name!r}, "
            "which leads outside it"
        )
    try:
        mode = resolved.stat().st_mode
    except OSError:
        raise FileNotFoundError(f"{where}: image {name} not found in {folder}") from None
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "a special file (FIFO, device, socket)"
        raise UserError(f"{where}: expected an image file, got {what}: {name}")
    return resolved


def split_captions(
    captions: Captions, valid_fraction: float = 0.05, test_fraction: float = 0.05, seed: int = 0
) -> tuple[Captions, Captions, Captions]:
    """Split by image at random into train, valid and test, the same way on every machine.

    All of an image's captions go to one part. Each part gets ``round(fraction * n)`` of the
    ``n`` images, at least one when its fraction is above 0 and there are at least 3 images,
    and keeps the input's order.

    Args:
        captions: the images and their captions.
        valid_fraction, test_fraction: the shares of images for validation and testing.
        seed: seed of the permutation (``random.Random(seed)``; the global RNG is left alone).

    Returns:
        ``(train, valid, test)``; a part whose fraction is 0 is empty.

    Raises:
        UserError: a fraction outside [0, 1), fractions summing to 1 or more, or no image left
            for training.

    Example:
        >>> images = tuple(Path(f"{i}.png") for i in range(5))
        >>> caps = Captions(images, tuple((c,) for c in "abcde"), tuple("12345"), "c.tsv")
        >>> train, valid, test = split_captions(caps, 0.2, 0.2, seed=0)
        >>> len(train), len(valid), len(test), set(train.images) & set(test.images)
        (3, 1, 1, set())
    """
    parts = split_indices(len(captions), valid_fraction, test_fraction, seed, "images")
    return tuple(captions.subset(part) for part in parts)


__all__ = ["MAX_CAPTIONS_BYTES", "Captions", "read_captions", "split_captions"]
