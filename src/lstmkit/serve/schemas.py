"""The service's requests and responses (pydantic v2), with the limits a request must keep.

The request models are built per app by :func:`request_models`, so that the limits of the
running server (``--max-text-chars``, ``--max-batch``) and of the loaded model (a forecaster's
horizon) are both checked by pydantic and shown in the OpenAPI schema at ``/docs``. Every request
model forbids unknown fields and is strict: ``"5"`` is not an integer and ``true`` not a number;
except /describe's, a form, whose fields arrive as text (``beam_size=5``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Annotated, Literal

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lstmkit.errors import UserError

MAX_SEED = 2**63 - 1
MAX_NAME_CHARS = 100
MAX_TIMEOUT = 86_400  # a day: longer is no timeout, and asyncio's timers overflow near 1e300


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how the model worker batches and queues requests.

    Args:
        max_text_chars: characters of a /predict text, /generate prompt or /translate sentence.
        max_batch: sentences of one /translate request, and requests (or sentences) the worker
            runs through the model together.
        max_tokens: tokens /generate may sample and /translate may output per sentence.
        max_top_k: the largest ``top_k`` of /predict and /generate.
        max_beam_size: the largest ``beam_size`` of /translate.
        max_history: points of a /forecast history.
        max_seconds: seconds of /transcribe audio (a longer file is refused from its header,
            413); the recogniser's own ``max_seconds`` applies too.
        max_audio_bytes: bytes of a /transcribe audio file (before its base64 encoding);
            more is refused (413). The body limit grows to fit such a file.
        max_image_bytes: bytes of a /describe image file; more is refused (413). The body
            limit grows to fit such a file.
        max_image_pixels: pixels (width times height) of a /describe image, read from its
            header before it is decoded; more is refused (413). The data layer's own
            :data:`~lstmkit.data.images.MAX_IMAGE_PIXELS` applies too.
        queue: requests waiting for the model; one more is answered 503.
        batch_wait_ms: how long the worker waits for more requests to batch with the first.
        threads: torch's intra-op threads in the model worker (None: torch's default).
        header_timeout: seconds a request's head (request line and headers) may take to arrive,
            from the connection's start or the request's first byte; then 408, connection
            closed (:mod:`lstmkit.serve.protocol`, with :func:`~lstmkit.serve.server_config`).
        body_timeout: seconds a request's body may take to arrive after its head; then 408,
            connection closed (:class:`~lstmkit.serve.guard.RequestGuard`).
    """

    max_text_chars: int = 2000
    max_batch: int = 32
    max_tokens: int = 500
    max_top_k: int = 100
    max_beam_size: int = 16
    max_history: int = 10_000
    max_seconds: float = 30.0
    max_audio_bytes: int = 8 << 20
    max_image_bytes: int = 8 << 20
    max_image_pixels: int = 1 << 25  # about 5800 x 5800: a 24-megapixel photograph passes
    queue: int = 256
    batch_wait_ms: float = 2.0
    threads: int | None = None
    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "threads" and value is None:
                continue
            if f.name == "max_seconds":
                if not _number(value) or not value > 0:
                    raise UserError(f"max_seconds: expected a number of seconds > 0, got {value!r}")
                continue
            if f.name == "batch_wait_ms":
                if not _number(value) or not value >= 0:
                    raise UserError(f"batch_wait_ms: expected a finite number >= 0, got {value!r}")
                continue
            if f.name.endswith("_timeout"):
                if not _number(value) or not 0 < value <= MAX_TIMEOUT:
                    raise UserError(
                        f"{f.name}: expected a number of seconds > 0 and at most "
                        f"{MAX_TIMEOUT}, got {value!r}"
                    )
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{f.name}: expected a positive integer, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def max_body(self) -> int:
        """The most bytes of a request body: 1 MiB, or what the largest valid request needs."""
        return max(
            1 << 20,
            8 * self.max_batch * self.max_text_chars + 4096,
            100 * self.max_history + 4096,
        )


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Point(Strict):
    """One observation of a series."""

    time: str = Field(min_length=1, max_length=40, description="a timestamp, e.g. 2020-01-01")
    value: float = Field(allow_inf_nan=False)


