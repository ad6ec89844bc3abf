"""/transcribe served end to end for a tiny recogniser of the tone language, on a real uvicorn
server on loopback configured as ``lstmkit serve`` configures it (as in tests/serve): answers
equal ``SpeechRecognizer.transcribe`` of the same file, every bad upload gets its 4xx and
one-line message, and the size and duration limits are checked from the header, before any
sample is decoded."""

import base64
import contextlib
import dataclasses
import io
import math
import threading
import time

import httpx
import numpy as np
import pytest
import soundfile
import uvicorn
from scipy.signal import resample_poly

from lstmkit.cli.serve import bind
from lstmkit.data.utterances import load_utterances
from lstmkit.errors import UserError
from lstmkit.registry import TASKS
from lstmkit.serve import Limits, create_app, server_config
from lstmkit.serve.schemas import request_models
from lstmkit.serve.speech import transcribe_handler, transcribe_key
from lstmkit.speech import SpeechRecognizer

TINY = {"model": {"hidden_size": 32, "num_layers": 1, "dropout": 0.0}, "features": {"n_mels": 20}}
ENDPOINTS = {"transcribe": "lstmkit.serve.speech:transcribe_handler"}
MODEL_SECONDS = 2.0  # the recogniser's max_seconds; the tone utterances last under 1.2 s


