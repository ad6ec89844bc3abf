"""uvicorn's HTTP/1.1 protocol (h11) with a header timeout, and the server configuration using it.

uvicorn times out only idle keep-alive connections (``timeout_keep_alive``), and only until their
next byte: a client that opens a connection and sends nothing, or sends a request's head one
byte at a time, holds its connection for ever. :class:`HeadTimeoutProtocol` closes a connection
whose request head (request line and headers) is not complete within ``header_timeout`` seconds
of the connection's start or of the next request's first byte, answering 408. The head's size is
bounded by h11 (``h11_max_incomplete_event_size``, 16 KiB by default); the body's size and time
by :class:`~lstmkit.serve.guard.RequestGuard`.
"""

from __future__ import annotations

import asyncio
import json

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is late (408)."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._start_head_timer()

    def data_received(self, data: bytes) -> None:
        if self.head_timer is None and self.conn.their_state is h11.IDLE:
            self._start_head_timer()  # the first bytes of a next request on this connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is complete (or refused)
            self._stop_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        self.head_timer = self.loop.call_later(self.header_timeout, self._head_late)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_late(self) -> None:
        self.head_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        # h11 has no request to answer yet, so the answer is written as bytes.
        message = (
            f"request head: expected the request line and headers within "
            f"{self.header_timeout:g} s, got them too slowly"
        )
        body = json.dumps({"error": message}).encode()
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        self.transport.close()


def head_timeout_protocol(header_timeout: float) -> type[HeadTimeoutProtocol]:
    """:class:`HeadTimeoutProtocol` with ``header_timeout`` seconds."""
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"header_timeout": header_timeout})


def server_config(app, **kwargs) -> uvicorn.Config:
    """The uvicorn configuration serving ``app`` (from :func:`~lstmkit.serve.app.create_app`)
    with its limits' header timeout; ``kwargs`` go to :class:`uvicorn.Config`.

    Example:
        Serve on a socket of your own (``lstmkit serve`` does this)::

            app = create_app("runs/lm", Limits(header_timeout=5))
            uvicorn.Server(server_config(app, log_level="warning")).run(sockets=[sock])
    """
    timeout = app.state.limits.header_timeout
    return uvicorn.Config(app, http=head_timeout_protocol(timeout), **kwargs)
