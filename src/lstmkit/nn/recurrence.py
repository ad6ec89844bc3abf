"""The explicit backend: one LSTM layer and direction, forward and backward through time by hand.

`LSTMRecurrence` is a `torch.autograd.Function`. Its forward runs the time loop with one recurrent
matrix product and a handful of in-place gate operations per step, writing into preallocated
buffers; its backward runs the loop in reverse with the derivatives written out, and forms the
weight gradients as single matrix products (or reductions) after the loop. The input projection
`W_ih x + b` of all steps is one matrix product made by the caller (autograd differentiates it),
so this function starts from the projected inputs.

Layout. Tensors are batch-major (B, T, features): a step is the strided slice [:, t]. The input
projection, its gradients and the weight gradients are plain matrix products over the (B*T) rows,
a batch-first input needs no transposing copy, and the gate trace is a view of the buffers
(a transposed copy of the (B, T, 4H) gates costs more than the matrix products).

Gate order. torch stores gates as (i, f, g, o); here they are permuted to (o, i, f, g) so that the
three sigmoid gates of the plain cell (o, i, f) are one block and (i, f, g) — the gates whose
derivatives scale the cell gradient — are another. The caller permutes the weights.

Padded batches. Every sequence runs for all T steps; the caller zeroes padded inputs, takes the
final state at each sequence's own last step (so padded steps get no gradient) and zeroes padded
outputs, and reverses each sequence within its length for the reverse direction.

Legend: T time, B batch, H hidden, R output size (proj_size or H).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.nn import kernel as fused_kernel


def _layer_norm(y: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """Normalise over the last dimension (the features); returns (y_hat, rstd)."""
    var, mean = torch.var_mean(y, -1, keepdim=True, correction=0)
    rstd = (var + eps).rsqrt()
    return (y - mean) * rstd, rstd


def _layer_norm_backward(dy: Tensor, y_hat: Tensor, rstd: Tensor) -> Tensor:
    """Gradient of a layer norm's input given the gradient of its normalised output."""
    mean_dy = dy.mean(-1, keepdim=True)
    mean_dy_y = (dy * y_hat).mean(-1, keepdim=True)
    return (dy - mean_dy - y_hat * mean_dy_y) * rstd