def request_models(limits: Limits, horizon: int | None = None) -> dict[str, type[BaseModel]]:
    """The request models of each endpoint under ``limits``; ``horizon``: a forecaster's.

    Returns:
        ``{"predict": PredictRequest, "generate": ..., "translate": ..., "forecast": ...,
        "transcribe": ..., "describe": ...}``.
    """
    return {
        "predict": _predict_request(limits),
        "generate": _generate_request(limits),
        "translate": _translate_request(limits),
        "forecast": _forecast_request(limits, horizon),
        "transcribe": _transcribe_request(limits),
        "describe": _describe_request(limits),
    }


def _check_n_best(request):
    """A request's ``n_best`` needs the beam and at most ``beam_size``."""
    if request.n_best is not None and request.method != "beam":
        raise ValueError(f"n_best: expected only with method 'beam', got {request.method!r}")
    if request.n_best is not None and request.n_best > request.beam_size:
        raise ValueError(
            f"n_best: expected at most beam_size {request.beam_size}, got {request.n_best}"
        )
    return request


# Class bodies do not see the names of the enclosing function that they assign themselves
# (``text``, ``horizon``), hence ``chars`` and ``max_horizon``.
def _predict_request(limits: Limits) -> type[BaseModel]:
    chars = limits.max_text_chars

    class PredictRequest(Strict):
        """The likeliest next tokens after ``text``."""

        text: str = Field(min_length=1, max_length=chars, description="the text read so far")
        top_k: int = Field(5, ge=1, le=limits.max_top_k, description="next tokens to return")
        next_word: bool = Field(False, description="also the likeliest next whole word")

    return PredictRequest


def _generate_request(limits: Limits) -> type[BaseModel]:
    chars = limits.max_text_chars

    class GenerateRequest(Strict):
        """A sampled continuation of ``prompt``."""

        prompt: str = Field("", max_length=chars, description="empty: from scratch")
        max_tokens: int = Field(100, ge=1, le=limits.max_tokens)
        temperature: float = Field(1.0, gt=0, le=100, allow_inf_nan=False)
        top_k: int | None = Field(None, ge=1, le=limits.max_top_k)
        top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
        seed: int | None = Field(None, ge=0, le=MAX_SEED, description="the same seed, same text")

    return GenerateRequest


def _translate_request(limits: Limits) -> type[BaseModel]:
    sentence = Annotated[str, Field(max_length=limits.max_text_chars)]

    class TranslateRequest(Strict):
        """Translations of a batch of sentences."""

        sentences: list[sentence] = Field(min_length=1, max_length=limits.max_batch)
        method: Literal["greedy", "beam"] = "beam"
        beam_size: int = Field(5, ge=1, le=limits.max_beam_size)
        length_penalty: float = Field(0.6, ge=0, le=10, allow_inf_nan=False)
        max_len: int = Field(min(200, limits.max_tokens), ge=1, le=limits.max_tokens)
        n_best: int | None = Field(
            None, ge=1, le=limits.max_beam_size, description="beam: also the n best, scored"
        )

        _check = model_validator(mode="after")(_check_n_best)

    return TranslateRequest


def _forecast_request(limits: Limits, horizon: int | None) -> type[BaseModel]:
    max_horizon, longest = horizon, limits.max_history
    value = Annotated[float, Field(allow_inf_nan=False)]

    class ForecastRequest(Strict):
        """A forecast after a series' history: ``history`` points, or ``values`` from ``start``
        at ``freq``; neither: after the end of each series the model was trained on."""

        history: list[Point] | None = Field(None, min_length=1, max_length=longest)
        values: list[value] | None = Field(None, min_length=1, max_length=longest)
        start: str | None = Field(
            None, min_length=1, max_length=40, description="the time of values[0]"
        )
        freq: str | None = Field(
            None, min_length=1, max_length=20, description="of values; default the model's"
        )
        name: str = Field("series", min_length=1, max_length=MAX_NAME_CHARS)
        horizon: int | None = Field(None, ge=1, le=max_horizon, description="default the model's")
        quantiles: bool = Field(True, description="include the quantile columns")

        @model_validator(mode="after")
        def _check(self):
            if self.history is not None and self.values is not None:
                raise ValueError("history, values: expected one of them, got both")
            if self.values is not None and self.start is None:
                raise ValueError("start: expected the time of values[0] with values, got none")
            if self.values is None and (self.start is not None or self.freq is not None):
                given = "start" if self.start is not None else "freq"
                raise ValueError(f"{given}: expected only with values, got {given} without them")
            return self

    return ForecastRequest


