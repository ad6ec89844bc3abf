"""What every request passes before the app sees it: the API key, the body size and the body time.

:class:`RequestGuard` is an ASGI middleware. It answers

- 401 to a request without the API key (when the server has one), before reading its body;
- 413 to a body declared (``Content-Length``) or found, while its chunks arrive, to be larger
  than the limit: a chunked upload is cut as soon as it passes the limit, so no more than the
  limit (plus one chunk) is ever held in memory;
- 408 to a body that has not fully arrived within the body timeout of the request's head.

Each of these answers closes the connection, so the rest of a refused body is never read. A body
that passes is handed to the app as one message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

from lstmkit.errors import UserError

HEADERS = "Authorization: Bearer KEY or X-API-Key: KEY"


def check_api_key(key: str, name: str = "api_key") -> bytes:
    """``key`` as the bytes a client sends in a header.

    Raises:
        UserError: naming ``name``, for an empty key or one with characters other than visible
            ASCII (a header could not carry it as it is).
    """
    if not isinstance(key, str) or not key or not all("!" <= c <= "~" for c in key):
        raise UserError(
            f"{name}: expected visible ASCII characters without spaces (such as Python's "
            f"secrets.token_urlsafe(32) makes), got "
            + ("an empty key" if key == "" else "a key with other characters")
        )
    return key.encode("ascii")


class RequestGuard:
    """An ASGI middleware that checks the API key and reads the body within its limits.

    Args:
        app: the ASGI app behind it.
        max_body: the most bytes a body may have.
        body_timeout: seconds from the request's head to the end of its body.
        api_key: the key every request must carry (:data:`HEADERS`); None: no key.
    """

    def __init__(self, app, max_body: int, body_timeout: float, api_key: str | None = None):
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout
        # Compared as digests, so that neither the key's bytes nor its length leak by timing.
        self.key = None if api_key is None else _digest(check_api_key(api_key))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if self.key is not None and not self.authorized(headers):
            got = "a wrong one" if _keys(headers) else "none"
            await refuse(
                send,
                401,
                f"API key: expected {HEADERS}, got {got}",
                [(b"www-authenticate", b'Bearer realm="lstmkit"')],
            )
            return
        length = dict(headers).get(b"content-length", b"").decode("latin-1")
        if length.isdigit() and int(length) > self.max_body:
            await refuse(send, 413, f"body: expected at most {self.max_body} bytes, got {length}")
            return
        body = await self.read_body(receive, send)
        if body is None:
            return
        await self.app(scope, replay(body, receive), send)

    def authorized(self, headers) -> bool:
        return any(hmac.compare_digest(_digest(key), self.key) for key in _keys(headers))

    async def read_body(self, receive, send) -> bytes | None:
        """The whole body; None when it was refused (413, 408) or the client left."""
        chunks, size = [], 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        await refuse(
                            send,
                            413,
                            f"body: expected at most {self.max_body} bytes, got more",
                        )
                        return None
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            await refuse(
                send,
                408,
                f"body: expected all of it within {self.body_timeout:g} s of the request's "
                f"head, got {size} bytes",
            )
            return None


def _keys(headers) -> list[bytes]:
    """The keys a request carries: ``Authorization: Bearer KEY`` and ``X-API-Key: KEY``."""
    keys = []
    for name, value in headers:
        if name == b"x-api-key":
            keys.append(value.strip())
        elif name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                keys.append(token.strip())
    return keys


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


def replay(body: bytes, receive):
    """A ``receive`` that gives ``body`` as one message, then waits as ``receive`` does."""
    sent = False

    async def again():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def refuse(send, status: int, message: str, headers: list | None = None) -> None:
    """Answers ``{"error": message}`` with ``status`` and closes the connection."""
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
