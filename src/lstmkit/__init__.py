"""lstmkit: train, inspect and deploy LSTM and sequence-to-sequence LSTM models.

The estimators are importable from the top level (``from lstmkit import LanguageModel,
Seq2Seq, Forecaster, SpeechRecognizer``); they load on first use, so ``import lstmkit`` and
``lstmkit --version`` stay quick.

The core install trains and runs the language model, seq2seq and forecasting; speech
recognition (audio files, WER), forecasting's baselines, ``inspect``, ``export`` and ``serve``
need extras (:data:`EXTRAS`), e.g. ``pip install 'lstmkit[serve]'``.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "LanguageModel": "lstmkit.lm",
    "Seq2Seq": "lstmkit.seq2seq",
    "Forecaster": "lstmkit.forecast",
    "SpeechRecognizer": "lstmkit.speech",
    "Captioner": "lstmkit.caption",
}


# The optional packages and the extra that installs each (pyproject.toml's optional-dependencies).
EXTRAS = {
    "statsmodels": "forecast",
    "statsforecast": "forecast",
    "scipy": "inspect",
    "soundfile": "speech",
    "jiwer": "speech",
    "sklearn": "caption",
    "onnx": "export",
    "onnxscript": "export",
    "onnxruntime": "export",
    "fastapi": "serve",
    "uvicorn": "serve",
    "starlette": "serve",
    "python_multipart": "serve",
    "tensorboard": "tensorboard",
}


def missing_extra(error: ImportError) -> str | None:
    """The one line to show for ``error`` when it is an optional package that is not installed,
    naming the extra that installs it; None for any other import error.

    Example:
        >>> missing_extra(ModuleNotFoundError("No module named 'fastapi'", name="fastapi"))
        "needs the optional package fastapi, which is not installed: pip install 'lstmkit[serve]'"
        >>> missing_extra(ModuleNotFoundError("No module named 'x'", name="x")) is None
        True
    """
    name = (error.name or "").partition(".")[0]
    if name not in EXTRAS:
        return None
    return (
        f"needs the optional package {name}, which is not installed: "
        f"pip install 'lstmkit[{EXTRAS[name]}]'"
    )


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")


__all__ = [
    "EXTRAS",
    "Captioner",
    "Forecaster",
    "LanguageModel",
    "Seq2Seq",
    "SpeechRecognizer",
    "__version__",
    "missing_extra",
]
