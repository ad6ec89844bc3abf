"""The networks, built from parts: the LSTM language model, the sequence-to-sequence model and the
forecaster."""

from lstmkit.models.attention import BahdanauAttention, LuongAttention, Memory
from lstmkit.models.forecast_heads import AutoregressiveDecoder, DirectHead
from lstmkit.models.forecaster import (
    ForecastConfig,
    ForecastEncoder,
    LSTMForecaster,
    build_forecaster,
    pinball_loss,
)
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
    "AutoregressiveDecoder",
    "BahdanauAttention",
    "Bridge",
    "Decoder",
    "DecoderState",
    "DirectHead",
    "Encoder",
    "ForecastConfig",
    "ForecastEncoder",
    "LMConfig",
    "LSTMForecaster",
    "LSTMLanguageModel",
    "LuongAttention",
    "Memory",
    "Seq2Seq",
    "Seq2SeqConfig",
    "build_forecaster",
    "build_seq2seq",
    "pinball_loss",
]
