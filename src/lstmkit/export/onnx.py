"""Export a trained model to ONNX: a folder of graphs, ``manifest.json`` and the tokenizers.

``export_onnx(checkpoint, out)`` writes, for

* a language model: ``lm_step.onnx`` (one token per sentence, state in and out) and
  ``lm_sequence.onnx`` (a whole (B, T) batch, state in and out);
* a seq2seq model: ``encoder.onnx`` (source ids and lengths → memory and the decoder's initial
  state) and ``decoder_step.onnx`` (one step with attention);
* a forecaster: ``forecaster.onnx`` (window-normalised inputs → quantiles, as
  ``LSTMForecaster.forecast``) and ``forecaster_window.onnx`` (a series' standardised history →
  quantiles, the window normalisation and the residual to seasonal naive inside), with the
  scaling around them (series statistics, calendar, adjustment) written into the manifest;
* a speech recogniser: ``speech.onnx`` (log-mel features and lengths → CTC log-probabilities
  and output lengths; see :mod:`lstmkit.export.speech_onnx`), with the feature settings and
  the mel filterbank (``mel_filters.npy``) to compute its input without torch;
* an image captioner: ``encoder.onnx`` (normalised images → regions and the decoder's first
  state) and ``decoder_step.onnx`` (one word with attention; see
  :mod:`lstmkit.export.caption_onnx`), with the image size and normalisation in the manifest.

The graphs come from torch's TorchScript-based exporter (``dynamo=False``), one path for
every model. The dynamo exporter (torch 2.13) does export the unpadded language model, but not
the seq2seq encoder: lstmkit's LSTM reads a padded batch's lengths as Python integers (to pack
it), a data-dependent guard that ``torch.export`` refuses (``GuardOnDataDependentSymNode``). The
TorchScript exporter accepts a symbolic function instead, so each LSTM layer becomes ONNX's own
``LSTM`` op (see :mod:`lstmkit.export.lstm_op`), whose ``sequence_lens`` input handles the padded
batch, with batch and time axes left dynamic. The GRU and the plain RNN go through torch's own
symbolic functions.

The folder appears whole or not at all: it is written under a temporary name beside ``out`` and
renamed at the end (an existing folder is replaced only with ``overwrite``).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import torch
from torch import nn

from lstmkit import __version__
from lstmkit.errors import UserError
from lstmkit.export import graphs
from lstmkit.registry import load_estimator, task_spec

FORMAT = "lstmkit-onnx"
DEFAULT_OPSET = 17
OPSETS = range(14, 21)  # the ONNX LSTM op with its sequence_lens; the exporter's newest is 20
MANIFEST = "manifest.json"


def check_out(out: str | Path, overwrite: bool) -> Path:
    """The output folder, refused when it is a file or a non-empty folder without overwrite."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"out {out}: expected a folder, got a file")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UserError(
            f"out {out}: already exists and is not empty; choose a new folder or pass "
            "`overwrite=True`"
        )
    return out


