"""Speech recogniser → trace: what it hears, what it emits, and its encoder's gates
(``lstmkit inspect RUN --audio FILE``).

The audio is read and turned into features exactly as
:meth:`SpeechRecognizer.transcribe <lstmkit.speech.SpeechRecognizer.transcribe>` does, and the
network's :meth:`~lstmkit.models.speech.CTCRecognizer.log_probs` runs on them while
:func:`~lstmkit.inspect.traces.recording` keeps the encoder LSTM's gates. Beside the usual panel
(``"encoder"``, one step per output frame, labelled with the frame's most probable token), the
trace holds a ``speech`` entry::

    speech  {"audio": str, "seconds": float (the audio's duration),
             "frame_seconds": float (between feature frames),
             "output_seconds": float (between output frames: frame_seconds * stack),
             "features": float32 (T, F), the normalised log-mel features the model reads,
             "labels": [str] (V), each output id's label, the blank "∅", a space "␣",
             "blank": int, the blank's id,
             "log_probs": float32 (T', V), the CTC log-posteriors (a log-softmax per frame),
             "transcript": str, the greedy transcript,
             "words": [{"word", "start", "end"}], its words' times in seconds}

Legend: T feature frames, T' output frames, F mel bands, V output tokens (the blank included),
L layers, D directions, H hidden_size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lstmkit.data.audio import check_audible, read_audio
from lstmkit.inspect.traces import gate_findings, new_trace, no_label, panel, recording
from lstmkit.nn.device import device_of
from lstmkit.speech.features import features_of_samples

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
        recognizer: a fitted :class:`~lstmkit.speech.SpeechRecognizer`.
        audio: an audio file (any format libsndfile reads; resampled to the model's rate).
        max_seconds: longer audio is refused (default: the recogniser's ``max_seconds``).

    Returns:
        The trace: one panel ``"encoder"`` of L layers and D directions over the T' output
        frames, and ``speech`` as described above.

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
        ((48, 8), 16, '∅')
    """
    fc, model = recognizer.feature_config_, recognizer.model_
    limit = recognizer.max_seconds if max_seconds is None else max_seconds
    samples = read_audio(audio, fc.sample_rate, max_seconds=limit)
    check_audible(samples, str(audio))
    features = features_of_samples(samples, fc)  # (T, F)
    was_training = model.training
    model.eval()
    try:
        with recording(model.lstm) as (calls,):
            log_probs, _ = model.log_probs(  # (1, T', V)
                features.unsqueeze(0).to(device_of(model)), torch.tensor([features.shape[0]])
            )
    finally:
        model.train(was_training)
    # The transcript as `transcribe` gives it (greedy, the same features), with its word times.
    (found,) = recognizer.transcribe(str(audio), timestamps=True, max_seconds=limit)
    log_probs = log_probs[0].float().cpu()  # (T', V)
    blank = model.config.blank_id
    labels = token_labels(recognizer.tokenizer_, blank)
    best = log_probs.max(-1).indices.tolist()  # (T',) as ctc_greedy picks them
    lstm = model.lstm
    encoder, _ = panel(
        "encoder",
        [labels[i] for i in best],
        calls,
        lstm.num_layers,
        2 if lstm.bidirectional else 1,
        "time",
    )
    name = Path(audio).name
    trace = new_trace("speech", f"Speech recogniser hearing {name}: {found['text'][:60]!r}")
    trace["panels"].append(encoder)
    trace["speech"] = {
        "audio": str(audio),
        "seconds": len(samples) / fc.sample_rate,
        "frame_seconds": fc.hop_ms / 1000,
        "output_seconds": fc.hop_ms / 1000 * model.frame_stack,
        "features": features.numpy().astype(np.float32),
        "labels": labels,
        "blank": blank,
        "log_probs": log_probs.numpy().astype(np.float32),
        "transcript": found["text"],
        "words": found["words"],
    }
    trace["findings"] += speech_findings(trace["speech"]) + gate_findings(encoder)
    return trace


def speech_findings(speech: dict, shown: int = 12) -> list[str]:
    """Plain sentences about what was heard: the transcript, its words' times, and how often the
    blank wins a frame.

    Example:
        >>> lp = np.log([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        >>> speech = {"transcript": "a", "words": [{"word": "a", "start": 0.03, "end": 0.06}],
        ...           "log_probs": lp, "blank": 0, "labels": ["∅", "a"], "output_seconds": 0.03}
        >>> for line in speech_findings(speech): print(line)
        Greedy transcript: 'a' (1 word): 'a' 0.03-0.06 s.
        The blank is the most probable token in 2 of the 3 output frames (67%, 0.03 s each); the mean peak probability of a frame is 0.77.
    """  # noqa: E501
    words = speech["words"]
    times = ", ".join(f"{w['word']!r} {w['start']:.2f}-{w['end']:.2f} s" for w in words[:shown])
    more = f" and {len(words) - shown} more" if len(words) > shown else ""
    heard = f": {times}{more}." if words else "; no words."
    probs = np.exp(np.asarray(speech["log_probs"], dtype=np.float64))  # (T', V)
    frames = probs.shape[0]
    blanks = int((probs.argmax(1) == speech["blank"]).sum())
    return [
        f"Greedy transcript: {speech['transcript']!r} ({len(words)} "
        f"word{'' if len(words) == 1 else 's'}){heard}",
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
