"""Image captioning: images in, sentences out, through a small CNN and an LSTM decoder (Show and
Tell, or Show, Attend and Tell's soft attention).

* ``estimator`` — :class:`Captioner`, the Python API (``fit``, ``describe``, ``evaluate``,
  ``save``/``load``);
* ``data`` — what ``fit`` reads: captions files, the built-in corpora, captions in memory;
* ``task`` — batches (one reference per image, drawn per epoch) and the loss for the one
  trainer;
* ``scores`` — BLEU-1 to 4 (sacrebleu), CIDEr-D and ROUGE-L (as the COCO toolkit) against all
  references, exact match.
"""

from lstmkit.caption.data import CaptionData, load_caption_data
from lstmkit.caption.estimator import Captioner

__all__ = ["CaptionData", "Captioner", "load_caption_data"]
