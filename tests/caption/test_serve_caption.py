"""/describe served end to end for a tiny captioner of the built-in scenes, on a real uvicorn
server on loopback configured as ``lstmkit serve`` configures it (as in tests/serve): answers
equal ``Captioner.describe`` (and ``describe_n_best``) of the same file, every bad upload gets its
4xx and one-line message naming what was expected, and the size, format and pixel limits are
checked before any pixel is decoded."""

import contextlib
import io
import struct
import threading
import time
import zlib

import httpx
import pytest
import torch
import uvicorn
from PIL import Image, ImageFile

from lstmkit.caption import Captioner
from lstmkit.cli.serve import bind
from lstmkit.data.caption_builtin import builtin_caption
from lstmkit.errors import UserError
from lstmkit.serve import Limits, create_app, server_config
from lstmkit.serve.caption import FORM_BYTES, describe_handler, describe_key
from lstmkit.serve.schemas import request_models

TINY = {"channels": [4, 8, 8, 8], "hidden_size": 16, "embedding_size": 8, "dropout": 0.0}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return builtin_caption("scenes", size=(48, 8, 8), cache=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def run_dir(scenes, tmp_path_factory):
    out = tmp_path_factory.mktemp("caption-serve") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core machine: one thread trains fastest
    try:
        Captioner(
            batch_size=8, model=TINY, optim={"lr": 1e-2, "warmup_steps": 0}, train={"epochs": 3}
        ).fit(scenes, out=out, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module")
def captioner(run_dir):
    return Captioner.load(run_dir)


@pytest.fixture(scope="module")
def test_paths(scenes):
    return [str(scenes.folder / f"test/{i:06d}.png") for i in range(8)]


@contextlib.contextmanager
def serving(run_dir, limits=None):
    """A client of a real uvicorn server for ``run_dir`` on a free loopback port, in a thread."""
    app = create_app(run_dir, limits)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(server_config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        time.sleep(0.01)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def server(run_dir):
    with serving(run_dir) as client:
        yield client


@pytest.fixture(scope="module")
def small_server(run_dir):
    """A server with small image limits: 20000 bytes, 100x100 pixels."""
    with serving(run_dir, Limits(max_image_bytes=20_000, max_image_pixels=10_000)) as client:
        yield client


def image_file(size=(64, 64), fmt="PNG", colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def png_header(width, height) -> bytes:
    """A PNG's signature and header chunk claiming ``width`` x ``height``, with no pixels."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def describe(client, data: bytes, name="a.png", content_type="image/png", **options):
    fields = {k: str(v) for k, v in options.items()}
    return client.post("/describe", files={"image": (name, data, content_type)}, data=fields)


# ---------------------------------------------------------------------------- answers
def test_a_png_is_described_as_the_library_describes_its_file(server, captioner, test_paths):
    found = []
    for path in test_paths:
        with open(path, "rb") as file:
            answer = describe(server, file.read())
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["caption"] == captioner.describe(path)[0]
        assert body["n_best"] is None
        assert body["image"] == {"format": "PNG", "width": 64, "height": 64}
        found.append(body["caption"])
    assert len(set(found)) >= 2  # the model tells images apart: equal answers mean something


def test_a_jpeg_of_another_size_with_beam_and_n_best_equals_the_library(
    server, captioner, test_paths, tmp_path
):
    path = tmp_path / "scene.jpg"
    Image.open(test_paths[1]).convert("RGB").resize((100, 80)).save(path, quality=90)
    answer = describe(server, path.read_bytes(), "scene.jpg", "image/jpeg", method="beam",
                      beam_size=4, n_best=3)  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    (want,) = captioner.describe_n_best(str(path), beam_size=4, n_best=3)
    assert [h["text"] for h in body["n_best"]] == [text for text, _ in want]
    assert [h["score"] for h in body["n_best"]] == pytest.approx([s for _, s in want], rel=1e-5)
    assert body["caption"] == body["n_best"][0]["text"]
    assert body["image"] == {"format": "JPEG", "width": 100, "height": 80}
    beam = describe(server, path.read_bytes(), method="beam", beam_size=4).json()
    assert beam["caption"] == captioner.describe(str(path), method="beam", beam_size=4)[0]


def test_the_format_is_read_from_the_bytes_not_the_name_or_content_type(server, test_paths):
    with open(test_paths[0], "rb") as file:
        data = file.read()
    answer = describe(server, data, "photo.jpg", "image/jpeg")
    assert answer.status_code == 200
    assert answer.json()["image"]["format"] == "PNG"
    gif = image_file(fmt="GIF")
    assert describe(server, gif, "photo.png", "image/png").status_code == 415


def test_a_batch_of_uploads_equals_them_one_by_one(captioner, test_paths):
    limits = Limits()
    endpoint = describe_handler(captioner, limits)
    request = request_models(limits)["describe"]
    uploads = []
    for path in test_paths[:5]:
        with open(path, "rb") as file:
            image = UploadFileStandIn(file.read())
        uploads.append(endpoint.prepare(request.model_construct(
            image=image, method="greedy", beam_size=5, n_best=None, max_len=30)))  # fmt: skip
    assert len({describe_key(u) for u in uploads}) == 1  # the worker may batch them
    found = endpoint.run(uploads)
    assert [f["caption"] for f in found] == captioner.describe(test_paths[:5])


class UploadFileStandIn:
    """What ``prepare`` reads of a form's file: ``file`` and ``size``."""

    def __init__(self, data: bytes) -> None:
        self.file, self.size = io.BytesIO(data), len(data)


def test_uploads_share_a_batch_only_with_equal_options(captioner):
    endpoint = describe_handler(captioner, Limits())
    options = {"method": "greedy", "beam_size": 5, "n_best": None, "max_len": 30}

    def key(**changes):
        request = request_models(Limits())["describe"].model_construct(
            image=UploadFileStandIn(image_file()), **{**options, **changes}
        )
        return describe_key(endpoint.prepare(request))

    assert key(beam_size=3) == key(beam_size=5)  # greedy: no beam
    assert key(method="beam", beam_size=3) != key(method="beam", beam_size=5)
    assert key(method="beam", n_best=2) != key(method="beam")
    assert key(max_len=5) != key()


# ---------------------------------------------------------------------------- refusals
FORMS = "image: expected a file uploaded as multipart/form-data, got"
# fmt: off
BAD = [  # (files, form fields, status, the start of the message)
    ({"image": ("a.gif", image_file(fmt="GIF"), "image/gif")}, {}, 415,
     "image: expected a PNG or JPEG image, got a file Pillow does not recognise as one"),
    ({"image": ("a.png", b"not an image at all", "image/png")}, {}, 415,
     "image: expected a PNG or JPEG image, got a file Pillow does not recognise as one"),
    ({"image": ("a.bmp", image_file(fmt="BMP"), "image/bmp")}, {}, 415,
     "image: expected a PNG or JPEG image, got"),
    ({"image": ("a.png", b"", "image/png")}, {}, 422,
     "image: expected the bytes of a PNG or JPEG image, got an empty file"),
    ({"image": ("a.png", image_file()[:100], "image/png")}, {}, 422,
     "image: expected a PNG or JPEG image Pillow can read, got an unreadable file"),
    ({"image": ("a.png", png_header(10_000, 10_000), "image/png")}, {}, 413,
     "image: expected at most 33,554,432 pixels, got 10000x10000"),
    ({"image": ("a.png", png_header(100_000, 100_000), "image/png")}, {}, 413,
     "image: expected at most 33,554,432 pixels, got 10,000,000,000"),
    (None, {"method": "beam"}, 422, f"{FORMS} none"),
    (None, {"image": "a.png"}, 422, f"{FORMS} a text field"),
    ({"image": ("a.png", image_file(), "image/png")}, {"method": "viterbi"}, 422,
     "method: expected one of 'greedy' or 'beam', got \"viterbi\""),
    ({"image": ("a.png", image_file(), "image/png")}, {"beam_size": "17"}, 422,
     "beam_size: expected at most 16, got \"17\""),
    ({"image": ("a.png", image_file(), "image/png")}, {"beam_size": "five"}, 422,
     "beam_size: expected an integer, got \"five\""),
    ({"image": ("a.png", image_file(), "image/png")}, {"max_len": "0"}, 422,
     "max_len: expected at least 1, got \"0\""),
    ({"image": ("a.png", image_file(), "image/png")}, {"n_best": "2"}, 422,
     "n_best: expected only with method 'beam', got 'greedy'"),
    ({"image": ("a.png", image_file(), "image/png")},
     {"method": "beam", "beam_size": "2", "n_best": "3"}, 422,
     "n_best: expected at most beam_size 2, got 3"),
    ({"image": ("a.png", image_file(), "image/png")}, {"language": "en"}, 422,
     "language: unknown field; expected one of beam_size, image, max_len, method, n_best"),
]
# fmt: on


@pytest.mark.parametrize(
    ("files", "fields", "status", "message"), BAD, ids=[c[3][:40] for c in BAD]
)
def test_bad_uploads_get_a_4xx_and_a_one_line_message(server, files, fields, status, message):
    answer = server.post("/describe", files=files, data=fields)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error.startswith(message)
    assert "\n" not in error


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b'{"image": "a.png"}', {"content-type": "application/json"}, 422, f"{FORMS} none"),
        (b"", {}, 422, f"{FORMS} none"),
        (
            b"garbage",
            {"content-type": "multipart/form-data"},
            400,
            "body: expected a multipart/form-data body, got one that fails (Missing boundary",
        ),
    ],
)
def test_a_body_that_is_no_form_is_named(server, body, headers, status, message):
    answer = server.post("/describe", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"].startswith(message)


def test_the_servers_own_limits_on_bytes_and_pixels(small_server):
    noise = Image.frombytes("RGB", (90, 90), (bytes(range(256)) * 95)[:24300])
    large = io.BytesIO()
    noise.save(large, "PNG", compress_level=0)
    answer = describe(small_server, large.getvalue())
    assert answer.status_code == 413
    assert (
        answer.json()["error"]
        == f"image: expected at most 20000 bytes, got {len(large.getvalue())}"
    )
    answer = describe(small_server, image_file((200, 60)))  # small file, many pixels
    assert answer.status_code == 413
    assert answer.json()["error"] == "image: expected at most 10,000 pixels, got 200x60"
    assert describe(small_server, image_file((100, 100))).status_code == 200


def test_size_format_and_pixels_are_refused_before_any_pixel_is_decoded(small_server, monkeypatch):
    loads = []
    original = ImageFile.ImageFile.load

    def load(self, *args, **kwargs):
        loads.append(self.format)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    assert describe(small_server, b"\x89PNG" + bytes(30_000)).status_code == 413
    assert describe(small_server, image_file((200, 60))).status_code == 413
    assert describe(small_server, image_file(fmt="GIF")).status_code == 415
    assert loads == []
    assert describe(small_server, image_file((50, 50), "JPEG")).status_code == 200
    assert set(loads) == {"JPEG"}  # the spy sees decoding when it happens


def test_the_body_limit_fits_the_largest_image_and_its_form(server):
    largest = (8 << 20) + FORM_BYTES  # Limits().max_image_bytes and the form around it
    answer = server.post("/describe", content=b"x" * (largest + 1))
    assert answer.status_code == 413
    assert answer.json()["error"] == f"body: expected at most {largest} bytes, got {largest + 1}"


# ---------------------------------------------------------------------------- the service
def test_health_docs_and_other_kinds_endpoints(server):
    health = server.get("/health").json()
    assert (health["kind"], health["endpoints"]) == ("caption", ["/describe"])
    assert (health["limits"]["max_image_bytes"], health["limits"]["max_image_pixels"]) == (
        8 << 20,
        1 << 25,
    )
    spec = server.get("/openapi.json").json()
    assert sorted(spec["paths"]) == ["/describe", "/health"]
    post = spec["paths"]["/describe"]["post"]
    assert list(post["requestBody"]["content"]) == ["multipart/form-data"]
    assert {"413", "415", "422"} <= set(post["responses"])
    request = spec["components"]["schemas"]["DescribeRequest"]
    assert request["required"] == ["image"]
    assert request["properties"]["beam_size"]["maximum"] == 16
    assert request["additionalProperties"] is False
    answer = server.post("/translate", json={"sentences": ["a"]})
    assert answer.status_code == 409
    assert answer.json()["error"].startswith(
        "/translate: expected a server of a seq2seq model, got one of an image captioner"
    )


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_image_bytes": 0}, "max_image_bytes: expected a positive integer, got 0"),
        ({"max_image_pixels": 2.5}, "max_image_pixels: expected a positive integer, got 2.5"),
    ],
)
def test_limits_name_a_bad_image_limit(limits, message):
    with pytest.raises(UserError, match=f"^{message}$"):
        Limits(**limits)


def test_a_missing_form_reader_is_named(captioner, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: None if name == "python_multipart" else find_spec(name),
    )
    with pytest.raises(UserError, match=r"python-multipart; expected it installed \(pip install"):
        describe_handler(captioner, Limits())
