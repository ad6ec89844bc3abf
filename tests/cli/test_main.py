"""The `lstmkit` command: entry points, `info`, and the exit code for a missing command."""

import json
import subprocess
import sys

from lstmkit import __version__
from lstmkit.cli import info
from lstmkit.cli.main import main
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
        [sys.executable, "-c", "import sys, lstmkit; print('torch' in sys.modules); "
         "from lstmkit import LanguageModel, Seq2Seq; print(LanguageModel.__module__, "
         "Seq2Seq.__module__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["False", "lstmkit.lm.estimator", "lstmkit.seq2seq.estimator"]
