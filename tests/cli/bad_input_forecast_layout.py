"""The bad-input sweep's cases for a forecaster's table of several series (issue 23, section 5):
a long table without the id column says which option names it.
"""

from __future__ import annotations

from pathlib import Path

from bad_input_case import Case

CASES: list[Case] = [
    Case(
        "fc-train-several-series-no-id",
        "several series in one long table, no --id",
        "forecast train --csv {ws}/stores.csv --horizon 3 --out {ws}/new",
        "pass --id, the column naming each row's series",
        file="stores.csv",
        line=2,
    ),
]


def prepare(ws: Path) -> None:
    """Two stores' daily sales, one row per store and day."""
    rows = ["store,day,sales"]
    for day in range(1, 29):
        rows += [f"north,2021-02-{day:02d},{day % 7}", f"south,2021-02-{day:02d},{day % 5}"]
    (ws / "stores.csv").write_text("\n".join(rows) + "\n")
