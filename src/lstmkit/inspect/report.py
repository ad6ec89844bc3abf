"""An offline HTML report of a trace: gates, cell state, memory units, attention, forecast,
speech (spectrogram and CTC posteriors), an image with each word's attention over it.

:func:`write_report` turns a trace (below) into one self-contained HTML file — style, script and
data inline, nothing fetched, so it opens from disk anywhere — plus PNG figures beside it
(:mod:`lstmkit.inspect.report_figures`). In the page, ``<select>`` elements (``panel``, ``layer``,
``direction``, ``quantity``, ``unit``) switch what the text colouring and the ``<canvas>`` heatmaps
show without regenerating anything; clicking a memory unit plots its trace and outlines it in the
heatmap. The heatmaps show the units of a layer in the order of
:func:`~lstmkit.inspect.report_figures.unit_order` (alike units together) and mark the memory
units.

The trace, with T time steps of a panel, H hidden units, L layers and D directions::

    {"kind": "lm" | "seq2seq" | "forecast" | "speech" | "caption", "title": str,
     "notices": [str],
     "findings": [str],
     "panels": [{"name": str, "tokens": [str] * T, "layers": L, "directions": D,
                 "quantities": {"f" | "i" | "o" | "g" | "c" | "h": array (L*D, T, H)}}],
     "top_next": [[[token, prob]] * 5] * T of the first panel, or None,
     "attention": {"src": [str], "tgt": [str], "weights": array (T_tgt, T_src)} or None,
     "forecast": {"series": str, "history_time": [str], "history": [float], "time": [str],
                  "forecast": [float], "lower": [float], "upper": [float]} or None,
     "memory": [{"label": str, "panel": str, "layer": int, "direction": int, "unit": int,
                 "correlation": float, "trace": [float] * T of that panel}],
     "speech": optional, a speech recogniser's (:mod:`lstmkit.inspect.speech`; with
               ``log_probs`` None for an attention model without a CTC head), or None,
     "caption": optional, an image captioner's (:mod:`lstmkit.inspect.caption`), or None}

Row ``layer * D + direction`` of a quantity is that layer and direction, as in ``torch.nn.LSTM``.

To keep the page small, numbers are rounded to 4 significant digits, a heatmap keeps at most
:data:`MAX_UNITS` units (the memory units first, then the lowest numbers) and a panel at most
:data:`MAX_STEPS` time steps, fewer when its values would pass :data:`MAX_PANEL_VALUES` (about 7
bytes each); the page says so in a notice. The PNGs and the means over units use all the data.
The speech section's caps are :mod:`lstmkit.inspect.report_speech`'s, the caption section's
(:mod:`lstmkit.inspect.report_caption`: the image and a heat map per word, inline) its own.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np

from lstmkit.errors import UserError
from lstmkit.inspect.report_assets import CSS, JS
from lstmkit.registry import TASKS

KINDS = tuple(TASKS)  # a trace's kind is the task it was made of
QUANTITIES = ("f", "i", "o", "g", "c", "h")
TRACE_KEYS = (
    "kind",
    "title",
    "notices",
    "panels",
    "top_next",
    "attention",
    "forecast",
    "memory",
    "findings",
)
PANEL_KEYS = ("name", "tokens", "layers", "directions", "quantities")
ATTENTION_KEYS = ("src", "tgt", "weights")
FORECAST_KEYS = ("series", "history_time", "history", "time", "forecast", "lower", "upper")
MEMORY_KEYS = ("label", "panel", "layer", "direction", "unit", "correlation", "trace")
SIGNIFICANT = 4
MAX_UNITS = 256
MAX_STEPS = 2000
MAX_PANEL_VALUES = 2_000_000  # about 14 MB of JSON per panel


def write_report(trace: dict, out: str | os.PathLike) -> list[Path]:
    """Writes the HTML report of ``trace`` to ``out`` and its PNG figures beside it.

    Args:
        trace: a trace as described in the module docstring.
        out: the HTML file; its folder is created if missing. The figures are named after its stem:
            ``<stem>-gates.png`` (the first panel's top layer), ``<stem>-attention.png`` and
            ``<stem>-forecast.png`` when the trace has attention or a forecast.

    Returns:
        The paths written, the HTML file first.

    Raises:
        UserError: the trace lacks a key or a value has the wrong shape; the message names it.

    Example:
        >>> import tempfile
        >>> q = {k: np.zeros((1, 2, 3), np.float32) for k in QUANTITIES}
        >>> trace = {"kind": "lm", "title": "t", "notices": [], "findings": [], "memory": [],
        ...          "top_next": None, "attention": None, "forecast": None,
        ...          "panels": [{"name": "lstm", "tokens": ["a", "b"], "layers": 1,
        ...                      "directions": 1, "quantities": q}]}
        >>> [p.name for p in write_report(trace, Path(tempfile.mkdtemp()) / "r.html")]
        ['r.html', 'r-gates.png']
    """
    from lstmkit.inspect.report_figures import write_figures

    check_trace(trace)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data, notices = page_data(trace)
    figures = write_figures(trace, out.parent / out.stem)
    out.write_text(_page(trace, data, notices, figures), encoding="utf-8")
    return [out, *figures]


def require_keys(mapping, keys: tuple[str, ...], where: str) -> None:
    """Raises :class:`UserError` naming ``where`` unless ``mapping`` is a dict with ``keys``."""
    if not isinstance(mapping, dict):
        raise UserError(f"{where}: expected a dict, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise UserError(
            f"{where}: missing key {', '.join(map(repr, missing))} (expected {', '.join(keys)})"
        )


def check_shape(values, expected: tuple, where: str, legend: str) -> np.ndarray:
    """``values`` as a float64 array, if its shape is ``expected`` (None: any size there); else
    a :class:`UserError` naming ``where`` and the shape's ``legend`` (e.g. ``"(T, F)"``)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != len(expected) or any(
        e is not None and e != s for e, s in zip(expected, array.shape, strict=False)
    ):
        shown = ", ".join("?" if e is None else str(e) for e in expected)
        raise UserError(f"{where}: expected shape {legend} = ({shown}), got {array.shape}")
    return array


