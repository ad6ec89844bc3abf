"""The recogniser's two networks (``architecture``): CTC over a stacked LSTM
(:class:`~lstmkit.models.speech.SpeechConfig`, ``"ctc"``) and Listen, Attend and Spell
(:class:`~lstmkit.models.speech_las.LASConfig`, ``"las"``), their configs completed from the
tokenizer and the feature settings, and built.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lstmkit.models.speech import SpeechConfig, build_recognizer
from lstmkit.models.speech_las import LASConfig, build_las


def reserved_keys(architecture: str) -> list[str]:
    """The config fields :func:`network_config` takes from the tokenizer and the features, not
    from ``model``.

    Example:
        >>> reserved_keys("ctc")
        ['vocab_size', 'n_mels', 'blank_id', 'suppress_ids']
    """
    reserved = ["vocab_size", "n_mels", "blank_id", "suppress_ids"]
    if architecture == "las":
        reserved += ["pad_id", "bos_id", "eos_id"]
    return reserved


def network_config(
    architecture: str, tokenizer: Any, n_mels: int, model: dict | None
) -> SpeechConfig | LASConfig:
    """The config of the ``architecture``'s network: ``model``'s fields over its defaults, the
    sizes and special ids from ``tokenizer`` and ``n_mels`` (CTC's blank is the pad id)."""
    t = tokenizer
    sizes = {"vocab_size": t.vocab_size, "n_mels": n_mels}
    if architecture == "las":  # the speller ends with eos: only unk is never written
        ids = {"pad_id": t.pad_id, "bos_id": t.bos_id, "eos_id": t.eos_id}
        return LASConfig(
            **sizes, **ids, blank_id=t.pad_id, suppress_ids=(t.unk_id,), **(model or {})
        )
    return SpeechConfig(
        **sizes,
        blank_id=t.pad_id,
        suppress_ids=(t.unk_id, t.bos_id, t.eos_id),
        **(model or {}),
    )


def build_network(config: SpeechConfig | LASConfig) -> nn.Module:
    """The network ``config`` describes."""
    return build_las(config) if isinstance(config, LASConfig) else build_recognizer(config)


__all__ = ["build_network", "network_config", "reserved_keys"]
