"""The explicit backend: one LSTM layer and direction, forward and backward through time by hand.

`LSTMRecurrence` is a `torch.autograd.Function`. Its forward runs the time loop with one recurrent
matrix product and a handful of in-place gate operations per step, writing into preallocated
buffers; its backward runs the loop in reverse with the derivatives written out, and forms the
recurrent weight gradients as single matrix products after the loop. The input projection
`W_ih x + b` of all steps is computed by the caller in one matrix product (autograd handles it), so
this function starts from the projected inputs.

Internal gate order. torch stores gates as (i, f, g, o); here they are permuted to (o, i, f, g) so
that the three sigmoid gates of the plain cell (o, i, f) are one contiguous block and (i, f, g) —
the gates whose derivatives depend on the cell gradient — are another. The caller permutes weights
in and gradients flow back through that permutation.

Variable lengths. The batch is sorted by decreasing length and `batch_sizes[k]` rows are active at
step k (the PackedSequence convention), so step k only touches rows `[:batch_sizes[k]]`. A sequence
that ended keeps its last state; the reverse direction is handled by the caller, which reverses
each sequence within its own length.

Legend: T time, B batch, H hidden, P output size (proj_size or H).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _layer_norm_backward(dy: Tensor, y_hat: Tensor, rstd: Tensor) -> Tensor:
    """Gradient of a layer norm's input given the gradient of its normalised output `y_hat`."""
    mean_dy = dy.mean(-1, keepdim=True)
    mean_dy_y = (dy * y_hat).mean(-1, keepdim=True)
    return (dy - mean_dy - y_hat * mean_dy_y) * rstd


