"""`lstmkit serve`: a trained model behind a JSON HTTP API (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import ipaddress
import os
import socket
import sys

from lstmkit.cli.options import command_parser, nonnegative_float, option, positive_int, settings
from lstmkit.errors import UserError

DOC = """Serve a trained model over HTTP: a language model answers /predict and /generate, a
seq2seq model /translate, a forecaster /forecast, a speech recogniser /transcribe (a base64
audio file in JSON), an image captioner /describe (a PNG or JPEG file uploaded as a
multipart/form-data field "image"); every server answers /health and documents its API at
/docs. The model is loaded once and runs in one worker thread that batches concurrent
requests. Bad requests get a 4xx answer {"error": "..."}. With an API key (--api-key or the
environment variable LSTMKIT_API_KEY) every request must carry it (Authorization: Bearer KEY or
X-API-Key: KEY) or is answered 401. Ctrl-C stops the server."""

ENV_KEY = "LSTMKIT_API_KEY"
LOOPBACK = ("localhost",)


def register(commands) -> None:
    p = command_parser(
        commands, "serve", run, help="serve a trained model as a JSON HTTP API", description=DOC
    )
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    option(p, "--host", default="127.0.0.1", help="the address to listen on")
    option(p, "--port", type=port_number, default=8000, help="the port (0: any free one)")
    option(
        p,
        "--max-batch",
        type=positive_int,
        default=32,
        metavar="N",
        help="sentences per /translate request; requests (or audio files) batched in one model "
        "call",
    )
    option(
        p,
        "--max-text-chars",
        type=positive_int,
        default=2000,
        metavar="N",
        help="the longest text, prompt or sentence of a request",
    )
    option(
        p,
        "--max-tokens",
        type=positive_int,
        default=500,
        metavar="N",
        help="the most tokens /generate samples or /translate outputs per sentence",
    )
    option(
        p,
        "--max-seconds",
        type=positive_seconds,
        default=30.0,
        metavar="S",
        help="the longest /transcribe audio (the recogniser's own limit applies too)",
    )
    option(
        p,
        "--max-audio-bytes",
        type=positive_int,
        default=8 << 20,
        metavar="N",
        help="the largest /transcribe audio file, in bytes before base64",
    )
    option(
        p,
        "--max-image-bytes",
        type=positive_int,
        default=8 << 20,
        metavar="N",
        help="the largest /describe image file, in bytes",
    )
    option(
        p,
        "--max-image-pixels",
        type=positive_int,
        default=1 << 25,
        metavar="N",
        help="the most pixels (width x height) of a /describe image, read from its header "
        "before it is decoded",
    )
    option(
        p,
        "--queue",
        type=positive_int,
        default=256,
        metavar="N",
        help="requests that may wait for the model; more are answered 503",
    )
    option(
        p,
        "--batch-wait-ms",
        type=nonnegative_float,
        default=2.0,
        metavar="MS",
        help="how long the worker waits for more requests to batch",
    )
    option(
        p,
        "--threads",
        type=positive_int,
        metavar="N",
        help="torch threads of the model worker (default: torch's)",
    )
    option(
        p,
        "--api-key",
        metavar="KEY",
        help=f"the key every request must carry (default: ${ENV_KEY}, else none); the "
        "variable keeps it out of the process list",
    )
    option(
        p,
        "--header-timeout",
        type=positive_seconds,
        default=10.0,
        metavar="S",
        help="seconds a request's line and headers may take to arrive; then 408, closed",
    )
    option(
        p,
        "--body-timeout",
        type=positive_seconds,
        default=30.0,
        metavar="S",
        help="seconds a request's body may take to arrive after its headers; then 408, closed",
    )
    option(
        p,
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="warning",
        help="uvicorn's log level",
    )


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port 0-65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0-65535, got {text!r}")
    return value


port_number.kind = "a port 0-65535"


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, at most 86400, got {text!r}")
    return value


positive_seconds.kind = "seconds > 0, at most 86400"


def run(args: argparse.Namespace) -> int:
    s = settings(args)
    try:
        import uvicorn

        from lstmkit.serve import Limits, create_app, server_config
    except ImportError as missing:
        raise UserError(
            f"serve: expected fastapi and uvicorn installed (pip install "
            f"'lstmkit[serve]'), got {missing}"
        ) from None
    limits = Limits(
        max_text_chars=s["max_text_chars"],
        max_batch=s["max_batch"],
        max_tokens=s["max_tokens"],
        max_seconds=s["max_seconds"],
        max_audio_bytes=s["max_audio_bytes"],
        max_image_bytes=s["max_image_bytes"],
        max_image_pixels=s["max_image_pixels"],
        queue=s["queue"],
        batch_wait_ms=s["batch_wait_ms"],
        threads=s["threads"],
        header_timeout=s["header_timeout"],
        body_timeout=s["body_timeout"],
    )
    key = api_key(s["api_key"])
    sock = bind(s["host"], s["port"])  # before loading: a taken port fails fast
    try:
        app = create_app(args.model, limits, key)
        host, port = sock.getsockname()[:2]
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        if key is None and not loopback(s["host"]):
            print(
                f"lstmkit serve: warning: listening on {s['host']}, beyond this machine, "
                f"without an API key: anyone who reaches {url} can use the model; set "
                f"{ENV_KEY} or --api-key",
                file=sys.stderr,
                flush=True,
            )
        print(f"serving {args.model} at {url} (API docs: {url}/docs); Ctrl-C stops", flush=True)
        config = server_config(app, log_level=s["log_level"], timeout_graceful_shutdown=5)
        # uvicorn shuts down cleanly on Ctrl-C, then raises it again for the caller.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    print("stopped", file=sys.stderr)
    return 0


def api_key(given: str | None) -> str | None:
    """The key from ``--api-key``, else from the environment variable; None: no key.

    Raises:
        UserError: naming where the key came from, for an empty key or one a header cannot
            carry.
    """
    from lstmkit.serve.guard import check_api_key

    if given is not None:
        check_api_key(given)
        return given
    found = os.environ.get(ENV_KEY)
    if found is None:
        return None
    check_api_key(found, ENV_KEY)
    return found


def loopback(host: str) -> bool:
    """Whether ``host`` is reached from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``.

    Raises:
        UserError: an unknown host or a port in use, naming the option.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as error:
        raise UserError(
            f"--host: expected an address of this machine, got {host!r} ({error})"
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRNOTAVAIL:
            raise UserError(f"--host: expected an address of this machine, got {host!r}") from None
        raise UserError(
            f"--port {port}: expected a free port on {host}, got {error.strerror or error}"
        ) from None
    sock.set_inheritable(True)
    return sock