def _transcribe_request(limits: Limits) -> type[BaseModel]:
    class TranscribeRequest(Strict):
        """The transcript of one audio file (WAV, FLAC, OGG or MP3), its bytes sent in base64."""

        audio: str = Field(
            min_length=1,
            description=f"the file's bytes in base64 (line breaks allowed); at most "
            f"{limits.max_audio_bytes} bytes and {limits.max_seconds:g} s of audio",
        )
        method: Literal["greedy", "beam"] = "greedy"
        beam_size: int = Field(8, ge=1, le=limits.max_beam_size, description="beam: prefixes kept")
        timestamps: bool = Field(False, description="also each word's start and end (seconds)")

    return TranscribeRequest


def _describe_request(limits: Limits) -> type[BaseModel]:
    tokens = limits.max_tokens

    class DescribeRequest(BaseModel):
        """The caption of one image (PNG or JPEG), uploaded as the form field ``image``."""

        model_config = ConfigDict(extra="forbid")  # a form's fields are text: not strict

        image: UploadFile = Field(
            description=f"the image file, PNG or JPEG; at most {limits.max_image_bytes} bytes "
            f"and {limits.max_image_pixels} pixels"
        )
        method: Literal["greedy", "beam"] = "greedy"
        beam_size: int = Field(5, ge=1, le=limits.max_beam_size, description="beam: captions kept")
        n_best: int | None = Field(
            None, ge=1, le=limits.max_beam_size, description="beam: also the n best, scored"
        )
        max_len: int = Field(min(30, tokens), ge=1, le=tokens, description="most caption tokens")

        _check = model_validator(mode="after")(_check_n_best)

    return DescribeRequest


class Token(BaseModel):
    token: str
    prob: float


class Word(BaseModel):
    word: str
    prob: float


class PredictResponse(BaseModel):
    next: list[Token]
    next_word: Word | None = None
    notices: list[str]


class GenerateResponse(BaseModel):
    text: str
    notices: list[str]


class Scored(BaseModel):
    text: str
    score: float


class TranslateResponse(BaseModel):
    translations: list[str]
    n_best: list[list[Scored]] | None = None
    notices: list[str]


class ForecastResponse(BaseModel):
    forecast: list[dict[str, str | float | None]] = Field(
        description="one row per series and step: series, time, forecast, q<level>..."
    )
    notices: list[str]


class WordTime(BaseModel):
    word: str
    start: float = Field(description="seconds from the audio's start")
    end: float


class TranscribeResponse(BaseModel):
    text: str
    words: list[WordTime] | None = Field(None, description="with timestamps: each word's times")
    duration: float = Field(description="seconds of audio, from the file's header")
    notices: list[str]


class ImageInfo(BaseModel):
    format: str = Field(description="PNG or JPEG, read from the file's bytes")
    width: int = Field(description="pixels, from the file's header")
    height: int


class DescribeResponse(BaseModel):
    caption: str
    n_best: list[Scored] | None = Field(
        None, description="with n_best: the beam's captions, best first, with log-probabilities"
    )
    image: ImageInfo
    notices: list[str]


class HealthResponse(BaseModel):
    status: str
    kind: str
    model: str
    version: str
    uptime_s: float
    queue_depth: int
    endpoints: list[str]
    limits: dict
    batches: dict


class ErrorResponse(BaseModel):
    error: str = Field(description="what was wrong, e.g. 'top_k: expected at most 100, got 500'")


RESPONSES = {
    "predict": PredictResponse,
    "generate": GenerateResponse,
    "translate": TranslateResponse,
    "forecast": ForecastResponse,
    "transcribe": TranscribeResponse,
    "describe": DescribeResponse,
}
