"""The HTML report without a browser: one self-contained file, its embedded data, its figures."""

import json
import re

import numpy as np
import pytest

from lstmkit.errors import UserError
from lstmkit.inspect import report
from lstmkit.inspect.report import QUANTITIES, TRACE_KEYS, round_significant, write_report

TOKENS = ["The", " ", "<script>", "alert(1)", "</script>", "a&b", "\n", "$x$", "end"]
PNG = b"\x89PNG\r\n\x1a\n"


def _panel(rng, name, tokens, layers, directions, hidden):
    shape = (layers * directions, len(tokens), hidden)  # (L*D, T, H)
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    quantities = {q: sigmoid(rng.normal(size=shape)).astype(np.float32) for q in "fio"}
    quantities |= {q: np.tanh(rng.normal(size=shape)).astype(np.float32) for q in "gh"}
    quantities["c"] = (3 * rng.normal(size=shape)).astype(np.float32)
    return {
        "name": name,
        "tokens": tokens,
        "layers": layers,
        "directions": directions,
        "quantities": quantities,
    }


def _memory(rng, panel, label, layer, direction, unit):
    trace = panel["quantities"]["c"][layer * panel["directions"] + direction, :, unit]
    return {
        "label": label,
        "panel": panel["name"],
        "layer": layer,
        "direction": direction,
        "unit": unit,
        "correlation": float(rng.uniform(-1, 1)),
        "trace": trace.tolist(),
    }


