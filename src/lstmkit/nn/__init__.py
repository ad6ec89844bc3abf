"""Recurrent layers: lstmkit's LSTM (fused and explicit backends, gate traces), GRU and RNN.

Shapes:
    lstmkit's one shape legend. Every docstring's shapes and every ``# (B, T, H)`` comment use
    these letters with these meanings only; a module's ``Legend:`` line names those it uses.

    | letter | meaning |
    |---|---|
    | B | batch |
    | T | time: the steps of a sequence (a seq2seq target's length, a BPTT window) |
    | S | source length (seq2seq) |
    | E | embedding size (``embedding_size``) |
    | H | hidden size (``hidden_size``) |
    | L | layers (``num_layers``) |
    | D | directions: 2 if bidirectional, else 1 |
    | V | vocabulary size |
    | I | input size (``input_size``) |
    | R | projection size (``proj_size``, or H without a projection) |
    | M | memory width: the seq2seq encoder's output, D*H |
    | A | attention width: the width of attention's precomputed keys |
    | Z | beam size: the hypotheses beam search keeps per sentence |
    | O | outputs of a network's head (the experiments' networks) |
    | K | horizon (forecasting) |
    | W | look-back window (forecasting) |
    | Q | quantiles (forecasting) |
    | P | past covariates (forecasting) |
    | F | future covariates (forecasting) |
    | C | calendar features (forecasting; counted among F where they join the covariates) |
    | N | a count of items (windows, pairs, series, rows, tokens), named where it is used |

    A width the legend does not name is written ``·``; a dimension that varies is lower case
    (``t`` steps so far).
"""

from lstmkit.nn.explicit import GateTrace
from lstmkit.nn.lstm import LSTM
from lstmkit.nn.rnn import GRU, RNN, recurrent

__all__ = ["GRU", "LSTM", "RNN", "GateTrace", "recurrent"]
