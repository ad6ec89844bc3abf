"""Speech recognition: audio in, text out, through a stacked bidirectional LSTM trained with CTC.

* ``estimator`` — :class:`SpeechRecognizer`, the Python API (``fit``, ``transcribe``,
  ``evaluate``, ``save``/``load``);
* ``data`` — what ``fit`` reads: manifests, folders of audio with transcripts, the built-in
  synthesised corpora;
* ``features`` — log-mel features and SpecAugment; ``feature_cache`` — features computed once
  per file and kept on disk;
* ``task`` — batches and the CTC loss for the one trainer;
* ``text`` — the normal form of transcripts;
* ``scores`` — WER and CER (jiwer), by utterance length.
"""

from lstmkit.speech.data import SpeechData, load_speech
from lstmkit.speech.estimator import SpeechRecognizer
from lstmkit.speech.features import FeatureConfig

__all__ = ["FeatureConfig", "SpeechData", "SpeechRecognizer", "load_speech"]
