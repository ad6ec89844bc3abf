"""Speech recogniser → trace: what it hears, what it emits, and its LSTMs' gates
(``lstmkit inspect RUN --audio FILE``).

The audio is read and turned into features exactly as
:meth:`SpeechRecognizer.transcribe <lstmkit.speech.SpeechRecognizer.transcribe>` does, and the
network runs on them while :func:`~lstmkit.inspect.traces.recording` keeps its LSTMs' gates.

* CTC (:class:`~lstmkit.models.speech.CTCRecognizer`): its
  :meth:`~lstmkit.models.speech.CTCRecognizer.log_probs` runs; one panel ``"encoder"`` of L
  layers and D directions, one step per output frame, labelled with the frame's most probable
  token.
* Listen, Attend and Spell (:class:`~lstmkit.models.speech_las.LASRecognizer`): greedy decoding
  (:func:`lstmkit.decode.greedy`, as ``transcribe`` runs it) with the listener's and the
  speller's gates; one panel per pyramid layer, ``"listener 0"`` … (one layer, D directions,
  each over its own frames, labelled by their start time, e.g. ``"0.32s"``), then
  ``"speller"`` (one step per output token, the last ``<eos>``), and ``attention``
  ``{"src": listener frame times (S), "tgt": output tokens, "weights": (steps, S)}``. Its
  ``log_probs`` are the CTC head's over the listener frames when it has one (``ctc_weight`` >
  0), else None: an attention model has no per-frame posteriors.

Beside the panels, the trace holds a ``speech`` entry::

    speech  {"audio": str, "seconds": float (the audio's duration),
             "frame_seconds": float (between feature frames),
             "output_seconds": float (between output frames: frame_seconds * stack; LAS: between
                 listener frames, frame_seconds * the listener's frame_stack),
             "features": float32 (T, F), the normalised log-mel features the model reads,
             "labels": [str] (V), each output id's label, the blank "∅", a space "␣",
             "blank": int, the blank's id,
             "log_probs": float32 (T', V), the CTC log-posteriors (a log-softmax per frame),
                 or None (LAS without a CTC head),
             "transcript": str, the greedy transcript,
             "words": [{"word", "start", "end"}], its words' times in seconds}

Legend: T feature frames, T' output frames (LAS: S listener frames), F mel bands, V output
tokens (the blank included), L layers, D directions, H hidden_size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lstmkit.data.audio import check_audible, read_audio
from lstmkit.decode import greedy
from lstmkit.inspect.traces import (
    attention_finding,
    gate_findings,
    new_trace,
    no_label,
    panel,
    recording,
)
from lstmkit.models.speech_las import LASRecognizer
from lstmkit.nn.device import device_of
from lstmkit.speech.features import features_of_samples
from lstmkit.speech.transcription import MAX_TOKENS_PER_SECOND

BLANK = "∅"
SPACE = "␣"


def token_labels(tokenizer, blank: int) -> list[str]:
    """Each output id's label for the report: the blank ``∅``, a space ``␣``, else the token.

    Example:
        >>> from lstmkit.tokenizers import train_tokenizer
        >>> tok = train_tokenizer("char", "ab a")
        >>> labels = token_labels(tok, tok.pad_id)
        >>> labels[tok.pad_id], labels[tok.token_to_id(" ")], labels[tok.token_to_id("a")]
        ('∅', '␣', 'a')
    """
    labels = [tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]
    labels = [SPACE if label == " " else label for label in labels]
    labels[blank] = BLANK
    return labels


@torch.no_grad()
def speech_trace(recognizer, audio: str | Path, max_seconds: float | None = None) -> dict:
    """The trace of a speech recogniser hearing one audio file (see the module docstring).

    Args:
        recognizer: a fitted :class:`~lstmkit.speech.SpeechRecognizer` (CTC or LAS).
        audio: an audio file (any format libsndfile reads; resampled to the model's rate).
        max_seconds: longer audio is refused (default: the recogniser's ``max_seconds``).

    Returns:
        The trace: CTC, one panel ``"encoder"`` of L layers and D directions over the T' output
        frames; LAS, the listener's panels, the speller's and the attention alignment; and
        ``speech`` as described above.

    Raises:
        UserError: naming the file when it is missing, unreadable, empty, silent or too long.

    Example:
        >>> import tempfile, soundfile
        >>> from lstmkit.models.speech import SpeechConfig, build_recognizer
        >>> from lstmkit.speech import FeatureConfig, SpeechRecognizer
        >>> from lstmkit.tokenizers import train_tokenizer
        >>> r = SpeechRecognizer()  # an untrained network stands in for a fitted one
        >>> r.tokenizer_, r.feature_config_ = train_tokenizer("char", "ab"), FeatureConfig(n_mels=8)
        >>> r.model_ = build_recognizer(SpeechConfig(
        ...     r.tokenizer_.vocab_size, n_mels=8, hidden_size=4, blank_id=r.tokenizer_.pad_id))
        >>> path = Path(tempfile.mkdtemp()) / "tone.wav"
        >>> soundfile.write(path, np.sin(np.arange(8000) / 5) / 2, 16000)  # 0.5 s
        >>> s = speech_trace(r, path)["speech"]
        >>> s["features"].shape, s["log_probs"].shape[0], s["labels"][r.tokenizer_.pad_id]
        ((48, 8), 12, '∅')
    """
    fc, model = recognizer.feature_config_, recognizer.model_
    limit = recognizer.max_seconds if max_seconds is None else max_seconds
    samples = read_audio(audio, fc.sample_rate, max_seconds=limit)
    check_audible(samples, str(audio))
    features = features_of_samples(samples, fc)  # (T, F)
    las = isinstance(model, LASRecognizer)
    blank = model.blank_id if las else model.config.blank_id
    labels = token_labels(recognizer.tokenizer_, blank)
    output_seconds = fc.hop_ms / 1000 * model.frame_stack
    x = features.unsqueeze(0).to(device_of(model))  # (1, T, F)
    n = torch.tensor([features.shape[0]])
    was_training = model.training
    model.eval()
    try:
        if las:
            ratio = MAX_TOKENS_PER_SECOND * fc.hop_ms / 1000  # per feature frame, as transcribe
            panels, log_probs, attention = _las_parts(model, x, n, labels, output_seconds, ratio)
        else:
            panels, log_probs, attention = _ctc_parts(model, x, n, labels)
    finally:
        model.train(was_training)
    # The transcript as `transcribe` gives it (greedy, the same features), with its word times.
    (found,) = recognizer.transcribe(str(audio), timestamps=True, max_seconds=limit)
    name = Path(audio).name
    what = "Speech recogniser (Listen, Attend and Spell)" if las else "Speech recogniser"
    trace = new_trace("speech", f"{what} hearing {name}: {found['text'][:60]!r}")
    trace["panels"] += panels
    trace["attention"] = attention
    trace["speech"] = {
        "audio": str(audio),
        "seconds": len(samples) / fc.sample_rate,
        "frame_seconds": fc.hop_ms / 1000,
        "output_seconds": output_seconds,
        "features": features.numpy().astype(np.float32),
        "labels": labels,
        "blank": blank,
        "log_probs": None if log_probs is None else log_probs.numpy().astype(np.float32),
        "transcript": found["text"],
        "words": found["words"],
    }
    trace["findings"] += speech_findings(trace["speech"])
    if attention is not None:
        trace["findings"].append(
            attention_finding(
                attention["src"], attention["tgt"], attention["weights"], source="listener frame"
            )
        )
    for p in panels:
        # A listener panel is one layer: "listener 1 (forward)", not "listener 1 layer 0 ...".
        found_here = gate_findings(p)
        if p["name"].startswith("listener"):
            found_here = [f.replace(f"{p['name']} layer 0", p["name"], 1) for f in found_here]
        trace["findings"] += found_here
    return trace


def _ctc_parts(model, x, lengths, labels: list[str]) -> tuple[list[dict], torch.Tensor, None]:
    """CTC: the encoder's panel and the log-posteriors (T', V) of features ``x`` (1, T, F)."""
    with recording(model.lstm) as (calls,):
        log_probs, _ = model.log_probs(x, lengths)  # (1, T', V)
    log_probs = log_probs[0].float().cpu()  # (T', V)
    best = log_probs.max(-1).indices.tolist()  # (T',) as ctc_greedy picks them
    lstm = model.lstm
    D = 2 if lstm.bidirectional else 1
    encoder, _ = panel("encoder", [labels[i] for i in best], calls, lstm.num_layers, D, "time")
    return [encoder], log_probs, None


def _las_parts(
    model: LASRecognizer, x, lengths, labels: list[str], seconds: float, ratio: float
) -> tuple[list[dict], torch.Tensor | None, dict]:
    """LAS: greedy decoding of features ``x`` (1, T, F) with the listener's and the speller's
    gates; the panels, the CTC head's log-posteriors (S, V) or None, and the attention."""
    layers, speller = list(model.listener.layers), model.speller.lstm
    with recording(*layers, speller) as calls:
        (hyp,) = greedy(model, x, lengths, None, max_len_ratio=ratio)
    *heard, spelled = calls
    panels = []
    top = len(layers) - 1
    for k, (lstm, kept) in enumerate(zip(layers, heard, strict=True)):
        steps = kept[0].f.shape[2]  # (L*D, B, t, H): each layer has its own length
        every = seconds / 2 ** (top - k)  # layer k's frames: half as long as layer k+1's
        times = [f"{t * every:.2f}s" for t in range(steps)]
        D = 2 if lstm.bidirectional else 1
        panels.append(panel(f"listener {k}", times, kept, 1, D, "time")[0])
    tgt = [labels[i] for i in hyp.tokens] + [labels[model.eos_id]]
    tgt = tgt[: len(spelled)]  # one speller step per emitted token, the last eos
    panels.append(panel("speller", tgt, spelled, speller.num_layers, 1, "time")[0])
    src = panels[top]["tokens"]  # the top listener layer's frames are the speller's source
    attention = {"src": src, "tgt": tgt, "weights": hyp.attention.float().numpy()}  # (U, S)
    log_probs = None
    if model.ctc_output is not None:
        log_probs = model.ctc_log_probs(x, lengths)[0][0].float().cpu()  # (S, V)
    return panels, log_probs, attention


def speech_findings(speech: dict, shown: int = 12) -> list[str]:
    """Plain sentences about what was heard: the transcript, its words' times, and how often the
    blank wins a frame (or that an attention model without a CTC head has no posteriors).

    Example:
        >>> lp = np.log([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        >>> speech = {"transcript": "a", "words": [{"word": "a", "start": 0.03, "end": 0.06}],
        ...           "log_probs": lp, "blank": 0, "labels": ["∅", "a"], "output_seconds": 0.03}
        >>> for line in speech_findings(speech): print(line)
        Greedy transcript: 'a' (1 word): 'a' 0.03-0.06 s.
        The blank is the most probable token in 2 of the 3 output frames (67%, 0.03 s each); the mean peak probability of a frame is 0.77.
        >>> speech_findings({**speech, "log_probs": None})[1][:60]
        'An attention model without a CTC head has no per-frame poste'
    """  # noqa: E501
    words = speech["words"]
    times = ", ".join(f"{w['word']!r} {w['start']:.2f}-{w['end']:.2f} s" for w in words[:shown])
    more = f" and {len(words) - shown} more" if len(words) > shown else ""
    heard = f": {times}{more}." if words else "; no words."
    said = (
        f"Greedy transcript: {speech['transcript']!r} ({len(words)} "
        f"word{'' if len(words) == 1 else 's'}){heard}"
    )
    if speech["log_probs"] is None:
        return [
            said,
            "An attention model without a CTC head has no per-frame posteriors; the attention "
            "alignment shows which listener frames each output token reads.",
        ]
    probs = np.exp(np.asarray(speech["log_probs"], dtype=np.float64))  # (T', V)
    frames = probs.shape[0]
    blanks = int((probs.argmax(1) == speech["blank"]).sum())
    return [
        said,
        f"The blank is the most probable token in {blanks} of the {frames} output frames "
        f"({blanks / max(frames, 1):.0%}, {speech['output_seconds']:.2g} s each); the mean peak "
        f"probability of a frame is {probs.max(1).mean():.2f}.",
    ]


def speech_trace_for(recognizer, audio: str | Path, options: dict) -> dict:
    """``lstmkit inspect``'s trace of a speech recogniser (see :mod:`lstmkit.registry`,
    ``trace_input="audio"``): :func:`speech_trace` of the audio file."""
    no_label(options)
    return speech_trace(recognizer, audio)


__all__ = ["BLANK", "SPACE", "speech_findings", "speech_trace", "speech_trace_for", "token_labels"]
