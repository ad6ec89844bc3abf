"""The bad-input sweep's cases for runs and files: locks, --out, interrupted runs (issue 23,
section 4).
"""

from __future__ import annotations

from pathlib import Path

from bad_input_case import Case

CASES: list[Case] = []


def prepare(ws: Path) -> None:
    """Adds what these cases need to the sweep's workspace (after its tiny runs are trained)."""
