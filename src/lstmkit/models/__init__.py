"""Task models built from `lstmkit.nn` parts: the language model (seq2seq and forecaster follow)."""

from lstmkit.models.language_model import LMConfig, LSTMLanguageModel

__all__ = ["LMConfig", "LSTMLanguageModel"]