@pytest.fixture(scope="module")
def run_dir(tone_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("speech-serve") / "run"
    SpeechRecognizer(
        **TINY,
        batch_size=8,
        spec_augment=False,
        vtlp=0.0,  # the tone language is told apart by absolute frequency: no warp
        max_seconds=MODEL_SECONDS,
        optim={"lr": 0.02, "warmup_steps": 10},
        train={"epochs": 10},
    ).fit(tone_corpus["train"], tone_corpus["valid"], out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def recognizer(run_dir):
    return SpeechRecognizer.load(run_dir)


@pytest.fixture(scope="module", autouse=True)
def _registered():
    """The speech task with its endpoint, as the registry will hold it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(TASKS, "speech", dataclasses.replace(TASKS["speech"], endpoints=ENDPOINTS))
        yield


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
    """A server whose own limits are below the recogniser's."""
    with serving(run_dir, Limits(max_seconds=1.0, max_audio_bytes=40_000)) as client:
        yield client


@pytest.fixture(scope="module")
def test_paths(tone_corpus):
    return [str(p) for p in load_utterances(tone_corpus["test"]).paths]


def encoded(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def audio_file(samples, rate=16000, fmt="WAV", subtype=None) -> bytes:
    sound = io.BytesIO()
    soundfile.write(sound, samples, rate, format=fmt, subtype=subtype)
    return sound.getvalue()


def tone(seconds, rate=16000) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def transcribe(client, data: bytes, **options):
    return client.post("/transcribe", json={"audio": encoded(data), **options})


# ---------------------------------------------------------------------------- answers
def test_a_wav_is_transcribed_as_the_library_transcribes_its_file(server, recognizer, test_paths):
    heard = []
    for path in test_paths[:4]:
        with open(path, "rb") as file:
            data = file.read()
        answer = transcribe(server, data)
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert found["text"] == recognizer.transcribe(path)[0]
        assert found["words"] is None
        assert found["duration"] == pytest.approx(soundfile.info(path).duration)
        heard.append(found["text"])
    assert any(heard)  # the tiny model hears something, so equal texts mean something


def test_timestamps_beam_search_and_wrapped_base64_equal_the_library(
    server, recognizer, test_paths
):
    path = test_paths[0]
    with open(path, "rb") as file:
        data = file.read()
    body = {"audio": base64.encodebytes(data).decode("ascii"), "timestamps": True}  # 76-char lines
    found = server.post("/transcribe", json={**body, "method": "beam", "beam_size": 4}).json()
    (expected,) = recognizer.transcribe(path, method="beam", beam_size=4, timestamps=True)
    assert found["text"] == expected["text"]
    assert found["words"] == [pytest.approx(word) for word in expected["words"]]
    assert [w["word"] for w in found["words"]] == expected["text"].split()


@pytest.mark.parametrize(("fmt", "rate", "channels"), [("FLAC", 44100, 2), ("OGG", 22050, 1)])
def test_other_formats_rates_and_channels_equal_the_library(
    server, recognizer, test_paths, tmp_path, fmt, rate, channels
):
    samples, _ = soundfile.read(test_paths[1], dtype="float32")
    samples = resample_poly(samples, rate // math.gcd(rate, 16000), 16000 // math.gcd(rate, 16000))
    if channels == 2:  # the right channel quieter: the mix-down is their mean
        samples = np.stack([samples, 0.5 * samples], axis=1)
    path = tmp_path / f"a.{fmt.lower()}"
    soundfile.write(path, samples, rate, format=fmt)
    found = transcribe(server, path.read_bytes(), timestamps=True).json()
    (expected,) = recognizer.transcribe(path, timestamps=True)
    assert found["text"] == expected["text"]
    assert found["words"] == [pytest.approx(word) for word in expected["words"]]
    assert found["duration"] == pytest.approx(len(samples) / rate)


def test_a_batch_of_uploads_equals_them_one_by_one(recognizer, test_paths):
    limits = Limits()
    endpoint = transcribe_handler(recognizer, limits)
    request = request_models(limits)["transcribe"]
    uploads = []
    for path in test_paths[:5]:
        with open(path, "rb") as file:
            uploads.append(endpoint.prepare(request(audio=encoded(file.read()))))
    assert len({transcribe_key(u) for u in uploads}) == 1  # the worker may batch them
    found = endpoint.run(uploads)
    assert [f["text"] for f in found] == [recognizer.transcribe(p)[0] for p in test_paths[:5]]


def test_uploads_share_a_batch_only_with_equal_options_and_rate(recognizer):
    endpoint = transcribe_handler(recognizer, Limits())
    request = request_models(Limits())["transcribe"]

    def key(rate=16000, **options):
        return transcribe_key(
            endpoint.prepare(request(audio=encoded(audio_file(tone(0.5, rate), rate)), **options))
        )

    assert key(beam_size=3) == key(beam_size=5) == key(timestamps=True)  # greedy: no beam
    assert key(method="beam", beam_size=3) != key(method="beam", beam_size=5)
    assert key(rate=8000) != key()


# ---------------------------------------------------------------------------- refusals
# fmt: off
BAD = [
    (lambda: {"audio": "not base64!"}, 422,
     "audio: expected the audio file's bytes in base64, got text that is not base64"),
    (lambda: {"audio": "UklGRg=="}, 415,
     "audio: expected a WAV, FLAC, OGG or MP3 file, got bytes libsndfile cannot read: "
     "Format not recognised"),
    (lambda: {"audio": encoded(b"%PNG\r\n\x1a\n" + bytes(100))}, 415,
     "audio: expected a WAV, FLAC, OGG or MP3 file, got bytes libsndfile cannot read"),
    (lambda: {"audio": ""}, 422, "audio: expected some text, got an empty string"),
    (lambda: {"audio": " \n"}, 422, "audio: expected the bytes of an audio file, got none"),
    (lambda: {"audio": 5}, 422, "audio: expected text (a JSON string), got 5"),
    (lambda: {}, 422, "audio: expected a value, got none"),
    (lambda: {"audio": encoded(audio_file(np.zeros(0)))}, 422,
     "audio: expected audio samples, got none (an empty file)"),
    (lambda: {"audio": encoded(audio_file(np.zeros(8000)))}, 422,
     "audio: silent audio (peak -inf dBFS); expected a peak above -60 dBFS"),
    (lambda: {"audio": encoded(audio_file(np.full(800, np.nan), subtype="FLOAT"))}, 422,
     "audio: expected finite samples, got NaN or inf"),
    (lambda: {"audio": encoded(audio_file(tone(0.1, 384000), 384000))}, 422,
     "audio: expected a sample rate of 1 to 192000 Hz, got 384000 Hz"),
    (lambda: {"audio": encoded(audio_file(tone(2.5)))}, 413,
     "audio: expected at most 2 s of audio (the model's max_seconds), got 2.50 s"),
    (lambda: {"audio": encoded(audio_file(tone(0.5))), "method": "viterbi"}, 422,
     "method: expected one of 'greedy' or 'beam', got \"viterbi\""),
    (lambda: {"audio": encoded(audio_file(tone(0.5))), "beam_size": 17}, 422,
     "beam_size: expected at most 16, got 17"),
    (lambda: {"audio": encoded(audio_file(tone(0.5))), "timestamps": "yes"}, 422,
     "timestamps: expected true or false, got \"yes\""),
    (lambda: {"audio": encoded(audio_file(tone(0.5))), "language": "en"}, 422,
     "language: unknown field; expected one of audio, beam_size, method, timestamps"),
]
# fmt: on


@pytest.mark.parametrize(("body", "status", "message"), BAD, ids=[c[2][:40] for c in BAD])
def test_bad_uploads_get_a_4xx_and_a_one_line_message(server, body, status, message):
    answer = server.post("/transcribe", json=body())
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error.startswith(message)
    assert "\n" not in error


def test_the_server_limits_when_below_the_models(small_server):
    answer = transcribe(small_server, audio_file(tone(1.5)))  # 48044 bytes
    assert answer.status_code == 413
    assert answer.json()["error"] == "audio: expected at most 40000 bytes, got 48044"
    answer = transcribe(small_server, audio_file(tone(1.2)))  # 38444 bytes
    assert answer.status_code == 413
    assert answer.json()["error"] == (
        "audio: expected at most 1 s of audio (the server's max_seconds), got 1.20 s"
    )
    assert transcribe(small_server, audio_file(tone(1.0))).status_code == 200


def test_the_body_limit_fits_the_largest_audio_in_base64(server, small_server):
    largest = 4 * math.ceil((8 << 20) / 3) + 4096  # Limits().max_audio_bytes, base64, options
    answer = server.post("/transcribe", content=b"x" * (largest + 1))
    assert answer.status_code == 413
    assert answer.json()["error"] == f"body: expected at most {largest} bytes, got {largest + 1}"
    answer = server.post("/transcribe", content=b"x" * largest)
    assert answer.status_code == 422  # read, then refused as not JSON
    # 40000 bytes in base64 need less than the 1 MiB every server allows.
    answer = small_server.post("/transcribe", content=b"x" * ((1 << 20) + 1))
    assert answer.json()["error"] == f"body: expected at most {1 << 20} bytes, got {(1 << 20) + 1}"


def test_size_and_duration_are_refused_before_any_sample_is_decoded(small_server, monkeypatch):
    too_large, too_long = audio_file(tone(1.5)), audio_file(tone(1.2))
    fine = audio_file(tone(0.6))
    reads = []
    original = soundfile.SoundFile.read

    def read(self, *args, **kwargs):
        reads.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(soundfile.SoundFile, "read", read)
    assert transcribe(small_server, too_large).status_code == 413
    assert transcribe(small_server, too_long).status_code == 413
    assert transcribe(small_server, b"not audio at all").status_code == 415
    assert reads == []
    assert transcribe(small_server, fine).status_code == 200
    assert reads  # the spy sees decoding when it happens


# ---------------------------------------------------------------------------- the service
def test_health_docs_and_other_kinds_endpoints(server):
    health = server.get("/health").json()
    assert (health["kind"], health["endpoints"]) == ("speech", ["/transcribe"])
    assert health["limits"]["max_seconds"] == 30.0
    spec = server.get("/openapi.json").json()
    assert sorted(spec["paths"]) == ["/health", "/transcribe"]
    assert {"413", "415", "422"} <= set(spec["paths"]["/transcribe"]["post"]["responses"])
    request = spec["components"]["schemas"]["TranscribeRequest"]
    assert request["properties"]["beam_size"]["maximum"] == 16
    assert request["additionalProperties"] is False
    answer = server.post("/predict", json={"text": "a"})
    assert answer.status_code == 409
    assert answer.json()["error"].startswith(
        "/predict: expected a server of a language model, got one of a speech recogniser"
    )


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_seconds": 0}, "max_seconds: expected a number of seconds > 0, got 0"),
        ({"max_seconds": math.nan}, "max_seconds: expected a number of seconds > 0, got nan"),
        ({"max_audio_bytes": 0}, "max_audio_bytes: expected a positive integer, got 0"),
    ],
)
def test_limits_name_a_bad_audio_limit(limits, message):
    with pytest.raises(UserError, match=f"^{message}$"):
        Limits(**limits)
