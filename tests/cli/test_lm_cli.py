"""`lstmkit lm train|eval|predict|generate`: results, config files, resume, and bad input."""

import json
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from lstmkit.checkpoint import load_checkpoint
from lstmkit.cli.main import main
from lstmkit.lm import LanguageModel

TEXT = "".join(f"the cat sat on the mat number {i % 7}\n" for i in range(120))
TINY = (
    "--tokenizer char --embedding-size 8 --hidden-size 16 --num-layers 1 --batch-size 4 "
    "--bptt 16 --epochs 2 --no-progress"
).split()


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    return path


def train(*args, capsys=None) -> tuple[int, str, str]:
    code = main(["lm", "train", *TINY, *map(str, args)])
    out, err = capsys.readouterr() if capsys else ("", "")
    return code, out, err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "text.txt").write_text(TEXT)
    assert (
        main(
            ["lm", "train", *TINY, "--data", str(folder / "text.txt"), "--out", str(folder / "run")]
        )
        == 0
    )
    return folder / "run"


def test_train_writes_the_run_folder_and_reports_json(data, tmp_path, capsys):
    code, out, _ = train("--data", data, "--out", tmp_path / "run", "--json", capsys=capsys)
    assert code == 0
    result = json.loads(out)
    assert result["stopped"] == "epochs"
    assert result["epochs"] == 2
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    test_text = TEXT.split("\n", 114)[-1]  # the last 5% of the 120 lines
    expected = LanguageModel.load(tmp_path / "run").evaluate(test_text)
    assert result["test"]["loss"] == pytest.approx(expected["loss"])
    for name in ("last/model.safetensors", "best/tokenizer", "metrics.jsonl", "loss.png"):
        assert (tmp_path / "run" / name).exists()


def test_config_file_sets_options_and_flags_override_it(data, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  hidden_size: 12\n  dropout: 0.1\nlr: 0.02\n")
    assert (
        train("--data", data, "--out", tmp_path / "r", "--config", config, "--hidden-size", "10")[0]
        == 0
    )
    saved = load_checkpoint(tmp_path / "r" / "last").config
    assert saved["model"]["hidden_size"] == 10  # the flag
    assert saved["model"]["dropout"] == 0.1  # the file
    assert saved["optim"]["lr"] == 0.02


def test_toml_config_with_dashes(data, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('hidden-size = 9\n[optim]\nschedule = "cosine"\n')
    argv = [
        "lm",
        "train",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "r"),
        "--config",
        str(config),
        "--tokenizer",
        "char",
        "--epochs",
        "1",
        "--no-progress",
        "--bptt",
        "16",
    ]
    assert main(argv) == 0
    saved = load_checkpoint(tmp_path / "r" / "last").config
    assert saved["model"]["hidden_size"] == 9
    assert saved["optim"]["schedule"] == "cosine"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("hiden_size: 3\n", "unknown option 'hiden_size' (did you mean 'hidden_size'?)"),
        ("hidden_size: abc\n", "hidden_size: expected a positive integer, got 'abc'"),
        ("tie_weights: 1\n", "tie_weights: expected true or false"),
        ("cell: lstn\n", "cell: expected one of lstm, gru, rnn"),
        ("hidden_size: [1\n", "invalid YAML"),
    ],
)
def test_config_mistakes_name_the_file_and_key(data, tmp_path, capsys, content, message):
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    code, _, err = train("--data", data, "--out", tmp_path / "r", "--config", config, capsys=capsys)
    assert code == 2
    assert f"lstmkit lm train: error: {config}" in err
    assert message in err
    assert not (tmp_path / "r" / "last").exists()


def test_an_existing_run_is_kept_unless_overwrite(data, run_dir, tmp_path, capsys):
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    code, _, err = train("--data", data, "--out", run_dir, capsys=capsys)
    assert code == 2
    assert "pass --overwrite" in err
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_overwrite_replaces_the_old_run_entirely(data, tmp_path):
    out = tmp_path / "run"
    assert train("--data", data, "--out", out)[0] == 0
    assert (
        train("--data", data, "--out", out, "--overwrite", "--epochs", "1", "--max-steps", "3")[0]
        == 0
    )
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records) == 3  # nothing left of the first run's log


