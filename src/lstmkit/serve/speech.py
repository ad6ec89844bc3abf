"""/transcribe: a speech recogniser's transcript of one audio file (WAV, FLAC, OGG, MP3).

The request is JSON, as every other endpoint's is, with the file's bytes in base64::

    {"audio": "UklGRiQ...", "method": "beam", "beam_size": 8, "timestamps": true}

and the answer ``{"text", "words": [{"word", "start", "end"}] (with timestamps, else null),
"duration", "notices"}``, times in seconds. JSON rather than the file itself as the body (or a
multipart form, which would need python-multipart): a request so takes the path every request
takes — the guard bounds the body, pydantic checks the options and documents them at /docs,
the model worker batches it — for a third more bytes on the wire.

What is refused, in this order, before the file is decoded (:func:`read_header`, on a thread of
the server's pool while the model worker runs other requests): text that is not base64 (422);
more than ``Limits.max_audio_bytes`` bytes (413); bytes libsndfile reads no header from (415);
a header without samples (422) or with a sample rate over :data:`MAX_SAMPLE_RATE` (422); a
duration over the server's ``Limits.max_seconds`` or the recogniser's ``max_seconds``,
whichever is less (413). The model worker then decodes the file, mixes it down to mono as
:func:`~lstmkit.data.audio.read_audio` does, refuses silence (422,
:func:`~lstmkit.data.audio.check_audible`), and hands the samples and their rate to
:meth:`SpeechRecognizer.transcribe <lstmkit.speech.SpeechRecognizer.transcribe>`, which
resamples them as it resamples a file.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soundfile

from lstmkit.data.audio import AudioInfo, check_audible
from lstmkit.errors import UserError
from lstmkit.serve.errors import Refused
from lstmkit.serve.handlers import Endpoint

FORMATS = "WAV, FLAC, OGG or MP3"
# 192 kHz is the highest rate of common recorders; higher would let a crafted header (of a
# compressed format, whose frame count is not bounded by its bytes) make decoding allocate more.
MAX_SAMPLE_RATE = 192_000
BLOCK_SAMPLES = 1 << 20  # samples (frames times channels) decoded at a time
OPTIONS_BYTES = 4096  # the body's bytes beside the audio: braces, field names, options


@dataclass(frozen=True)
class Upload:
    """A /transcribe request whose audio passed the checks of its header.

    Attributes:
        data: the audio file's bytes.
        info: what its header says.
        method, beam_size, timestamps: the request's decoding options.
    """

    data: bytes
    info: AudioInfo
    method: str
    beam_size: int
    timestamps: bool


def audio_bytes(text: str, max_bytes: int) -> bytes:
    """The bytes of a file sent in base64 (standard alphabet, padded; whitespace ignored).

    Raises:
        UserError: (422) naming ``audio``, for text that is not base64 or no bytes.
        Refused: (413) for more than ``max_bytes`` bytes.

    Example:
        >>> audio_bytes("UklG\\nRg==", max_bytes=10)
        b'RIFF'
    """
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as error:  # ValueError: characters other than ASCII
        raise UserError(
            f"audio: expected the audio file's bytes in base64, got text that is not base64 "
            f"({error})"
        ) from None
    if not data:
        raise UserError("audio: expected the bytes of an audio file, got none")
    if len(data) > max_bytes:
        raise Refused(413, f"audio: expected at most {max_bytes} bytes, got {len(data)}")
    return data


def read_header(data: bytes, max_seconds: float, limit_name: str = "max_seconds") -> AudioInfo:
    """The header of an audio file held in memory, checked before any sample is decoded.

    Args:
        data: the file's bytes.
        max_seconds: the longest audio allowed.
        limit_name: whose limit ``max_seconds`` is, for the message.

    Raises:
        Refused: (415) for bytes libsndfile reads no header from; (413) for audio longer than
            ``max_seconds``.
        UserError: (422) for a header with no samples, or a sample rate over
            :data:`MAX_SAMPLE_RATE`.

    Example:
        >>> sound = io.BytesIO()
        >>> soundfile.write(sound, np.zeros(8000), 16000, format="WAV")
        >>> read_header(sound.getvalue(), max_seconds=1)
        AudioInfo(frames=8000, sample_rate=16000, channels=1, seconds=0.5)
        >>> read_header(b"not audio", max_seconds=1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        lstmkit.serve.errors.Refused: audio: expected a WAV, FLAC, OGG or MP3 file, got ...
    """
    try:
        found = soundfile.info(io.BytesIO(data))
    except (soundfile.SoundFileError, RuntimeError, TypeError) as error:
        reason = _reason(error)
        raise Refused(
            415, f"audio: expected a {FORMATS} file, got bytes libsndfile cannot read: {reason}"
        ) from None
    rate, frames = int(found.samplerate), int(found.frames)
    if not 0 < rate <= MAX_SAMPLE_RATE:
        raise UserError(
            f"audio: expected a sample rate of 1 to {MAX_SAMPLE_RATE} Hz, got {rate} Hz"
        )
    if frames <= 0:
        raise UserError("audio: expected audio samples, got none (an empty file)")
    info = AudioInfo(frames, rate, int(found.channels), frames / rate)
    # As SpeechRecognizer.transcribe compares an array's samples with its limit.
    if frames > max_seconds * rate:
        raise Refused(
            413,
            f"audio: expected at most {max_seconds:g} s of audio ({limit_name}), "
            f"got {info.seconds:.2f} s",
        )
    return info


def mono_samples(upload: Upload) -> np.ndarray:
    """(N,) float32 samples of an upload at its own rate, channels averaged as
    :func:`~lstmkit.data.audio.read_audio` averages them. Decoded a block at a time, so that
    memory holds the mono samples and one block, whatever the channel count.

    Raises:
        UserError: (422) for samples libsndfile cannot decode, none, NaN or infinite ones, or
            silence.
    """
    channels = upload.info.channels
    blocks = []
    try:
        with soundfile.SoundFile(io.BytesIO(upload.data)) as sound:
            size = max(1, BLOCK_SAMPLES // channels)
            while len(block := sound.read(size, dtype="float32", always_2d=True)):
                blocks.append(block.mean(axis=1, dtype=np.float32) if channels > 1 else block[:, 0])
    except (soundfile.SoundFileError, RuntimeError, TypeError) as error:
        raise UserError(
            f"audio: expected samples libsndfile can decode, got an error: {_reason(error)}"
        ) from None
    if not blocks:
        raise UserError("audio: expected audio samples, got none (an empty file)")
    samples = np.concatenate(blocks)
    if not np.isfinite(samples).all():
        raise UserError("audio: expected finite samples, got NaN or inf")
    check_audible(samples, "audio")
    return samples


def transcribe_key(upload: Upload) -> tuple:
    """Uploads with equal keys decode with the same options at the same sample rate, so they
    can share a batch (one call of ``transcribe``). Timestamps are not in it: every batch is
    transcribed with them, and they are left out of the answers that did not ask."""
    beam = upload.method == "beam"
    return (upload.method, upload.beam_size if beam else None, upload.info.sample_rate)


def transcribe_handler(recognizer, limits) -> Endpoint:
    """The /transcribe endpoint of a fitted :class:`~lstmkit.speech.SpeechRecognizer`.

    Args:
        recognizer: the fitted recogniser.
        limits: the server's :class:`~lstmkit.serve.schemas.Limits` (``max_seconds``,
            ``max_audio_bytes``, ``max_batch``).

    Returns:
        The endpoint: checks an upload's header before it is queued (``prepare``), then
        transcribes batches of uploads of equal options and sample rate.

    Example:
        >>> from lstmkit.serve import Limits
        >>> endpoint = transcribe_handler(None, Limits(max_audio_bytes=3000))  # no model needed
        >>> endpoint.batched, endpoint.max_body
        (True, 8096)
    """
    model_limit = getattr(recognizer, "max_seconds", math.inf)
    if limits.max_seconds <= model_limit:
        max_seconds, limit_name = limits.max_seconds, "the server's max_seconds"
    else:
        max_seconds, limit_name = model_limit, "the model's max_seconds"

    def prepare(request) -> Upload:
        data = audio_bytes(request.audio, limits.max_audio_bytes)
        info = read_header(data, max_seconds, limit_name)
        return Upload(data, info, request.method, request.beam_size, request.timestamps)

    def transcribe(uploads: Sequence[Upload]) -> list[dict]:
        first = uploads[0]  # the worker batches uploads of one key only
        found = recognizer.transcribe(
            [mono_samples(upload) for upload in uploads],
            sample_rate=first.info.sample_rate,
            method=first.method,
            beam_size=first.beam_size,
            timestamps=True,
            batch_size=limits.max_batch,
            max_seconds=max_seconds,
        )
        return [
            {
                "text": hypothesis["text"],
                "words": hypothesis["words"] if upload.timestamps else None,
                "duration": upload.info.seconds,
                "notices": [],
            }
            for upload, hypothesis in zip(uploads, found, strict=True)
        ]

    body = 4 * -(-limits.max_audio_bytes // 3) + OPTIONS_BYTES  # base64: 4 characters per 3 bytes
    return Endpoint(transcribe, key=transcribe_key, prepare=prepare, max_body=body)


def _reason(error: Exception) -> str:
    """libsndfile's reason, in one line, without soundfile's "Error opening <object>:"."""
    reason = getattr(error, "error_string", None) or str(error)
    return " ".join(reason.split()).rstrip(".")


__all__ = [
    "FORMATS",
    "MAX_SAMPLE_RATE",
    "Upload",
    "audio_bytes",
    "mono_samples",
    "read_header",
    "transcribe_handler",
    "transcribe_key",
]
