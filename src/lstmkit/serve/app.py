"""The HTTP service: :func:`create_app` loads a model once and answers JSON requests with it.

Endpoints (the loaded kind's are active; the others answer 409 naming the loaded kind):

- ``GET /health``: kind, model folder, version, uptime, queue depth, limits, batching counts.
- ``POST /predict`` (language model): the likeliest next tokens (and word) after a text.
- ``POST /generate`` (language model): a sampled continuation; a ``seed`` makes it repeatable.
- ``POST /translate`` (seq2seq): a batch of sentences, greedy or beam search.
- ``POST /forecast`` (forecaster): the forecast after a history (or the training series).
- ``POST /transcribe`` (speech recogniser): the transcript of an audio file sent in base64
  (:mod:`lstmkit.serve.speech`).
- ``POST /describe`` (image captioner): the caption of an image uploaded as a form
  (:mod:`lstmkit.serve.caption`).
- ``GET /docs``, ``GET /openapi.json``: the API's documentation, from FastAPI.

Every rejected request gets a 4xx answer ``{"error": "field: expected X, got Y"}``: 400 for a
body that is not JSON (or a form that cannot be parsed), 401 without the API key (when the server
has one), 404 for an unknown path, 408 for a request head or body that arrives too slowly, 409 for
an endpoint of another kind of model, 413 for a body over the size limit (declared or chunked) or
audio or an image over its limits, 415 for audio or an image in no format the server reads, 422
for a field out of its limits or input the model refuses (:class:`~lstmkit.errors.UserError`),
503 when the queue is full. 401, 408 and the body's 413 come before the body is read
(:mod:`lstmkit.serve.guard`) and close the connection. The model runs in one worker thread
(:mod:`lstmkit.serve.worker`), never on the event loop.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from lstmkit import __version__
from lstmkit.errors import UserError
from lstmkit.registry import TASKS, load_estimator, task_spec
from lstmkit.serve.errors import status_of, validation_message
from lstmkit.serve.guard import RequestGuard, check_api_key
from lstmkit.serve.handlers import Endpoint
from lstmkit.serve.schemas import RESPONSES, ErrorResponse, HealthResponse, Limits, request_models
from lstmkit.serve.worker import ModelWorker, QueueFull

ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 408, 409, 413, 422, 503)}
# The statuses beside ERRORS that an endpoint answers.
MORE_ERRORS = {"transcribe": (415,), "describe": (415,)}


def create_app(
    model_dir: str | Path, limits: Limits | None = None, api_key: str | None = None
) -> FastAPI:
    """The service for the model in ``model_dir`` (a checkpoint or run folder), loaded once.

    Args:
        model_dir: a checkpoint, or a run folder (its ``best/``, else ``last/``).
        limits: what a request may ask for, the batching and the timeouts; default
            :class:`Limits()`.
        api_key: the key every request must carry (``Authorization: Bearer KEY`` or
            ``X-API-Key: KEY``), compared in constant time; None: none needed.

    Raises:
        UserError: ``model_dir`` holds no model to serve, or ``api_key`` is empty or has
            characters other than visible ASCII.

    Example:
        Serve it with uvicorn and the header timeout (``lstmkit serve DIR`` does this)::

            app = create_app("runs/lm", api_key=os.environ["LSTMKIT_API_KEY"])
            uvicorn.Server(server_config(app, host="127.0.0.1", port=8000)).run()
    """
    limits = limits or Limits()
    if api_key is not None:
        check_api_key(api_key)
    estimator = load_estimator(model_dir)
    task = estimator.task_
    spec = task_spec(task)
    kind, active = spec.title, tuple(spec.endpoints)
    if not active:
        raise UserError(f"{model_dir}: {spec.a_title} has no HTTP endpoint yet")
    endpoints = {name: spec.endpoint(name)(estimator, limits) for name in active}
    tasks = endpoint_tasks()
    max_body = max([limits.max_body, *(endpoint.max_body for endpoint in endpoints.values())])
    worker = ModelWorker(
        {name: endpoint.run for name, endpoint in endpoints.items()},
        [name for name, endpoint in endpoints.items() if endpoint.batched],
        limits.max_batch,
        limits.queue,
        limits.batch_wait_ms / 1000,
        limits.threads,
    )
    models = request_models(limits, getattr(estimator, "horizon", None))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(
        title="lstmkit",
        version=__version__,
        lifespan=lifespan,
        description=f"The {kind} in {model_dir}, served by lstmkit.",
    )
    started = time.monotonic()
    model = str(getattr(estimator, "checkpoint_", model_dir))
    app.state.worker, app.state.estimator, app.state.limits = worker, estimator, limits
    _error_handlers(app, models, tasks)
    app.add_middleware(
        RequestGuard, max_body=max_body, body_timeout=limits.body_timeout, api_key=api_key
    )

    @app.get("/health", response_model=HealthResponse)
    async def health() -> dict:
        """Whether the service is up, what it serves and how busy it is."""
        return {
            "status": "ok",
            "kind": task,
            "model": model,
            "version": __version__,
            "uptime_s": round(time.monotonic() - started, 3),
            "queue_depth": worker.depth,
            "endpoints": [f"/{n}" for n in active],
            "limits": limits.to_dict(),
            "batches": worker.stats.to_dict(),
        }

    for name in tasks:
        if name in active:
            route = _endpoint(worker, name, models[name], endpoints[name])
            errors = {
                **ERRORS,
                **{code: {"model": ErrorResponse} for code in MORE_ERRORS.get(name, ())},
            }
            summary = SUMMARIES[name]
            app.post(f"/{name}", response_model=RESPONSES[name], responses=errors, summary=summary)(
                route
            )
        else:
            wanted = TASKS[tasks[name]].a_title
            app.post(f"/{name}", include_in_schema=False)(
                _elsewhere(name, wanted, spec.a_title, model, active)
            )
    return app


def endpoint_tasks() -> dict[str, str]:
    """Every registered endpoint's name -> its task's name, as :data:`lstmkit.registry.TASKS`
    holds them when an app is created."""
    return {name: task for task, spec in TASKS.items() for name in spec.endpoints}


SUMMARIES = {
    "predict": "the likeliest next tokens after a text",
    "generate": "a sampled continuation of a prompt",
    "translate": "translations of a batch of sentences",
    "forecast": "the forecast after a series' history",
    "transcribe": "the transcript of an audio file",
    "describe": "the caption of an image",
}


def _endpoint(worker: ModelWorker, name: str, model: type, spec: Endpoint):
    """The route of an active endpoint: its request queued for the model worker."""

    async def endpoint(body) -> JSONResponse | dict:
        try:
            payload = body if spec.prepare is None else await run_in_threadpool(spec.prepare, body)
            key, size = (name, *spec.key(payload)), spec.size(payload)
            result, notices = await worker.run(key, payload, size)
        except QueueFull as busy:
            return error(503, str(busy), {"Retry-After": "1"})
        except UserError as refused:
            return error(status_of(refused), str(refused))
        return {**result, "notices": list(dict.fromkeys([*result["notices"], *notices]))}

    # A form's media type said outright: FastAPI would document a model of fields as urlencoded.
    form = Form(media_type="multipart/form-data")
    endpoint.__annotations__ = {"body": Annotated[model, form] if spec.form else model}
    endpoint.__doc__ = model.__doc__
    endpoint.__name__ = name
    return endpoint


def _elsewhere(name: str, wanted: str, kind: str, model: str, active: tuple[str, ...]):
    """The route of an endpoint another kind of model (``wanted``, with its article: "a
    language model") has: 409, naming the loaded ``kind``."""
    here = ", ".join(f"/{n}" for n in active)

    async def endpoint() -> JSONResponse:
        return error(
            409,
            f"/{name}: expected a server of {wanted}, got one of {kind} "
            f"({model}), which answers {here}",
        )

    endpoint.__name__ = f"{name}_elsewhere"
    return endpoint


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _error_handlers(app: FastAPI, models: dict, tasks: dict[str, str]) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        status = 400 if any(e["type"] == "json_invalid" for e in errors) else 422
        return error(status, validation_message(errors, models.get(request.url.path.strip("/"))))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        # A bug of ours, not bad input (that is a 4xx above): say so, in the same shape.
        return error(500, f"{request.url.path}: internal error: {type(exc).__name__}: {exc}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        path = request.url.path
        if exc.status_code == 404:
            names = ", ".join(["/health", "/docs", *(f"/{n}" for n in tasks)])
            message = f"{path}: no such endpoint; expected one of {names}"
        elif exc.status_code == 400:  # a form starlette cannot parse (JSON errors are 422s)
            message = (
                f"body: expected a multipart/form-data body, got one that fails ({exc.detail})"
            )
        elif exc.status_code == 405:
            message = f"{request.method} {path}: method not allowed; expected " + (
                "GET" if path == "/health" else "POST"
            )
        else:
            message = f"{path}: {exc.detail}"
        return error(exc.status_code, message, getattr(exc, "headers", None))
