"""`lstmkit export`: a trained model as ONNX graphs that onnxruntime runs without torch."""

from __future__ import annotations

import argparse
from pathlib import Path

from lstmkit.cli import output
from lstmkit.cli.options import command_parser, option, settings
from lstmkit.errors import UserError

DOC = """Export a trained model to a folder of ONNX graphs with manifest.json (graph files, input
and output names and shapes, special token ids, opset) and the model's tokenizers. A language
model gives lm_step.onnx (one token, state in and out) and lm_sequence.onnx (a whole batch); a
seq2seq model encoder.onnx and decoder_step.onnx (one step with attention); a forecaster
forecaster.onnx (window-normalised inputs) and forecaster_window.onnx (a series' standardised
history; the series scaling, calendar and adjustment are in the manifest); a speech recogniser
speech.onnx (log-mel features → CTC log-probabilities; the feature settings and mel filterbank
are in the folder); an image captioner encoder.onnx (normalised images → regions and the
decoder's first state) and decoder_step.onnx (one word: log-probabilities, state, attention),
with the image size and normalisation in the manifest, both checked in onnxruntime against
PyTorch before the folder is written. lstmkit.export.runtime runs them with numpy and
onnxruntime alone (the speech graph: lstmkit.export.speech_onnx.OnnxSpeechRecognizer; the
captioner's: lstmkit.export.caption_onnx.OnnxCaptioner)."""
FORMATS = ("onnx",)


def register(commands) -> None:
    p = command_parser(
        commands, "export", run, help="export a trained model to ONNX", description=DOC
    )
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    option(
        p,
        "--format",
        default="onnx",
        metavar="FORMAT",
        help=f"the export format: {', '.join(FORMATS)}",
    )
    option(p, "--out", metavar="FOLDER", help="the folder to write (created)")
    option(
        p,
        "--opset",
        type=int,
        default=None,
        metavar="N",
        help="the ONNX opset, 14-20 (default: 17)",
    )
    option(
        p,
        "--overwrite",
        action="store_true",
        default=False,
        help="replace an existing, non-empty --out",
    )
    option(p, "--json", action="store_true", default=False, help="print JSON")


def run(args: argparse.Namespace) -> int:
    s = settings(args)
    if s["format"] not in FORMATS:
        raise UserError(f"--format: expected one of {', '.join(FORMATS)}, got {s['format']!r}")
    if s["out"] is None:
        raise UserError("--out: expected the folder to write the export to, got none")
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401

        from lstmkit.export.onnx import DEFAULT_OPSET, check_out, export_onnx
    except ImportError as missing:
        raise UserError(
            f"export: expected onnx and onnxruntime installed (pip install "
            f"'lstmkit[export]'), got {missing}"
        ) from None
    check_out(s["out"], s["overwrite"])  # before loading the model: fail fast
    if not Path(args.model).exists():
        raise UserError(f"{args.model}: no such checkpoint directory")
    opset = DEFAULT_OPSET if s["opset"] is None else s["opset"]
    manifest = export_onnx(args.model, s["out"], opset=opset, overwrite=s["overwrite"])
    result = {
        "model": manifest["source"],
        "kind": manifest["kind"],
        "out": str(s["out"]),
        "opset": manifest["opset"],
        "graphs": {name: g["file"] for name, g in manifest["graphs"].items()},
    }
    output.emit(result, s["json"], _table)
    return 0


def _table(r: dict) -> str:
    rows = [[name, file] for name, file in r["graphs"].items()]
    table = output.format_table(["graph", "file"], rows, "<<")
    return f"exported {r['kind']} model {r['model']} to {r['out']} (opset {r['opset']})\n{table}"
