"""The bad-input sweep's cases for the command line as a person uses it: options, config files
(issue 23, sections 4 and 5).
"""

from __future__ import annotations

from pathlib import Path

from bad_input_case import Case

CASES: list[Case] = []


def prepare(ws: Path) -> None:
    """Adds what these cases need to the sweep's workspace (after its tiny runs are trained)."""
