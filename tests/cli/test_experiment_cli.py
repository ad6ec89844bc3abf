"""`lstmkit experiment`: a tiny run of each problem writing its files, --json, bad options."""

import json

import pytest

from lstmkit.cli.main import main

TINY = "--length 10 --steps 6 --eval-every 3 --test-size 20 --hidden-size 4 --batch-size 4".split()


def test_a_tiny_run_writes_its_files_and_table(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "experiment",
            "adding",
            *TINY,
            "--cell",
            "lstm",
            "rnn",
            "--gradient-flow",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "cell" in table
    assert "steps to solve" in table
    assert "final mean |error|" in table
    assert table.count("max-steps") == 2  # each cell ran its 6 steps
    for name in ("results.json", "curves.png", "gradient_flow.png"):
        assert (out / name).stat().st_size > 0
    for cell in ("lstm", "rnn"):  # the trainer's run folders
        assert (out / cell / "last" / "model.safetensors").exists()
        assert (out / cell / "metrics.jsonl").exists()
    result = json.loads((out / "results.json").read_text())
    assert [c["cell"] for c in result["cells"]] == ["lstm", "rnn"]
    for cell in result["cells"]:
        assert cell["steps"] == 6
        assert [c["step"] for c in cell["curve"]] == [0, 3, 6]  # at init, every 3 steps
        assert len(cell["gradient_flow"]["init"]) == len(cell["gradient_flow"]["trained"]) == 10
        solved = [c["step"] for c in cell["curve"] if c["solved"] >= 0.95]
        assert cell["steps_to_solve"] == (solved[0] if solved else None)
        assert cell["final"]["error"] == cell["curve"][-1]["error"]


@pytest.mark.parametrize("problem", ["temporal-order", "copy"])
def test_json_for_the_classification_problems(tmp_path, capsys, problem):
    out = tmp_path / problem
    assert main(["experiment", problem, *TINY, "--cell", "gru", "--json", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["problem"] == problem
    assert result["length"] == 10
    (cell,) = result["cells"]
    assert cell["cell"] == "gru"
    assert 0 <= cell["final"]["solved"] <= 1
    assert result["files"] == [str(out / "results.json"), str(out / "curves.png")]
    assert json.loads((out / "results.json").read_text())["cells"][0]["steps"] == 6


def test_options_from_a_config_file(tmp_path, capsys):
    config = tmp_path / "exp.yaml"
    config.write_text(
        "length: 10\nsteps: 3\neval_every: 3\ntest-size: 8\nhidden_size: 4\n"
        "training:\n  cell: rnn gru\n  batch_size: 2\n"
    )
    out = tmp_path / "run"
    assert main(["experiment", "copy", "--config", str(config), "--json", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [c["cell"] for c in result["cells"]] == ["rnn", "gru"]
    assert result["config"]["batch_size"] == 2
    assert result["config"]["steps"] == 3


def test_default_out_is_numbered_not_overwritten(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["experiment", "adding", *TINY, "--cell", "rnn", "--json"]
    assert main(args) == 0
    assert main(args) == 0
    first, second = (json.loads(s) for s in _json_documents(capsys.readouterr().out))
    assert (first["out"], second["out"]) == ("experiment-adding-10", "experiment-adding-10-2")


def _json_documents(text: str) -> list[str]:
    decoder, docs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        doc, end = decoder.raw_decode(text, i)
        docs.append(json.dumps(doc))
        i = end + 1
    return docs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--length", "9"], "--length: expected an integer >= 10, got 9"),
        (["--cell", "lstm", "tcn"], "--cell: expected any of lstm, gru, rnn, got 'tcn'"),
        (["--cell", "lstm", "lstm"], "--cell: expected each cell at most once, got lstm lstm"),
        (["--lr", "0"], "argument --lr: expected a number > 0, got '0'"),
        (["--steps", "-1"], "argument --steps: expected a positive integer, got '-1'"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, args, message):
    assert main(["experiment", "adding", "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_a_used_out_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "used"
    out.mkdir()
    (out / "results.json").write_text("{}")
    assert main(["experiment", "adding", *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: is not empty" in err
    assert (out / "results.json").read_text() == "{}"


def test_a_bad_config_value_names_the_file_and_key(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('hidden_size = "big"\n')
    assert main(["experiment", "adding", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: hidden_size: expected a positive integer, got 'big'" in err


def test_unknown_problem_exits_2(capsys):
    assert main(["experiment", "parity"]) == 2
    assert "invalid choice: 'parity'" in capsys.readouterr().err
