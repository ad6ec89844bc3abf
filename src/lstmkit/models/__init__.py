"""The networks: the LSTM language model and the sequence-to-sequence model, built from parts."""

from lstmkit.models.attention import BahdanauAttention, LuongAttention, Memory
from lstmkit.models.language_model import LMConfig, LSTMLanguageModel
from lstmkit.models.seq2seq import (
    Bridge,
    Decoder,
    DecoderState,
    Encoder,
    Seq2Seq,
    Seq2SeqConfig,
    build_seq2seq,
)

__all__ = [
    "BahdanauAttention",
    "Bridge",
    "Decoder",
    "DecoderState",
    "Encoder",
    "LMConfig",
    "LSTMLanguageModel",
    "LuongAttention",
    "Memory",
    "Seq2Seq",
    "Seq2SeqConfig",
    "build_seq2seq",
]
