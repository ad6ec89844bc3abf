"""The speech section of a report: a speech trace's ``speech`` entry checked, capped for the page,
and its HTML (the spectrogram and the CTC posteriors, drawn by the page script on ``<canvas>``).
An attention model without a CTC head has no posteriors (``log_probs`` None): the section then
says so, and the report's attention section shows its alignment instead.

The page keeps at most :data:`MAX_FRAMES` feature frames (fewer when the spectrogram would pass
:data:`MAX_SPECTROGRAM_VALUES`) and the output frames over them, and the posteriors of at most
:data:`MAX_TOKENS` tokens (:func:`shown_tokens`: the blank, then the highest peaks); a notice says
what was cut. The PNG figures (:mod:`lstmkit.inspect.report_figures`) show every frame.

Legend: T feature frames, T' output frames, F mel bands, V output tokens, K tokens shown.
"""

from __future__ import annotations

import html
import math

import numpy as np

from lstmkit.errors import UserError
from lstmkit.inspect.report import check_shape, require_keys, round_significant

SPEECH_KEYS = (
    "audio",
    "seconds",
    "frame_seconds",
    "output_seconds",
    "features",
    "labels",
    "blank",
    "log_probs",
    "transcript",
    "words",
)
WORD_KEYS = ("word", "start", "end")
MAX_FRAMES = 3000  # 30 s at the default 10 ms hop, the recogniser's default max_seconds
MAX_SPECTROGRAM_VALUES = 300_000  # about 2 MB of JSON
MAX_TOKENS = 40  # posterior rows; a BPE vocabulary of hundreds would be unreadable


def check_speech(speech: dict) -> None:
    """Raises :class:`UserError` naming the first key or shape of a trace's ``speech`` entry
    that the report cannot read."""
    where = "trace['speech']"
    require_keys(speech, SPEECH_KEYS, where)
    check_shape(speech["features"], (None, None), f"{where}['features']", "(T, F)")
    V = len(speech["labels"])
    if speech["log_probs"] is not None:  # None: an attention model without a CTC head
        check_shape(speech["log_probs"], (None, V), f"{where}['log_probs']", "(T', len(labels))")
    blank = speech["blank"]
    if not (isinstance(blank, int | np.integer) and 0 <= blank < V):
        raise UserError(f"{where}['blank']: expected an id in [0, {V}), got {blank!r}")
    for key in ("frame_seconds", "output_seconds"):
        value = speech[key]
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise UserError(f"{where}[{key!r}]: expected seconds > 0, got {value!r}")
    for k, word in enumerate(speech["words"]):
        require_keys(word, WORD_KEYS, f"{where}['words'][{k}]")


def shown_tokens(log_probs, blank: int, most: int | None = None) -> list[int]:
    """The ids whose posteriors are shown: the blank, then the tokens of the highest peak
    probability over the frames, at most ``most`` in all, in id order.

    Args:
        log_probs: (T', V) log-posteriors.
        blank: the blank's id, always shown.
        most: the most ids to keep (default :data:`MAX_TOKENS`).

    Example:
        >>> lp = np.log([[0.7, 0.1, 0.05, 0.15], [0.2, 0.1, 0.6, 0.1]])
        >>> shown_tokens(lp, blank=0, most=3)
        [0, 2, 3]
    """
    peak = np.asarray(log_probs, dtype=np.float64).max(axis=0)  # (V,)
    peak[blank] = np.inf
    most = MAX_TOKENS if most is None else most
    order = np.argsort(-peak, kind="stable")[: max(most, 1)]
    return sorted(int(i) for i in order)


def speech_data(speech: dict) -> tuple[dict, list[str]]:
    """The page's speech data — features (T, F), posteriors (T', K) as probabilities (None
    without ``log_probs``), the K tokens' labels, the transcript and its words — capped, and
    notices saying what was cut."""
    features = np.asarray(speech["features"], dtype=np.float64)  # (T, F)
    T, F = features.shape
    keep = max(min(T, MAX_FRAMES, MAX_SPECTROGRAM_VALUES // max(F, 1)), 1)
    notices = []
    if keep < T:
        notices.append(
            f"Speech: the page shows the first {keep:,} of {T:,} feature frames "
            f"({keep * speech['frame_seconds']:.1f} of {T * speech['frame_seconds']:.1f} s) "
            "to stay small; the PNG figures show all of them."
        )
    ids, posteriors = [], None
    if speech["log_probs"] is not None:
        log_probs = np.asarray(speech["log_probs"], dtype=np.float64)  # (T', V)
        T_out, V = log_probs.shape
        stack = max(1, round(speech["output_seconds"] / speech["frame_seconds"]))
        keep_out = min(T_out, math.ceil(keep / stack)) if keep < T else T_out
        ids = shown_tokens(log_probs, speech["blank"])
        if len(ids) < V:
            rest = np.delete(np.exp(log_probs), ids, axis=1)
            notices.append(
                f"Speech: the posteriors show {len(ids)} of {V} tokens (the blank and the "
                f"highest peaks); no other token's probability passes {rest.max(initial=0.0):.2g}."
            )
        posteriors = round_significant(np.exp(log_probs[:keep_out, ids])).tolist()  # (T', K)
    data = {
        "frame_seconds": float(speech["frame_seconds"]),
        "output_seconds": float(speech["output_seconds"]),
        "labels": [str(speech["labels"][i]) for i in ids],
        "features": round_significant(features[:keep]).tolist(),  # (T, F)
        "posteriors": posteriors,
        "transcript": str(speech["transcript"]),
        "words": [
            {
                "word": str(w["word"]),
                "start": float(round_significant(float(w["start"]))),
                "end": float(round_significant(float(w["end"]))),
            }
            for w in speech["words"]
        ],
    }
    return data, notices


def speech_section(data: dict) -> str:
    """The report's speech section for :func:`speech_data`'s ``data``: the transcript with its
    words' times, and the canvases the page script draws the spectrogram and posteriors on
    (without posteriors, a line saying that an attention model without a CTC head has none)."""
    words = " ".join(
        f'<span class="word">{html.escape(w["word"])} '
        f"<small>{w['start']:.2f}-{w['end']:.2f} s</small></span>"
        for w in data["words"]
    )
    if data["posteriors"] is None:
        posteriors = (
            '<p id="no-posteriors" class="hint">An attention model without a CTC head has no '
            "per-frame posteriors: the attention section below shows which listener frames "
            "each output token reads.</p>"
        )
    else:
        posteriors = (
            '<p class="hint">CTC posteriors of each output frame (rows: tokens, ∅ the blank, ␣ '
            'a space).</p><div class="scroll"><canvas id="posteriors" class="heatmap"></canvas>'
            "</div>"
        )
    return (
        '<section id="speech-section"><h2>Speech</h2>'
        f'<p>Greedy transcript: <q id="transcript">{html.escape(data["transcript"])}</q></p>'
        f'<p id="words" class="hint">{words or "no words"}</p>'
        '<p class="hint">Log-mel features the model reads (rows: mel bands, the highest at the '
        "top; columns: frames).</p>"
        '<div class="scroll"><canvas id="spectrogram" class="heatmap"></canvas></div>'
        f"{posteriors}</section>"
    )


__all__ = [
    "MAX_FRAMES",
    "MAX_SPECTROGRAM_VALUES",
    "MAX_TOKENS",
    "check_speech",
    "shown_tokens",
    "speech_data",
    "speech_section",
]
