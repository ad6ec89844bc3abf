"""lstmkit's LSTM as the ONNX ``LSTM`` operator, for export.

lstmkit's :class:`~lstmkit.nn.LSTM` picks its kernel in Python: torch's LSTM cell per layer at
T = 1, and for a padded batch its lengths read as Python integers to pack it. A trace would
freeze both at the example's shapes and lengths. ONNX's ``LSTM`` op has what the models need
built in: its ``sequence_lens`` input makes ``Y_h``/``Y_c`` each sentence's own last step (the
backward direction starts at each sentence's own end) and zeroes the output at padding, which is
what :meth:`lstmkit.nn.LSTM.forward` returns with ``lengths``. So :class:`ExportLSTM` stands in
for the module during export and emits one ONNX ``LSTM`` node per layer through a symbolic
function; its PyTorch forward (run once, while tracing) computes the same values with a loop.

Gate order: torch stacks the gate rows (i, f, g, o), ONNX (i, o, f, c) with c = torch's g.

Legend: B batch, T time, I input_size, H hidden_size, L num_layers, D directions.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstmkit.nn import LSTM


def onnx_gate_order(rows: Tensor, hidden_size: int) -> Tensor:
    """torch's (i, f, g, o) row blocks (4H, ...) → ONNX's (i, o, f, c)."""
    i, f, g, o = rows.split(hidden_size, 0)
    return torch.cat([i, o, f, g], 0)


class _LSTMLayerOp(torch.autograd.Function):
    """One layer (both directions) of ONNX's LSTM op; forward computes it for the trace."""

    @staticmethod
    def forward(ctx, x, w, r, b, lengths, h0, c0, hidden_size: int, direction: str):
        """x (T, B, I), w (D, 4H, I), r (D, 4H, H), b (D, 8H), lengths (B,) int32, h0 and c0
        (D, B, H) → y (T, D, B, H), y_h and y_c (D, B, H); gate rows in ONNX order."""
        T = x.shape[0]
        ys, hs, cs = [], [], []
        for d in range(w.shape[0]):
            h, c = h0[d], c0[d]
            y = x.new_zeros(T, x.shape[1], hidden_size)
            steps = range(T - 1, -1, -1) if d else range(T)
            for t in steps:
                gates = x[t] @ w[d].t() + h @ r[d].t() + b[d, : 4 * hidden_size]
                gates = gates + b[d, 4 * hidden_size :]
                i, o, f, g = gates.split(hidden_size, -1)
                c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h_new = torch.sigmoid(o) * torch.tanh(c_new)
                valid = (t < lengths).unsqueeze(-1)  # (B, 1)
                h, c = torch.where(valid, h_new, h), torch.where(valid, c_new, c)
                y[t] = torch.where(valid, h_new, torch.zeros_like(h_new))
            ys.append(y)
            hs.append(h)
            cs.append(c)
        return torch.stack(ys, 1), torch.stack(hs), torch.stack(cs)

    @staticmethod
    def symbolic(g, x, w, r, b, lengths, h0, c0, hidden_size, direction):
        return g.op(
            "LSTM",
            x,
            w,
            r,
            b,
            lengths,
            h0,
            c0,
            hidden_size_i=hidden_size,
            direction_s=direction,
            outputs=3,
        )


class ExportLSTM(nn.Module):
    """Stands in for a :class:`lstmkit.nn.LSTM` in eval mode, with its call signature.

    Args:
        lstm: the trained module; its weights are copied in ONNX's layout.

    Raises:
        ValueError: naming the variant (projection, layer norm, peephole, zoneout) that the
            ONNX op cannot express.
    """

    def __init__(self, lstm: LSTM) -> None:
        super().__init__()
        variants = {
            "proj_size": lstm.proj_size,
            "layer_norm": getattr(lstm, "layer_norm", False),
            "peephole": getattr(lstm, "peephole", False),
            "zoneout": getattr(lstm, "zoneout", 0.0),
        }
        used = [name for name, value in variants.items() if value]
        if used:
            raise ValueError(f"lstm: expected a plain LSTM for ONNX export, got {', '.join(used)}")
        H, D = lstm.hidden_size, 2 if lstm.bidirectional else 1
        self.hidden_size, self.num_layers, self.directions = H, lstm.num_layers, D
        self.batch_first = lstm.batch_first
        for layer in range(lstm.num_layers):
            w, r, b = [], [], []
            for sfx in [f"_l{layer}", f"_l{layer}_reverse"][:D]:
                w.append(onnx_gate_order(getattr(lstm, f"weight_ih{sfx}").detach(), H))
                r.append(onnx_gate_order(getattr(lstm, f"weight_hh{sfx}").detach(), H))
                zeros = torch.zeros(4 * H)
                b_ih = getattr(lstm, f"bias_ih{sfx}").detach() if lstm.bias else zeros
                b_hh = getattr(lstm, f"bias_hh{sfx}").detach() if lstm.bias else zeros
                b.append(torch.cat([onnx_gate_order(b_ih, H), onnx_gate_order(b_hh, H)]))
            self.register_buffer(f"w{layer}", torch.stack(w))  # (D, 4H, I_l)
            self.register_buffer(f"r{layer}", torch.stack(r))  # (D, 4H, H)
            self.register_buffer(f"b{layer}", torch.stack(b))  # (D, 8H)

    def step(self, x: Tensor, hx) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """As :meth:`lstmkit.nn.LSTM.step`: x (B, I), ``(h, c)`` → output (B, H), state."""
        out, state = self(x.unsqueeze(1 if self.batch_first else 0), hx)
        return (out[:, 0] if self.batch_first else out[0]), state

    def forward(self, input: Tensor, hx=None, lengths: Tensor | None = None):
        """As :meth:`lstmkit.nn.LSTM.forward` in eval mode: input (B, T, I) (batch_first) or
        (T, B, I), hx ``(h0, c0)`` each (L*D, B, H) or None, lengths (B,) or None →
        ``(output, (h_n, c_n))``."""
        x = input.transpose(0, 1) if self.batch_first else input  # (T, B, I)
        T, B = x.shape[0], x.shape[1]
        L, D, H = self.num_layers, self.directions, self.hidden_size
        if hx is None:
            zeros = x.new_zeros(L * D, B, H)
            hx = (zeros, zeros)
        if lengths is None:  # every sequence runs the whole T: (B,) filled with T
            lengths = torch.ones_like(x[:, :, 0], dtype=torch.int32).sum(0, dtype=torch.int32)
        lengths = lengths.to(torch.int32)
        direction = "bidirectional" if D == 2 else "forward"
        h_n, c_n = [], []
        for layer in range(L):
            w, r, b = (getattr(self, f"{name}{layer}") for name in "wrb")
            h0, c0 = hx[0][layer * D : (layer + 1) * D], hx[1][layer * D : (layer + 1) * D]
            y, y_h, y_c = _LSTMLayerOp.apply(x, w, r, b, lengths, h0, c0, H, direction)
            x = y.permute(0, 2, 1, 3).reshape(T, B, D * H)  # (T, B, D*H)
            h_n.append(y_h)
            c_n.append(y_c)
        out = x.transpose(0, 1) if self.batch_first else x
        return out, (torch.cat(h_n), torch.cat(c_n))


def replace_lstms(model: nn.Module) -> nn.Module:
    """``model`` (changed in place; pass a copy) with every lstmkit LSTM an :class:`ExportLSTM`."""
    for name, child in list(model.named_children()):
        if isinstance(child, LSTM):
            setattr(model, name, ExportLSTM(child))
        else:
            replace_lstms(child)
    return model