def check_trace(trace: dict) -> None:
    """Raises :class:`UserError` naming the first key or shape of ``trace`` that
    :func:`write_report` cannot read."""
    require_keys(trace, TRACE_KEYS, "trace")
    if trace["kind"] not in KINDS:
        raise UserError(f"trace['kind']: expected one of {', '.join(KINDS)}, got {trace['kind']!r}")
    if not trace["panels"]:
        raise UserError("trace['panels']: expected at least one panel, got none")
    shapes = {}  # panel name: (L, D, T, H)
    for k, panel in enumerate(trace["panels"]):
        where = f"trace['panels'][{k}]"
        require_keys(panel, PANEL_KEYS, where)
        require_keys(panel["quantities"], QUANTITIES, f"{where}['quantities']")
        layers, directions = panel["layers"], panel["directions"]
        if not (isinstance(layers, int | np.integer) and layers >= 1 and directions in (1, 2)):
            raise UserError(
                f"{where}: expected layers >= 1 and directions 1 or 2, "
                f"got {layers!r} and {directions!r}"
            )
        shape = (layers * directions, len(panel["tokens"]), None)
        hidden = {
            check_shape(
                panel["quantities"][q], shape, f"{where}['quantities'][{q!r}]", "(L*D, T, H)"
            ).shape[2]
            for q in QUANTITIES
        }
        if len(hidden) > 1:
            raise UserError(f"{where}['quantities']: expected one H for all, got {sorted(hidden)}")
        shapes[panel["name"]] = (layers, directions, len(panel["tokens"]), hidden.pop())
    first = len(trace["panels"][0]["tokens"])
    if trace["top_next"] is not None and len(trace["top_next"]) != first:
        raise UserError(
            f"trace['top_next']: expected {first} positions (the first panel's "
            f"tokens), got {len(trace['top_next'])}"
        )
    if trace["attention"] is not None:
        attention = trace["attention"]
        require_keys(attention, ATTENTION_KEYS, "trace['attention']")
        shape = (len(attention["tgt"]), len(attention["src"]))
        check_shape(attention["weights"], shape, "trace['attention']['weights']", "(T_tgt, T_src)")
    if trace["forecast"] is not None:
        forecast = trace["forecast"]
        require_keys(forecast, FORECAST_KEYS, "trace['forecast']")
        for key, like in (
            ("history", "history_time"),
            ("forecast", "time"),
            ("lower", "time"),
            ("upper", "time"),
        ):
            check_shape(
                forecast[key],
                (len(forecast[like]),),
                f"trace['forecast'][{key!r}]",
                f"(len({like}),)",
            )
    if trace.get("speech") is not None:
        from lstmkit.inspect.report_speech import check_speech

        check_speech(trace["speech"])
    if trace.get("caption") is not None:
        from lstmkit.inspect.report_caption import check_caption

        check_caption(trace["caption"])
    for k, unit in enumerate(trace["memory"]):
        where = f"trace['memory'][{k}]"
        require_keys(unit, MEMORY_KEYS, where)
        if unit["panel"] not in shapes:
            raise UserError(
                f"{where}['panel']: expected one of {', '.join(shapes)}, got {unit['panel']!r}"
            )
        layers, directions, steps, hidden = shapes[unit["panel"]]
        for key, limit in (("layer", layers), ("direction", directions), ("unit", hidden)):
            if not (isinstance(unit[key], int | np.integer) and 0 <= unit[key] < limit):
                raise UserError(
                    f"{where}[{key!r}]: expected an int in [0, {limit}), got {unit[key]!r}"
                )
        check_shape(unit["trace"], (steps,), f"{where}['trace']", "(T,)")


