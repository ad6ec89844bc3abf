"""The bad-input sweep's cases for loading what you did not write: crafted or damaged run folders
and configs (issue 23, section 2).
"""

from __future__ import annotations

from pathlib import Path

from bad_input_case import Case

CASES: list[Case] = []


def prepare(ws: Path) -> None:
    """Adds what these cases need to the sweep's workspace (after its tiny runs are trained)."""