def synthetic_trace(kind="lm", layers=2, directions=1, hidden=8, steps=12, seed=0):
    """A trace of the shape :func:`write_report` reads, from random numbers.

    The browser test imports it too (pytest puts this folder on ``sys.path``).
    """
    rng = np.random.default_rng(seed)
    tokens = (TOKENS * steps)[:steps]
    trace = {
        "kind": kind,
        "title": "Synthetic <b>trace</b>",
        "notices": ["a <notice>"],
        "findings": ["unit 3 counts & resets"],
        "top_next": None,
        "attention": None,
        "forecast": None,
    }
    if kind == "lm":
        panels = [_panel(rng, "lstm", tokens, layers, directions, hidden)]
        probs = rng.dirichlet(np.ones(5), size=steps)
        trace["top_next"] = [[[TOKENS[k], float(p)] for k, p in enumerate(row)] for row in probs]
    elif kind == "seq2seq":
        target = [f"y{k}" for k in range(steps // 2)]
        panels = [
            _panel(rng, "encoder", tokens, layers, directions, hidden),
            _panel(rng, "decoder", target, layers, 1, hidden),
        ]
        weights = rng.dirichlet(np.ones(steps), size=len(target))  # (T_tgt, T_src)
        trace["attention"] = {"src": tokens, "tgt": target, "weights": weights}
    elif kind == "caption":  # an image captioner's: a 3x2 grid over a 24x16 image
        words = [f"w{k}" for k in range(steps - 1)] + ["<eos>"]
        panels = [_panel(rng, "decoder", words, layers, 1, hidden)]
        weights = rng.dirichlet(np.ones(6), size=steps)  # (U, R)
        regions = [f"r{r}c{c}" for r in range(3) for c in range(2)]
        trace["attention"] = {"src": regions, "tgt": words, "weights": weights}
        trace["caption"] = {
            "image": "x.png",
            "image_size": [24, 16],
            "pixels": rng.integers(0, 256, size=(24, 16, 3), dtype=np.uint8),
            "grid": [3, 2],
            "words": words,
            "caption": " ".join(words[:-1]),
            "attention": weights.reshape(steps, 3, 2),
            "gate": rng.uniform(size=steps),
        }
    else:
        times = [f"2024-01-{day:02d}" for day in range(1, steps + 7)]
        panels = [_panel(rng, "encoder", times[:steps], layers, directions, hidden)]
        median = rng.normal(size=6).cumsum()
        trace["forecast"] = {
            "series": "sales",
            "history_time": times[:steps],
            "history": rng.normal(size=steps).tolist(),
            "time": times[steps:],
            "forecast": median.tolist(),
            "lower": (median - 1).tolist(),
            "upper": (median + 1).tolist(),
        }
    trace["panels"] = panels
    trace["memory"] = [
        _memory(rng, panels[0], "counts tokens", layers - 1, 0, 3),
        _memory(rng, panels[0], "inside quotes", 0, directions - 1, 5),
    ]
    return trace


def page_json(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def reference_round(values) -> np.ndarray:
    """4 significant digits by Python's own decimal formatting, independent of the code."""
    return np.vectorize(lambda x: float(f"{x:.4g}"))(np.asarray(values, dtype=np.float64))


CASES = {
    "lm": {"kind": "lm"},
    "lm-bidirectional": {"kind": "lm", "directions": 2},
    "seq2seq": {"kind": "seq2seq", "directions": 2},
    "forecast": {"kind": "forecast"},
}


@pytest.mark.parametrize("case", CASES)
def test_one_self_contained_file_and_its_figures(tmp_path, case):
    trace = synthetic_trace(**CASES[case])
    paths = write_report(trace, tmp_path / "out" / "report.html")
    expected = ["report.html", "report-gates.png"]
    expected += ["report-attention.png"] if trace["attention"] else []
    expected += ["report-forecast.png"] if trace["forecast"] else []
    assert [p.name for p in paths] == expected
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(expected)
    for png in paths[1:]:
        assert png.read_bytes().startswith(PNG)
    html = paths[0].read_text(encoding="utf-8")
    for external in ("http://", "https://", "//cdn", "@import", "url("):
        assert external not in html
    assert not re.search(r"\bsrc\s*=", html)
    assert '<link rel="stylesheet"' not in html
    # Only the data block and the inline script: nothing loaded, no token broke out.
    assert html.count("<script") == 2
    assert html.count("</script>") == 2
    for select in ("panel", "layer", "direction", "quantity"):
        assert f'<select id="{select}">' in html


@pytest.mark.parametrize("case", CASES)
def test_embedded_json_round_trips_to_four_significant_digits(tmp_path, case):
    trace = synthetic_trace(**CASES[case])
    (path, *_) = write_report(trace, tmp_path / "r.html")
    data = page_json(path.read_text(encoding="utf-8"))
    assert [p["name"] for p in data["panels"]] == [p["name"] for p in trace["panels"]]
    for shown, panel in zip(data["panels"], trace["panels"], strict=True):
        assert shown["tokens"] == panel["tokens"]
        assert shown["units"] == list(range(8))
        for q in QUANTITIES:
            np.testing.assert_array_equal(
                shown["quantities"][q], reference_round(panel["quantities"][q])
            )
            mean = panel["quantities"][q].astype(np.float64).mean(axis=2)  # (L*D, T)
            np.testing.assert_allclose(shown["means"][q], mean, rtol=1e-3, atol=1e-6)
    for shown, unit in zip(data["memory"], trace["memory"], strict=True):
        np.testing.assert_array_equal(shown["trace"], reference_round(unit["trace"]))
        assert shown["unit"] == unit["unit"]
        assert shown["correlation"] == float(f"{unit['correlation']:.4g}")
    if trace["attention"]:
        weights = trace["attention"]["weights"]
        np.testing.assert_array_equal(data["attention"]["weights"], reference_round(weights))
    if trace["forecast"]:
        for key in ("history", "forecast", "lower", "upper"):
            np.testing.assert_array_equal(
                data["forecast"][key], reference_round(trace["forecast"][key])
            )
    if trace["top_next"]:
        assert data["panels"][0]["top_next"][2][1] == [
            trace["top_next"][2][1][0],
            float(f"{trace['top_next'][2][1][1]:.4g}"),
        ]


def test_text_is_escaped(tmp_path):
    (path, *_) = write_report(synthetic_trace(), tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert "\\u003cscript\\u003e" in html
    assert "\\u003c/script\\u003e" in html
    assert "a\\u0026b" in html
    assert "<h1>Synthetic &lt;b&gt;trace&lt;/b&gt;</h1>" in html
    assert "<li>a &lt;notice&gt;</li>" in html
    assert "<li>unit 3 counts &amp; resets</li>" in html


def test_round_significant_matches_decimal_formatting():
    rng = np.random.default_rng(1)
    values = rng.normal(size=2000) * 10.0 ** rng.integers(-12, 12, size=2000)
    values = np.concatenate([values, [0.0, -0.0, 1.0, 1234.5, 0.99995, 9.9995e5, -2.5e-300]])
    rounded = round_significant(values)
    expected = reference_round(values)
    np.testing.assert_array_equal(rounded, expected)
    # The short repr is what keeps the JSON small.
    assert [repr(v) for v in rounded.tolist()] == [repr(v) for v in expected.tolist()]


def test_non_finite_values_become_null(tmp_path):
    trace = synthetic_trace()
    trace["panels"][0]["quantities"]["c"][0, 1, 2] = np.nan
    (path, *_) = write_report(trace, tmp_path / "r.html")
    data = page_json(path.read_text(encoding="utf-8"))
    assert data["panels"][0]["quantities"]["c"][0][1][2] is None


def test_caps_units_and_steps_and_says_so(tmp_path, monkeypatch):
    trace = synthetic_trace(hidden=300, steps=12)
    trace["memory"][0] = _memory(np.random.default_rng(0), trace["panels"][0], "late", 1, 0, 299)
    monkeypatch.setattr(report, "MAX_STEPS", 5)
    (path, *_) = write_report(trace, tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    panel = page_json(html)["panels"][0]
    assert len(panel["units"]) == report.MAX_UNITS
    assert 299 in panel["units"]
    assert panel["units"][:3] == [0, 1, 2]
    assert len(panel["tokens"]) == 5
    assert np.asarray(panel["quantities"]["f"]).shape == (2, 5, 256)
    assert len(panel["top_next"]) == 5
    assert len(page_json(html)["memory"][0]["trace"]) == 5
    assert "the heatmaps show 256 of 300 units" in html
    assert "the first 5 of 12 time steps" in html


@pytest.mark.parametrize("key", TRACE_KEYS)
def test_missing_trace_key_is_named(tmp_path, key):
    trace = synthetic_trace()
    del trace[key]
    with pytest.raises(UserError, match=f"trace: missing key '{key}'"):
        write_report(trace, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t["panels"][0].pop("tokens"), r"trace\['panels'\]\[0\]: missing key 'tokens'"),
        (
            lambda t: t["panels"][0]["quantities"].pop("g"),
            r"trace\['panels'\]\[0\]\['quantities'\]: missing key 'g'",
        ),
        (
            lambda t: t["panels"][0]["tokens"].pop(),
            r"\['quantities'\]\['f'\]: expected shape \(L\*D, T, H\) = \(2, 11, \?\), "
            r"got \(2, 12, 8\)",
        ),
        (lambda t: t.update(kind="poem"), r"trace\['kind'\]: expected one of lm, seq2seq"),
        (lambda t: t["top_next"].pop(), r"trace\['top_next'\]: expected 12 positions"),
        (
            lambda t: t["memory"][0].update(unit=8),
            r"trace\['memory'\]\[0\]\['unit'\]: expected an int in \[0, 8\), got 8",
        ),
        (
            lambda t: t["memory"][1].update(panel="decoder"),
            r"trace\['memory'\]\[1\]\['panel'\]: expected one of lstm, got 'decoder'",
        ),
    ],
)
def test_malformed_trace_is_refused_with_the_place(tmp_path, edit, message):
    trace = synthetic_trace()
    edit(trace)
    with pytest.raises(UserError, match=message):
        write_report(trace, tmp_path / "r.html")


def test_malformed_attention_and_forecast_are_refused(tmp_path):
    trace = synthetic_trace("seq2seq")
    trace["attention"]["weights"] = trace["attention"]["weights"][:, :-1]
    with pytest.raises(UserError, match=r"\['weights'\]: expected shape \(T_tgt, T_src\)"):
        write_report(trace, tmp_path / "r.html")
    trace = synthetic_trace("forecast")
    del trace["forecast"]["upper"]
    with pytest.raises(UserError, match=r"trace\['forecast'\]: missing key 'upper'"):
        write_report(trace, tmp_path / "r.html")
