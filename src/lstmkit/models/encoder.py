"""The seq2seq encoder and the bridge that turns its final state into the context vector W.

Legend: B batch, T target length, S source length, E embedding_size, H hidden_size,
L num_layers, D directions (2 if bidirectional), V vocabulary.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstmkit.nn import LSTM


class Encoder(nn.Module):
    """Embedding → multi-layer (bidirectional) LSTM over a padded source batch."""

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding_size)
        self.dropout = nn.Dropout(dropout)
        self.lstm = LSTM(
            embedding_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,  # between layers only
            bidirectional=bidirectional,
        )
        self.output_size = hidden_size * (2 if bidirectional else 1)

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Encode source ids (B, S) of true lengths (B,) (any order).

        Returns:
            states (B, S, D*H), zero at padding, and the final ``(h, c)`` each (L*D, B, H),
            taken at each sentence's own last token (the backward direction's at its first).
        """
        x = self.dropout(self.embed(src))  # (B, S, E)
        states, (h, c) = self.lstm(x, lengths=src_lengths)
        return states, (h, c)


class Bridge(nn.Module):
    """The context vector W → the decoder's initial state, one learned map per layer.

    Per layer, the final forward and backward states are concatenated, ``w = [h→; h←]`` (2H),
    and mapped to ``h_0 = tanh(W_h w + b_h)`` and ``c_0 = W_c [c→; c←] + b_c``. The tanh keeps
    h_0 in (-1, 1), the range every LSTM hidden state has (h = o ⊙ tanh(c)); c is the cell's
    unbounded memory, so its map is left linear — a tanh would clip what the encoder counted.
    """

    def __init__(
        self, encoder_size: int, hidden_size: int, num_layers: int, directions: int = 2
    ) -> None:
        super().__init__()
        self.directions = directions
        self.h_layers = nn.ModuleList(
            nn.Linear(encoder_size, hidden_size) for _ in range(num_layers)
        )
        self.c_layers = nn.ModuleList(
            nn.Linear(encoder_size, hidden_size) for _ in range(num_layers)
        )

    def forward(self, h_n: Tensor, c_n: Tensor) -> tuple[Tensor, Tensor]:
        """(h_n, c_n) each (L*D, B, H_enc) → the decoder's (h_0, c_0) each (L, B, H)."""
        LD, B, H = h_n.shape
        L, D = LD // self.directions, self.directions

        def per_layer(x: Tensor) -> Tensor:  # index layer*D + direction → (L, B, D*H)
            return x.view(L, D, B, H).permute(0, 2, 1, 3).reshape(L, B, D * H)

        h = torch.stack(
            [torch.tanh(f(w)) for f, w in zip(self.h_layers, per_layer(h_n), strict=True)]
        )
        c = torch.stack([f(w) for f, w in zip(self.c_layers, per_layer(c_n), strict=True)])
        return h, c
