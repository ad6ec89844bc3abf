"""lstmkit: train, inspect and deploy LSTM and sequence-to-sequence LSTM models.

The estimators are importable from the top level (``from lstmkit import LanguageModel,
Seq2Seq, Forecaster``); they load on first use, so ``import lstmkit`` and ``lstmkit --version``
stay quick.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "LanguageModel": "lstmkit.lm",
    "Seq2Seq": "lstmkit.seq2seq",
    "Forecaster": "lstmkit.forecast",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")


__all__ = ["Forecaster", "LanguageModel", "Seq2Seq", "__version__"]
