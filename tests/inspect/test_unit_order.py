"""The heatmaps' unit order: alike units side by side, open forget gates first; the page gets the
order per layer and the PNG marks the memory units."""

import json
import re

import numpy as np

from lstmkit.inspect.report import QUANTITIES, write_report
from lstmkit.inspect.report_figures import unit_order


def planted(hidden: int = 12, steps: int = 30, layers: int = 2, seed: int = 0) -> dict:
    """Units 0, 3, 6, 9 keep (f near 1, steady c); the others wipe (f near 0, c flipping)."""
    rng = np.random.default_rng(seed)
    q = {k: rng.uniform(0, 0.1, (layers, steps, hidden)) for k in QUANTITIES}
    keep = np.arange(hidden) % 3 == 0
    q["f"][:, :, keep] += 0.85
    q["c"][:, :, keep] += 2.0
    q["c"][:, :, ~keep] += np.where(np.arange(steps) % 2 == 0, 1.5, -1.5)[None, :, None]
    return q


def test_alike_units_come_together_keepers_first():
    q = planted()
    for row in (0, 1):
        order = unit_order(q, row)
        assert sorted(order) == list(range(12))
        assert sorted(order[:4]) == [0, 3, 6, 9]


def test_the_page_has_an_order_per_row_and_the_png_marks_memory(tmp_path):
    q = planted()
    tokens = [f"t{k}" for k in range(30)]
    trace = {
        "kind": "lm",
        "title": "t",
        "notices": [],
        "findings": [],
        "top_next": None,
        "attention": None,
        "forecast": None,
        "panels": [
            {"name": "lstm", "tokens": tokens, "layers": 2, "directions": 1, "quantities": q}
        ],
        "memory": [
            {
                "label": "X",
                "panel": "lstm",
                "layer": 1,
                "direction": 0,
                "unit": 6,
                "correlation": 0.9,
                "trace": q["c"][1, :, 6].tolist(),
            }
        ],
    }
    html_path, png = write_report(trace, tmp_path / "r.html")
    text = html_path.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="trace-data">(.*?)</script>', text, re.S)[1])
    panel = data["panels"][0]
    assert len(panel["order"]) == 2
    for row, order in enumerate(panel["order"]):
        assert [panel["units"][k] for k in order] == unit_order(q, row)
    assert "p.order[where]" in text  # the page draws rows in that order
    assert png.read_bytes()[:4] == b"\x89PNG"
