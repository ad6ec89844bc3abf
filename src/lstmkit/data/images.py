"""Reading images for captioning: checked, converted to RGB, resized to one size, normalised.

An image is a PNG or JPEG file (:data:`IMAGE_FORMATS`) that Pillow reads. Before any pixel is
decoded its header is checked: at most :data:`MAX_IMAGE_PIXELS` pixels, so that a small file
claiming a huge canvas (a decompression bomb) is refused. A JPEG's EXIF orientation is applied;
grey, palette and 16-bit images become RGB, and transparent pixels are laid on white. Every
image is resized to the one size a model takes, ``(height, width)``, without keeping its aspect
ratio, by Pillow's bilinear filter (which widens when shrinking, so it does not alias).

:func:`normalise_image` maps each channel value ``x`` in 0..255 to ``(x / 255 - mean) / std``,
by default ``mean = std = 0.5``: ``-1`` for black and ``1`` for white. :func:`scan_images`
reads the headers of many images and notes when their sizes differ so widely (area or aspect
ratio more than :data:`SIZE_SPREAD` times) that resizing them to one size distorts some.
Augmentation (:func:`augment_image`) is for the caller to ask for; nothing here applies it.

An image held in memory (an upload) passes the same checks: :func:`image_header` reads its
format and size from the header alone, with a pixel cap of the caller's, and
:func:`decode_image` gives the pixels :func:`read_image` gives of the same bytes in a file.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     Image.new("L", (40, 20), 255).save(Path(folder) / "white.png")
    ...     pixels = load_image(Path(folder) / "white.png", (8, 16))
    >>> pixels.shape, pixels.dtype, float(pixels.min()), float(pixels.max())
    ((3, 8, 16), dtype('float32'), 1.0, 1.0)
"""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lstmkit.errors import Notice, UserError

IMAGE_FORMATS = ("PNG", "JPEG")
# 8192 x 8192: above the largest photographs (a 50-megapixel camera's) and far below what would
# exhaust memory when decoded (Pillow's own limit warns at 89 and refuses at 179 megapixels).
MAX_IMAGE_PIXELS = 1 << 26
MAX_SIZE = 4096  # a model's input side
IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)
SIZE_SPREAD = 4.0
_SIXTEEN_BIT = ("I", "I;16", "I;16B", "I;16L", "I;16N")


class ImageTooLarge(UserError):
    """An image over a pixel cap (its header's width times height), told apart from an unreadable
    one so that a server can answer it as too large (413) rather than of the wrong kind."""


class ImageHeader(NamedTuple):
    """What an image's header says: ``format`` (one of :data:`IMAGE_FORMATS`), ``width`` and
    ``height`` in pixels (as stored, before any EXIF rotation)."""

    format: str
    width: int
    height: int


def image_size(size: int | Sequence[int]) -> tuple[int, int]:
    """``size`` as ``(height, width)``: an integer is a square.

    Raises:
        UserError: not a positive integer or two, or a side over :data:`MAX_SIZE`.

    Example:
        >>> image_size(64), image_size((32, 160))
        ((64, 64), (32, 160))
    """
    sides = (size, size) if isinstance(size, int) else tuple(size) if _sequence(size) else ()
    ok = len(sides) == 2 and all(
        isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_SIZE for n in sides
    )
    if not ok:
        raise UserError(
            f"size: expected a side or (height, width), integers from 1 to {MAX_SIZE}, got {size!r}"
        )
    return sides


def _sequence(value: object) -> bool:
    return isinstance(value, tuple | list)


def open_image(
    path: str | os.PathLike, where: str | None = None, cover: int | None = None
) -> Image.Image:
    """The image at ``path``, checked and decoded, in RGB (see the module's text).

    Args:
        path: a PNG or JPEG file.
        where: where the image was named, for messages (``"captions.tsv:3"``).
        cover: when given, a JPEG may be decoded at a scale of 1/2 to 1/8 (much faster) that
            still keeps both sides at least ``cover`` pixels, for an image to be shrunk anyway.

    Raises:
        UserError: naming the file: not a regular file, not an image Pillow reads as one of
            :data:`IMAGE_FORMATS`, truncated or corrupt, or over :data:`MAX_IMAGE_PIXELS`.
    """
    with _opened(Path(path), where) as image:
        return _decoded(image, cover)


def _decoded(image: Image.Image, cover: int | None) -> Image.Image:
    """An opened image's pixels decoded (a JPEG's at a scale that keeps ``cover``), turned as
    its EXIF says, in RGB."""
    if cover is not None:
        image.draft(None, (cover, cover))
    image.load()
    return _rgb(ImageOps.exif_transpose(image))


@contextmanager
def _opened(path: Path, where: str | None) -> Iterator[Image.Image]:
    """The image with its header read and checked, its pixels not yet decoded; what fails
    inside the block (decoding) fails with the same messages."""
    label = f"{where}: {path}" if where else str(path)
    try:
        mode = path.stat().st_mode
    except OSError:
        raise UserError(f"{label}: no such image file") from None
    if not stat.S_ISREG(mode):  # a FIFO would block the read
        raise UserError(f"{label}: expected an image file, got a folder or a special file")
    with path.open("rb") as file, _reading(file, label, str(path)) as image:
        yield image


