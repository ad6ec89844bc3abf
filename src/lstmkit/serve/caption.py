"""/describe: an image captioner's caption of one uploaded image (PNG or JPEG).

The request is a form (``multipart/form-data``), as browsers and ``curl -F`` send a file: the
image in the field ``image``, the decoding options beside it as text fields::

    curl -F image=@photo.jpg -F method=beam -F beam_size=5 -F n_best=3 localhost:8000/describe

and the answer ``{"caption", "n_best": [{"text", "score"}] (with n_best, else null), "image":
{"format", "width", "height"}, "notices"}``, the score a log-probability. Unlike /transcribe
(base64 in JSON), the file's bytes travel as they are; the form still takes the path every
request takes: the guard bounds the body, pydantic checks the options (and /docs shows them),
the model worker batches the uploads. Reading a form needs python-multipart, which the
``serve`` extra brings.

What is refused, in this order, before the image is decoded (:func:`check_upload`, on a thread
of the server's pool while the model worker runs other requests): a form without the file, or
an empty file (422); more than ``Limits.max_image_bytes`` bytes (413); bytes Pillow reads no PNG
or JPEG header from, whatever the file's name or content type says (415); more pixels (width
times height, from the header) than ``Limits.max_image_pixels`` (413). The model worker then
decodes the image as :func:`~lstmkit.data.images.read_image` decodes a file (a truncated or
corrupt one: 422), resizes it to the captioner's ``image_size_`` and captions it with
:meth:`Captioner.describe <lstmkit.caption.Captioner.describe>` (with ``n_best``,
:meth:`~lstmkit.caption.Captioner.describe_n_best`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass

from lstmkit.data.images import (
    IMAGE_FORMATS,
    MAX_IMAGE_PIXELS,
    ImageHeader,
    ImageTooLarge,
    decode_image,
    image_header,
)
from lstmkit.errors import UserError
from lstmkit.serve.errors import Refused
from lstmkit.serve.handlers import Endpoint

FIELD = "image"  # the form's file field
FORM_BYTES = 16384  # the body's bytes beside the image: boundaries, part headers, the options


@dataclass(frozen=True)
class Upload:
    """A /describe request whose image passed the checks of its header.

    Attributes:
        data: the image file's bytes.
        header: its format and size, from the header.
        method, beam_size, n_best, max_len: the request's decoding options.
    """

    data: bytes
    header: ImageHeader
    method: str
    beam_size: int
    n_best: int | None
    max_len: int


def upload_bytes(file, max_bytes: int) -> bytes:
    """The bytes of an uploaded file (a form's ``UploadFile``), at most ``max_bytes`` of them.

    Raises:
        UserError: (422) naming the field, for an empty file.
        Refused: (413) for more than ``max_bytes`` bytes.
    """
    file.file.seek(0)
    data = file.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        size = file.size if file.size is not None else f"more than {max_bytes}"
        raise Refused(413, f"{FIELD}: expected at most {max_bytes} bytes, got {size}")
    if not data:
        formats = " or ".join(IMAGE_FORMATS)
        raise UserError(f"{FIELD}: expected the bytes of a {formats} image, got an empty file")
    return data


def check_upload(data: bytes, max_pixels: int) -> ImageHeader:
    """The header of an uploaded image, checked before any pixel is decoded.

    Raises:
        Refused: (415) for bytes that are not a PNG or JPEG image Pillow reads; (413) for more
            than ``max_pixels`` pixels.

    Example:
        >>> check_upload(b"GIF89a" + bytes(20), 100)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        lstmkit.serve.errors.Refused: image: expected a PNG or JPEG image, got a file Pillow ...
    """
    try:
        return image_header(data, FIELD, max_pixels)
    except ImageTooLarge as error:
        raise Refused(413, str(error)) from None
    except UserError as error:
        raise Refused(415, str(error)) from None


def describe_key(upload: Upload) -> tuple:
    """Uploads with equal keys decode with the same options, so they can share a batch."""
    beam = upload.method == "beam"
    return (upload.method, upload.beam_size if beam else None, upload.n_best, upload.max_len)


def describe_handler(captioner, limits) -> Endpoint:
    """The /describe endpoint of a fitted :class:`~lstmkit.caption.Captioner`.

    Args:
        captioner: the fitted captioner.
        limits: the server's :class:`~lstmkit.serve.schemas.Limits` (``max_image_bytes``,
            ``max_image_pixels``, ``max_batch``).

    Returns:
        The endpoint (a form): checks an upload's size and header before it is queued
        (``prepare``), then captions batches of uploads of equal options.

    Raises:
        UserError: when python-multipart, which reads forms, is not installed.

    Example:
        >>> from lstmkit.serve import Limits
        >>> endpoint = describe_handler(None, Limits(max_image_bytes=1000))  # no model needed
        >>> endpoint.form, endpoint.batched, endpoint.max_body
        (True, True, 17384)
    """
    if importlib.util.find_spec("python_multipart") is None:
        raise UserError(
            "serve: /describe reads forms with python-multipart; expected it installed (pip "
            "install 'lstmkit[serve]'), got none"
        )
    max_pixels = min(limits.max_image_pixels, MAX_IMAGE_PIXELS)

    def prepare(request) -> Upload:
        data = upload_bytes(request.image, limits.max_image_bytes)
        header = check_upload(data, max_pixels)
        return Upload(
            data, header, request.method, request.beam_size, request.n_best, request.max_len
        )

    def describe(uploads: Sequence[Upload]) -> list[dict]:
        first = uploads[0]  # the worker batches uploads of one key only
        size = captioner.image_size_
        pixels = [decode_image(u.data, size, FIELD, max_pixels) for u in uploads]
        if first.n_best is None:
            captions = captioner.describe(
                pixels, first.method, first.beam_size, first.max_len, batch_size=limits.max_batch
            )
            n_best = [None] * len(uploads)
        else:
            found = captioner.describe_n_best(pixels, first.beam_size, first.n_best, first.max_len)
            n_best = [[{"text": text, "score": score} for text, score in best] for best in found]
            captions = [best[0]["text"] if best else "" for best in n_best]
        return [
            {"caption": caption, "n_best": best, "image": u.header._asdict(), "notices": []}
            for u, caption, best in zip(uploads, captions, n_best, strict=True)
        ]

    body = limits.max_image_bytes + FORM_BYTES
    return Endpoint(describe, key=describe_key, prepare=prepare, max_body=body, form=True)


__all__ = [
    "FIELD",
    "Upload",
    "check_upload",
    "describe_handler",
    "describe_key",
    "upload_bytes",
]
