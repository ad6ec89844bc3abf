"""The explicit backend's driver: layers and directions of a :class:`lstmkit.nn.LSTM` through
:class:`~lstmkit.nn.recurrence.LSTMRecurrence`, padding, the variants' masks and the gate trace.

The functions take the LSTM module as their first argument and read its weights and options.

Legend: B batch, T time, I input_size, H hidden_size, R proj_size or H, L num_layers,
D directions (2 if bidirectional else 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.nn.padding import Lengths
from lstmkit.nn.recurrence import LSTMRecurrence, PairedRecurrence, pairs_directions

if TYPE_CHECKING:
    from lstmkit.nn.lstm import LSTM

LN_EPS = 1e-5


class GateTrace(NamedTuple):
    """The memory cell's internals, each shaped (L*D, B, T, H) (``h``: (L*D, B, T, R)).

    Index ``layer * D + direction`` as in ``h_n``. Zero at padded steps; batch-major whatever
    ``batch_first`` is; detached from the autograd graph.
    """

    i: Tensor
    f: Tensor
    g: Tensor
    o: Tensor
    c: Tensor
    h: Tensor


def _gate_order(t: Tensor) -> Tensor:
    """``t``'s rows in the explicit (o, i, f, g) gate order from torch's (i, f, g, o): two
    slices joined, whose gradient is two slices again (an index's gradient scatters)."""
    H = t.shape[0] // 4
    return torch.cat([t[3 * H :], t[: 3 * H]])


def run_explicit(
    lstm: LSTM,
    x: Tensor,
    hx,
    lengths: list[int] | None,
    return_gates: bool,
    products: torch.dtype | None = None,
):
    """lstmkit's recurrence on (B, T, I); returns output (B, T, D*R), h_n, c_n, trace.

    ``products``: the dtype of the input projections' matrix products (bfloat16 under
    autocast: they are most of a layer's arithmetic, and a CPU with bfloat16 arithmetic runs
    them twice as fast), None for the weights' own; the recurrence stays in the weights' dtype.
    """
    T = x.shape[1]
    steps = max(lengths) if lengths is not None else T
    layer_in = x[:, :steps]  # (B, T, I): the recurrence is batch-major
    seqs = Lengths(lengths, steps, x.device)
    if seqs.pad is not None:  # padded steps may hold anything, NaN included: make them 0
        layer_in = layer_in.masked_fill(seqs.pad, 0)
    D = 2 if lstm.bidirectional else 1
    h_n, c_n, traces = [], [], []
    for layer in range(lstm.num_layers):
        outs = []
        inps = [layer_in, seqs.reverse(layer_in)] if D == 2 else [layer_in]
        idxs = [layer * D + d for d in range(D)]
        if D == 2 and _plain(lstm) and pairs_directions(layer_in, lstm.hidden_size):
            results = _layer_pair(lstm, inps, hx, idxs, products)
        else:
            results = [
                _layer(lstm, x, hx[0][i], hx[1][i], i, products)
                for x, i in zip(inps, idxs, strict=True)
            ]
        for d, (out, cs, act) in enumerate(results):
            h_n.append(seqs.last(out))
            c_n.append(seqs.last(cs))
            if d:  # the cell states and gates only for the trace: a (B, T, 4H) gather is dear
                out = seqs.reverse(out)
                if return_gates:
                    cs, act = seqs.reverse(cs), seqs.reverse(act)
            outs.append(seqs.zero_padding(out))
            if return_gates:
                traces.append([seqs.zero_padding(t.detach()) for t in (act, cs, outs[-1])])
        layer_in = torch.cat(outs, -1) if D == 2 else outs[0]
        if layer < lstm.num_layers - 1 and lstm.dropout > 0 and lstm.training:
            layer_in = F.dropout(layer_in, lstm.dropout, training=True)
    out = layer_in  # (B, T', D*R)
    trace = _assemble_trace(lstm, traces) if return_gates else None
    if steps < T:
        out = F.pad(out, (0, 0, 0, T - steps))
        trace = GateTrace(*(F.pad(t, (0, 0, 0, T - steps)) for t in trace)) if trace else None
    return out, torch.stack(h_n), torch.stack(c_n), trace


def _suffix(lstm: LSTM, idx: int) -> str:
    """The parameter names' suffix of layer-direction ``idx`` (``_l1_reverse``)."""
    D = 2 if lstm.bidirectional else 1
    return f"_l{idx // D}" + ("_reverse" if idx % D else "")


def _plain(lstm: LSTM) -> bool:
    """Whether the layers run the plain cell: no variant of the explicit backend is on."""
    return not (
        lstm.proj_size
        or lstm.peephole
        or lstm.layer_norm
        or lstm.zoneout > 0
        or (lstm.recurrent_dropout > 0 and lstm.training)
    )


def _layer_pair(lstm: LSTM, inps: list[Tensor], hx, idxs: list[int], products=None):
    """Both directions of a plain bidirectional layer at once through
    :class:`PairedRecurrence`: ``[(out, cs, act)] * 2``; ``inps`` are the forward and the
    reversed input."""
    args = []
    for inp, idx in zip(inps, idxs, strict=True):
        xw, w_hh = _projected(lstm, inp, idx, products)
        args += [xw, hx[0][idx], hx[1][idx], w_hh]
    out_a, cs_a, act_a, out_b, cs_b, act_b = PairedRecurrence.apply(*args, products)
    return [(out_a, cs_a, act_a), (out_b, cs_b, act_b)]


def _projected(
    lstm: LSTM, inp: Tensor, idx: int, products: torch.dtype | None = None
) -> tuple[Tensor, Tensor]:
    """A layer-direction's projected inputs ``W_ih x + b`` (B, T, 4H; with layer norm
    ``LN(W_ih x) + b``) and its recurrent weights (4H, R), both in the (o, i, f, g) gate order.
    The recurrence overwrites the projection with the gate activations. ``products``: the
    dtype the product is computed in (its result, and the gradients, in the weights')."""
    sfx = _suffix(lstm, idx)
    H = lstm.hidden_size
    B, T = inp.shape[:2]
    w_ih = _gate_order(getattr(lstm, f"weight_ih{sfx}"))
    rows = inp.reshape(B * T, -1)  # (B*T, I_l): the input projection of all steps at once
    bias = (
        _gate_order(getattr(lstm, f"bias_ih{sfx}") + getattr(lstm, f"bias_hh{sfx}"))
        if lstm.bias
        else None
    )
    w_hh = _gate_order(lstm.recurrent_weight(sfx))
    if products is not None and products != w_ih.dtype:
        xw = torch.mm(rows.to(products), w_ih.t().to(products)).to(w_ih.dtype)
    elif bias is not None and not lstm.layer_norm:  # the common case: the bias in the product
        return torch.addmm(bias, rows, w_ih.t()).view(B, T, 4 * H), w_hh
    else:
        xw = torch.mm(rows, w_ih.t())
    if lstm.layer_norm:
        ln_w, ln_b = getattr(lstm, f"ln_ih_weight{sfx}"), getattr(lstm, f"ln_ih_bias{sfx}")
        xw = F.layer_norm(xw, (4 * H,), _gate_order(ln_w), _gate_order(ln_b), LN_EPS)
    if bias is not None:
        xw = xw + bias
    return xw.view(B, T, 4 * H), w_hh


def _layer(lstm: LSTM, inp: Tensor, h0: Tensor, c0: Tensor, idx: int, products=None):
    """One layer and direction through :class:`LSTMRecurrence`; inp is (B, T, I_l)."""
    xw, w_hh = _projected(lstm, inp, idx, products)
    sfx = _suffix(lstm, idx)
    w_hr = getattr(lstm, f"weight_hr{sfx}") if lstm.proj_size else None
    w_peep = getattr(lstm, f"weight_ch{sfx}")[[2, 0, 1]] if lstm.peephole else None
    ln = (None,) * 4
    if lstm.layer_norm:
        ln = (
            _gate_order(getattr(lstm, f"ln_hh_weight{sfx}")),
            _gate_order(getattr(lstm, f"ln_hh_bias{sfx}")),
            getattr(lstm, f"ln_c_weight{sfx}"),
            getattr(lstm, f"ln_c_bias{sfx}"),
        )
    mask_h, zone_c, zone_h = _masks(lstm, inp.shape[1], inp.shape[0], h0)
    return LSTMRecurrence.apply(
        xw, h0, c0, w_hh, w_hr, w_peep, *ln, mask_h, zone_c, zone_h, LN_EPS, products
    )


def _masks(lstm: LSTM, T: int, B: int, like: Tensor):
    """Recurrent-dropout mask (B, R) and zoneout weights (B, T, H), (B, T, R), or None."""
    H, R = lstm.hidden_size, lstm.proj_size or lstm.hidden_size
    mask_h = zone_c = zone_h = None
    if lstm.recurrent_dropout > 0 and lstm.training:
        keep = 1.0 - lstm.recurrent_dropout
        mask_h = like.new_empty(B, R).bernoulli_(keep).div_(keep)
    if lstm.zoneout > 0 and lstm.training:
        zone_c = like.new_empty(B, T, H).bernoulli_(lstm.zoneout)
        zone_h = like.new_empty(B, T, R).bernoulli_(lstm.zoneout)
    elif lstm.zoneout > 0:  # eval: the expectation
        zone_c = like.new_full((1, 1, 1), lstm.zoneout).expand(B, T, H)
        zone_h = like.new_full((1, 1, 1), lstm.zoneout).expand(B, T, R)
    return mask_h, zone_c, zone_h


def _assemble_trace(lstm: LSTM, traces: list[list[Tensor]]) -> GateTrace:
    """Per layer-direction (act (B,T,4H) in (o,i,f,g) order, c, h) → GateTrace (L*D,B,T,·).

    The gates are views into the activations (stacked, if there is more than one layer or
    direction): copying the trace would cost as much as computing it.
    """
    H = lstm.hidden_size

    def stacked(j: int) -> Tensor:
        parts = [t[j] for t in traces]
        return parts[0].unsqueeze(0) if len(parts) == 1 else torch.stack(parts)

    act, c, h = (stacked(j) for j in range(3))
    o, i, f, g = act.split(H, dim=-1)
    return GateTrace(i=i, f=f, g=g, o=o, c=c, h=h)
