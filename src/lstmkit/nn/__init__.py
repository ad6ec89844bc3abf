"""Recurrent layers: lstmkit's LSTM (fused and explicit backends, gate traces), GRU and RNN."""

from lstmkit.nn.explicit import GateTrace
from lstmkit.nn.lstm import LSTM
from lstmkit.nn.rnn import GRU, RNN, recurrent

__all__ = ["GRU", "LSTM", "RNN", "GateTrace", "recurrent"]
