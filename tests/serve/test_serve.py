"""The HTTP service on a real uvicorn server on loopback: answers equal the library's own for
the same input, concurrent requests are batched invisibly, bad input gets a 4xx and a clear
message (never a 500), and the other kind's endpoints say which kind is loaded."""

import asyncio
import contextlib
import json
import math
import threading
import time
import warnings

import httpx
import numpy as np
import pandas as pd
import pytest
import torch
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmkit.cli.serve import bind
from lstmkit.data import Pairs
from lstmkit.data.calendar import stamp_text
from lstmkit.errors import Notice
from lstmkit.forecast import Forecaster
from lstmkit.lm import LanguageModel
from lstmkit.seq2seq import Seq2Seq
from lstmkit.serve import Limits, create_app, server_config
from lstmkit.serve.schemas import MAX_SEED

TEXT = "the cat sat on the mat\n" * 40
WORDS = ["a", "b", "c", "d"]
H = 4  # the forecaster's horizon


@contextlib.contextmanager
def serving(directory, limits=None, api_key=None):
    """A real uvicorn server for ``directory`` on a free loopback port, in a thread, configured
    as ``lstmkit serve`` configures it."""
    app = create_app(directory, limits, api_key)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(server_config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        time.sleep(0.01)
    try:
        yield app, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "run"
    LanguageModel(
        "char",
        model={
            "embedding_size": 16,
            "hidden_size": 32,
            "num_layers": 1,
            "dropout": 0.0,
            "layer_dropout": 0.0,
        },
        batch_size=4,
        bptt=16,
        optim={"lr": 0.01},
        train={"epochs": 3},
    ).fit(TEXT, valid=TEXT[:200], out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def s2s_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("s2s") / "run"
    s2s = Seq2Seq(
        "word",
        "word",
        model={
            "embedding_size": 16,
            "hidden_size": 32,
            "num_layers": 1,
            "dropout": 0.0,
            "attention": "luong",
        },
        batch_size=16,
        optim={"lr": 0.02},
        train={"epochs": 3},
    )
    s2s.fit(reverse_pairs(120), valid=reverse_pairs(20, 1), out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def fc_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fc") / "run"
    Forecaster(
        horizon=H,
        model={"hidden_size": 8, "num_layers": 1},
        batch_size=8,
        batches_per_epoch=3,
        train={"epochs": 2},
    ).fit(monthly(), out=out, progress=False)
    return out


def reverse_pairs(n, seed=0):
    rng = np.random.default_rng(seed)
    src = [" ".join(rng.choice(WORDS, 3)) for _ in range(n)]
    return Pairs(src, [" ".join(reversed(s.split())) for s in src])


def monthly(n=60):
    k = np.arange(n)
    y = 5 + 0.05 * k + np.sin(2 * np.pi * k / 12) + np.random.default_rng(0).normal(0, 0.1, n)
    return pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS"), "y": y})


@pytest.fixture(scope="module")
def lm_server(lm_dir):
    with serving(lm_dir) as (app, url):
        yield app, url


@pytest.fixture(scope="module")
def s2s_server(s2s_dir):
    with serving(s2s_dir) as (app, url):
        yield app, url


@pytest.fixture(scope="module")
def fc_server(fc_dir):
    with serving(fc_dir) as (app, url):
        yield app, url


def post(url, path, body):
    return httpx.post(url + path, json=body, timeout=30)


async def post_all(url, path, bodies):
    """Every request at once, from one event loop: they reach the server together."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        answers = await asyncio.gather(*(client.post(path, json=b) for b in bodies))
    return [a.json() for a in answers if a.raise_for_status()]


# ---------------------------------------------------------------------------- language model
def test_predict_equals_predict_next_and_next_word(lm_server, lm_dir):
    _, url = lm_server
    lm = LanguageModel.load(lm_dir)
    for text in ["the cat sat on the m", "t", "the mat\nthe c"]:
        answer = post(url, "/predict", {"text": text, "top_k": 4, "next_word": True}).json()
        expected = lm.predict_next(text, k=4)
        assert [n["token"] for n in answer["next"]] == [t for t, _ in expected]
        np.testing.assert_allclose(
            [n["prob"] for n in answer["next"]], [p for _, p in expected], rtol=1e-5
        )
        word, prob = lm.next_word(text)
        assert answer["next_word"]["word"] == word
        assert answer["next_word"]["prob"] == pytest.approx(prob, rel=1e-5)
        assert answer["notices"] == []


def test_predict_names_characters_the_vocabulary_lacks(lm_server, lm_dir):
    _, url = lm_server
    answer = post(url, "/predict", {"text": "the ÿ"}).json()
    assert answer["notices"] == ["prompt: mapped to <unk>: 'ÿ'"]
    with pytest.warns(Notice, match="mapped to <unk>: 'ÿ'"):
        expected = LanguageModel.load(lm_dir).predict_next("the ÿ")
    assert [n["token"] for n in answer["next"]] == [t for t, _ in expected]


def test_concurrent_predicts_of_different_lengths_equal_one_by_one(lm_server, lm_dir):
    _, url = lm_server
    lm = LanguageModel.load(lm_dir)
    texts = [TEXT[: 3 + 7 * k] for k in range(24)]  # padded differently in a shared batch
    answers = asyncio.run(post_all(url, "/predict", [{"text": t, "top_k": 3} for t in texts]))
    for text, answer in zip(texts, answers, strict=True):
        expected = lm.predict_next(text, k=3)
        assert [n["token"] for n in answer["next"]] == [t for t, _ in expected]
        np.testing.assert_allclose(
            [n["prob"] for n in answer["next"]], [p for _, p in expected], rtol=1e-5
        )


@pytest.mark.parametrize("temperature", [1e-300, 5e-324, 1e-45])
def test_generate_with_a_tiny_temperature_is_greedy(lm_server, lm_dir, temperature):
    _, url = lm_server
    answer = post(
        url, "/generate", {"prompt": "the c", "max_tokens": 12, "temperature": temperature}
    )
    assert answer.status_code == 200, answer.text
    lm = LanguageModel.load(lm_dir)  # the likeliest token each step, by hand
    logits, state = lm._read("the c")
    banned = [lm.tokenizer_.pad_id, lm.tokenizer_.unk_id, lm.tokenizer_.bos_id]
    tokens = []
    for _ in range(12):
        token = int(logits.index_fill(0, torch.tensor(banned), -math.inf).argmax())
        if token == lm.tokenizer_.eos_id:
            break
        tokens.append(token)
        logits, state = lm._step(token, state)
    assert answer.json()["text"] == lm.tokenizer_.decode(tokens)


def test_generate_with_a_seed_equals_the_library(lm_server, lm_dir):
    _, url = lm_server
    lm = LanguageModel.load(lm_dir)
    options = {"max_tokens": 30, "temperature": 0.8, "top_k": 5, "top_p": 0.95, "seed": 3}
    answer = post(url, "/generate", {"prompt": "the c", **options}).json()
    assert answer["text"] == lm.generate("the c", **options)
    other = post(url, "/generate", {"prompt": "the c", **options, "seed": 4}).json()
    assert other["text"] == lm.generate("the c", **options | {"seed": 4})


# ---------------------------------------------------------------------------- seq2seq
SENTENCES = ["a b c", "d d a", "  ", "c", "b a d c"]


def test_translate_greedy_beam_and_n_best_equal_the_library(s2s_server, s2s_dir):
    _, url = s2s_server
    s2s = Seq2Seq.load(s2s_dir)
    greedy = post(url, "/translate", {"sentences": SENTENCES, "method": "greedy"}).json()
    assert greedy["translations"] == s2s.translate(SENTENCES, method="greedy")
    beam = post(
        url, "/translate", {"sentences": SENTENCES, "beam_size": 3, "length_penalty": 1.0}
    ).json()
    assert beam["translations"] == s2s.translate(SENTENCES, beam_size=3, length_penalty=1.0)
    n_best = post(url, "/translate", {"sentences": SENTENCES, "beam_size": 3, "n_best": 2}).json()
    expected = s2s.translate(SENTENCES, beam_size=3, n_best=2)
    assert [[h["text"] for h in hyps] for hyps in n_best["n_best"]] == [
        [text for text, _ in hyps] for hyps in expected
    ]
    for hyps, want in zip(n_best["n_best"], expected, strict=True):
        assert [h["score"] for h in hyps] == pytest.approx([s for _, s in want], rel=1e-4)
    assert n_best["translations"] == [hyps[0][0] if hyps else "" for hyps in expected]


def test_32_concurrent_translations_equal_one_by_one(s2s_server, s2s_dir):
    app, url = s2s_server
    s2s = Seq2Seq.load(s2s_dir)
    pairs = reverse_pairs(64, seed=5)
    bodies = [
        {"sentences": pairs.src[2 * k : 2 * k + 1 + k % 2], "beam_size": 3} for k in range(32)
    ]
    before = app.state.worker.stats.jobs
    together = asyncio.run(post_all(url, "/translate", bodies))
    alone = [post(url, "/translate", body).json() for body in bodies]
    assert [a["translations"] for a in together] == [a["translations"] for a in alone]
    assert [a["translations"] for a in alone] == [
        s2s.translate(b["sentences"], beam_size=3) for b in bodies
    ]
    assert app.state.worker.stats.jobs - before == 64


# ---------------------------------------------------------------------------- forecaster
def records(table, quantiles=True):
    if not quantiles:
        table = table[["series", "time", "forecast"]]
    return table.assign(time=[stamp_text(t) for t in table["time"]]).to_dict("records")


def assert_rows_equal(answer, expected):
    assert [{k: v for k, v in r.items() if not isinstance(v, float)} for r in answer] == [
        {k: v for k, v in r.items() if not isinstance(v, float)} for r in expected
    ]
    for got, want in zip(answer, expected, strict=True):
        assert list(got) == list(want)
        assert [got[k] for k in got if isinstance(want[k], float)] == pytest.approx(
            [v for v in want.values() if isinstance(v, float)], rel=1e-6
        )


def test_forecast_equals_the_library(fc_server, fc_dir):
    _, url = fc_server
    fc = Forecaster.load(fc_dir)
    answer = post(url, "/forecast", {}).json()
    assert_rows_equal(answer["forecast"], records(fc.predict()))
    df = monthly(50)
    history = [
        {"time": str(t.date()), "value": v} for t, v in zip(df["month"], df["y"], strict=True)
    ]
    want = fc.predict(2, data=df.rename(columns={"y": "sales"}), target="sales")
    answer = post(url, "/forecast", {"history": history, "name": "sales", "horizon": 2}).json()
    assert_rows_equal(answer["forecast"], records(want))
    assert [r["time"] for r in answer["forecast"]] == ["2004-03-01", "2004-04-01"]
    body = {
        "values": df["y"].tolist(),
        "start": "2000-01-01",
        "name": "sales",
        "horizon": 2,
        "quantiles": False,
    }
    answer = post(url, "/forecast", body).json()
    assert_rows_equal(answer["forecast"], records(want, quantiles=False))


def test_concurrent_forecasts_are_batched_and_equal_the_library(fc_server, fc_dir):
    app, url = fc_server
    fc = Forecaster.load(fc_dir)
    df = monthly(80)
    bodies, wanted = [], []
    for k in range(16):  # histories of several lengths and levels, names, horizons, columns
        n, name, horizon = 36 + 2 * k, f"s{k % 3}", 1 + k % H
        part = df.iloc[:n].assign(y=df["y"].iloc[:n] * (1 + k / 10))
        bodies.append(
            {
                "values": part["y"].tolist(),
                "start": "2000-01-01",
                "name": name,
                "horizon": horizon,
                "quantiles": k % 2 == 0,
            }
        )
        want = fc.predict(horizon, data=part.rename(columns={"y": name}), target=name)
        wanted.append(records(want, quantiles=k % 2 == 0))
    bodies.append({})  # after the training series
    wanted.append(records(fc.predict()))
    largest = app.state.worker.stats.largest
    for answer, want in zip(asyncio.run(post_all(url, "/forecast", bodies)), wanted, strict=True):
        assert_rows_equal(answer["forecast"], want)
    assert app.state.worker.stats.largest > max(1, largest)  # requests shared a batch
    # A request too short for the look-back fails alone; its batch mates still get theirs.
    short = {"values": [1.0, 2.0], "start": "2000-01-01"}

    async def send():
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            posts = (client.post("/forecast", json=b) for b in [short, *bodies[:4]])
            return await asyncio.gather(*posts)

    failed, *answers = asyncio.run(send())
    assert failed.status_code == 422
    assert "expected at least 36 steps" in failed.json()["error"]
    for answer, want in zip(answers, wanted[:4], strict=True):
        assert_rows_equal(answer.json()["forecast"], want)


# ---------------------------------------------------------------------------- bad input
LONG = "x" * 2001
# fmt: off
BAD = [  # (server, path, body as JSON text, status, the message or a part of it)
    ("lm", "/predict", '{"text": 5}', 422, "text: expected text (a JSON string), got 5"),
    ("lm", "/predict", '{"text": ""}', 422, "text: expected some text, got an empty string"),
    ("lm", "/predict", json.dumps({"text": LONG}), 422,
     "text: expected at most 2000 characters, got 2001"),
    ("lm", "/predict", '{"text": "a", "top_k": 0}', 422, "top_k: expected at least 1, got 0"),
    ("lm", "/predict", '{"text": "a", "top_k": "3"}', 422, 'top_k: expected an integer, got "3"'),
    ("lm", "/predict", '{"text": "a", "top_k": true}', 422, "top_k: expected an integer, got true"),
    ("lm", "/predict", '{"text": "a", "topk": 3}', 422,
     "topk: unknown field; expected one of next_word, text, top_k"),
    ("lm", "/predict", '{"text": "a"', 400, "body: expected valid JSON, got an error at"),
    ("lm", "/predict", "[1, 2]", 422, "body: expected a JSON object, got [1, 2]"),
    ("lm", "/predict", "", 422, "body: expected a JSON object, got none"),
    ("lm", "/generate", '{"max_tokens": 100000}', 422, "max_tokens: expected at most 500"),
    ("lm", "/generate", '{"temperature": 0}', 422, "temperature: expected more than 0, got 0"),
    ("lm", "/generate", '{"top_p": 1.5}', 422, "top_p: expected at most 1, got 1.5"),
    ("lm", "/generate", '{"temperature": NaN}', 422, "temperature: expected a finite number"),
    ("lm", "/translate", '{"sentences": ["a"]}', 409,
     "/translate: expected a server of a seq2seq model, got one of a language model"),
    ("lm", "/nowhere", "{}", 404, "/nowhere: no such endpoint; expected one of /health"),
    ("s2s", "/translate", json.dumps({"sentences": ["a"] * 33}), 422,
     "sentences: expected at most 32 items, got 33"),
    ("s2s", "/translate", '{"sentences": []}', 422, "sentences: expected at least 1 item, got 0"),
    ("s2s", "/translate", '{"sentences": "a b"}', 422, "sentences: expected a list"),
    ("s2s", "/translate", json.dumps({"sentences": ["a", LONG]}), 422,
     "sentences[1]: expected at most 2000 characters, got 2001"),
    ("s2s", "/translate", '{"sentences": ["a", 3]}', 422, "sentences[1]: expected text"),
    ("s2s", "/translate", '{"sentences": ["a"], "method": "sample"}', 422,
     "method: expected one of 'greedy' or 'beam', got \"sample\""),
    ("s2s", "/translate", '{"sentences": ["a"], "beam_size": 99}', 422,
     "beam_size: expected at most 16, got 99"),
    ("s2s", "/translate", '{"sentences": ["a"], "method": "greedy", "n_best": 2}', 422,
     "n_best: expected only with method 'beam', got 'greedy'"),
    ("s2s", "/translate", '{"sentences": ["a"], "beam_size": 2, "n_best": 3}', 422,
     "n_best: expected at most beam_size 2, got 3"),
    ("s2s", "/predict", '{"text": "a"}', 409,
     "/predict: expected a server of a language model, got one of a seq2seq model"),
    ("fc", "/forecast", '{"horizon": 5}', 422, f"horizon: expected at most {H}, got 5"),
    ("fc", "/forecast", '{"values": [1, 2], "history": [{"time": "2000-01-01", "value": 1}]}',
     422, "history, values: expected one of them, got both"),
    ("fc", "/forecast", '{"values": [1, 2, 3]}', 422,
     "start: expected the time of values[0] with values, got none"),
    ("fc", "/forecast", '{"values": [1, 2, 3], "start": "tomorrow-ish"}', 422,
     "start: expected a timestamp such as 2020-01-01, got 'tomorrow-ish'"),
    ("fc", "/forecast", '{"values": [1, 2, 3], "start": "2000-01-01", "freq": "fortnightly"}',
     422, "freq: expected a pandas frequency"),
    ("fc", "/forecast", '{"values": [1, 2, 3], "start": "2000-01-01"}', 422,
     "expected at least"),  # fewer steps than the look-back: the library's own message
    ("fc", "/forecast", '{"history": [{"time": "2000-01-01", "value": 1}, '
     '{"time": "someday", "value": 2}]}', 422, "history[1]"),
    ("fc", "/forecast", '{"values": [1, NaN], "start": "2000-01-01"}', 422,
     "values[1]: expected a finite number, got NaN"),
    ("fc", "/forecast", '{"history": [{"time": "2000-01-01", "value": Infinity}]}', 422,
     "history[0].value: expected a finite number"),
    ("fc", "/forecast", '{"history": [{"time": "2000-01-01", "value": 1, "unit": "kg"}]}', 422,
     "history[0].unit: unknown field; expected one of time, value"),
    ("fc", "/generate", "{}", 409,
     "/generate: expected a server of a language model, got one of a forecaster"),
]
# fmt: on


@pytest.mark.parametrize(
    ("server", "path", "body", "status", "message"),
    BAD,
    ids=[f"{c[0]}{c[1]}-{k}" for k, c in enumerate(BAD)],
)
def test_bad_input_gets_a_4xx_and_a_clear_message(request, server, path, body, status, message):
    _, url = request.getfixturevalue(f"{server}_server")
    answer = httpx.post(
        url + path, content=body, timeout=30, headers={"content-type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


def test_wrong_methods_and_non_json_bodies_are_4xx(lm_server):
    _, url = lm_server
    answer = httpx.get(url + "/predict")
    assert answer.status_code == 405
    assert answer.json()["error"] == "GET /predict: method not allowed; expected POST"
    answer = httpx.post(url + "/predict", content=b"text=hello")
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("body: expected a JSON object")
    answer = httpx.post(url + "/predict", content=b"x" * (2 << 20))
    assert answer.status_code == 413
    assert answer.json()["error"].startswith("body: expected at most")


def test_a_full_queue_answers_503_while_health_still_answers(lm_dir):
    release = threading.Event()
    with serving(lm_dir, Limits(queue=1)) as (app, url):
        worker = app.state.worker
        worker.handlers["block"] = lambda payloads: [release.wait(30) for _ in payloads]
        running = worker.submit(("block",), None)
        while not running.future.running():  # the worker holds the first job
            time.sleep(0.01)
        waiting = worker.submit(("block",), None)  # fills the queue
        answer = post(url, "/predict", {"text": "the"})
        health = httpx.get(url + "/health", timeout=30)  # the event loop is not blocked
        release.set()
        assert (health.status_code, health.json()["queue_depth"]) == (200, 1)
        assert waiting.future.result(timeout=30) is True
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"] == (
            "server busy: 1 requests are waiting for the model; retry later"
        )
        assert post(url, "/predict", {"text": "the"}).status_code == 200


# ---------------------------------------------------------------------------- health and docs
def test_health_names_the_model_and_its_endpoints(lm_server, lm_dir):
    _, url = lm_server
    health = httpx.get(url + "/health").json()
    assert health["status"] == "ok"
    assert health["kind"] == "lm"
    assert health["model"] == str(lm_dir / "best")
    assert health["endpoints"] == ["/predict", "/generate"]
    assert health["queue_depth"] == 0
    assert health["limits"]["max_text_chars"] == 2000
    assert math.isfinite(health["uptime_s"])


def test_docs_and_openapi_show_the_active_endpoints_and_their_limits(s2s_server):
    _, url = s2s_server
    docs = httpx.get(url + "/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = httpx.get(url + "/openapi.json").json()
    assert sorted(spec["paths"]) == ["/health", "/translate"]
    request = spec["components"]["schemas"]["TranslateRequest"]
    assert request["properties"]["sentences"]["maxItems"] == 32
    assert request["additionalProperties"] is False


def test_no_warnings_escape_as_errors(lm_server):
    _, url = lm_server
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert post(url, "/predict", {"text": "the ÿ"}).status_code == 200


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = (
    "text top_k next_word prompt max_tokens temperature top_p seed sentences method "
    "beam_size n_best history values"
).split()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(["/predict", "/generate", "/translate", "/forecast"]),
    body=JSON | st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4),
)
def test_no_json_body_gets_a_500(lm_server, path, body):
    _, url = lm_server
    answer = httpx.post(
        url + path,
        content=json.dumps(body),
        timeout=30,
        headers={"content-type": "application/json"},
    )
    assert answer.status_code < 500, answer.text
    if answer.status_code != 200:
        assert answer.json()["error"]


# Every request each endpoint's schema lets through, extremes included, gets an answer < 500.
TEXTS = st.text(max_size=30) | st.sampled_from(["<unk>", "<pad>", "<eos>", "<bos>", "\x00", "😀"])
TINY = st.sampled_from([5e-324, 1e-300, 1e-45, 1e-8])
TIMES = st.text(min_size=1, max_size=40) | st.sampled_from(
    ["2000-01-01", "1677-09-21", "2262-04-12", "9999-12-31", "0001-01-01", "2000-02-30", "now"]
)
FREQS = st.text(min_size=1, max_size=20) | st.sampled_from(
    ["MS", "D", "h", "min", "s", "ns", "W", "YS", "QS", "B", "0D", "-1D", "1000000000D", "M"]
)
FINITE = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e308, -1e308, 0.0])
GENERATE = st.fixed_dictionaries(
    {},
    optional={
        "prompt": TEXTS,
        "max_tokens": st.integers(1, 500),
        "temperature": st.floats(0, 100, exclude_min=True) | TINY,
        "top_k": st.none() | st.integers(1, 100),
        "top_p": st.none() | st.floats(0, 1, exclude_min=True) | TINY,
        "seed": st.none() | st.integers(0, MAX_SEED),
    },
)
PREDICT = st.fixed_dictionaries(
    {"text": TEXTS.filter(bool)},
    optional={"top_k": st.integers(1, 100), "next_word": st.booleans()},
)


@st.composite
def translations(draw):
    body = {"sentences": draw(st.lists(TEXTS, min_size=1, max_size=4))}
    body["method"] = draw(st.sampled_from(["greedy", "beam"]))
    body["beam_size"] = draw(st.integers(1, 16))
    body["length_penalty"] = draw(st.floats(0, 10))
    body["max_len"] = draw(st.integers(1, 500))
    if body["method"] == "beam" and draw(st.booleans()):
        body["n_best"] = draw(st.integers(1, body["beam_size"]))
    return body


POINT = st.fixed_dictionaries({"time": TIMES, "value": FINITE})
FORECAST = st.one_of(
    st.fixed_dictionaries({"history": st.lists(POINT, min_size=1, max_size=40)}),
    st.fixed_dictionaries(
        {"values": st.lists(FINITE, min_size=1, max_size=60), "start": TIMES},
        optional={"freq": FREQS},
    ),
    st.just({}),
).flatmap(
    lambda body: st.fixed_dictionaries(
        {k: st.just(v) for k, v in body.items()},
        optional={
            "name": st.text(min_size=1, max_size=100) | st.sampled_from(["time", "series"]),
            "horizon": st.integers(1, H),
            "quantiles": st.booleans(),
        },
    )
)
SCHEMAS = {
    ("lm", "/predict"): PREDICT,
    ("lm", "/generate"): GENERATE,
    ("s2s", "/translate"): translations(),
    ("fc", "/forecast"): FORECAST,
}


@pytest.mark.parametrize(("server", "path"), list(SCHEMAS), ids=lambda v: v.strip("/"))
def test_no_request_the_schema_allows_gets_a_500(request, server, path):
    _, url = request.getfixturevalue(f"{server}_server")

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=SCHEMAS[server, path])
    def check(body):
        answer = httpx.post(url + path, json=body, timeout=60)
        assert answer.status_code < 500, (body, answer.text)
        if answer.status_code != 200:
            assert answer.status_code == 422, (body, answer.text)
            assert answer.json()["error"]

    check()