def export_onnx(
    directory: str | Path, out: str | Path, opset: int = DEFAULT_OPSET, overwrite: bool = False
) -> dict:
    """Export the model of a checkpoint (or run folder) to the folder ``out``.

    Args:
        directory: a checkpoint or run folder of a LanguageModel, Seq2Seq, Forecaster,
            SpeechRecognizer or Captioner.
        out: the folder to create (replaced, if it exists and is not empty, only with
            ``overwrite``).
        opset: the ONNX opset, 14 to 20.

    Returns:
        The manifest, as written to ``out/manifest.json``.

    Raises:
        UserError: a missing or unknown checkpoint, a bad opset or an existing ``out``.

    Example:
        >>> manifest = export_onnx("runs/lm/best", "lm-onnx")  # doctest: +SKIP
        >>> manifest["graphs"]["step"]["file"]  # doctest: +SKIP
        'lm_step.onnx'
    """
    if isinstance(opset, bool) or not isinstance(opset, int) or opset not in OPSETS:
        raise UserError(
            f"opset: expected an integer from {OPSETS[0]} to {OPSETS[-1]}, got {opset!r}"
        )
    out = check_out(out, overwrite)
    estimator = load_estimator(directory)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        manifest = _write(estimator, tmp, opset)
        _replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _replace(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an old ``out`` is moved aside first and deleted after."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    try:
        tmp.rename(out)
    except OSError:
        if old.exists():
            old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write(estimator, folder: Path, opset: int) -> dict:
    manifest = {
        "format": FORMAT,
        "format_version": 1,
        "lstmkit_version": __version__,
        "opset": opset,
        "source": str(estimator.checkpoint_),
    }
    spec = task_spec(estimator.task_)
    if spec.onnx is None:
        raise UserError(f"{estimator.checkpoint_}: {spec.a_title} has no ONNX export yet")
    manifest |= spec.load("onnx")(estimator, folder, opset)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def write_lm(lm, folder: Path, opset: int) -> dict:
    """A language model's graphs: ``lm_step.onnx`` and ``lm_sequence.onnx``."""
    tok = lm.tokenizer_
    _copy_tokenizer(lm.checkpoint_, folder)
    built = {}
    for name, step in (("step", True), ("sequence", False)):
        graph = graphs.LMGraph(lm.model_, step)
        built[name] = export_graph(graph, graph.example(), folder / f"lm_{name}.onnx", opset)
    return {
        "kind": "lm",
        "graphs": built,
        "config": lm.model_.config.to_dict(),
        "tokenizer": "tokenizer",
        "special_ids": _special_ids(tok),
    }


def write_seq2seq(s2s, folder: Path, opset: int) -> dict:
    """A seq2seq model's graphs: ``encoder.onnx`` and ``decoder_step.onnx``."""
    from lstmkit.seq2seq.estimator import RATIO_MARGIN

    model = s2s.model_
    _copy_tokenizer(s2s.checkpoint_, folder)
    encoder, decoder = graphs.EncoderGraph(model), graphs.DecoderStepGraph(model)
    built = {
        "encoder": export_graph(encoder, encoder.example(), folder / "encoder.onnx", opset),
        "decoder_step": export_graph(
            decoder, decoder.example(encoder), folder / "decoder_step.onnx", opset
        ),
    }
    ratio = s2s.length_ratio_
    return {
        "kind": "seq2seq",
        "graphs": built,
        "config": s2s.model_config_,
        "tokenizer": {"src": "tokenizer/src", "tgt": "tokenizer/tgt"},
        "special_ids": {
            "pad": model.pad_id,
            "bos": model.bos_id,
            "eos": model.eos_id,
            "unk": s2s.src_tokenizer_.unk_id,
        },
        "decoding": {
            "reverse_source": bool(s2s.reverse_source),
            "max_len_ratio": None if ratio is None else RATIO_MARGIN * ratio,
        },
    }


def write_forecaster(fc, folder: Path, opset: int) -> dict:
    """A forecaster's graphs, ``forecaster.onnx`` and ``forecaster_window.onnx`` (an ensemble's
    further members: ``forecaster_1.onnx``, ``forecaster_window_1.onnx``, ...), and the scaling
    around them: per member (view) in ``preprocessing["members"]``, the first's also at the top
    as before ensembles."""
    from lstmkit.models.forecaster import members_of

    built, members = {}, []
    for v, (view, member) in enumerate(zip(fc.views_, members_of(fc.model_), strict=True)):
        suffix = f"_{v}" if v else ""
        graph = graphs.ForecastGraph(member)
        window = graphs.WindowForecastGraph(member, fc.lookback_, view.lag, fc.window_norm)
        names = {"forecast": f"forecast{suffix}", "forecast_window": f"forecast_window{suffix}"}
        built[names["forecast"]] = export_graph(
            graph, graph.example(), folder / f"forecaster{suffix}.onnx", opset
        )
        built[names["forecast_window"]] = export_graph(
            window, window.example(), folder / f"forecaster_window{suffix}.onnx", opset
        )
        members.append(
            {
                "graphs": names,
                "season_adjust": view.adjust,
                "lag": view.lag,
                "seasonal": {k: x and x.to_dict() for k, x in view.seasonal.items()},
                "scaler": view.scaler.to_dict(),
                "adjustment": view.adjustment,
            }
        )
    first = members[0]
    return {
        "kind": "forecast",
        "graphs": built,
        "config": fc.config_.to_dict(),
        "preprocessing": {
            "lookback": fc.lookback_,
            "lag": first["lag"],
            "horizon": fc.horizon,
            "freq": fc.freq_,
            "season": fc.season_,
            "quantiles": list(fc.config_.quantiles),
            "window_norm": bool(fc.window_norm),
            "residual": bool(fc.residual),
            "seasonal": first["seasonal"],
            "calendar": fc.calendar_names_,
            "covariates": fc.covariates_,
            "scaler": first["scaler"],
            "adjustment": first["adjustment"],
            "members": members,
            "combine": "mean of the members' quantiles in the series' units",
        },
    }


def _special_ids(tok) -> dict:
    return {name: getattr(tok, f"{name}_id") for name in ("pad", "unk", "bos", "eos")}


def _copy_tokenizer(checkpoint: Path, folder: Path) -> None:
    from lstmkit.checkpoint import load_checkpoint

    shutil.copytree(load_checkpoint(checkpoint).tokenizer_dir, folder / "tokenizer")


def export_graph(graph: nn.Module, example: tuple, path: Path, opset: int) -> dict:
    """Export one graph module to ``path``; returns its manifest entry (file, inputs, outputs
    with their shapes as exported, symbolic axes by name)."""
    import onnx

    ins, outs = graph.specs()
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter's deprecation notice and its trace warnings about the Python
        # checks in the models (shapes compared while validating): expected, and not the user's.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            example,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=list(ins),
            output_names=list(outs),
            dynamic_axes={**ins, **outs},
        )
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    return {
        "file": path.name,
        "inputs": [_describe(v) for v in proto.graph.input],
        "outputs": [_describe(v) for v in proto.graph.output],
    }


def read_manifest(folder: str | Path, kind: str) -> dict:
    """The manifest of an export folder of a ``kind`` model (``"speech"``, ``"caption"``), for
    the runners that check their input as the library does.

    Raises:
        UserError: naming the folder or its manifest when it is not such an export.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise UserError(f"folder: expected an lstmkit ONNX export with {MANIFEST}, got {folder}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: expected JSON, got {error}") from None
    found = manifest if isinstance(manifest, dict) else {}
    if found.get("format") != FORMAT or found.get("kind") != kind:
        raise UserError(
            f"{path}: expected a {FORMAT} export of a {kind} model, got "
            f"{found.get('format')!r} of a {found.get('kind')!r} model"
        )
    return manifest


def _describe(value) -> dict:
    import onnx

    kind = value.type.tensor_type
    shape = [d.dim_param or d.dim_value for d in kind.shape.dim]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(kind.elem_type).name
    return {"name": value.name, "shape": shape, "dtype": dtype}