class LSTMRecurrence(torch.autograd.Function):
    """One LSTM layer and direction over a batch-major batch.

    Inputs (None where a variant is off):
        xw: (B, T, 4H) projected inputs `W_ih x_t + b`, gates in (o, i, f, g) order, contiguous;
            overwritten with the gate activations and returned as `act`.
        h0: (B, R), c0: (B, H) initial state.
        w_hh: (4H, R) recurrent weights, (o, i, f, g) order.
        w_hr: (R, H) projection, or None.
        w_peep: (3, H) peephole weights for (o, i, f), or None.
        ln_hh_w, ln_hh_b: (4H,) layer norm of `W_hh h`; ln_c_w, ln_c_b: (H,) layer norm of `c`.
        mask_h: (B, R) recurrent dropout mask (already scaled), or None.
        zone_c: (B, T, H), zone_h: (B, T, R) zoneout keep-previous weights, or None.
        eps: layer-norm epsilon.
        products: the dtype of the weight gradients' matrix products (bfloat16 under autocast),
            or None for the weights' own.

    Returns:
        out (B, T, R) the outputs h_t; c (B, T, H) the cell states c_t; and, not differentiable,
        act (B, T, 4H) the gate activations in (o, i, f, g) order, for the gate trace.
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
        eps,
        products=None,
    ):
        batch, steps, gates = xw.shape
        H, R = gates // 4, h0.shape[1]
        new = xw.new_empty
        # The gates are computed in place over the projected inputs (the caller's own buffer,
        # returned as `act` and marked dirty): no copy of (B, T, 4H), and addmm_ adds the
        # recurrent product without first copying its bias operand, as addmm(out=...) would.
        act, cs, tc, out = (
            xw,
            new(batch, steps, H),
            new(batch, steps, H),
            new(batch, steps, R),
        )
        hh = new(batch, steps, H) if w_hr is not None else None
        ln_h, ln_c = ln_hh_w is not None, ln_c_w is not None
        rhat = new(batch, steps, gates) if ln_h else None
        rstd = new(batch, steps, 1) if ln_h else None
        chat = new(batch, steps, H) if ln_c else None
        cstd = new(batch, steps, 1) if ln_c else None
        sig = slice(H, 3 * H) if w_peep is not None else slice(0, 3 * H)
        # A transposed right operand sends addmm(out=...) down a slow path: transpose once here.
        w_hh_t = w_hh.t().contiguous()
        w_hr_t = w_hr.t().contiguous() if w_hr is not None else None
        ctx.kernel = _kernel_for(xw, w_hr, w_peep, ln_hh_w, mask_h, zone_c)
        if ctx.kernel is not None:  # the same loop in C++, gate arithmetic fused
            ctx.kernel.forward(act, h0, c0.contiguous(), w_hh_t, cs, tc, out)
        else:
            # Views of every step made up front, in one call per buffer: a view costs about as much
            # as a small kernel.
            A, C, TC, OUT = (t.unbind(1) for t in (act, cs, tc, out))
            A_sig, A_o, A_i, A_f, A_g = (
                act[..., s].unbind(1)
                for s in (
                    sig,
                    slice(0, H),
                    slice(H, 2 * H),
                    slice(2 * H, 3 * H),
                    slice(3 * H, None),
                )
            )
            HH = hh.unbind(1) if hh is not None else None

            h_prev, c_prev = h0, c0
            for k in range(steps):
                a, c, t, h = A[k], C[k], TC[k], OUT[k]
                hr = h_prev * mask_h if mask_h is not None else h_prev
                if ln_h:
                    rhat[:, k], rstd[:, k] = _layer_norm(torch.mm(hr, w_hh_t), eps)
                    a.addcmul_(rhat[:, k], ln_hh_w).add_(ln_hh_b)
                else:
                    a.addmm_(hr, w_hh_t)
                if w_peep is not None:
                    a[:, H : 3 * H].view(batch, 2, H).addcmul_(w_peep[1:], c_prev.unsqueeze(1))
                A_sig[k].sigmoid_()
                A_g[k].tanh_()
                torch.mul(A_f[k], c_prev, out=c).addcmul_(A_i[k], A_g[k])
                if zone_c is not None:
                    c.addcmul_(zone_c[:, k], c_prev - c)
                if w_peep is not None:
                    A_o[k].addcmul_(w_peep[0], c).sigmoid_()
                if ln_c:
                    chat[:, k], cstd[:, k] = _layer_norm(c, eps)
                    torch.addcmul(ln_c_b, chat[:, k], ln_c_w, out=t).tanh_()
                else:
                    torch.tanh(c, out=t)
                if w_hr is not None:
                    torch.mm(torch.mul(A_o[k], t, out=HH[k]), w_hr_t, out=h)
                else:
                    torch.mul(A_o[k], t, out=h)
                if zone_h is not None:
                    h.addcmul_(zone_h[:, k], h_prev - h)
                h_prev, c_prev = h, c

        ctx.mark_dirty(act)
        ctx.mark_non_differentiable(act)
        ctx.set_materialize_grads(False)
        ctx.eps, ctx.products = eps, products
        ctx.save_for_backward(
            h0,
            c0,
            w_hh,
            w_hr,
            w_peep,
            ln_hh_w,
            ln_c_w,
            mask_h,
            zone_c,
            zone_h,
            act,
            cs,
            tc,
            out,
            hh,
            rhat,
            rstd,
            chat,
            cstd,
        )
        return out, cs, act

    @staticmethod
    def backward(ctx, d_out, d_cs, _d_act):
        (
            h0,
            c0,
            w_hh,
            w_hr,
            w_peep,
            ln_hh_w,
            ln_c_w,
            mask_h,
            zone_c,
            zone_h,
            act,
            cs,
            tc,
            _out,
            _hh,
            rhat,
            rstd,
            chat,
            cstd,
        ) = ctx.saved_tensors
        batch, steps, gates = act.shape
        H, R = gates // 4, h0.shape[1]
        if ctx.kernel is not None:
            d_gates = act.new_empty(batch, steps, gates)
            dh0, dc0 = ctx.kernel.backward(
                act, cs, tc, c0.contiguous(), w_hh, _dense(d_out), _dense(d_cs), d_gates
            )
            return _parameter_grads(ctx, d_gates, None, None, None, dh0, dc0, None)

        # Everything that does not depend on the running gradient, for all steps at once.
        o, i, f, g = act.split(H, dim=-1)
        c_prev = torch.cat([c0.unsqueeze(1), cs[:, :-1]], 1)
        sig_d = act[..., : 3 * H] * (1 - act[..., : 3 * H])  # σ' of (o, i, f)
        d_o = tc * sig_d[..., :H]  # ∂h̃/∂o_pre per unit of ∂h̃
        d_tc = o * (1 - tc * tc)  # ∂h̃/∂(tanh input)
        # ∂c̃/∂(i, f, g)_pre per unit of ∂c̃, laid out like the (i, f, g) block of the gates.
        d_ifg = torch.cat(
            [g * sig_d[..., H : 2 * H], c_prev * sig_d[..., 2 * H :], i * (1 - g * g)], -1
        )

        new = act.new_empty
        d_gates = new(batch, steps, gates)  # ∂loss/∂(gate pre-activations) = ∂loss/∂xw
        d_r = new(batch, steps, gates) if rhat is not None else None  # ∂loss/∂(W_hh h)
        d_hproj = new(batch, steps, R) if w_hr is not None else None  # ∂loss/∂h̃ before W_hr
        d_lnc = new(batch, steps, H) if chat is not None else None  # ∂loss/∂(tanh input)
        DG, DG_o, D_O, D_TC, F_ = (t.unbind(1) for t in (d_gates, d_gates[..., :H], d_o, d_tc, f))
        DG_ifg = d_gates[..., H:].unflatten(-1, (3, H)).unbind(1)
        D_IFG = d_ifg.view(batch, steps, 3, H).unbind(1)
        D_OUT = d_out.unbind(1) if d_out is not None else None
        # Cell-state gradients arrive only where a final state c_n was taken.
        cs_steps = set()
        if d_cs is not None:
            cs_steps = set(d_cs.ne(0).any(2).any(0).nonzero().flatten().tolist())
        plain = mask_h is None and zone_h is None and d_out is not None

        dh = D_OUT[-1].clone() if d_out is not None else act.new_zeros(batch, R)
        dc = act.new_zeros(batch, H)  # updated in place only, so dc_cols stays a view of it
        dc_cols = dc.unsqueeze(1)  # (B, 1, H), against the (B, 3, H) block of (i, f, g)
        for k in range(steps - 1, -1, -1):
            dhk = dh  # ∂loss/∂h_k
            if k in cs_steps:
                dc += d_cs[:, k]
            if zone_h is not None:
                dh_keep = dh * zone_h[:, k]
                dhk = dh - dh_keep
            if w_hr is not None:
                d_hproj[:, k] = dhk
                dhk = torch.mm(dhk, w_hr)
            torch.mul(dhk, D_O[k], out=DG_o[k])
            if d_lnc is not None:
                dpre = torch.mul(dhk, D_TC[k], out=d_lnc[:, k])
                dc += _layer_norm_backward(dpre * ln_c_w, chat[:, k], cstd[:, k])
            else:
                dc.addcmul_(dhk, D_TC[k])
            if w_peep is not None:
                dc.addcmul_(DG_o[k], w_peep[0])
            if zone_c is not None:
                dc_keep = dc * zone_c[:, k]
                dc -= dc_keep
            torch.mul(dc_cols, D_IFG[k], out=DG_ifg[k])
            dc.mul_(F_[k])  # now ∂loss/∂c_{k-1}
            if w_peep is not None:
                dc.addcmul_(DG_ifg[k][:, 0], w_peep[1]).addcmul_(DG_ifg[k][:, 1], w_peep[2])
            if zone_c is not None:
                dc += dc_keep
            dgr = DG[k]
            if d_r is not None:
                dgr = _layer_norm_backward(dgr * ln_hh_w, rhat[:, k], rstd[:, k])
                d_r[:, k] = dgr
            # ∂loss/∂h_{k-1}: the recurrent path plus the output gradient of step k-1.
            if plain and k > 0:
                dh = torch.addmm(D_OUT[k - 1], dgr, w_hh)
                continue
            dh = torch.mm(dgr, w_hh)
            if mask_h is not None:
                dh.mul_(mask_h)
            if zone_h is not None:
                dh += dh_keep
            if d_out is not None and k > 0:
                dh += D_OUT[k - 1]

        return _parameter_grads(ctx, d_gates, d_r, d_hproj, d_lnc, dh, dc, c_prev)


class PairedRecurrence(torch.autograd.Function):
    """Both directions of a bidirectional layer's plain cell at once, through the fused kernel's
    ``forward_pair`` and ``backward_pair``: each direction's time loop on a thread of its own.

    Inputs: for each direction (forward, then reverse) ``xw`` (B, T, 4H), ``h0`` (B, H),
    ``c0`` (B, H) and ``w_hh`` (4H, H), as :class:`LSTMRecurrence` takes them, (o, i, f, g)
    order; each ``xw`` is overwritten with its gate activations. Then ``products``, as
    :class:`LSTMRecurrence` takes it.

    Returns:
        For each direction ``out`` (B, T, H), ``cs`` (B, T, H) and, not differentiable, ``act``
        (B, T, 4H): :class:`LSTMRecurrence`'s three outputs.
    """

    @staticmethod
    def forward(ctx, xw_a, h0_a, c0_a, w_hh_a, xw_b, h0_b, c0_b, w_hh_b, products=None):
        kernel = fused_kernel.load()
        sides, buffers = ((xw_a, h0_a, c0_a, w_hh_a), (xw_b, h0_b, c0_b, w_hh_b)), []
        for xw, h0, c0, w_hh in sides:
            batch, steps, gates = xw.shape
            cs, tc, out = (xw.new_empty(batch, steps, gates // 4) for _ in range(3))
            # Detached: the kernel's pool threads run with grad mode on (it is per thread).
            buffers.append([xw.detach(), h0.detach(), c0.detach().contiguous()])
            buffers[-1] += [w_hh.detach().t().contiguous(), cs, tc, out]
        kernel.forward_pair(*buffers)
        ctx.mark_dirty(xw_a, xw_b)
        ctx.mark_non_differentiable(xw_a, xw_b)
        ctx.set_materialize_grads(False)
        ctx.products = products
        ctx.save_for_backward(
            *(t for (xw, h0, c0, w_hh), (*_, cs, tc, out) in zip(sides, buffers, strict=True)
              for t in (xw, h0, c0, w_hh, cs, tc, out))
        )  # fmt: skip
        (*_, cs_a, _, out_a), (*_, cs_b, _, out_b) = buffers
        return out_a, cs_a, xw_a, out_b, cs_b, xw_b

    @staticmethod
    def backward(ctx, d_out_a, d_cs_a, _d_act_a, d_out_b, d_cs_b, _d_act_b):
        saved = ctx.saved_tensors
        sides = (saved[:7], saved[7:])
        calls, d_gates = [], []
        for (act, _h0, c0, w_hh, cs, tc, _out), d_out, d_cs in zip(
            sides, (d_out_a, d_out_b), (d_cs_a, d_cs_b), strict=True
        ):
            d_gates.append(act.new_empty(act.shape))
            calls.append([act, cs, tc, c0.contiguous(), w_hh, _dense(d_out), _dense(d_cs)])
            calls[-1].append(d_gates[-1])
        dh0_a, dc0_a, dh0_b, dc0_b = fused_kernel.load().backward_pair(*calls)
        grads = []
        for d, ((_act, h0, _c0, _w_hh, _cs, _tc, out), dg) in enumerate(
            zip(sides, d_gates, strict=True)
        ):
            dh0, dc0 = (dh0_a, dc0_a) if d == 0 else (dh0_b, dc0_b)
            d_w_hh = None
            if ctx.needs_input_grad[4 * d + 3]:
                h_prev = torch.cat([h0.unsqueeze(1), out[:, :-1]], 1)  # (B, T, H)
                d_w_hh = _rows_product(dg, h_prev, ctx.products)
            grads += [dg, dh0, dc0, d_w_hh]
        return (*grads, None)  # products gets None


def pairs_directions(x: Tensor, hidden_size: int) -> bool:
    """Whether :class:`PairedRecurrence` should run a bidirectional layer's plain cell on the
    batch-major input ``x`` (B, T, I): the fused kernel applies, torch has two threads or more,
    and a step's recurrent product (``B x H`` by ``H x 4H``) is small enough that splitting it
    across threads costs more than it gains (:data:`PAIR_MAX_WORK` multiply-adds; the LSTM layer
    benchmark page measures it)."""
    batch, H = x.shape[0], hidden_size
    return (
        torch.get_num_threads() > 1
        and batch * H * 4 * H <= PAIR_MAX_WORK
        and _kernel_for(x.new_empty(0)) is not None  # its device and dtype decide
    )


PAIR_MAX_WORK = 1 << 22  # measured on 2 cores: 1.2x below, even at 2^23, slower above


def _kernel_for(xw: Tensor, *variants: Tensor | None):
    """The fused CPU kernel when it applies (a plain float32/64 cell on the CPU), else None."""
    if xw.device.type != "cpu" or xw.dtype not in (torch.float32, torch.float64):
        return None
    if not xw.is_contiguous() or any(v is not None for v in variants):
        return None
    return fused_kernel.load()


def _dense(t: Tensor | None) -> Tensor | None:
    """The kernel reads raw memory: gradients may arrive expanded or strided."""
    return t.contiguous() if t is not None else None


def _parameter_grads(ctx, d_gates, d_r, d_hproj, d_lnc, dh0, dc0, c_prev):
    """Weight gradients as one matrix product (or one reduction) each, after the time loop."""
    (
        h0,
        _c0,
        _w_hh,
        w_hr,
        w_peep,
        ln_hh_w,
        ln_c_w,
        mask_h,
        _zone_c,
        _zone_h,
        act,
        cs,
        _tc,
        out,
        hh,
        rhat,
        _rstd,
        chat,
        _cstd,
    ) = ctx.saved_tensors
    needs = ctx.needs_input_grad
    H = act.shape[-1] // 4
    grads = dict.fromkeys(
        ["xw", "h0", "c0", "w_hh", "w_hr", "w_peep", "ln_hh_w", "ln_hh_b", "ln_c_w", "ln_c_b"]
    )
    grads.update(xw=d_gates, h0=dh0, c0=dc0)
    if needs[3]:
        h_prev = torch.cat([h0.unsqueeze(1), out[:, :-1]], 1)  # (B, T, R)
        if mask_h is not None:
            h_prev = h_prev * mask_h.unsqueeze(1)
        d_rec = d_r if d_r is not None else d_gates
        grads["w_hh"] = _rows_product(d_rec, h_prev, ctx.products)
    if w_hr is not None and needs[4]:
        grads["w_hr"] = _rows_product(d_hproj, hh, ctx.products)
    if w_peep is not None and needs[5]:
        sums = [
            (d_gates[..., :H] * cs).sum((0, 1)),
            (d_gates[..., H : 2 * H] * c_prev).sum((0, 1)),
            (d_gates[..., 2 * H : 3 * H] * c_prev).sum((0, 1)),
        ]
        grads["w_peep"] = torch.stack(sums)
    if ln_hh_w is not None:
        grads["ln_hh_w"] = (d_gates * rhat).sum((0, 1))
        grads["ln_hh_b"] = d_gates.sum((0, 1))
    if ln_c_w is not None:
        grads["ln_c_w"] = (d_lnc * chat).sum((0, 1))
        grads["ln_c_b"] = d_lnc.sum((0, 1))
    # One gradient per forward input: the masks, eps and products get None.
    return (*grads.values(), None, None, None, None, None)


def _rows_product(d: Tensor, h: Tensor, products: torch.dtype | None) -> Tensor:
    """A weight's gradient ``Σ_{b,t} d[b, t] ⊗ h[b, t]`` (d (B, T, N), h (B, T, M) -> (N, M)):
    one matrix product over the (B*T) rows, computed in ``products`` (bfloat16 under autocast,
    as autocast computes a linear layer's weight gradient) when given, returned in d's dtype."""
    rows_d, rows_h = d.flatten(0, 1), h.flatten(0, 1)
    if products is None or products == d.dtype:
        return rows_d.t().mm(rows_h)
    return rows_d.t().to(products).mm(rows_h.to(products)).to(d.dtype)
