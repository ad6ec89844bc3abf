"""The bad-input sweep: every command, fed bad input, exits 2 with one line and touches nothing.

The cases are in ``bad_input_cases.py``. Each runs in a copy of one workspace (input files, a run
folder per task, a "previous run" and a previous report); every file there is hashed before and
after, so a case that deleted, overwrote or created anything fails. Each message is checked
against what its case expects: a part of its text and, where the case gives them, the option it
starts with, the file and the line it names. ``scripts/bad_input_page.py`` writes every case and
its message to ``docs/bad-input.md``; this test does not read that page.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from bad_input_cases import (
    CASES,
    command,
    copy_workspace,
    error_line,
    make_workspace,
    run_main,
    snapshot,
)

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bad_input_page.py"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("sweep")
    make_workspace(ws)
    return ws


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, workspace, tmp_path):
    ws = tmp_path / "ws"
    copy_workspace(workspace, ws, case)
    before = snapshot(ws)
    code, stderr = run_main(case.args, ws)
    assert code == 2, stderr
    assert "Traceback" not in stderr
    line = error_line(case, stderr)
    prefix = f"{command(case)}: error: "
    assert line.startswith(prefix), line
    assert case.expected in line, line
    message = line.removeprefix(prefix)
    if case.option is not None:  # e.g. --freq: ..., or argparse's "argument --lr: ..."
        subject = message.removeprefix("argument ") if case.usage else message
        assert re.match(rf"{re.escape(case.option)}(?![\w-])", subject), line
    if case.file is not None:
        file = rf"<tmp>/{re.escape(case.file)}"
        assert re.search(rf"{file}(?![\w./-])", message), line  # that file, not a longer name
        if case.line is not None:
            assert re.search(rf"{file}:{case.line}(?!\d)", message), line
    assert snapshot(ws) == before  # nothing deleted, overwritten or created


def test_the_cases_are_well_formed():
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids) >= 30
    for case in CASES:
        assert case.option is None or re.fullmatch(r"--[a-z][a-z-]*", case.option), case.id
        assert case.line is None or case.file is not None, case.id
        assert case.file is None or not case.file.startswith("/"), case.id


def test_the_page_script_renders_every_case():
    spec = importlib.util.spec_from_file_location("bad_input_page", SCRIPT)
    page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page)
    lines = {c.id: f"{command(c)}: error: {c.expected} | {c.id}" for c in CASES}
    text = page.render(lines)
    assert text.startswith("# The bad-input sweep\n")
    assert "scripts/bad_input_page.py" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]  # after the header
    assert [row.split(" | ")[0][2:] for row in rows] == [c.id for c in CASES]
    first = CASES[0]
    assert rows[0] == page.row(first, lines[first.id])
    assert rows[0].endswith("`" + lines[first.id].replace(" | ", " \\| ") + "` | 2 |")
