"""The service's defences, on real uvicorn servers and on raw sockets: the body limit holds for
chunked uploads (cut while they arrive), slow heads and bodies time out (408, connection closed),
and with an API key every request needs it (401)."""

import asyncio
import contextlib
import json
import select
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from lstmkit.cli.serve import bind
from lstmkit.errors import UserError
from lstmkit.lm import LanguageModel
from lstmkit.serve import Limits, create_app, server_config
from lstmkit.serve.guard import RequestGuard

TEXT = "the cat sat on the mat\n" * 20
KEY = "s3cret-Key_0123456789"
MIB = 1 << 20


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "run"
    LanguageModel(
        "char",
        model={"embedding_size": 8, "hidden_size": 16, "num_layers": 1},
        batch_size=2,
        bptt=8,
        train={"epochs": 1},
    ).fit(TEXT, valid=TEXT[:100], out=out, progress=False)
    return out


@contextlib.contextmanager
def serving(directory, limits=None, api_key=None):
    """A real uvicorn server as ``lstmkit serve`` runs it, on a free loopback port."""
    app = create_app(directory, limits, api_key)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(server_config(app, log_level="critical"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def port(lm_dir):
    with serving(lm_dir, Limits(header_timeout=0.5, body_timeout=0.5)) as port:
        yield port


def connect(port) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_all(sock) -> bytes:
    """What the server sends until it closes the connection (10 s at most)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def trickle(sock, data: bytes, every: float = 0.1) -> None:
    """Sends ``data`` a byte at a time, ``every`` seconds apart, until the server answers."""
    for byte in data:
        if select.select([sock], [], [], every)[0]:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(bytes([byte]))


def status_and_error(data: bytes) -> tuple[int, str]:
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


HEAD = b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"


# ---------------------------------------------------------------------------- body limit
def test_a_chunked_body_is_cut_as_soon_as_it_passes_the_limit(port):
    sock = connect(port)
    sock.sendall(HEAD + b"transfer-encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    sent, answer = 0, b""
    sock.setblocking(False)
    try:
        while sent < 256 * MIB:  # a client that would send 256 MiB
            try:
                sock.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except BlockingIOError:
                time.sleep(0.001)
            except (BrokenPipeError, ConnectionResetError):
                break
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
                if answer.endswith(b"}"):
                    break
    finally:
        sock.setblocking(True)
    answer += read_all(sock)
    sock.close()
    assert status_and_error(answer) == (413, "body: expected at most 1048576 bytes, got more")
    assert b"connection: close" in answer.lower()
    # Cut at the limit: what was sent past it sat in the sockets' buffers, never in the app.
    assert sent < 16 * MIB


def test_a_declared_length_over_the_limit_is_refused_before_the_body(port):
    sock = connect(port)
    sock.sendall(HEAD + b"content-length: %d\r\n\r\n" % (1 << 30))  # 1 GiB promised, none sent
    answer = read_all(sock)
    assert status_and_error(answer) == (
        413,
        f"body: expected at most {MIB} bytes, got {1 << 30}",
    )


def test_the_guard_reads_no_chunk_past_the_limit():
    """The ASGI middleware alone, fed a body of endless chunks: it stops right at the limit."""
    read, sent = 0, []

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        raise AssertionError("the app must not see a body over the limit")

    guard = RequestGuard(app, max_body=10_000, body_timeout=5)
    asyncio.run(guard({"type": "http", "headers": []}, receive, send))
    assert read == 11  # 11,000 bytes: the first chunk past 10,000
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]


def test_a_body_within_the_limit_reaches_the_app_whole(port):
    body = json.dumps({"text": "the c", "top_k": 2}).encode()
    pieces = (body[k : k + 3] for k in range(0, len(body), 3))  # sent chunked, 3 bytes a chunk
    answer = httpx.post(
        f"http://127.0.0.1:{port}/predict",
        content=pieces,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["next"]) == 2


# ---------------------------------------------------------------------------- timeouts
def test_a_slow_body_gets_408_after_the_body_timeout(port):
    sock = connect(port)
    sock.sendall(HEAD + b"content-length: 100\r\n\r\n{")
    started = time.monotonic()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for _ in range(20):  # a byte every 0.1 s: it never ends within 0.5 s
            sock.sendall(b" ")
            time.sleep(0.1)
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT if False else 0) if False else 0:
                break
    answer = read_all(sock)
    waited = time.monotonic() - started
    sock.close()
    status, error = status_and_error(answer)
    assert status == 408
    assert error.startswith("body: expected all of it within 0.5 s of the request's head, got ")
    assert 0.4 < waited < 5


@pytest.mark.parametrize(
    "head",
    [b"", b"POST /predict HTTP/1.1\r\nhost: x\r\n"],
    ids=["nothing-sent", "head-unfinished"],
)
def test_a_slow_head_gets_408_and_a_closed_connection(port, head):
    sock = connect(port)
    started = time.monotonic()
    sock.sendall(head)
    if head:
        trickle(sock, b"x-slow: " + b"x" * 50)  # a header byte every 0.1 s: slowloris
    answer = read_all(sock)
    waited = time.monotonic() - started
    sock.close()
    assert status_and_error(answer) == (
        408,
        "request head: expected the request line and headers within 0.5 s, got them too slowly",
    )
    assert 0.4 < waited < 5


def test_a_slow_head_of_a_second_request_on_a_kept_connection_gets_408(port):
    sock = connect(port)
    sock.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    first = b""
    while b'"batches"' not in first:
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    trickle(sock, b"GET /health HTTP/1.1\r\nx-slow: " + b"x" * 50)
    answer = read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert 0.4 < time.monotonic() - started < 5


def test_timeouts_are_checked():
    with pytest.raises(UserError, match=r"^header_timeout: expected a number of seconds > 0"):
        Limits(header_timeout=0)
    with pytest.raises(UserError, match=r"^body_timeout: expected .* got inf$"):
        Limits(body_timeout=float("inf"))


# ---------------------------------------------------------------------------- API key
@pytest.fixture(scope="module")
def keyed(lm_dir):
    with serving(lm_dir, api_key=KEY) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("headers", "got"),
    [
        ({}, "none"),
        ({"authorization": "Bearer wrong"}, "a wrong one"),
        ({"authorization": f"Basic {KEY}"}, "none"),
        ({"x-api-key": KEY[:-1]}, "a wrong one"),
        ({"x-api-key": KEY + "x"}, "a wrong one"),
    ],
)
def test_without_the_key_every_endpoint_answers_401(keyed, headers, got):
    for method, path in [("GET", "/health"), ("POST", "/predict"), ("GET", "/docs")]:
        answer = httpx.request(
            method, keyed + path, json={"text": "the"}, headers=headers, timeout=30
        )
        assert answer.status_code == 401, (path, answer.text)
        assert answer.json()["error"] == (
            f"API key: expected Authorization: Bearer KEY or X-API-Key: KEY, got {got}"
        )
        assert answer.headers["www-authenticate"] == 'Bearer realm="lstmkit"'


@pytest.mark.parametrize(
    "headers", [{"authorization": f"Bearer {KEY}"}, {"authorization": f"bearer {KEY}"}]
)
def test_with_the_key_requests_are_answered(keyed, headers):
    answer = httpx.post(keyed + "/predict", json={"text": "the"}, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    health = httpx.get(keyed + "/health", headers={"x-api-key": KEY}, timeout=30)
    assert health.status_code == 200


def test_a_request_without_the_key_is_refused_before_its_body(keyed):
    port = int(keyed.rsplit(":", 1)[1])
    sock = connect(port)
    sock.sendall(HEAD + b"content-length: 500000\r\n\r\n")  # the body never comes
    answer = read_all(sock)
    sock.close()
    assert status_and_error(answer)[0] == 401


@pytest.mark.parametrize("key", ["", "has space", "clé", "tab\t"])
def test_a_key_a_header_cannot_carry_is_refused(lm_dir, key):
    with pytest.raises(UserError, match=r"^api_key: expected visible ASCII characters"):
        create_app(lm_dir, api_key=key)