@contextmanager
def _reading(
    file: BinaryIO, label: str, name: str | None = None, max_pixels: int = MAX_IMAGE_PIXELS
) -> Iterator[Image.Image]:
    """The image in ``file`` with its header read and checked (format, at most ``max_pixels``);
    ``name``, the file's path, is left out of Pillow's reasons."""
    formats = " or ".join(IMAGE_FORMATS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(file, formats=IMAGE_FORMATS)
            _check_pixels(image, label, max_pixels)
            yield image
    except UserError:
        raise
    except Image.DecompressionBombError as error:  # over Pillow's own limit, above ours
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        got = f"{int(claimed[1]):,}" if claimed else "more"
        raise ImageTooLarge(f"{label}: expected at most {max_pixels:,} pixels, got {got}") from None
    except UnidentifiedImageError:
        raise UserError(
            f"{label}: expected a {formats} image, got a file Pillow does not recognise as one"
        ) from None
    except (OSError, ValueError, SyntaxError) as error:
        reason = str(error).replace(name, "the file") if name else str(error)
        raise UserError(
            f"{label}: expected a {formats} image Pillow can read, got an unreadable file "
            f"({reason or type(error).__name__})"
        ) from None


def _check_pixels(image: Image.Image, label: str, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"{label}: expected at most {max_pixels:,} pixels, got {width}x{height}"
        )


def image_header(
    data: bytes, label: str = "image", max_pixels: int = MAX_IMAGE_PIXELS
) -> ImageHeader:
    """The format and size of an image held in memory, read from its header and checked before
    any pixel is decoded, as :func:`open_image` checks a file.

    Args:
        data: the image file's bytes.
        label: what the messages call the image (an upload's field name).
        max_pixels: the most pixels (width times height) allowed.

    Raises:
        ImageTooLarge: naming ``label``, over ``max_pixels``.
        UserError: naming ``label``, for bytes that are not a PNG or JPEG image Pillow reads.

    Example:
        >>> png = io.BytesIO()
        >>> Image.new("RGB", (40, 20)).save(png, "PNG")
        >>> image_header(png.getvalue())
        ImageHeader(format='PNG', width=40, height=20)
        >>> image_header(png.getvalue(), max_pixels=100)
        Traceback (most recent call last):
        ...
        lstmkit.data.images.ImageTooLarge: image: expected at most 100 pixels, got 40x20
    """
    with _reading(io.BytesIO(data), label, max_pixels=max_pixels) as image:
        return ImageHeader(image.format, *image.size)


def decode_image(
    data: bytes, size: int | Sequence[int], label: str = "image", max_pixels: int = MAX_IMAGE_PIXELS
) -> np.ndarray:
    """The image held in memory in RGB, resized to ``size``, as bytes: what :func:`read_image`
    gives of a file holding ``data``.

    Raises:
        ImageTooLarge, UserError: as :func:`image_header`, or for pixels that fail to decode
            (a truncated or corrupt file).
    """
    height, width = image_size(size)
    with _reading(io.BytesIO(data), label, max_pixels=max_pixels) as image:
        return _resized(_decoded(image, cover=max(height, width)), height, width)


def _resized(image: Image.Image, height: int, width: int) -> np.ndarray:
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8).copy()


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB: 16-bit grey scaled to 8 bits, transparency laid on white."""
    if image.mode in _SIXTEEN_BIT:  # Pillow's own conversion clips at 255 instead of scaling
        grey = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def read_image(
    path: str | os.PathLike, size: int | Sequence[int], where: str | None = None
) -> np.ndarray:
    """The image at ``path`` in RGB, resized to ``size``, as bytes.

    Args:
        path: a PNG or JPEG file.
        size: ``(height, width)``, or one side of a square.
        where: where the image was named, for messages.

    Returns:
        ``uint8`` pixels shaped ``(height, width, 3)``.

    Raises:
        UserError: as :func:`open_image`, or a bad ``size``.
    """
    height, width = image_size(size)
    return _resized(open_image(path, where, cover=max(height, width)), height, width)


def normalise_image(
    pixels: np.ndarray,
    mean: Sequence[float] = IMAGE_MEAN,
    std: Sequence[float] = IMAGE_STD,
) -> np.ndarray:
    """``(x / 255 - mean) / std`` per channel, channels first.

    Args:
        pixels: ``uint8`` pixels shaped ``(..., height, width, 3)``.
        mean, std: per channel (R, G, B), of values scaled to [0, 1].

    Returns:
        ``float32`` shaped ``(..., 3, height, width)``.

    Example:
        >>> normalise_image(np.array([[[0, 51, 255]]], dtype=np.uint8))[:, 0, 0].tolist()
        [-1.0, -0.6000000238418579, 1.0]
    """
    scaled = np.asarray(pixels, dtype=np.float32) / 255.0
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    return np.moveaxis((scaled - mean) / std, -1, -3)


def load_image(
    path: str | os.PathLike,
    size: int | Sequence[int],
    where: str | None = None,
    *,
    mean: Sequence[float] = IMAGE_MEAN,
    std: Sequence[float] = IMAGE_STD,
) -> np.ndarray:
    """The image at ``path`` as a model takes it: RGB, resized, normalised, channels first.

    Args:
        path: a PNG or JPEG file.
        size: ``(height, width)``, or one side of a square.
        where: where the image was named, for messages (``"captions.tsv:3"``).
        mean, std: as :func:`normalise_image` (default ``0.5``: values in [-1, 1]).

    Returns:
        ``float32`` shaped ``(3, height, width)``: ``(x / 255 - mean) / std``.

    Raises:
        UserError: as :func:`open_image`, or a bad ``size``.

    Example:
        >>> load_image("no-such.png", 64, where="c.tsv:3")
        Traceback (most recent call last):
        ...
        lstmkit.errors.UserError: c.tsv:3: no-such.png: no such image file
    """
    return normalise_image(read_image(path, size, where), mean, std)


def scan_images(
    paths: Sequence[Path],
    size: int | Sequence[int],
    where: Sequence[str] | None = None,
) -> list[tuple[int, int]]:
    """The ``(width, height)`` of each image from its header, noting a wide spread of sizes.

    Each file is opened and its header checked as :func:`open_image` does, without decoding
    the pixels. When the largest area is more than :data:`SIZE_SPREAD` times the smallest, or
    the widest aspect ratio that many times the narrowest, a :class:`~lstmkit.errors.Notice`
    names the extremes and the size they are all resized to.

    Args:
        paths: the image files.
        size: the ``(height, width)`` they are resized to (for the note).
        where: where each was named, for messages.

    Raises:
        UserError: as :func:`open_image`, naming the image.
    """
    height, width = image_size(size)
    sizes = []
    for i, path in enumerate(paths):
        with _opened(Path(path), where[i] if where is not None else None) as image:
            sizes.append(image.size)
    _note_spread(paths, sizes, (height, width))
    return sizes


def _note_spread(paths: Sequence[Path], sizes: list, size: tuple[int, int]) -> None:
    if not sizes:
        return
    areas = [w * h for w, h in sizes]
    aspects = [w / h for w, h in sizes]
    small, large = int(np.argmin(areas)), int(np.argmax(areas))
    narrow, wide = int(np.argmin(aspects)), int(np.argmax(aspects))
    if (
        areas[large] <= SIZE_SPREAD * areas[small]
        and aspects[wide] <= SIZE_SPREAD * aspects[narrow]
    ):
        return
    shown = {i: f"{sizes[i][0]}x{sizes[i][1]} ({Path(paths[i]).name})" for i in (small, large)}
    warnings.warn(
        f"images differ widely in size, from {shown[small]} to {shown[large]}, aspect ratios "
        f"(width/height) from {aspects[narrow]:.2f} to {aspects[wide]:.2f}: all are resized "
        f"to {size[0]}x{size[1]} (height x width)",
        Notice,
        stacklevel=3,
    )


def augment_image(
    pixels: np.ndarray,
    rng: np.random.Generator,
    *,
    shift: float = 0.05,
    brightness: float = 0.2,
    contrast: float = 0.2,
) -> np.ndarray:
    """A randomly shifted, brightened and contrasted copy of an image, for training only.

    Never flipped: a caption's "left of" or a strip of digits would then be wrong.

    Args:
        pixels: ``uint8`` pixels shaped ``(height, width, 3)``.
        rng: the random generator (the caller's, for reproducible runs).
        shift: the largest shift as a share of each side; edges are repeated into the gap.
        brightness, contrast: the largest relative change of each.

    Returns:
        ``uint8`` pixels of the same shape.

    Example:
        >>> pixels = np.full((4, 4, 3), 100, dtype=np.uint8)
        >>> augment_image(pixels, np.random.default_rng(0), brightness=0.0).tolist() == (
        ...     pixels.tolist())
        True
    """
    height, width, _ = pixels.shape
    dy, dx = (int(rng.integers(-round(shift * n), round(shift * n) + 1)) for n in (height, width))
    padded = np.pad(pixels, ((abs(dy),) * 2, (abs(dx),) * 2, (0, 0)), mode="edge")
    top, left = abs(dy) - dy, abs(dx) - dx
    out = padded[top : top + height, left : left + width].astype(np.float32)  # (H, W, 3)
    mean = out.mean()
    out = (out - mean) * (1 + rng.uniform(-contrast, contrast)) + mean
    out *= 1 + rng.uniform(-brightness, brightness)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


__all__ = [
    "IMAGE_FORMATS",
    "IMAGE_MEAN",
    "IMAGE_STD",
    "MAX_IMAGE_PIXELS",
    "MAX_SIZE",
    "SIZE_SPREAD",
    "ImageHeader",
    "ImageTooLarge",
    "augment_image",
    "decode_image",
    "image_header",
    "image_size",
    "load_image",
    "normalise_image",
    "open_image",
    "read_image",
    "scan_images",
]