def test_resume_continues_exactly(data, tmp_path):
    assert train("--data", data, "--out", tmp_path / "a", "--max-steps", "20")[0] == 0
    assert main(["lm", "train", "--resume", str(tmp_path / "a"), "--no-progress"]) == 0
    assert train("--data", data, "--out", tmp_path / "b")[0] == 0
    a = load_file(tmp_path / "a" / "last" / "model.safetensors")
    b = load_file(tmp_path / "b" / "last" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a)


def test_resume_refuses_changed_model_options_and_data(data, tmp_path, capsys):
    assert train("--data", data, "--out", tmp_path / "a", "--max-steps", "5")[0] == 0
    code = main(["lm", "train", "--resume", str(tmp_path / "a"), "--hidden-size", "32"])
    assert code == 2
    assert "--hidden-size: fixed by the run being resumed" in capsys.readouterr().err
    data.write_text(TEXT.replace("cat", "dog"))
    code = main(["lm", "train", "--resume", str(tmp_path / "a"), "--data", str(data)])
    assert code == 2
    assert "training text differs" in capsys.readouterr().err


def test_eval_json_matches_the_python_api(run_dir, data, capsys):
    assert main(["lm", "eval", str(run_dir), "--data", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    expected = LanguageModel.load(run_dir).evaluate(TEXT)
    assert result["loss"] == pytest.approx(expected["loss"])
    assert result["bpc"] == pytest.approx(expected["bpc"])
    assert result["model"].endswith("best")
    assert main(["lm", "eval", str(run_dir), "--data", str(data)]) == 0
    assert "bits per character" in capsys.readouterr().out


def test_predict_table_and_json(run_dir, capsys):
    assert (
        main(["lm", "predict", str(run_dir), "the cat sat on the m", "--top-k", "3", "--json"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)["next"]
    probs = LanguageModel.load(run_dir).predict_next("the cat sat on the m", 3)
    assert [(r["token"], pytest.approx(r["prob"])) for r in rows] == probs
    assert main(["lm", "predict", str(run_dir), "the cat"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["rank", "next", "token", "prob"]
    assert len(table) == 2 + 5


def test_predict_with_unknown_characters_prints_a_note(run_dir, capsys):
    assert main(["lm", "predict", str(run_dir), "Жthe"]) == 0
    assert "lstmkit lm predict: note: prompt: mapped to <unk>: 'Ж'" in capsys.readouterr().err


def test_generate_repeats_with_a_seed(run_dir, capsys):
    argv = [
        "lm",
        "generate",
        str(run_dir),
        "--prompt",
        "the ",
        "--max-tokens",
        "12",
        "--seed",
        "4",
        "--json",
    ]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert len(first["text"]) == 12


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "{run}"], "--data: expected the text to score"),
        (["eval", "{tmp}/nothing", "--data", "keywords"], "no such checkpoint directory"),
        (["eval", "{tmp}", "--data", "keywords"], "expected a checkpoint or a run folder"),
        (["predict", "{run}", "x", "--top-k", "0"], "argument --top-k: expected a positive"),
        (["train", "--data", "{tmp}/binary", "--out", "{tmp}/o"], "binary file"),
        (["train", "--data", "{tmp}/empty", "--out", "{tmp}/o"], "holds no text"),
        (
            "train --data {data} --out {tmp}/o --tokenizer char --bptt 99999".split(),
            "--bptt 99999 is longer than the data",
        ),
        (
            ["train", "--data", "{data}", "--out", "{tmp}/o", "--vocab-size", "1"],
            "--vocab-size: expected",
        ),
        (["train", "--data", "{data}"], "--out: expected the run folder"),
        (["train", "--resume", "{tmp}", "--out", "{tmp}/o"], "--resume"),
    ],
)
def test_bad_input_exits_2_with_one_line(run_dir, data, tmp_path, capsys, argv, message):
    (tmp_path / "binary").write_bytes(b"ab\x00cd")
    (tmp_path / "empty").write_text("")
    fill = {"run": run_dir, "tmp": tmp_path, "data": data}
    code = main(["lm", *(a.format(**fill) for a in argv)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_no_traceback_from_the_installed_command(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "lstmkit", "lm", "eval", str(tmp_path), "--data", "keywords"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
