"""The network every cell is trained as: inputs → one recurrent layer → a linear head.

The recurrent layer is :func:`lstmkit.nn.recurrent` (lstmkit's LSTM, or torch's GRU or plain
tanh RNN), so the three cells differ only in the layer; the inputs (values and markers, or
one-hot symbols) go straight into the layer, whose input weights are the linear map in.

Legend: B batch, T time, I input features (input_size), H hidden, O outputs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstmkit.nn import recurrent
from lstmkit.nn.rnn import CELLS

INITS = ("chrono", "standard")
FORGET_BIAS = 1.0  # "standard": Jozefowicz et al. (2015)'s forget-gate bias for the LSTM


class SequenceModel(nn.Module):
    """One recurrent layer of ``cell`` and a linear head read at every step.

    Args:
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"``.
        input_size: I.
        hidden_size: H.
        output_size: O.
        init: ``"chrono"`` (default): the gate biases of Tallec & Ollivier (2018), drawn so
            that the cells start with memory time scales spread over 1 to ``max_lag`` steps:
            LSTM forget bias log(U[1, max_lag - 1]) and input bias its negative, the GRU's
            update-gate bias likewise (a plain RNN has no gate: it is left as torch makes it).
            ``"standard"``: torch's initialisation, with the LSTM's forget bias at 1.
        max_lag: the longest lag to expect, e.g. the sequence length (chrono only).

    Example:
        >>> model = SequenceModel("gru", 2, 8, 1)
        >>> model(torch.randn(3, 5, 2)).shape
        torch.Size([3, 5, 1])
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        init: str = "chrono",
        max_lag: int = 100,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")
        if init not in INITS:
            raise ValueError(f"init: expected one of {', '.join(INITS)}, got {init!r}")
        if isinstance(max_lag, bool) or not isinstance(max_lag, int) or max_lag < 3:
            raise ValueError(f"max_lag: expected an integer >= 3, got {max_lag!r}")
        extra = {"forget_bias": FORGET_BIAS} if cell == "lstm" and init == "standard" else {}
        self.cell = cell
        self.rnn = recurrent(cell, input_size, hidden_size, batch_first=True, **extra)
        self.head = nn.Linear(hidden_size, output_size)
        if init == "chrono":
            chrono_init(self.rnn, cell, max_lag)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, I) inputs → (B, T, O) outputs."""
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out)

    def unrolled(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The same function as :meth:`forward`, run one step at a time so that each step's
        hidden state h_t (B, H) is a node of the graph that both the head and step t+1 read.

        Returns:
            ``(outputs (B, T, O), [h_0 ... h_{T-1}])``, each h_t (B, H).
        """
        state = None
        hidden: list[Tensor] = []
        for t in range(x.shape[1]):
            out, new = self.rnn(x[:, t : t + 1], state)  # out (B, 1, H)
            h = out[:, 0]  # (B, H)
            hidden.append(h)
            # The next step reads this h_t (not the layer's separate h_n copy), so that
            # d loss / d h_t counts every path: through the head and through the recurrence.
            state = (h[None], new[1]) if isinstance(new, tuple) else h[None]
        return self.head(torch.stack(hidden, dim=1)), hidden  # (B, T, O)


@torch.no_grad()
def chrono_init(layer: nn.Module, cell: str, max_lag: int) -> None:
    """Tallec & Ollivier (2018), "Can recurrent neural networks warp time?": a gate that keeps
    the state with bias b holds it for about 1 + e^b steps, so b = log(U[1, max_lag - 1]) spreads
    the units' memory over every lag up to ``max_lag``.

    LSTM (gates i, f, g, o): forget bias b, input bias -b. GRU (gates r, z, n; z keeps the
    previous state): update bias b. The hidden-to-hidden biases of those gates are zeroed, so
    the sum is b. A plain RNN is left unchanged.
    """
    if cell == "rnn":
        return
    H = layer.hidden_size
    b = torch.log(torch.empty(H).uniform_(1, max_lag - 1))  # (H,)
    keep = slice(H, 2 * H)  # f (LSTM) and z (GRU) are both the second block of four or three
    layer.bias_ih_l0[keep] = b
    layer.bias_hh_l0[keep] = 0
    if cell == "lstm":
        layer.bias_ih_l0[:H] = -b
        layer.bias_hh_l0[:H] = 0
