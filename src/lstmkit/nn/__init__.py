"""Recurrent layers: lstmkit's LSTM (fused and explicit backends, gate traces), GRU and RNN."""

from lstmkit.nn.lstm import LSTM, GateTrace
from lstmkit.nn.rnn import GRU, RNN, recurrent

__all__ = ["GRU", "LSTM", "RNN", "GateTrace", "recurrent"]
