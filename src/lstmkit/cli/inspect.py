"""`lstmkit inspect`: a trained model's gates on your input, as one HTML report with figures."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from lstmkit.cli import output
from lstmkit.cli.options import command_parser, option, positive_int, settings
from lstmkit.errors import Notice, UserError
from lstmkit.registry import task_spec

DOC = """Run your input through a trained model with the LSTM's gate trace on, and write one
self-contained HTML report (gates, cell states, next-token or attention or forecast, findings)
with PNG figures beside it. A language model or seq2seq model reads --text or --text-file; a
forecaster reads --csv; a speech recogniser reads --audio (its report adds the spectrogram, the
CTC posteriors over time, or a Listen-Attend-Spell model's attention alignment, and the
transcript with its word times); an image captioner reads --image (its report adds the image
and, for each word of the greedy caption, the attention over it as a heat map, with the gate β,
and the decoder's gates over the words). For a language model trained
on the built-in keywords corpus the report also names the unit that holds the keyword (--label
picks the cuisine)."""
SOURCES = ("text", "text_file", "csv", "audio", "image")
KEYWORD_PASSAGES = 300


def register(commands) -> None:
    p = command_parser(
        commands,
        "inspect",
        run,
        help="see the gates and memory of a trained model",
        description=DOC,
    )
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    option(p, "--text", help="the text to read (language model, seq2seq)")
    option(p, "--text-file", metavar="FILE", help="read the text from a UTF-8 file")
    option(p, "--csv", metavar="FILE", help="the series' history (forecaster)")
    option(p, "--audio", metavar="FILE", help="an audio file to hear (speech recogniser)")
    option(p, "--image", metavar="FILE", help="a PNG or JPEG image to caption (image captioner)")
    option(p, "--out", metavar="FILE", help="the HTML report to write, e.g. report.html")
    option(
        p,
        "--label",
        help="keywords model: the cuisine whose memory unit to find (default: the best found)",
    )
    option(
        p,
        "--max-tokens",
        type=positive_int,
        default=5000,
        metavar="N",
        help="read at most this many tokens",
    )
    option(p, "--overwrite", action="store_true", default=False, help="replace an existing --out")
    option(p, "--json", action="store_true", default=False, help="print JSON")


def run(args: argparse.Namespace) -> int:
    from lstmkit.inspect.report import write_report
    from lstmkit.inspect.traces import load_any

    s = settings(args)
    source = _source(s)
    out = _out(s)
    text = _text(s, source)
    if source == "audio":
        _check_audio(s["audio"])
    if source == "image":
        _check_image(s["image"])
    estimator = load_any(args.model)
    trace = _trace(estimator, args.model, source, text, s)
    files = write_report(trace, out)
    for notice in trace["notices"]:
        warnings.warn(notice, Notice, stacklevel=1)
    result = {
        "model": str(getattr(estimator, "checkpoint_", args.model)),
        "kind": trace["kind"],
        "title": trace["title"],
        "files": [str(f) for f in files],
        "findings": trace["findings"],
        "memory": [{k: v for k, v in m.items() if k != "trace"} for m in trace["memory"]],
        "notices": trace["notices"],
    }
    if trace.get("speech") is not None:
        result["transcript"] = trace["speech"]["transcript"]
        result["words"] = trace["speech"]["words"]
    if trace.get("caption") is not None:
        from lstmkit.inspect.caption import caption_result

        result.update(caption_result(trace["caption"]))
    output.emit(result, s["json"], _table)
    return 0


def _source(s: dict) -> str:
    given = [name for name in SOURCES if s[name] is not None]
    flags = "--text, --text-file, --csv, --audio or --image"
    if len(given) != 1:
        got = "none" if not given else " and ".join("--" + g.replace("_", "-") for g in given)
        raise UserError(f"{flags}: expected one of them, got {got}")
    return given[0]


def _check_audio(path: str) -> None:
    """Names a missing, unreadable or empty --audio file before the model is loaded."""
    from lstmkit.data.audio import check_duration

    try:
        check_duration(path)
    except UserError as error:
        raise UserError(f"--audio {error}") from None


def _check_image(path: str) -> None:
    """Names a missing or unreadable --image file before the model is loaded."""
    from lstmkit.data.images import open_image

    try:
        open_image(path).close()
    except UserError as error:
        raise UserError(f"--image {error}") from None


def _out(s: dict) -> Path:
    if s["out"] is None:
        raise UserError("--out: expected the report's file name (e.g. report.html), got none")
    out = Path(s["out"])
    if out.is_dir():
        raise UserError(f"--out {out}: expected a file name, got a folder")
    if out.exists() and not s["overwrite"]:
        raise UserError(f"--out {out}: already exists; choose a new name or pass --overwrite")
    return out


def _text(s: dict, source: str) -> str | None:
    if source == "text":
        if not s["text"].strip():
            raise UserError("--text: expected some text, got none")
        return s["text"]
    if source == "text_file":
        from lstmkit.data import read_text

        return read_text(s["text_file"], option="--text-file")
    return None


def _trace(estimator, directory: str, source: str, text: str | None, s: dict) -> dict:
    """The trace of the task's own adapter (:mod:`lstmkit.registry`), on the input it reads."""
    spec = task_spec(estimator.task_)
    if spec.trace is None:
        raise UserError(f"{directory}: inspect does not trace {spec.a_title}'s gates yet")
    flag = "--" + source.replace("_", "-")
    if spec.trace_input == "series":
        if source != "csv":
            raise UserError(
                f"{flag}: {directory} holds {spec.a_title}; give its series' history "
                "with --csv FILE"
            )
        given = s["csv"]
    elif spec.trace_input == "audio":
        if source != "audio":
            raise UserError(
                f"{flag}: {directory} holds {spec.a_title}; give its audio with --audio FILE"
            )
        given = s["audio"]
    elif spec.trace_input == "image":
        if source != "image":
            raise UserError(
                f"{flag}: {directory} holds {spec.a_title}; give its image with --image FILE"
            )
        given = s["image"]
    elif source in ("csv", "audio", "image"):
        raise UserError(
            f"{flag}: {directory} holds {spec.a_title}; give text with --text or --text-file"
        )
    else:
        given = text
    options = {"max_tokens": s["max_tokens"], "label": s["label"], "directory": directory}
    return spec.load("trace")(estimator, given, options)


def _table(r: dict) -> str:
    lines = [f"{r['title']}  ({r['model']})", ""]
    lines += [f"- {finding}" for finding in r["findings"]]
    if r["memory"]:
        rows = [
            [m["label"], m["panel"], m["layer"], m["unit"], f"{m['correlation']:+.3f}"]
            for m in r["memory"]
        ]
        lines += ["", format_memory(rows)]
    lines += ["", "wrote " + ", ".join(r["files"])]
    return "\n".join(lines)


def format_memory(rows: list[list]) -> str:
    return output.format_table(["label", "panel", "layer", "unit", "correlation"], rows, "<<>>>")
