"""GRU and plain RNN with the LSTM's `lengths` argument, and the `recurrent()` factory.

torch's own kernels compute these two cells; lstmkit only adds padded-batch handling so that every
task can swap the LSTM for them and compare (the notes' vanishing-gradient claim).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit.nn.lstm import LSTM
from lstmkit.nn.validation import check_input, check_lengths

CELLS = ("lstm", "gru", "rnn")


class _LengthsMixin:
    """forward(input, hx=None, lengths=None) for torch's single-state RNN modules."""

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | None = None,
        lengths: Tensor | Sequence[int] | None = None,
    ):
        """Like the torch module; with ``lengths`` (B,) the padded batch is packed first.

        Returns ``(output, h_n)``: output zero at padded positions, h_n at each sequence's own
        last step.
        """
        if lengths is None or isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError("lengths: must be None when input is a PackedSequence")
            if isinstance(input, Tensor):
                check_input(input, self.input_size, self.weight_ih_l0.dtype)
            return super().forward(input, hx)
        check_input(input, self.input_size, self.weight_ih_l0.dtype)
        if input.dim() != 3:
            raise ValueError(
                f"input: expected a 3-D padded batch with lengths, got {input.dim()}-D"
            )
        B, T = (
            (input.shape[0], input.shape[1])
            if self.batch_first
            else (input.shape[1], input.shape[0])
        )
        values = check_lengths(lengths, B, T)
        packed = pack_padded_sequence(
            input, torch.tensor(values), batch_first=self.batch_first, enforce_sorted=False
        )
        out, h_n = super().forward(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=self.batch_first, total_length=T)
        return out, h_n


class GRU(_LengthsMixin, nn.GRU):
    """torch.nn.GRU that also takes ``lengths`` for a padded batch."""


class RNN(_LengthsMixin, nn.RNN):
    """torch.nn.RNN (tanh or relu) that also takes ``lengths`` for a padded batch."""


def recurrent(cell: str, input_size: int, hidden_size: int, **kwargs) -> nn.Module:
    """Build a recurrent layer by name: ``"lstm"`` (lstmkit's LSTM), ``"gru"`` or ``"rnn"``.

    Keyword arguments go to the layer's constructor (LSTM-only ones, such as ``backend`` or
    ``zoneout``, are refused by the other two with torch's TypeError).

    Example:
        >>> layer = recurrent("gru", 8, 16, batch_first=True)
    """
    builders = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
    if cell not in builders:
        raise ValueError(f"cell: expected one of {CELLS}, got {cell!r}")
    return builders[cell](input_size, hidden_size, **kwargs)
