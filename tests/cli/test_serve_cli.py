"""`lstmkit serve`: a real server from the command line, stopped with Ctrl-C, and bad options."""

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from lstmkit.cli.main import main
from lstmkit.lm import LanguageModel

TEXT = "the cat sat on the mat\n" * 20


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("serve") / "run"
    LanguageModel(
        "char",
        model={"embedding_size": 8, "hidden_size": 16, "num_layers": 1},
        batch_size=2,
        bptt=8,
        train={"epochs": 1},
    ).fit(TEXT, valid=TEXT[:100], out=out, progress=False)
    return out


def start(run_dir, *args, **env) -> subprocess.Popen:
    """``lstmkit serve run_dir --port 0 ARGS`` in a process of its own, without LSTMKIT_API_KEY
    unless ``env`` sets it."""
    inherited = {k: v for k, v in os.environ.items() if k != "LSTMKIT_API_KEY"}
    return subprocess.Popen(
        [sys.executable, "-m", "lstmkit", "serve", str(run_dir), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**inherited, "OMP_NUM_THREADS": "1", **env},
    )


def stop(server: subprocess.Popen) -> str:
    """Ctrl-C, and what the server printed on stderr."""
    try:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    return err


def test_serves_answers_and_stops_cleanly_on_ctrl_c(run_dir):
    server = start(run_dir, "--max-batch", "4")
    try:
        line = server.stdout.readline()  # printed once the model is loaded and the port bound
        assert line.startswith(f"serving {run_dir} at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].split()[0]
        assert f"(API docs: {url}/docs)" in line
        health = httpx.get(url + "/health", timeout=30).json()
        assert (health["kind"], health["limits"]["max_batch"]) == ("lm", 4)
        answer = httpx.post(url + "/predict", json={"text": "the c", "top_k": 2}, timeout=30)
        expected = LanguageModel.load(run_dir).predict_next("the c", k=2)
        assert [n["token"] for n in answer.json()["next"]] == [t for t, _ in expected]
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "Traceback" not in err
    assert err.strip().endswith("stopped")


def test_the_key_from_the_environment_guards_every_endpoint_beyond_loopback(run_dir):
    server = start(run_dir, "--host", "0.0.0.0", LSTMKIT_API_KEY="k3y-from-env")
    try:
        line = server.stdout.readline()
        port = line.split(" at ", 1)[1].split()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/health", timeout=30).status_code == 401
        wrong = httpx.get(url + "/health", headers={"x-api-key": "k3y"}, timeout=30)
        assert wrong.status_code == 401
        good = {"authorization": "Bearer k3y-from-env"}
        assert httpx.get(url + "/health", headers=good, timeout=30).status_code == 200
    finally:
        err = stop(server)
    assert "warning" not in err


def test_serving_beyond_loopback_without_a_key_warns(run_dir):
    server = start(run_dir, "--host", "0.0.0.0", "--header-timeout", "2", "--body-timeout", "3")
    try:
        line = server.stdout.readline()
        assert line.startswith("serving ")
        port = line.split(" at ", 1)[1].split()[0].rsplit(":", 1)[1]
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).json()
        assert (health["limits"]["header_timeout"], health["limits"]["body_timeout"]) == (2, 3)
    finally:
        err = stop(server)
    warning = err.splitlines()[0]
    assert warning == (
        f"lstmkit serve: warning: listening on 0.0.0.0, beyond this machine, without an API "
        f"key: anyone who reaches http://0.0.0.0:{port} can use the model; set LSTMKIT_API_KEY "
        "or --api-key"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_key(host):
    from lstmkit.cli.serve import loopback

    assert loopback(host)
    assert not loopback("0.0.0.0")
    assert not loopback("::")


def test_a_key_a_header_cannot_carry_is_refused_naming_where_it_came_from(
    run_dir, capsys, monkeypatch
):
    err = fails([run_dir, "--api-key", "two words", "--port", "0"], capsys)
    assert err.startswith("lstmkit serve: error: --api-key: expected visible ASCII characters")
    assert err.count("\n") == 1
    monkeypatch.setenv("LSTMKIT_API_KEY", "")
    err = fails([run_dir, "--port", "0"], capsys)
    assert err == (
        "lstmkit serve: error: LSTMKIT_API_KEY: expected visible ASCII characters without "
        "spaces (such as Python's secrets.token_urlsafe(32) makes), got an empty key\n"
    )


def test_lm_generate_with_a_tiny_temperature_is_greedy(run_dir, capsys):
    # "lstmkit lm generate --temperature 1e-300" printed a traceback (NaN probabilities).
    args = ["lm", "generate", str(run_dir), "--prompt", "the c", "--max-tokens", "8"]
    assert main([*args, "--temperature", "1e-300", "--seed", "1"]) == 0
    tiny = capsys.readouterr().out
    assert main([*args, "--temperature", "1e-300", "--seed", "2"]) == 0
    assert capsys.readouterr().out == tiny  # greedy: the seed does not matter
    assert main([*args, "--temperature", "inf"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("lstmkit lm generate: error: ")
    assert "--temperature: expected a" in err


def fails(args, capsys) -> str:
    assert main(["serve", *map(str, args)]) == 2
    return capsys.readouterr().err


def test_a_missing_folder_is_one_line(tmp_path, capsys):
    err = fails([tmp_path / "missing", "--port", "0"], capsys)
    assert err.startswith("lstmkit serve: error: ")
    assert str(tmp_path / "missing") in err
    assert err.count("\n") == 1


def test_a_file_is_not_a_model(tmp_path, capsys):
    (tmp_path / "model.txt").write_text("hello")
    err = fails([tmp_path / "model.txt", "--port", "0"], capsys)
    assert err == (
        f"lstmkit serve: error: {tmp_path / 'model.txt'}: expected a checkpoint or a "
        "run folder, got a file\n"
    )


def test_a_port_in_use_is_refused_before_loading(run_dir, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        err = fails([run_dir, "--port", port], capsys)
    finally:
        taken.close()
    assert err.startswith(
        f"lstmkit serve: error: --port {port}: expected a free port on 127.0.0.1, got "
    )


def test_an_unknown_host_is_refused(run_dir, capsys):
    err = fails([run_dir, "--host", "no-such-host.invalid", "--port", "0"], capsys)
    assert err.startswith(
        "lstmkit serve: error: --host: expected an address of this machine, "
        "got 'no-such-host.invalid'"
    )


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--port", "70000", "expected a port 0-65535, got '70000'"),
        ("--port", "http", "expected a port 0-65535, got 'http'"),
        ("--max-batch", "0", "expected a positive integer, got '0'"),
        ("--max-text-chars", "-5", "expected a positive integer, got '-5'"),
        ("--queue", "many", "expected a positive integer, got 'many'"),
        ("--threads", "0", "expected a positive integer, got '0'"),
        ("--batch-wait-ms", "-1", "expected a number >= 0, got '-1'"),
        ("--header-timeout", "0", "expected seconds > 0, at most 86400, got '0'"),
        ("--body-timeout", "soon", "expected seconds > 0, at most 86400, got 'soon'"),
        ("--body-timeout", "inf", "expected seconds > 0, at most 86400, got 'inf'"),
    ],
)
def test_bad_options_exit_2_naming_the_flag(run_dir, capsys, flag, value, expected):
    err = fails([run_dir, flag, value], capsys)
    assert err.splitlines()[-1].startswith(f"lstmkit serve: error: argument {flag}: {expected}")


def test_a_bad_value_in_a_config_file_names_the_file_and_key(run_dir, tmp_path, capsys):
    (tmp_path / "serve.toml").write_text("max_batch = 0\n")
    err = fails([run_dir, "--config", tmp_path / "serve.toml"], capsys)
    assert err == (
        f"lstmkit serve: error: {tmp_path / 'serve.toml'}: max_batch: expected a "
        "positive integer, got 0\n"
    )
