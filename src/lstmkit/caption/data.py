"""What :meth:`Captioner.fit` reads: a captions file, a built-in corpus, or captions in memory;
caption text in its normal form; images decoded once into one array.

Example:
    >>> caption_text("A dog, running!")
    'a dog , running !'
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmkit.data.caption_builtin import CAPTION_BUILTIN, CaptionCorpus, builtin_caption
from lstmkit.data.captions import Captions, read_captions, split_captions
from lstmkit.data.images import read_image
from lstmkit.errors import UserError

_WORDS = re.compile(r"\w+(?:'\w+)*|[^\w\s]")  # words (with inner apostrophes), punctuation


def caption_text(text: str, lowercase: bool = True) -> str:
    """A caption as the word tokenizer reads it: punctuation split off, single spaces, and
    lowercase unless ``lowercase`` is False."""
    return " ".join(_WORDS.findall(text.lower() if lowercase else text))


@dataclass(frozen=True)
class CaptionData:
    """Training, validation and (maybe) test captions, and where they came from.

    Attributes:
        image_size: the built-in corpus's ``(height, width)``; None for a user's files.
        spec: what was read, recorded in the run's config.
    """

    train: Captions
    valid: Captions
    test: Captions | None
    image_size: tuple[int, int] | None
    spec: dict

    def fingerprint(self) -> str:
        """sha256 of the training images' names and captions (checked on resume)."""
        train = self.train
        rows = [[p.name, list(r)] for p, r in zip(train.images, train.references, strict=True)]
        return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def load_caption_data(
    captions: str | Path | Captions | CaptionCorpus | CaptionData | None,
    images: str | Path | None = None,
    valid: str | Path | Captions | None = None,
) -> CaptionData:
    """The captions ``fit`` trains on.

    Args:
        captions: a captions file (:func:`~lstmkit.data.captions.read_captions`), a built-in
            corpus's name (None: ``"scenes"``), a :class:`CaptionCorpus` from
            :func:`~lstmkit.data.caption_builtin.builtin_caption`, :class:`Captions`, or
            :class:`CaptionData` read before (returned as it is).
        images: the images folder of a captions file (default: the file's folder).
        valid: validation captions (a file, read with ``images``, or Captions); default the
            corpus's own, or 5% of the images split off ``captions``.

    Raises:
        UserError: as the readers, naming the file and line.
    """
    if isinstance(captions, CaptionData):  # read already (the command line reads first)
        return captions
    if captions is None or (
        isinstance(captions, str) and captions in CAPTION_BUILTIN and not Path(captions).exists()
    ):
        captions = builtin_caption(captions or "scenes")
    test = size = None
    if isinstance(captions, CaptionCorpus):
        corpus = captions
        spec = {"captions": str(corpus.train), "images": str(corpus.folder)}
        train = read_captions(corpus.train, corpus.folder)
        test = read_captions(corpus.test, corpus.folder) if _has_rows(corpus.test) else None
        if valid is None:
            valid = read_captions(corpus.valid, corpus.folder)
        size = corpus.image_size
    elif isinstance(captions, Captions):
        train, spec = captions, {"captions": captions.source}
    elif isinstance(captions, str | Path):
        train = read_captions(captions, images)
        spec = {"captions": str(captions), "images": None if images is None else str(images)}
    else:
        raise UserError(
            "captions: expected a captions file, a built-in corpus's name "
            f"({', '.join(CAPTION_BUILTIN)}) or Captions, got {type(captions).__name__}"
        )
    if isinstance(valid, str | Path):
        spec = {**spec, "valid": str(valid)}
        valid = read_captions(valid, images)
    elif valid is None:
        train, valid, _ = split_captions(train, valid_fraction=0.05, test_fraction=0.0)
    elif not isinstance(valid, Captions):
        raise UserError(f"valid: expected a captions file or Captions, got {type(valid).__name__}")
    return CaptionData(train, valid, test, size, spec)


def _has_rows(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def read_images(captions: Captions, size: tuple[int, int]) -> np.ndarray:
    """Every image of ``captions``, RGB, resized: ``uint8`` (N, height, width, 3).

    Raises:
        UserError: naming the image and where the captions file names it.
    """
    out = np.empty((len(captions), *size, 3), dtype=np.uint8)
    for i, (path, where) in enumerate(zip(captions.images, captions.where, strict=True)):
        out[i] = read_image(path, size, where)
    return out


__all__ = ["CaptionData", "caption_text", "load_caption_data", "read_images"]
