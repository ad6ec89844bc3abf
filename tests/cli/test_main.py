"""The `lstmkit` command: entry points, `info`, the exit code for a missing command, and library
messages in the command line's words (its flags for the Python arguments they name)."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import lstmkit
from lstmkit import __version__
from lstmkit.cli import info
from lstmkit.cli.main import as_flags, build_parser, main
from lstmkit.errors import UserError


def test_info_json_reports_versions(capsys):
    assert main(["info", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["lstmkit"] == __version__
    assert facts["backends"] == ["fused", "explicit"]
    assert facts["threads"] >= 1


def test_info_table(capsys):
    assert main(["info"]) == 0
    assert "torch" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: lstmkit" in capsys.readouterr().out


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run(
        [sys.executable, "-m", "lstmkit", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"lstmkit {__version__}"


def test_unknown_option_exits_2_without_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "lstmkit", "info", "--bogus"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "--bogus" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_user_error_is_one_line_and_exit_code_2(monkeypatch, capsys):
    def fail(args):
        raise UserError("--data: no such file or folder: missing.txt")

    monkeypatch.setattr(info, "run", fail)
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err == "lstmkit info: error: --data: no such file or folder: missing.txt\n"


def test_estimators_load_from_the_top_level_on_first_use():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, lstmkit; print('torch' in sys.modules); "
            "from lstmkit import LanguageModel, Seq2Seq; print(LanguageModel.__module__, "
            "Seq2Seq.__module__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["False", "lstmkit.lm.estimator", "lstmkit.seq2seq.estimator"]


def _flags(argv: list[str], message: str) -> str:
    parser = build_parser()
    return as_flags(message, parser, parser.parse_args(argv))


def test_library_messages_name_flags_on_the_command_line():
    train = ["lm", "train", "--data", "a.txt", "--out", "runs/x"]
    assert _flags(train, "batch_size 64 is larger") == "--batch-size 64 is larger"
    assert _flags(train, "data and train: expected one") == "--data and --train: expected one"
    assert _flags(train, "valid/test: go with `train`; `data` is split by itself") == (
        "--valid/--test: go with --train; --data is split by itself"
    )
    assert _flags(train, "out runs/x: is not empty; pass `overwrite=True`") == (
        "--out runs/x: is not empty; pass --overwrite"
    )
    assert _flags(train, "data: expected a file, or `train=FILE`; got neither") == (
        "--data: expected a file, or --train FILE; got neither"
    )
    s2s = ["seq2seq", "train", "--src", "a.en", "--tgt", "a.fr", "--valid-src", "v.en"]
    assert _flags(s2s, "data: or `src=FILE, tgt=FILE`; got neither") == (
        "--data: or --src FILE --tgt FILE; got neither"
    )
    # A name before a value given on the command line, though not first.
    assert _flags(s2s, "src a.en has 3 lines, tgt a.fr has 2") == (
        "--src a.en has 3 lines, --tgt a.fr has 2"
    )
    assert _flags(s2s, "valid v.en has 1 lines") == "--valid v.en has 1 lines"
    assert _flags(s2s, "x: the tgt a.frx and tgt b") == "x: the tgt a.frx and tgt b"
    # A command's own name for a Python argument that is not the flag's dest.
    predict = ["lm", "predict", "runs/x", "the cat"]
    assert _flags(predict, "k: expected a positive integer, got 0") == (
        "--top-k: expected a positive integer, got 0"
    )


def test_values_from_the_config_file_name_their_flags_too(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("src: a.en\ntgt: a.fr\n")
    argv = ["seq2seq", "train", "--config", str(config)]
    assert _flags(argv, "src a.en has 3 lines, tgt a.fr has 2") == (
        "--src a.en has 3 lines, --tgt a.fr has 2"
    )
    config.write_text("tgt: [a.fr\n")  # unreadable: the command line's values alone
    assert _flags(argv, "src a.en, tgt a.fr") == "--src a.en, tgt a.fr"


def test_names_the_command_lacks_and_plain_words_stay():
    train = ["lm", "train", "--data", "a.txt"]
    for message in [
        "text: expected some text, got none",  # lm train has no --text
        "data, or src with ref: expected the sentences",
        "valid/src: mixed",  # not all are flags
        "tensorboard: needs the tensorboard package; pip install tensorboard",
        "series 'a': expected at least 10 (2 folds, horizon 3, step 3)",
        "pass `overwrite=True, src=FILE`",  # --src is not lm train's
        "--data: a command-line message already",
    ]:
        expected = message.replace("tensorboard:", "--tensorboard:", 1)
        assert _flags(train, message) == expected


def test_library_messages_name_python_arguments_not_flags():
    """``UserError("--flag: ...")`` belongs to the command line; the library names arguments."""
    root = Path(lstmkit.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.parts[len(root.parts)] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "UserError":
                text = "".join(
                    part.value
                    for part in ast.walk(node)
                    if isinstance(part, ast.Constant) and isinstance(part.value, str)
                )
                if re.search(r"(^|[\s/(])--\w", text):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {text}")
    assert not found, "\n".join(found)
