"""One case of the bad-input sweep (``bad_input_cases.py`` lists them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple


class Case(NamedTuple):
    id: str
    what: str  # the bad input, in words
    args: str  # the command line; {ws} is the workspace
    expected: str  # a substring of the message, with the workspace written <tmp>
    # argparse rejects the command line itself (a flag's value, an unknown flag): its line
    # ("argument --lr: ...") ends with "(see lstmkit CMD --help)" instead of the usage lines
    usage: bool = False
    option: str | None = None  # the flag the message is about: it starts the message
    file: str | None = None  # a file or folder of the workspace that the message names
    line: int | None = None  # the line of ``file`` it names, as FILE:LINE
    # run on the case's own copy of the workspace before the command (e.g. make a FIFO, which
    # cannot be copied)
    setup: Callable[[Path], None] | None = None
