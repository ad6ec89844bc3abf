"""Speech recognition: audio in, text out, through a stacked bidirectional LSTM trained with CTC.

* ``estimator`` — :class:`SpeechRecognizer`, the Python API (``fit``, ``transcribe``,
  ``evaluate``, ``save``/``load``);
* ``data`` — what ``fit`` reads: manifests, folders of audio with transcripts, the built-in
  synthesised corpora;
* ``features`` — log-mel features; ``feature_cache`` — features computed once per file and
  kept on disk; ``augment`` — training-time vocal tract length perturbation and SpecAugment;
* ``networks`` — the CTC and Listen-Attend-Spell networks' configs, completed from the
  tokenizer and the features; ``examples`` — the transcripts and (features, ids) pairs a run
  trains on;
* ``task`` — batches and the CTC loss for the one trainer;
* ``transcription`` — audio to features, and the networks' decoding into transcripts with
  their words' times (:meth:`SpeechRecognizer.transcribe`);
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
