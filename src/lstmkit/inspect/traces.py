"""Models → gate traces: each model's LSTMs run with ``return_gates=True`` on the user's input.

The models are run through their own code — :class:`~lstmkit.lm.LanguageModel`'s network,
greedy decoding for :class:`~lstmkit.seq2seq.Seq2Seq`, :meth:`Forecaster.predict
<lstmkit.forecast.Forecaster.predict>` — while :func:`recording` makes every forward call of the
chosen :class:`~lstmkit.nn.LSTM` modules also return the gate trace (which selects the explicit
backend) and keeps it. What the report shows is therefore exactly what the model computed.

A trace is a dict (numpy arrays become lists for JSON)::

    kind       "lm" | "seq2seq" | "forecast" | "speech" | "caption"
    title      str
    notices    [str]: truncation, words mapped to <unk>, ...
    panels     [{"name": "lstm" | "encoder" | "decoder" | "listener 0" | "speller" | ...,
                 "tokens": [str] (T), "layers": L, "directions": D,
                 "quantities": {"f", "i", "o", "g", "c", "h": float32 (L*D, T, H)}}]
    top_next   LM: per position the 5 likeliest next tokens, [[token, prob] x 5] (T); else None
    attention  seq2seq with attention: {"src": [str], "tgt": [str], "weights": (T_tgt, T_src)}
               (a captioner's: over the image's regions)
    forecast   {"series", "history_time", "history", "time", "forecast", "lower", "upper"}
    memory     [{"label", "panel", "layer", "direction", "unit", "correlation", "trace"}]
    findings   [str]
    speech     a speech recogniser's features, posteriors and transcript
               (:mod:`lstmkit.inspect.speech`); else None
    caption    an image captioner's image, its attention maps per word and gate β
               (:mod:`lstmkit.inspect.caption`); else None

Rows of a quantity are indexed ``layer * D + direction``, as ``h_n``.

Legend: B batch, T time, S source length, K horizon, W look-back, H hidden_size, L layers,
D directions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from lstmkit.checkpoint import CONFIG_FILE
from lstmkit.checkpoint.codec import read_json
from lstmkit.data.calendar import stamp_text
from lstmkit.errors import UserError
from lstmkit.nn import LSTM, GateTrace
from lstmkit.registry import load_estimator
from lstmkit.tokenizers import format_unknowns

QUANTITIES = ("f", "i", "o", "g", "c", "h")
TOP_NEXT = 5
MAX_LEN = 200  # seq2seq output tokens, as Seq2Seq.translate's default


# ---------------------------------------------------------------------------- recording gates
@contextmanager
def recording(*lstms: nn.Module) -> Iterator[list[list[GateTrace]]]:
    """While open, every forward call of each LSTM also computes and keeps its gate trace.

    The caller's code runs unchanged (a forward hook hands it the usual ``(output, (h, c))``);
    ``return_gates=True`` is added to each call, so the explicit backend runs.

    Yields:
        One list per LSTM, of the :class:`~lstmkit.nn.GateTrace` of each call in order.

    Raises:
        UserError: a module that is not lstmkit's LSTM (a GRU or plain RNN has no gates).

    Example:
        >>> lstm = LSTM(3, 4, batch_first=True)
        >>> with recording(lstm) as (calls,):
        ...     out, _ = lstm(torch.randn(2, 5, 3))
        >>> calls[0].f.shape
        torch.Size([1, 2, 5, 4])
    """
    for module in lstms:
        if not isinstance(module, LSTM):
            raise UserError(f"model: expected LSTM layers to inspect, got {type(module).__name__}")
    calls: list[list[GateTrace]] = [[] for _ in lstms]
    handles = []
    for module, kept in zip(lstms, calls, strict=True):

        def add_flag(module, args, kwargs):
            return args, {**kwargs, "return_gates": True}

        def keep(module, args, kwargs, output, kept=kept):
            out, state, trace = output
            kept.append(trace)
            return out, state

        handles.append(module.register_forward_pre_hook(add_flag, with_kwargs=True))
        handles.append(module.register_forward_hook(keep, with_kwargs=True))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def panel(
    name: str,
    tokens: list[str],
    traces: Sequence[GateTrace],
    layers: int,
    dirs: int,
    join: str,
    row: int = 0,
) -> tuple[dict, list[str]]:
    """A panel from the gate traces of one batch row.

    Args:
        name, tokens, layers, dirs: the panel's (see the module docstring).
        traces: the recorded calls.
        join: ``"layers"``: one call per layer of a stack of one-layer LSTMs (the language
            model), stacked as rows; layers narrower than the widest are padded with zeros, with
            a notice. ``"time"``: calls of one LSTM one after another (a decoder's steps),
            joined along time.
        row: the batch row to keep.

    Returns:
        The panel and its notices.
    """
    per_call = [  # each (L*D, T, H)
        {q: getattr(t, q)[:, row].float().cpu().numpy() for q in QUANTITIES} for t in traces
    ]
    notices = []
    if join == "layers":
        widths = [c["f"].shape[-1] for c in per_call]
        if len(set(widths)) > 1:
            notices.append(
                f"{name}: layer widths {widths} differ; narrower layers are padded with zeros"
            )
        pads = [((0, 0), (0, 0), (0, max(widths) - w)) for w in widths]
        quantities = {
            q: np.concatenate([np.pad(c[q], pad) for c, pad in zip(per_call, pads, strict=True)])
            for q in QUANTITIES
        }
    else:
        quantities = {q: np.concatenate([c[q] for c in per_call], axis=1) for q in QUANTITIES}
    quantities = {q: v.astype(np.float32) for q, v in quantities.items()}
    return {
        "name": name,
        "tokens": tokens,
        "layers": layers,
        "directions": dirs,
        "quantities": quantities,
    }, notices


def new_trace(kind: str, title: str) -> dict:
    """An empty trace of ``kind`` (see the module docstring)."""
    return {
        "kind": kind,
        "title": title,
        "notices": [],
        "panels": [],
        "top_next": None,
        "attention": None,
        "forecast": None,
        "memory": [],
        "findings": [],
        "speech": None,
        "caption": None,
    }


def encode_input(tokenizer, text: str, max_tokens: int, what: str) -> tuple[list[int], list[str]]:
    """Token ids of ``text`` (unknowns as ``<unk>``), at most ``max_tokens``, and notices.

    Raises:
        UserError: naming ``what`` for an empty text, ``max_tokens`` below 1.
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise UserError(f"max_tokens: expected a positive integer, got {max_tokens!r}")
    ids, unknowns = tokenizer.encode_with_unknowns(text)
    if not text.strip() or not ids:
        raise UserError(f"{what}: expected some text, got none")
    notices = [f"{what}: {format_unknowns(unknowns)}"] if unknowns else []
    if len(ids) > max_tokens:
        notices.append(
            f"{what}: {len(ids)} tokens, truncated to the first {max_tokens} (--max-tokens)"
        )
        ids = ids[:max_tokens]
    return ids, notices


# ---------------------------------------------------------------------------- the three models
@torch.no_grad()
def lm_trace(lm, text: str, max_tokens: int = 5000) -> dict:
    """The gate trace of a language model reading ``text``, and its next-token top 5.

    Args:
        lm: a fitted :class:`~lstmkit.lm.LanguageModel` with ``cell="lstm"``.
        text: what to read; words or characters outside the vocabulary become ``<unk>``.
        max_tokens: longer texts are cut, with a notice.

    Raises:
        UserError: an empty text, or a model without LSTM layers.
    """
    model, tok = lm.model_, lm.tokenizer_
    ids, notices = encode_input(tok, text, max_tokens, "text")
    tokens = [tok.id_to_token(i) for i in ids]
    model.eval()
    device = next(model.parameters()).device
    with recording(*model.layers) as calls:
        logits, _ = model(torch.tensor([ids], device=device))  # (1, T, V)
    trace = new_trace("lm", f"Language model reading {len(ids)} tokens")
    layers = len(model.layers)
    lstm, padded = panel("lstm", tokens, [c[0] for c in calls], layers, 1, "layers")
    trace["panels"].append(lstm)
    trace["notices"] += notices + padded
    top = logits[0].float().softmax(-1).topk(min(TOP_NEXT, logits.shape[-1]))  # (T, 5)
    trace["top_next"] = [
        [[tok.id_to_token(i), float(p)] for i, p in zip(ids_t, ps, strict=True)]
        for ids_t, ps in zip(top.indices.tolist(), top.values.tolist(), strict=True)
    ]
    trace["findings"] += gate_findings(lstm)
    return trace


@torch.no_grad()
def seq2seq_trace(s2s, sentence: str, max_tokens: int = 5000) -> dict:
    """Greedy translation of ``sentence`` with the encoder's and the decoder's gates.

    The decoder's steps are labelled with the token each step emitted (the last one ``<eos>``);
    with attention, ``attention["weights"]`` holds each step's weights over the source tokens
    (in the order the encoder read them: reversed with ``reverse_source``).

    Raises:
        UserError: an empty sentence.
    """
    from lstmkit.decode import greedy
    from lstmkit.seq2seq.estimator import RATIO_MARGIN

    model, src_tok, tgt_tok = s2s.model_, s2s.src_tokenizer_, s2s.tgt_tokenizer_
    ids, notices = encode_input(src_tok, sentence, max_tokens, "text")
    ids = ids[::-1] if s2s.reverse_source else ids
    device = next(model.parameters()).device
    ratio = getattr(s2s, "length_ratio_", None)
    with recording(model.encoder.lstm, model.decoder.lstm) as (enc, dec):
        (hyp,) = greedy(
            model,
            torch.tensor([ids], device=device),
            torch.tensor([len(ids)]),
            MAX_LEN,
            None if ratio is None else RATIO_MARGIN * ratio,
        )
    src = [src_tok.id_to_token(i) for i in ids]
    tgt = [tgt_tok.id_to_token(i) for i in hyp.tokens] + [tgt_tok.id_to_token(model.eos_id)]
    tgt = tgt[: len(dec)]  # one decoder step per emitted token
    translation = tgt_tok.decode(hyp.tokens)
    trace = new_trace("seq2seq", f"Translation: {sentence.strip()[:60]!r} -> {translation[:60]!r}")
    enc_lstm, dec_lstm = model.encoder.lstm, model.decoder.lstm
    D = 2 if enc_lstm.bidirectional else 1
    encoder, _ = panel("encoder", src, enc, enc_lstm.num_layers, D, "time")
    decoder, _ = panel("decoder", tgt, dec, dec_lstm.num_layers, 1, "time")
    trace["panels"] += [encoder, decoder]
    trace["notices"] += notices
    trace["findings"].append(f"Greedy translation: {translation!r} ({len(hyp.tokens)} tokens).")
    if hyp.attention is not None:
        weights = hyp.attention.float().numpy()  # (T_tgt, S)
        trace["attention"] = {"src": src, "tgt": tgt, "weights": weights}
        trace["findings"].append(attention_finding(src, tgt, weights))
    trace["findings"] += gate_findings(encoder) + gate_findings(decoder)
    return trace


@torch.no_grad()
def forecast_trace(fc, data=None, future: pd.DataFrame | None = None) -> dict:
    """The encoder's gates over the look-back window of the first series, and the forecast.

    The forecast is :meth:`Forecaster.predict <lstmkit.forecast.Forecaster.predict>`'s, and the
    gates are recorded while it runs, so the encoder reads exactly the window the model reads:
    window-normalised (seasonal) differences, with the level and covariates beside them. With
    the autoregressive head, the decoder's gates over the horizon form a second panel. Of an
    ensemble (:mod:`lstmkit.forecast.views`) the gates are the first member's; the forecast is
    the members' mean.

    Args:
        fc: a fitted :class:`~lstmkit.forecast.Forecaster`.
        data: the history, as :meth:`~lstmkit.forecast.Forecaster.predict` takes it (a CSV path,
            a DataFrame, ...); default the end of the training data kept in the model.
        future: the future covariates over the horizon, if the model has any.

    Raises:
        UserError: as :meth:`~lstmkit.forecast.Forecaster.predict`.
    """
    from lstmkit.data.series_tools import read_frame
    from lstmkit.models.forecaster import members_of

    frame = None if data is None else read_frame(data, **fc.read_options_)
    model = members_of(fc.model_)[0]  # an ensemble's first member (its first view)
    lstms = [model.encoder.lstm] + ([model.head.lstm] if hasattr(model.head, "lstm") else [])
    with recording(*lstms) as calls:
        table = fc.predict(data=frame, future=future)
    first = table["series"].iloc[0]
    rows = table[table["series"] == first]
    series = next(s for s in fc.history(frame) if s.name == first)
    times, values = series.index, series.values
    W = fc.lookback_
    trace = new_trace("forecast", f"Forecast of series {first!r}, {fc.horizon} steps ahead")
    layers = fc.config_.num_layers
    encoder, _ = panel("encoder", [stamp_text(t) for t in times[-W:]], calls[0], layers, 1, "time")
    trace["panels"].append(encoder)
    if len(calls) > 1:
        decoder, _ = panel(
            "decoder", [stamp_text(t) for t in rows["time"]], calls[1], layers, 1, "time"
        )
        trace["panels"].append(decoder)
    shown = min(len(values), max(W, 4 * fc.horizon))
    levels = [c for c in table.columns if c.startswith("q")]
    trace["forecast"] = {
        "series": str(first),
        "history_time": [stamp_text(t) for t in times[-shown:]],
        "history": [float(v) for v in values[-shown:]],
        "time": [stamp_text(t) for t in rows["time"]],
        "forecast": rows["forecast"].astype(float).tolist(),
        "lower": rows[levels[0]].astype(float).tolist(),
        "upper": rows[levels[-1]].astype(float).tolist(),
    }
    low, high = rows[levels[0]].iloc[-1], rows[levels[-1]].iloc[-1]
    trace["findings"].append(
        f"Series {first!r}: the median forecast runs from {rows['forecast'].iloc[0]:.4g} to "
        f"{rows['forecast'].iloc[-1]:.4g} over the {len(rows)} steps after "
        f"{stamp_text(times[-1])}; "
        f"at the last step the {levels[0]} to {levels[-1]} band is {low:.4g} to {high:.4g}."
    )
    for p in trace["panels"]:
        trace["findings"] += gate_findings(p)
    return trace


# ---------------------------------------------------------------------------- inspect's adapters
def lm_trace_for(lm, text: str, options: dict) -> dict:
    """``lstmkit inspect``'s trace of a language model (see :mod:`lstmkit.registry`): the gates
    over ``text``, and for a word model of the built-in keywords corpus the units that hold
    ``options["label"]`` (every cuisine without one).

    Args:
        options: ``max_tokens``, ``label`` (a cuisine, or None), ``directory`` (for messages).
    """
    from lstmkit.data import CUISINES
    from lstmkit.inspect.memory import add_keyword_memory

    trace = lm_trace(lm, text, options["max_tokens"])
    label = options.get("label")
    if training_data(lm).get("builtin") != "keywords":
        no_label(options)
    elif lm.tokenizer_.kind != "word":
        trace["notices"].append("the keyword memory search needs a word tokenizer; skipped")
    else:
        if label is not None and label not in CUISINES:
            raise UserError(f"label: expected one of {', '.join(CUISINES)}, got {label!r}")
        add_keyword_memory(trace, lm, label)
    return trace


def seq2seq_trace_for(s2s, sentence: str, options: dict) -> dict:
    """``lstmkit inspect``'s trace of a seq2seq model: :func:`seq2seq_trace`."""
    no_label(options)
    return seq2seq_trace(s2s, sentence, options["max_tokens"])


def forecast_trace_for(fc, data, options: dict) -> dict:
    """``lstmkit inspect``'s trace of a forecaster: :func:`forecast_trace` after ``data``."""
    no_label(options)
    return forecast_trace(fc, data)


def no_label(options: dict) -> None:
    """Refuses a label where there is no memory of labels to search."""
    if options.get("label") is not None:
        raise UserError(
            f"label: only a language model trained on the built-in keywords corpus "
            f"has labels to search; {options['directory']} is not one"
        )


# ---------------------------------------------------------------------------- findings
def gate_findings(p: dict) -> list[str]:
    """Plain sentences about a panel: per layer and direction, how much the forget gate keeps,
    where it resets most, and the unit whose cell state ranges widest."""
    found = []
    q, D = p["quantities"], p["directions"]
    for row in range(q["f"].shape[0]):
        f, c = q["f"][row], q["c"][row]  # (T, H)
        where = f"{p['name']} layer {row // D}"
        if D == 2:
            where += " (backward)" if row % 2 else " (forward)"
        text = (
            f"{where}: mean forget gate {f.mean():.2f}; {(f > 0.9).mean():.0%} of unit-steps "
            f"keep the memory (f > 0.9), {(f < 0.1).mean():.0%} wipe it (f < 0.1)"
        )
        if f.shape[0] > 1:
            t = int(f.mean(1).argmin())
            text += f"; the strongest reset is at {p['tokens'][t]!r} (mean f {f[t].mean():.2f})"
        unit = int((c.max(0) - c.min(0)).argmax())
        text += (
            f"; unit {unit}'s cell state ranges widest, {c[:, unit].min():+.2f} to "
            f"{c[:, unit].max():+.2f}."
        )
        found.append(text)
    return found


def attention_finding(
    src: list[str],
    tgt: list[str],
    weights: np.ndarray,
    shown: int = 12,
    source: str = "source token",
) -> str:
    """Which ``source`` (a source token, a listener frame) each output token attends to most."""
    pairs = [
        f"{t!r}←{src[int(w.argmax())]!r} ({w.max():.2f})"
        for t, w in zip(tgt[:shown], weights, strict=False)
    ]
    more = f" and {len(tgt) - shown} more" if len(tgt) > shown else ""
    lead = f"Attention, each output token and the {source} it weighs most"
    return f"{lead}: {', '.join(pairs)}{more}."


# ---------------------------------------------------------------------------- checkpoints
def load_any(directory: str | Path):
    """The estimator a checkpoint or run folder holds, if its model has LSTM gates to show.

    Returns:
        A :class:`~lstmkit.lm.LanguageModel`, :class:`~lstmkit.seq2seq.Seq2Seq` or
        :class:`~lstmkit.forecast.Forecaster`.

    Raises:
        UserError: naming the folder when it is missing, holds no checkpoint, or its model is
            a GRU or plain RNN language model.
    """
    estimator = load_estimator(directory)
    if estimator.task_ == "lm" and estimator.model_.config.cell != "lstm":
        cell = estimator.model_.config.cell
        raise UserError(
            f"{directory}: a {cell.upper()} language model has no LSTM gates to "
            "inspect; expected one trained with cell 'lstm'"
        )
    return estimator


def training_data(estimator) -> dict:
    """The data sources a loaded estimator's run recorded (``{"builtin": "keywords", ...}``), or
    ``{}`` (a model saved with ``save()`` records none)."""
    directory = getattr(estimator, "checkpoint_", None)
    if directory is None:
        return {}
    config = read_json(Path(directory) / CONFIG_FILE)  # checked when the estimator was loaded
    return config.get("data", {}).get("sources") or {}


def to_json(trace: dict) -> dict:
    """The trace with numpy arrays as lists, ready for :func:`json.dumps`."""

    def plain(value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return plain(trace)


__all__ = [
    "QUANTITIES",
    "forecast_trace",
    "forecast_trace_for",
    "gate_findings",
    "lm_trace",
    "lm_trace_for",
    "load_any",
    "no_label",
    "recording",
    "seq2seq_trace",
    "seq2seq_trace_for",
    "to_json",
    "training_data",
]
