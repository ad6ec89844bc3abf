"""Speech recognition: audio in, text out, through a stacked bidirectional LSTM trained with CTC.

* ``estimator`` — :class:`SpeechRecognizer`, the Python API (``fit``, ``transcribe``,
  ``evaluate``, ``save``/``load``);
* ``data`` — what ``fit`` reads: manifests, folders of audio with transcripts, the built-in
  synthesised corpora;
* ``features`` — log-mel features and SpecAugment; ``feature_cache`` — features computed once
  per file and kept on disk;
* ``task`` — batches and the CTC loss for the one trainer;
* ``text`` — the normal form of transcripts;
* ``scores`` — WER and CER (jiwer), by utterance length;
* ``stream`` — streaming recognition (:meth:`SpeechRecognizer.stream`) with a unidirectional
  model on causally normalised features.
"""

from lstmkit.speech.data import SpeechData, load_speech
from lstmkit.speech.estimator import SpeechRecognizer
from lstmkit.speech.features import FeatureConfig
from lstmkit.speech.stream import FeatureStream, SpeechStream

__all__ = [
    "FeatureConfig",
    "FeatureStream",
    "SpeechData",
    "SpeechRecognizer",
    "SpeechStream",
    "load_speech",
]