def round_significant(values, digits: int = SIGNIFICANT) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits, as float64 whose shortest ``repr`` is
    that decimal (so JSON stays short). NaN and infinities pass through.

    Example:
        >>> round_significant([0.123456, -98765.4, 0.0, 1.5e-7, 2 / 3]).tolist()
        [0.1235, -98770.0, 0.0, 1.5e-07, 0.6667]
    """
    x = np.asarray(values, dtype=np.float64)
    out = x.copy()
    nonzero = np.isfinite(x) & (x != 0)
    v = x[nonzero]
    # One correctly rounded multiply or divide by an exact power of ten each way, so the result is
    # the double nearest to the rounded decimal and Python prints it with <= `digits` digits.
    shift = digits - 1 - np.floor(np.log10(np.abs(v)))
    scale = 10.0 ** np.abs(shift)
    mantissa = np.round(np.where(shift >= 0, v * scale, v / scale))
    out[nonzero] = np.where(shift >= 0, mantissa / scale, mantissa * scale)
    return out


def plain_values(values) -> list:
    """Rounded values as nested lists for JSON, ``None`` where not finite."""
    rounded = round_significant(values)
    if np.isfinite(rounded).all():
        return rounded.tolist()
    return np.where(np.isfinite(rounded), rounded, None).tolist()


def _kept_units(hidden: int, memory_units: list[int]) -> list[int]:
    chosen = list(dict.fromkeys(u for u in memory_units if 0 <= u < hidden))[:MAX_UNITS]
    rest = (u for u in range(hidden) if u not in set(chosen))
    chosen += [u for _, u in zip(range(MAX_UNITS - len(chosen)), rest, strict=False)]
    return sorted(chosen)


def _shown_order(quantities: dict, row: int, units: list[int]) -> list[int]:
    from lstmkit.inspect.report_figures import unit_order

    index = {u: k for k, u in enumerate(units)}
    return [index[u] for u in unit_order(quantities, row) if u in index]


def _panel_data(panel: dict, memory: list[dict], top_next) -> tuple[dict, list[str]]:
    name = panel["name"]
    full = {q: np.asarray(panel["quantities"][q]) for q in QUANTITIES}
    rows, steps, hidden = full["c"].shape  # (L*D, T, H)
    units = _kept_units(hidden, [m["unit"] for m in memory if m["panel"] == name])
    per_step = len(QUANTITIES) * rows * max(len(units), 1)
    keep = max(min(steps, MAX_STEPS, MAX_PANEL_VALUES // per_step), 1)
    notices = []
    if len(units) < hidden:
        notices.append(
            f"Panel {name}: the heatmaps show {len(units)} of {hidden} units (the memory units, "
            "then the lowest numbers); the means over units use all of them."
        )
    if keep < steps:
        notices.append(
            f"Panel {name}: the page shows the first {keep:,} of {steps:,} time steps to stay "
            "small; the PNG figures show all of them."
        )
    if top_next is not None:
        top_next = [[[str(t), float(round_significant(p))] for t, p in row] for row in top_next]
    data = {
        "name": str(name),
        "tokens": [str(t) for t in panel["tokens"][:keep]],
        "layers": int(panel["layers"]),
        "directions": int(panel["directions"]),
        "units": units,
        # per row (L*D): indices into units in the order the heatmaps show them, alike together
        "order": [_shown_order(full, r, units) for r in range(rows)],
        "quantities": {
            q: plain_values(a[:, :keep][:, :, units]) for q, a in full.items()
        },  # (L*D, T, U)
        "means": {q: plain_values(a[:, :keep].mean(axis=2)) for q, a in full.items()},  # (L*D, T)
        "top_next": top_next and top_next[:keep],
    }
    return data, notices


def page_data(trace: dict) -> tuple[dict, list[str]]:
    """The JSON the page script reads, and notices saying what was capped to keep it small."""
    notices, panels = [], []
    for k, panel in enumerate(trace["panels"]):
        data, capped = _panel_data(panel, trace["memory"], trace["top_next"] if k == 0 else None)
        panels.append(data)
        notices += capped
    kept = {p["name"]: len(p["tokens"]) for p in panels}
    attention = trace["attention"] and {
        "src": [str(t) for t in trace["attention"]["src"]],
        "tgt": [str(t) for t in trace["attention"]["tgt"]],
        "weights": plain_values(trace["attention"]["weights"]),  # (T_tgt, T_src)
    }
    forecast = trace["forecast"] and {
        "series": str(trace["forecast"]["series"]),
        **{key: [str(t) for t in trace["forecast"][key]] for key in ("history_time", "time")},
        **{
            key: plain_values(trace["forecast"][key])
            for key in ("history", "forecast", "lower", "upper")
        },
    }
    memory = [
        {
            "label": str(m["label"]),
            "panel": str(m["panel"]),
            "layer": int(m["layer"]),
            "direction": int(m["direction"]),
            "unit": int(m["unit"]),
            "correlation": plain_values(float(m["correlation"])),
            "trace": plain_values(m["trace"][: kept[m["panel"]]]),
        }
        for m in trace["memory"]
    ]
    speech = None
    if trace.get("speech") is not None:
        from lstmkit.inspect.report_speech import speech_data

        speech, capped = speech_data(trace["speech"])
        notices += capped
    caption = None
    if trace.get("caption") is not None:
        from lstmkit.inspect.report_caption import caption_data

        caption, capped = caption_data(trace["caption"])
        notices += capped
    data = {
        "kind": trace["kind"],
        "title": str(trace["title"]),
        "panels": panels,
        "attention": attention,
        "forecast": forecast,
        "memory": memory,
        "speech": speech,
        "caption": caption,
    }
    return data, notices


def script_json(data) -> str:
    """``data`` as JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` become
    ``\\u003c`` escapes, so no string in it can close the element or open a comment.

    Example:
        >>> script_json({"token": "</script>"})
        '{"token":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _items(title: str, lines: list[str], section_id: str) -> str:
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(str(line))}</li>" for line in lines)
    head = f'<section id="{section_id}" class="{section_id}"><h2>{title}</h2>'
    return f"{head}<ul>{items}</ul></section>"


def _page(trace: dict, data: dict, notices: list[str], figures: list[Path]) -> str:
    title = html.escape(str(trace["title"]))
    controls = "".join(
        f'<label>{label}<select id="{key}"></select></label>'
        for key, label in (
            ("panel", "Panel"),
            ("layer", "Layer"),
            ("direction", "Direction"),
            ("quantity", "Quantity"),
            ("unit", "Unit"),
        )
    )
    heatmaps = "".join(
        f'<figure><canvas id="heatmap-{q}" class="heatmap heatmap-small"></canvas>'
        f"<figcaption>{q}</figcaption></figure>"
        for q in QUANTITIES
    )
    optional = ""
    if data["attention"]:
        hint = "Each row is one target token's weights over the source tokens."
        if data["speech"]:
            hint = (
                "Each row is one output token's weights over the listener frames (labelled by "
                "their start time)."
            )
        elif data["caption"]:
            hint = "Each row is one word's weights over the image's regions (r<row>c<column>)."
        optional += (
            '<section id="attention-section"><h2>Attention</h2><p class="hint">'
            f'{html.escape(hint)}</p><div class="scroll">'
            '<canvas id="attention" class="heatmap"></canvas></div></section>'
        )
    if data["speech"]:
        from lstmkit.inspect.report_speech import speech_section

        optional += speech_section(data["speech"])
    if data["caption"]:
        from lstmkit.inspect.report_caption import caption_section

        optional = caption_section(trace["caption"], data["caption"]) + optional
    if data["forecast"]:
        optional += (
            '<section id="forecast-section"><h2>Forecast</h2><p class="hint">History '
            "(black), forecast (blue) and its interval (band).</p>"
            '<canvas id="forecast-chart"></canvas></section>'
        )
    text_title = "Text"
    if data["speech"] and data["attention"]:
        text_title = "Steps (listener frames by start time, speller steps by output token)"
    elif data["speech"]:
        text_title = "Output frames (each one's most probable token)"
    elif data["caption"]:
        text_title = "Words (the greedy caption, one decoder step each, the eos last)"
    links = " ".join(f'<a href="{html.escape(p.name)}">{html.escape(p.name)}</a>' for p in figures)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><link rel="icon" href="data:,">
<style>{CSS}</style></head><body>
<h1>{title}</h1>
<p class="meta">lstmkit inspect · {html.escape(trace["kind"])} · figures: {links}</p>
{_items("Notices", [*trace["notices"], *notices], "notices")}
{_items("Findings", trace["findings"], "findings")}
<section id="controls">{controls}</section>
<section id="text-section"><h2>{text_title}</h2><p id="text-caption" class="hint"></p>
<div id="text" class="text"></div></section>
<section id="gates"><h2>Gates and memory over time</h2><p id="heatmap-caption" class="hint"></p>
<div class="scroll"><canvas id="heatmap" class="heatmap"></canvas></div>
<p class="hint">All quantities of this layer (click one to enlarge it):</p>
<div class="small-multiples">{heatmaps}</div></section>
<section id="memory-section"><h2>Memory units</h2><p class="hint">Units whose cell state tracks
something, ranked; click one to plot it and outline it in the heatmap.</p>
<table id="memory-table"><thead><tr><th>#</th><th>what</th><th>panel</th><th>layer</th>
<th>direction</th><th>unit</th><th>correlation</th></tr></thead><tbody id="memory-body"></tbody>
</table><p id="unit-caption" class="hint"></p><canvas id="unit-chart" hidden></canvas></section>
{optional}
<div id="tooltip" hidden></div>
<script type="application/json" id="trace-data">{script_json(data)}</script>
<script>{JS}</script>
</body></html>
"""


__all__ = [
    "MAX_PANEL_VALUES",
    "MAX_STEPS",
    "MAX_UNITS",
    "check_shape",
    "check_trace",
    "page_data",
    "plain_values",
    "require_keys",
    "round_significant",
    "script_json",
    "write_report",
]