def _layer_norm(y: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """Normalise the last dimension; returns (y_hat, rstd)."""
    var, mean = torch.var_mean(y, -1, keepdim=True, correction=0)
    rstd = (var + eps).rsqrt()
    return (y - mean) * rstd, rstd


class LSTMRecurrence(torch.autograd.Function):
    """One LSTM layer and direction over a time-major, length-sorted batch.

    Inputs (None where a variant is off):
        xw: (T, B, 4H) projected inputs `W_ih x_t + b`, gates in (o, i, f, g) order.
        h0: (B, P), c0: (B, H) initial state.
        w_hh: (4H, P) recurrent weights, (o, i, f, g) order.
        w_hr: (P, H) projection, or None.
        w_peep: (3, H) peephole weights for (o, i, f), or None.
        ln_hh_w, ln_hh_b: (4H,) layer norm of `W_hh h`; ln_c_w, ln_c_b: (H,) layer norm of `c`.
        mask_h: (B, P) recurrent dropout mask (already scaled), or None.
        zone_c: (T, B, H), zone_h: (T, B, P) zoneout keep-previous weights, or None.
        batch_sizes: list of T non-increasing ints (active rows per step), or None for all B.
        eps: layer-norm epsilon.

    Returns:
        out (T, B, P) h_t; h_n (B, P); c_n (B, H); and, not differentiable, the gate activations
        act (T, B, 4H) in (o, i, f, g) order and the cell states c (T, B, H), for the gate trace.
    """

    @staticmethod
    def forward(
        ctx,
        xw,
        h0,
        c0,
        w_hh,
        w_hr,
        w_peep,
        ln_hh_w,
        ln_hh_b,
        ln_c_w,
        ln_c_b,
        mask_h,
        zone_c,
        zone_h,
        batch_sizes,
        eps,
    ):
        steps, batch, gates = xw.shape
        H, P = gates // 4, h0.shape[-1]
        padded = batch_sizes is not None
        sizes = batch_sizes if padded else [batch] * steps
        # Padded rows must read as zero in the outputs and the trace, so they are zero-filled.
        alloc = xw.new_zeros if padded else xw.new_empty
        act, cs, tc, out = (
            alloc(steps, batch, gates),
            alloc(steps, batch, H),
            alloc(steps, batch, H),
            alloc(steps, batch, P),
        )
        hh = alloc(steps, batch, H) if w_hr is not None else None
        ln_h = ln_hh_w is not None
        ln_c = ln_c_w is not None
        rhat = alloc(steps, batch, gates) if ln_h else None
        rstd = alloc(steps, batch, 1) if ln_h else None
        chat = alloc(steps, batch, H) if ln_c else None
        cstd = alloc(steps, batch, 1) if ln_c else None
        w_hh_t = w_hh.t()
        w_hr_t = w_hr.t() if w_hr is not None else None
        sig = slice(H, 3 * H) if w_peep is not None else slice(0, 3 * H)

        h_prev, c_prev = h0, c0
        for k in range(steps):
            n = sizes[k]
            a, c, t = act[k, :n], cs[k, :n], tc[k, :n]
            hp, cp = h_prev[:n], c_prev[:n]
            hr = hp * mask_h[:n] if mask_h is not None else hp
            if ln_h:
                r_hat, r_std = _layer_norm(torch.mm(hr, w_hh_t), eps)
                rhat[k, :n], rstd[k, :n] = r_hat, r_std
                torch.addcmul(xw[k, :n], r_hat, ln_hh_w, out=a).add_(ln_hh_b)
            else:
                torch.addmm(xw[k, :n], hr, w_hh_t, out=a)
            if w_peep is not None:
                a[:, H : 3 * H].view(n, 2, H).addcmul_(w_peep[1:], cp.unsqueeze(1))
            a[:, sig].sigmoid_()
            a[:, 3 * H :].tanh_()
            torch.mul(a[:, 2 * H : 3 * H], cp, out=c).addcmul_(a[:, H : 2 * H], a[:, 3 * H :])
            if zone_c is not None:
                c.addcmul_(zone_c[k, :n], cp - c)
            if w_peep is not None:
                a[:, :H].addcmul_(w_peep[0], c).sigmoid_()
            if ln_c:
                c_hat, c_std = _layer_norm(c, eps)
                chat[k, :n], cstd[k, :n] = c_hat, c_std
                torch.addcmul(ln_c_b, c_hat, ln_c_w, out=t).tanh_()
            else:
                torch.tanh(c, out=t)
            h = out[k, :n]
            if w_hr is not None:
                torch.mm(torch.mul(a[:, :H], t, out=hh[k, :n]), w_hr_t, out=h)
            else:
                torch.mul(a[:, :H], t, out=h)
            if zone_h is not None:
                h.addcmul_(zone_h[k, :n], hp - h)
            h_prev, c_prev = out[k], cs[k]

        h_n, c_n = _final_states(out, cs, sizes)
        ctx.mark_non_differentiable(act, cs)
        ctx.set_materialize_grads(False)
        ctx.sizes, ctx.eps, ctx.padded = sizes, eps, padded
        ctx.save_for_backward(
            h0, c0, w_hh, w_hr, w_peep, ln_hh_w, ln_c_w, mask_h, zone_c, zone_h,
            act, cs, tc, out, hh, rhat, rstd, chat, cstd,
        )  # fmt: skip
        return out, h_n, c_n, act, cs

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn, _d_act, _d_cs):
        (
            h0, c0, w_hh, w_hr, w_peep, ln_hh_w, ln_c_w, mask_h, zone_c, zone_h,
            act, cs, tc, out, hh, rhat, rstd, chat, cstd,
        ) = ctx.saved_tensors  # fmt: skip
        sizes = ctx.sizes
        steps, batch, gates = act.shape
        H, P = gates // 4, h0.shape[-1]
        alloc = act.new_zeros if ctx.padded else act.new_empty

        # Everything that does not depend on the running gradient, for all steps at once.
        o, i, f, g = act.split(H, dim=-1)
        c_prev = torch.cat([c0.unsqueeze(0), cs[:-1]])
        sig_d = act[..., : 3 * H] * (1 - act[..., : 3 * H])  # σ' for o, i, f
        d_o = tc * sig_d[..., :H]  # ∂h̃/∂o_pre per unit of ∂h̃
        d_tc = o * (1 - tc * tc)  # ∂h̃/∂(tanh input)
        # ∂c̃/∂(i, f, g)_pre per unit of ∂c̃, laid out like the (i, f, g) block of the gates.
        d_ifg = torch.cat([g * sig_d[..., H : 2 * H], c_prev * sig_d[..., 2 * H :], i * (1 - g * g)], -1)

        d_gates = alloc(steps, batch, gates)  # ∂loss/∂(gate pre-activations) = ∂loss/∂xw
        d_r = alloc(steps, batch, gates) if rhat is not None else None  # ∂loss/∂(W_hh h)
        d_hproj = alloc(steps, batch, P) if w_hr is not None else None  # ∂loss/∂h̃ before W_hr
        d_lnc = alloc(steps, batch, H) if chat is not None else None  # ∂loss/∂(tanh input)
        dh = act.new_zeros(batch, P)
        dc = act.new_zeros(batch, H)
        for k in range(steps - 1, -1, -1):
            n = sizes[k]
            n_end = sizes[k + 1] if k + 1 < steps else 0
            if n_end < n:  # rows whose last step is k receive the final-state gradients
                if d_hn is not None:
                    dh[n_end:n] += d_hn[n_end:n]
                if d_cn is not None:
                    dc[n_end:n] += d_cn[n_end:n]
            dhk, dck, dg = dh[:n], dc[:n], d_gates[k, :n]
            if d_out is not None:
                dhk += d_out[k, :n]
            if zone_h is not None:
                dh_keep = dhk * zone_h[k, :n]
                dhk = dhk - dh_keep
            if w_hr is not None:
                d_hproj[k, :n] = dhk
                dhk = torch.mm(dhk, w_hr)
            torch.mul(dhk, d_o[k, :n], out=dg[:, :H])
            if d_lnc is not None:
                dpre = torch.mul(dhk, d_tc[k, :n], out=d_lnc[k, :n])
                dck += _layer_norm_backward(dpre * ln_c_w, chat[k, :n], cstd[k, :n])
            else:
                dck.addcmul_(dhk, d_tc[k, :n])
            if w_peep is not None:
                dck.addcmul_(dg[:, :H], w_peep[0])
            if zone_c is not None:
                dc_keep = dck * zone_c[k, :n]
                dck -= dc_keep
            torch.mul(dck.unsqueeze(1), d_ifg[k, :n].view(n, 3, H), out=dg[:, H:].view(n, 3, H))
            dck.mul_(f[k, :n])
            if w_peep is not None:
                dck.addcmul_(dg[:, H : 2 * H], w_peep[1]).addcmul_(dg[:, 2 * H : 3 * H], w_peep[2])
            if zone_c is not None:
                dck += dc_keep
            if d_r is not None:
                dgr = _layer_norm_backward(dg * ln_hh_w, rhat[k, :n], rstd[k, :n])
                d_r[k, :n] = dgr
            else:
                dgr = dg
            dh_prev = torch.mm(dgr, w_hh)
            if mask_h is not None:
                dh_prev.mul_(mask_h[:n])
            if zone_h is not None:
                dh_prev += dh_keep
            dh[:n] = dh_prev

        return _parameter_grads(ctx, d_gates, d_r, d_hproj, d_lnc, dh, dc, c_prev)


