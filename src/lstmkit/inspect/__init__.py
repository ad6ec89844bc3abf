"""Seeing the memory: gate traces of a trained model on your input, the units that hold a
label, and an HTML report (``lstmkit inspect``).

* :mod:`lstmkit.inspect.traces` — run a language model, seq2seq model or forecaster with its
  LSTMs' gate trace on (:func:`lm_trace`, :func:`seq2seq_trace`, :func:`forecast_trace`,
  :func:`load_any`).
* :mod:`lstmkit.inspect.speech` — a speech recogniser hearing a file: its features, CTC
  posteriors (or a Listen-Attend-Spell model's attention alignment), transcript and gates
  (:func:`speech_trace`).
* :mod:`lstmkit.inspect.caption` — an image captioner describing an image: its greedy caption,
  the attention over the image's regions at each word, the gate β and the decoder's gates
  (:func:`caption_trace`).
* :mod:`lstmkit.inspect.memory` — the units whose cell state holds a label
  (:func:`memory_units`, :func:`keyword_memory`).
* :mod:`lstmkit.inspect.report` — the self-contained HTML report and its figures
  (:mod:`lstmkit.inspect.report_speech`: its speech section;
  :mod:`lstmkit.inspect.report_caption`: its caption section).
"""

from lstmkit.inspect.caption import caption_trace
from lstmkit.inspect.memory import KeywordMemory, add_keyword_memory, keyword_memory, memory_units
from lstmkit.inspect.speech import speech_trace
from lstmkit.inspect.traces import (
    forecast_trace,
    lm_trace,
    load_any,
    recording,
    seq2seq_trace,
    to_json,
)

__all__ = [
    "KeywordMemory",
    "add_keyword_memory",
    "caption_trace",
    "forecast_trace",
    "keyword_memory",
    "lm_trace",
    "load_any",
    "memory_units",
    "recording",
    "seq2seq_trace",
    "speech_trace",
    "to_json",
]
