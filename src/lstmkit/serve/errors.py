"""Clear one-line messages for rejected requests: ``{"error": "top_k: expected at most 100,
got 500"}``, in lstmkit's "expected X, got Y" form, from pydantic's validation errors; and
:class:`Refused`, a handler's refusal with a status of its own (413, 415)."""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence

from pydantic import BaseModel
from starlette.datastructures import UploadFile

from lstmkit.errors import UserError

MAX_SHOWN = 40  # characters of a rejected value echoed back
MAX_ERRORS = 3  # errors named in one message; the rest are counted


class Refused(UserError):
    """Input a handler refuses with an HTTP ``status`` other than 422, the app's answer to any
    other :class:`~lstmkit.errors.UserError` (e.g. 413 for audio over the size limit).

    Example:
        >>> error = Refused(415, "audio: expected WAV, FLAC, OGG or MP3, got a PNG image")
        >>> error.status, str(error)
        (415, 'audio: expected WAV, FLAC, OGG or MP3, got a PNG image')
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def status_of(error: UserError) -> int:
    """The HTTP status answering ``error``: a :class:`Refused` one's own, else 422."""
    return error.status if isinstance(error, Refused) else 422


KINDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "text (a JSON string)",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "model_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "dict_type": "a JSON object",
}
BOUNDS = {
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "more than"),
}


def shown(value) -> str:
    """A value as JSON, cut to :data:`MAX_SHOWN` characters."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def plural(count, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def where(loc: Sequence) -> str:
    """``("body", "sentences", 3)`` as ``sentences[3]``; the body itself as ``body``."""
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text or "body"


def one_message(error: dict, model: type[BaseModel] | None = None) -> str:
    """One pydantic error (``ValidationError.errors()`` item) as "field: expected X, got Y";
    ``model``, the request's, names the fields allowed beside an unknown one."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    name = where(error["loc"])
    if kind in ("missing", "value_error") and _is_upload(model, error["loc"]):
        got = "none" if kind == "missing" else "a text field"
        return f"{name}: expected a file uploaded as multipart/form-data, got {got}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{name}: expected some text, got an empty string"
    if kind in ("string_too_long", "string_too_short"):
        bound = "at most" if kind == "string_too_long" else "at least"
        limit = ctx.get("max_length", ctx.get("min_length"))
        got = "an empty string" if value == "" else f"{len(value)}"
        return f"{name}: expected {bound} {plural(limit, 'character')}, got {got}"
    if kind in ("too_long", "too_short"):
        bound = "at most" if kind == "too_long" else "at least"
        limit = ctx.get("max_length", ctx.get("min_length"))
        return f"{name}: expected {bound} {plural(limit, 'item')}, got {ctx.get('actual_length')}"
    if kind in BOUNDS:
        key, bound = BOUNDS[kind]
        limit = ctx.get(key)
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)  # "at most 1", though top_p's bound is the float 1.0
        return f"{name}: expected {bound} {limit}, got {shown(value)}"
    if name == "body" and kind == "missing":
        return "body: expected a JSON object, got none"
    if isinstance(value, bytes):  # a body not sent as JSON
        return f"body: expected a JSON object (Content-Type: application/json), got {shown(value)}"
    if kind in KINDS:
        return f"{name}: expected {KINDS[kind]}, got {shown(value)}"
    if kind == "literal_error":
        return f"{name}: expected one of {ctx.get('expected')}, got {shown(value)}"
    if kind == "extra_forbidden":
        names = ", ".join(sorted(fields_at(model, error["loc"][1:-1]))) or "none"
        return f"{name}: unknown field; expected one of {names}"
    if kind == "missing":
        return f"{name}: expected a value, got none"
    if kind == "json_invalid":
        at = error["loc"][-1]
        return f"body: expected valid JSON, got an error at character {at}: {ctx.get('error')}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"{name}: {error['msg']}"


def validation_message(errors: Sequence[dict], model: type[BaseModel] | None = None) -> str:
    """The first :data:`MAX_ERRORS` errors in one line, and how many more there were."""
    found = list(dict.fromkeys(one_message(e, model) for e in errors))
    message = "; ".join(found[:MAX_ERRORS])
    if len(found) > MAX_ERRORS:
        message += f"; and {len(found) - MAX_ERRORS} more"
    return message


def fields_at(model: type[BaseModel] | None, path: Sequence) -> list[str]:
    """The fields of the object at ``path`` (names and list positions) in a ``model``."""
    for part in path:
        if model is None:
            return []
        if isinstance(part, str):
            field = model.model_fields.get(part)
            model = None if field is None else _inner_model(field.annotation)
    return [] if model is None else list(model.model_fields)


def _is_upload(model: type[BaseModel] | None, loc: Sequence) -> bool:
    """Whether ``loc`` names a file field (``UploadFile``) of the request ``model``, a form."""
    field = None if model is None or len(loc) != 2 else model.model_fields.get(str(loc[1]))
    kind = None if field is None else field.annotation
    return isinstance(kind, type) and issubclass(kind, UploadFile)


def _inner_model(annotation) -> type[BaseModel] | None:
    """The model in ``list[Point] | None`` and the like."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