def _final_states(out: Tensor, cs: Tensor, sizes: list[int]) -> tuple[Tensor, Tensor]:
    """(h_n, c_n) taken at each row's own last step: rows [sizes[k+1]:sizes[k]] end at step k."""
    steps, batch = out.shape[:2]
    if sizes[-1] == batch:
        return out[-1].clone(), cs[-1].clone()
    h_n, c_n = out.new_empty(batch, out.shape[-1]), cs.new_empty(batch, cs.shape[-1])
    for k in range(steps):
        lo, hi = sizes[k + 1] if k + 1 < steps else 0, sizes[k]
        if lo < hi:
            h_n[lo:hi], c_n[lo:hi] = out[k, lo:hi], cs[k, lo:hi]
    return h_n, c_n


def _parameter_grads(ctx, d_gates, d_r, d_hproj, d_lnc, dh0, dc0, c_prev):
    """Weight gradients as one matrix product (or one reduction) each, after the time loop."""
    (
        h0, _c0, w_hh, w_hr, w_peep, ln_hh_w, ln_c_w, mask_h, _zone_c, _zone_h,
        act, cs, _tc, out, hh, rhat, _rstd, chat, _cstd,
    ) = ctx.saved_tensors  # fmt: skip
    needs = ctx.needs_input_grad
    gates, H, P = act.shape[-1], act.shape[-1] // 4, h0.shape[-1]
    flat = d_gates.view(-1, gates)
    grads = dict.fromkeys(
        ["xw", "h0", "c0", "w_hh", "w_hr", "w_peep", "ln_hh_w", "ln_hh_b", "ln_c_w", "ln_c_b"]
    )
    grads.update(xw=d_gates, h0=dh0, c0=dc0)
    if needs[3]:
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])  # (T, B, P)
        if mask_h is not None:
            h_prev = h_prev * mask_h
        d_rec = d_r.view(-1, gates) if d_r is not None else flat
        grads["w_hh"] = d_rec.t().mm(h_prev.view(-1, P))
    if w_hr is not None and needs[4]:
        grads["w_hr"] = d_hproj.view(-1, P).t().mm(hh.view(-1, H))
    if w_peep is not None and needs[5]:
        grads["w_peep"] = torch.stack(
            [
                (d_gates[..., :H] * cs).sum((0, 1)),
                (d_gates[..., H : 2 * H] * c_prev).sum((0, 1)),
                (d_gates[..., 2 * H : 3 * H] * c_prev).sum((0, 1)),
            ]
        )
    if ln_hh_w is not None:
        grads["ln_hh_w"] = (flat * rhat.view(-1, gates)).sum(0)
        grads["ln_hh_b"] = flat.sum(0)
    if ln_c_w is not None:
        grads["ln_c_w"] = (d_lnc * chat).sum((0, 1))
        grads["ln_c_b"] = d_lnc.sum((0, 1))
    # One gradient per forward input: the masks, batch_sizes and eps get None.
    return (*grads.values(), None, None, None, None, None)
