"""What each endpoint asks of the loaded estimator; these run in the model worker's thread.

A handler takes a list of validated requests (a batch the worker gathered) and returns one JSON
dict per request, each with its own ``notices``. /predict and /translate run a batch through the
model at once, as does /forecast (:func:`forecast_handler`); /generate runs one request at a
time.

/predict batches by hand what :meth:`LanguageModel.predict_next
<lstmkit.lm.LanguageModel.predict_next>` does for one text: the texts are padded at the end and
the logits taken at each text's last token. The LSTM reads left to right, so the padding after
a text never reaches them.

Legend: B batch, T time, V vocabulary.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from lstmkit.errors import UserError
from lstmkit.nn.device import device_of
from lstmkit.tokenizers import format_unknowns

Handler = Callable[[Sequence], list[dict]]


@dataclass(frozen=True)
class Endpoint:
    """What a task's handler factory returns for one endpoint (see :mod:`lstmkit.registry`).

    Attributes:
        run: the handler: a list of validated requests in, one JSON dict per request out.
        batched: whether the worker gathers concurrent requests into one call of ``run``.
        key: requests whose keys are equal may share a batch (e.g. the same decoding options).
        size: how many items a request holds, counted against the batch limit.
        prepare: None, or what turns a validated request into the payload that ``key``,
            ``size`` and ``run`` see, before it is queued. It runs on a thread of the server's
            pool (never the model worker's), so it must not use the model: it is for checks
            that cost little, so that input refused early never waits in the queue (e.g. an
            audio file's header). It raises :class:`~lstmkit.errors.UserError` (or
            :class:`~lstmkit.serve.errors.Refused` with a status of its own) to refuse.
        max_body: the most bytes of a request body the endpoint may need; the server's body
            limit is the largest of this and :attr:`Limits.max_body
            <lstmkit.serve.schemas.Limits.max_body>`.
        form: the request is a form (``multipart/form-data``, a file upload) rather than JSON.
    """

    run: Handler
    batched: bool = True
    key: Callable[[Any], tuple] = lambda request: ()
    size: Callable[[Any], int] = lambda request: 1
    prepare: Callable[[Any], Any] | None = None
    max_body: int = 0
    form: bool = False


# ---------------------------------------------------------------------------- language model
@torch.no_grad()
def next_token_probs(lm, texts: Sequence[str]) -> tuple[Tensor, list[list[str]]]:
    """Probabilities of the token after each text, in one forward pass.

    Returns:
        probs (B, V), and per text the notices (characters or words mapped to ``<unk>``).
    """
    tokenizer = lm.tokenizer_
    ids, notices = [], []
    for text in texts:
        found, unknowns = tokenizer.encode_with_unknowns(text)
        ids.append(found or [tokenizer.eos_id])  # an empty text: as after the end of a text
        notices.append([f"prompt: {format_unknowns(unknowns)}"] if unknowns else [])
    lengths = torch.tensor([len(i) for i in ids])
    batch = torch.full((len(ids), int(lengths.max())), tokenizer.pad_id, dtype=torch.long)
    for row, found in enumerate(ids):
        batch[row, : len(found)] = torch.tensor(found)  # (B, T), padded at the end
    lm.model_.eval()
    logits, _ = lm.model_(batch.to(device_of(lm.model_)))  # (B, T, V)
    last = logits[torch.arange(len(ids)), lengths - 1]  # (B, V)
    return last.softmax(-1).cpu(), notices


def predict_handler(lm, limits) -> Endpoint:
    def predict(requests: Sequence) -> list[dict]:
        probs, notices = next_token_probs(lm, [r.text for r in requests])
        results = []
        for request, p, notes in zip(requests, probs, notices, strict=True):
            top = p.topk(min(request.top_k, p.numel()))
            pairs = zip(top.values.tolist(), top.indices.tolist(), strict=True)
            tokens = [{"token": lm.tokenizer_.id_to_token(i), "prob": prob} for prob, i in pairs]
            result = {"next": tokens, "next_word": None, "notices": notes}
            if request.next_word:
                with warnings.catch_warnings():  # its notices are the ones above
                    warnings.simplefilter("ignore")
                    word, prob = lm.next_word(request.text)
                result["next_word"] = {"word": word, "prob": prob}
            results.append(result)
        return results

    return Endpoint(predict)


def generate_handler(lm, limits) -> Endpoint:
    def one(r) -> dict:
        return {
            "text": lm.generate(r.prompt, r.max_tokens, r.temperature, r.top_k, r.top_p, r.seed)
        }

    def generate(requests: Sequence) -> list[dict]:
        return [each(one, r) for r in requests]

    return Endpoint(generate, batched=False)


# ---------------------------------------------------------------------------- seq2seq
def translate_key(request) -> tuple:
    """Requests with equal keys decode with the same options, so they can share a batch."""
    beam = request.method == "beam"
    return (
        request.method,
        request.beam_size if beam else None,
        request.length_penalty if beam else None,
        request.max_len,
        request.n_best,
    )


def translate_handler(s2s, limits) -> Endpoint:
    def translate(requests: Sequence) -> list[dict]:
        first = requests[0]  # the worker batches requests of one key only
        sentences = [s for r in requests for s in r.sentences]
        found = s2s.translate(
            sentences,
            method=first.method,
            beam_size=first.beam_size,
            length_penalty=first.length_penalty,
            max_len=first.max_len,
            n_best=first.n_best,
            batch_size=limits.max_batch,
        )
        results, start = [], 0
        for request in requests:
            mine = found[start : start + len(request.sentences)]
            start += len(request.sentences)
            if request.n_best is None:
                results.append({"translations": mine, "n_best": None, "notices": []})
                continue
            n_best = [[{"text": text, "score": score} for text, score in hyps] for hyps in mine]
            best = [hyps[0]["text"] if hyps else "" for hyps in n_best]
            results.append({"translations": best, "n_best": n_best, "notices": []})
        return results

    return Endpoint(translate, key=translate_key, size=lambda request: len(request.sentences))


# ---------------------------------------------------------------------------- forecaster
def forecast_handler(fc, limits) -> Endpoint:
    """Every request's series forecast in one batch of windows (:meth:`Forecaster.forecast_at
    <lstmkit.forecast.Forecaster.forecast_at>` at the trained horizon, then cut to each request's
    horizon), as :meth:`~lstmkit.forecast.Forecaster.predict` gives them one request at a time.
    A model with user future covariates needs them over the horizon, which a request cannot
    give: its requests run one at a time, each failing as ``predict`` does."""
    from lstmkit.forecast.estimator import first_steps

    def forecast(requests: Sequence) -> list[dict]:
        if len(requests) == 1 or fc.covariates_["future"]:
            return [each(lambda r: {"forecast": forecast_rows(fc, r)}, r) for r in requests]
        read = [each(lambda r: {"series": fc.history(history_frame(fc, r))}, r) for r in requests]
        series = [s for found in read for s in found["series"]]
        with warnings.catch_warnings(record=True) as caught:  # the batch's: every request's
            warnings.simplefilter("always")
            table = fc.forecast_at(series, [len(s) for s in series])
        start, results = 0, []
        for request, found in zip(requests, read, strict=True):
            rows = len(found["series"]) * fc.horizon  # forecast_at gives the full horizon
            mine = table.iloc[start : start + rows]
            start += rows
            mine = first_steps(mine, request.horizon or fc.horizon)
            notices = [*found["notices"], *(str(w.message) for w in caught)]
            results.append(
                {"forecast": _rows(mine, request), "notices": list(dict.fromkeys(notices))}
            )
        return results

    return Endpoint(forecast)


def forecast_rows(fc, request) -> list[dict]:
    """The forecaster's :meth:`~lstmkit.forecast.Forecaster.predict` for one request, as rows
    ``{"series", "time", "forecast", "q<level>"...}`` (times as text, non-finite values None)."""
    return _rows(fc.predict(request.horizon, data=history_frame(fc, request)), request)


def _rows(table: pd.DataFrame, request) -> list[dict]:
    from lstmkit.data.calendar import stamp_text

    if not request.quantiles:
        table = table[["series", "time", "forecast"]]
    table = table.assign(time=[stamp_text(t) for t in table["time"]])
    return [{k: _finite(v) for k, v in row.items()} for row in table.to_dict("records")]


def history_frame(fc, request):
    """The request's history as a :class:`~lstmkit.data.series.SeriesFrame`, read and checked as
    a CSV file would be; None without one (the forecast follows the training series)."""
    from lstmkit.data.calendar import check_freq
    from lstmkit.data.series import from_table

    if request.history is not None:
        table = pd.DataFrame(
            {
                "time": [p.time for p in request.history],
                request.name: [p.value for p in request.history],
            }
        )
        return from_table(
            table,
            "history",
            lambda row: f"history[{row}]",
            time="time",
            target=request.name,
            freq=fc.freq_,
        )
    if request.values is None:
        return None
    freq = request.freq or fc.freq_
    check_freq(freq)
    try:
        times = pd.date_range(pd.Timestamp(request.start), periods=len(request.values), freq=freq)
    except (ValueError, TypeError):
        raise UserError(
            f"start: expected a timestamp such as 2020-01-01, got {request.start!r}"
        ) from None
    table = pd.DataFrame({"time": times, request.name: request.values})
    return from_table(
        table, "values", lambda row: f"values[{row}]", time="time", target=request.name, freq=freq
    )


# ---------------------------------------------------------------------------- shared
def each(run: Callable[[object], dict], request) -> dict:
    """``run(request)`` with the warnings it raised as the result's ``notices``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(request)
    return {**result, "notices": list(dict.fromkeys(str(w.message) for w in caught))}


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
