"""Built-in captioning data, generated on first use: nothing is downloaded.

Two corpora (:data:`CAPTION_BUILTIN`), written as PNG images and a captions file per split, so
that they are read as a user's own are (:func:`lstmkit.data.captions.read_captions`):

* ``scenes`` (the default): two coloured shapes of two sizes and where one is of the other,
  64x64 RGB, four reference captions each (:mod:`lstmkit.data.caption_scenes`); the objects'
  boxes are kept for judging where a model attends.
* ``digits``: strips of 3 to 5 real handwritten digits captioned with their words, 32x160 grey,
  one caption each, valid and test written on forms never used in training
  (:mod:`lstmkit.data.caption_digits`; it needs scikit-learn, which ships the digits).

Generation is deterministic given the seed: the same captions and images (byte for byte with one
Pillow version; its drawing is what the boxes are measured on). The
default sizes (:data:`CAPTION_SIZES`: 4000, 500 and 500 images) take about 4 s (``scenes``)
and 9 s (``digits``, scikit-learn's import included) of one CPU core, once, and 4 MB and 8 MB of
disk.

Example:
    >>> checked_caption_size("digits"), checked_caption_size("scenes", (20, 5, 5))
    ((4000, 500, 500), (20, 5, 5))
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from lstmkit.data import caption_digits, caption_scenes
from lstmkit.data.cache import cache_dir, publish_entry
from lstmkit.errors import UserError

CAPTION_BUILTIN = ("scenes", "digits")
DEFAULT_CAPTION = "scenes"
CAPTION_SIZES = {"scenes": (4000, 500, 500), "digits": (4000, 500, 500)}  # images
IMAGE_SIZES = {"scenes": caption_scenes.SCENE_SIZE, "digits": caption_digits.STRIP_SIZE}
# Bump when anything that changes the generated files changes: it is part of the cache key.
CAPTION_VERSION = 2  # 2: scenes' valid and test drawn as train; the held-out pairs in novel
_SPLITS = ("train", "valid", "test")
_MAX_IMAGES = 1_000_000


@dataclass(frozen=True)
class CaptionCorpus:
    """A generated built-in corpus.

    Attributes:
        folder: the corpus: images in ``train/``, ``valid/`` and ``test/`` (and ``novel/``).
        train, valid, test: the captions files, ``image<TAB>caption`` without a header, the
            image relative to ``folder``, one line per reference caption.
        novel: for ``scenes``, a captions file like ``test``'s (as many images) whose every
            image holds a colour-shape pair that no other split has
            (:data:`~lstmkit.data.caption_scenes.HELD_OUT`): captions of combinations never
            seen; None for ``digits``.
        metadata: JSON lines, one object an image: its ``split``, ``image`` and ``boxes``
            (``[x0, y0, x1, y1]`` in pixels, ``x1`` and ``y1`` exclusive, one per object or
            digit in the order the first caption names them); for ``scenes`` the ``relation``,
            the ``objects`` (``shape``, ``colour``, ``size``), ``held_out``; for ``digits`` the
            ``labels``, ``samples`` (indices into scikit-learn's digits) and ``forms``.
        image_size: the images' ``(height, width)``.
    """

    folder: Path
    train: Path
    valid: Path
    test: Path
    metadata: Path
    image_size: tuple[int, int]
    novel: Path | None = None


def checked_caption_size(
    name: str, size: tuple[int, int, int] | None = None, seed: int = 0
) -> tuple[int, int, int]:
    """The ``(train, valid, test)`` image counts of a built-in corpus, its name and seed
    checked first.

    Raises:
        UserError: an unknown name, a seed that is not an integer, or counts that are not
            non-negative integers, train at least 1, at most a million in all.
    """
    if name not in CAPTION_BUILTIN:
        raise UserError(f"name: expected one of {', '.join(CAPTION_BUILTIN)}, got {name!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserError(f"seed: expected an integer, got {seed!r}")
    size = CAPTION_SIZES[name] if size is None else size
    ok = isinstance(size, tuple | list) and len(size) == 3
    ok = ok and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in size)
    if not ok or size[0] < 1 or sum(size) > _MAX_IMAGES:
        raise UserError(
            "size: expected (train, valid, test) non-negative integers, train at least 1, "
            f"at most {_MAX_IMAGES} in all, got {size!r}"
        )
    return tuple(size)


def builtin_caption(
    name: str = DEFAULT_CAPTION,
    *,
    size: tuple[int, int, int] | None = None,
    seed: int = 0,
    cache: Path | None = None,
    progress: bool = False,
) -> CaptionCorpus:
    """A built-in captioning corpus, generated into the cache on first use.

    The corpus lives in ``cache / f"{name}-{key}"``, ``key`` a hash of the name, size, seed and
    :data:`CAPTION_VERSION`. It is built in a temporary folder beside it and renamed into place
    when complete, so an interrupted generation is never used; a later call finds it and
    returns at once.

    Args:
        name: one of :data:`CAPTION_BUILTIN` (default ``"scenes"``).
        size: ``(train, valid, test)`` image counts (default :data:`CAPTION_SIZES`);
            ``scenes`` draws as many ``novel`` images as test ones besides.
        seed: the seed of everything drawn (default 0).
        cache: the folder that holds built corpora (default
            ``lstmkit.data.cache.cache_dir("caption")``).
        progress: show a progress bar while generating.

    Returns:
        The :class:`CaptionCorpus`.

    Raises:
        UserError: an unknown name or a bad size or seed.

    Example:
        >>> corpus = builtin_caption("scenes", size=(8, 2, 2))  # doctest: +SKIP
        >>> corpus.test.read_text().splitlines()[0]  # doctest: +SKIP
        'test/000000.png\\ta large red triangle below a small yellow square'
    """
    size = checked_caption_size(name, size, seed)
    spec = {"name": name, "size": list(size), "seed": seed, "version": CAPTION_VERSION}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    root = Path(cache) if cache is not None else cache_dir("caption")
    folder = root / f"{name}-{key}"
    if not (folder / "corpus.json").is_file():
        publish_entry(folder, "corpus.json", lambda tmp: _generate(tmp, spec, progress))
    paths = [folder / f"{split}.tsv" for split in _SPLITS]
    novel = folder / "novel.tsv" if name == "scenes" else None
    return CaptionCorpus(folder, *paths, folder / "images.jsonl", IMAGE_SIZES[name], novel)


def _generate(folder: Path, spec: dict, progress: bool) -> None:
    draw = _scenes if spec["name"] == "scenes" else _digits
    records = []
    splits = list(zip(_SPLITS, spec["size"], strict=True))
    if spec["name"] == "scenes":
        splits.append(("novel", spec["size"][2]))  # as many as test
    for split, count in splits:
        (folder / split).mkdir()
        lines = []
        items = draw(split, count, spec["seed"])
        if progress:
            from tqdm import tqdm

            items = tqdm(items, total=count, desc=f"drawing {spec['name']} {split}", unit="img")
        for i, (image, captions, record) in enumerate(items):
            name = f"{split}/{i:06d}.png"
            image.save(folder / name, format="PNG")
            lines += [f"{name}\t{caption}\n" for caption in captions]
            records.append({"split": split, "image": name, **record})
        (folder / f"{split}.tsv").write_text("".join(lines), encoding="utf-8")
    rows = [json.dumps(record, sort_keys=True) + "\n" for record in records]
    (folder / "images.jsonl").write_text("".join(rows), encoding="utf-8")
    (folder / "corpus.json").write_text(json.dumps(spec, indent=1))


def _scenes(split: str, count: int, seed: int):
    """``(image, captions, metadata)`` of each scene of a split."""
    for scene in caption_scenes.scene_plan(count, seed, split):
        image, boxes = caption_scenes.draw_scene(scene)
        objects = [{"shape": o.shape, "colour": o.colour, "size": o.size} for o in scene.objects]
        record = {"relation": scene.relation, "objects": objects, "boxes": boxes}
        yield image, caption_scenes.scene_captions(scene), record | {"held_out": scene.held_out}


def _digits(split: str, count: int, seed: int):
    """``(image, captions, metadata)`` of each digit strip of a split."""
    digits = caption_digits.handwritten_digits()
    for strip in caption_digits.strip_plan(count, seed, split, digits):
        image, boxes = caption_digits.draw_strip(strip, digits)
        forms = [int(digits.forms[i]) for i in strip.samples]
        record = {"labels": list(strip.labels), "samples": list(strip.samples), "forms": forms}
        yield image, [caption_digits.strip_caption(strip.labels)], record | {"boxes": boxes}


__all__ = [
    "CAPTION_BUILTIN",
    "CAPTION_SIZES",
    "CAPTION_VERSION",
    "DEFAULT_CAPTION",
    "IMAGE_SIZES",
    "CaptionCorpus",
    "builtin_caption",
    "checked_caption_size",
]
