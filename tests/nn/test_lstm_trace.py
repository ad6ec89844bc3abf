"""Gate traces and variant maths against a step-by-step reference written from the equations.

`reference_lstm` below runs one sequence at a time, one time step at a time, reading the
module's parameters by their documented names. It shares no code with the implementation.
"""

import pytest
import torch

from lstmkit.nn import LSTM, GateTrace

F64 = torch.float64
TOL = 1e-10
GATES = ("i", "f", "g", "o", "c", "h")


def layer_norm(v, weight, bias, eps=1e-5):
    # Ba et al. 2016 over the whole vector, biased variance.
    mean = v.mean()
    var = ((v - mean) ** 2).mean()
    return (v - mean) / torch.sqrt(var + eps) * weight + bias


def reference_cell(lstm, sfx, x, h_prev, c_prev, *, peephole, layer_norm_on, zoneout):
    """One LSTM step for a single sequence (vectors, no batch dimension)."""
    hs = lstm.hidden_size

    def param(name):
        return lstm.get_parameter(name + sfx)

    wx = param("weight_ih") @ x
    wh = param("weight_hh") @ h_prev
    if layer_norm_on:
        wx = layer_norm(wx, param("ln_ih_weight"), param("ln_ih_bias"))
        wh = layer_norm(wh, param("ln_hh_weight"), param("ln_hh_bias"))
    pre = wx + wh
    if lstm.bias:
        pre = pre + param("bias_ih") + param("bias_hh")
    i_pre, f_pre, g_pre, o_pre = pre[:hs], pre[hs : 2 * hs], pre[2 * hs : 3 * hs], pre[3 * hs :]
    if peephole:
        w_ci, w_cf, w_co = param("weight_ch")
        i_pre = i_pre + w_ci * c_prev
        f_pre = f_pre + w_cf * c_prev
    i, f, g = torch.sigmoid(i_pre), torch.sigmoid(f_pre), torch.tanh(g_pre)
    c = f * c_prev + i * g
    # Zoneout in eval mode keeps each unit's previous value with probability p, in expectation.
    c = zoneout * c_prev + (1 - zoneout) * c
    if peephole:
        o_pre = o_pre + w_co * c  # the output gate peeks at the NEW cell state
    o = torch.sigmoid(o_pre)
    c_read = layer_norm(c, param("ln_c_weight"), param("ln_c_bias")) if layer_norm_on else c
    h = o * torch.tanh(c_read)
    if lstm.proj_size > 0:
        h = param("weight_hr") @ h
    h = zoneout * h_prev + (1 - zoneout) * h
    return dict(i=i, f=f, g=g, o=o, c=c, h=h)


@torch.no_grad()
def reference_lstm(
    lstm, x, lengths=None, hx=None, *, peephole=False, layer_norm_on=False, zoneout=0.0
):
    """Returns output (laid out like the input), (h_n, c_n) and a dict of batch-major traces."""
    num_dirs = 2 if lstm.bidirectional else 1
    hs = lstm.hidden_size
    out_size = lstm.proj_size or hs
    xs = x if lstm.batch_first else x.transpose(0, 1)  # (B, T, I)
    batch, steps = xs.shape[:2]
    lengths = [steps] * batch if lengths is None else [int(n) for n in lengths]
    n_states = lstm.num_layers * num_dirs

    trace = {k: xs.new_zeros(n_states, batch, steps, out_size if k == "h" else hs) for k in GATES}
    out = xs.new_zeros(batch, steps, num_dirs * out_size)
    h_n = xs.new_zeros(n_states, batch, out_size)
    c_n = xs.new_zeros(n_states, batch, hs)
    for b in range(batch):
        n = lengths[b]
        layer_in = xs[b, :n]
        for layer in range(lstm.num_layers):
            dir_outputs = []
            for d in range(num_dirs):
                k = layer * num_dirs + d
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                h = hx[0][k, b] if hx is not None else xs.new_zeros(out_size)
                c = hx[1][k, b] if hx is not None else xs.new_zeros(hs)
                ys = [None] * n
                # The reverse direction starts at this sequence's own last token.
                for t in range(n) if d == 0 else range(n - 1, -1, -1):
                    step = reference_cell(
                        lstm,
                        sfx,
                        layer_in[t],
                        h,
                        c,
                        peephole=peephole,
                        layer_norm_on=layer_norm_on,
                        zoneout=zoneout,
                    )
                    for name, value in step.items():
                        trace[name][k, b, t] = value
                    h, c = step["h"], step["c"]
                    ys[t] = h
                h_n[k, b], c_n[k, b] = h, c
                dir_outputs.append(torch.stack(ys))
            layer_in = torch.cat(dir_outputs, dim=-1)
        out[b, :n] = layer_in
    if not lstm.batch_first:
        out = out.transpose(0, 1)
    return out, (h_n, c_n), trace


def assert_close(actual, expected, what, tol=TOL):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    diff = (actual - expected).abs().max().item()
    assert diff <= tol, f"{what}: max abs diff {diff:.3g} > {tol:g}"


def make_lstm(**kwargs):
    lstm = LSTM(3, 4, backend=kwargs.pop("backend", "explicit"), dtype=F64, **kwargs)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("ln_") and "_weight_" in name:
                p.copy_(0.5 + torch.rand(p.shape, generator=gen, dtype=F64))
            else:  # weights, biases, peepholes, LN shifts: random, away from any init
                p.copy_(torch.rand(p.shape, generator=gen, dtype=F64) * 1.6 - 0.8)
    return lstm.eval()


def check_trace_against_reference(lstm, x, lengths, hx=None, **variant):
    out, (h_n, c_n), trace = lstm(x, hx, lengths=lengths, return_gates=True)
    ref_out, (ref_h, ref_c), ref_trace = reference_lstm(lstm, x, lengths, hx, **variant)
    assert isinstance(trace, GateTrace)
    assert_close(out, ref_out, "output")
    assert_close(h_n, ref_h, "h_n")
    assert_close(c_n, ref_c, "c_n")
    for name in GATES:
        value = getattr(trace, name)
        assert not value.requires_grad, f"trace.{name} must be detached"
        assert_close(value, ref_trace[name], f"trace.{name}")

    # Without return_gates the same module must give the same output and states.
    plain_out, (plain_h, plain_c) = lstm(x, hx, lengths=lengths)
    assert_close(plain_out, ref_out, "output without return_gates")
    assert_close(plain_h, ref_h, "h_n without return_gates")
    assert_close(plain_c, ref_c, "c_n without return_gates")
    return out, trace


@pytest.mark.parametrize("batch_first", [False, True], ids=["time-major", "batch-first"])
@pytest.mark.parametrize("proj_size", [0, 2], ids=["no-proj", "proj"])
def test_trace_two_layer_bidirectional_unsorted_lengths(batch_first, proj_size):
    lstm = make_lstm(num_layers=2, bidirectional=True, batch_first=batch_first, proj_size=proj_size)
    steps, batch, hs = 5, 4, 4
    out_size = proj_size or hs
    lengths = torch.tensor([3, 5, 1, 4])
    x = torch.randn((batch, steps, 3) if batch_first else (steps, batch, 3), dtype=F64)
    x_req = x.clone().requires_grad_()  # the trace must be detached even when input needs grad
    out, trace = check_trace_against_reference(lstm, x_req, lengths)

    for name in GATES:
        value = getattr(trace, name)
        assert value.shape == (4, batch, steps, out_size if name == "h" else hs), name
        for b, n in enumerate(lengths.tolist()):
            assert (value[:, b, n:] == 0).all(), f"trace.{name} not zero at padded steps"

    # The last layer's trace.h, direction by direction, is the output.
    out_bt = out if batch_first else out.transpose(0, 1)  # (B, T, 2 * out_size)
    for d in range(2):
        assert_close(trace.h[2 + d], out_bt[..., d * out_size : (d + 1) * out_size], "h vs out")


@pytest.mark.parametrize(
    ("kwargs", "variant"),
    [
        pytest.param(dict(peephole=True), dict(peephole=True), id="peephole"),
        pytest.param(dict(layer_norm=True), dict(layer_norm_on=True), id="layer_norm"),
        pytest.param(
            dict(layer_norm=True, proj_size=2), dict(layer_norm_on=True), id="layer_norm-proj"
        ),
        pytest.param(dict(zoneout=0.3), dict(zoneout=0.3), id="zoneout-eval"),
        pytest.param(dict(zoneout=0.3, proj_size=2), dict(zoneout=0.3), id="zoneout-eval-proj"),
        pytest.param(dict(recurrent_dropout=0.5), {}, id="recurrent_dropout-eval"),
        pytest.param(dict(weight_drop=0.5), {}, id="weight_drop-eval"),
        pytest.param(
            dict(
                peephole=True, layer_norm=True, zoneout=0.2, recurrent_dropout=0.4, weight_drop=0.4
            ),
            dict(peephole=True, layer_norm_on=True, zoneout=0.2),
            id="all-eval",
        ),
    ],
)
def test_variant_matches_reference_in_eval(kwargs, variant):
    lstm = make_lstm(num_layers=2, bidirectional=True, **kwargs)
    x = torch.randn(5, 3, 3, dtype=F64)
    hx = None
    if "peephole" in kwargs:
        # A nonzero c_0 makes the peephole terms of the very first step matter too.
        out_size = lstm.proj_size or 4
        hx = (torch.randn(4, 3, out_size, dtype=F64), torch.randn(4, 3, 4, dtype=F64))
    check_trace_against_reference(lstm, x, [5, 1, 3], hx, **variant)


def test_trace_with_nonzero_hx_and_batch_first():
    lstm = make_lstm(num_layers=1, bidirectional=True, batch_first=True)
    x = torch.randn(3, 4, 3, dtype=F64)
    hx = (torch.randn(2, 3, 4, dtype=F64), torch.randn(2, 3, 4, dtype=F64))
    check_trace_against_reference(lstm, x, [2, 4, 1], hx)


def test_return_gates_uses_explicit_backend():
    lstm = make_lstm(backend="auto")
    assert lstm.resolve_backend(return_gates=True) == "explicit"
    x = torch.randn(4, 2, 3, dtype=F64)
    _, _, trace = lstm(x, return_gates=True)
    assert trace.i.shape == (1, 2, 4, 4)


def test_auto_backend_output_matches_reference():
    # Default backend ("auto" -> fused for a plain model) against the equations as well.
    lstm = make_lstm(backend="auto", num_layers=2, bidirectional=True)
    x = torch.randn(5, 3, 3, dtype=F64)
    out, (h_n, c_n) = lstm(x, lengths=[2, 5, 1])
    ref_out, (ref_h, ref_c), _ = reference_lstm(lstm, x, [2, 5, 1])
    assert_close(out, ref_out, "output")
    assert_close(h_n, ref_h, "h_n")
    assert_close(c_n, ref_c, "c_n")


# ---- training-mode variants: the masks are random, but their structure is checkable ---------


def test_zoneout_train_keeps_or_updates_each_unit():
    """Each unit of c_t (and h_t) is either its previous value or the ordinary LSTM update."""
    lstm = make_lstm(zoneout=0.5).train()
    x = torch.randn(6, 5, 3, dtype=F64)
    _, _, tr = lstm(x, return_gates=True)
    c, h = tr.c[0], tr.h[0]  # (B, T, H)
    c_prev = torch.cat([torch.zeros_like(c[:, :1]), c[:, :-1]], dim=1)
    h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
    c_update = tr.f[0] * c_prev + tr.i[0] * tr.g[0]
    h_update = tr.o[0] * torch.tanh(c)
    for name, value, prev, update in [("c", c, c_prev, c_update), ("h", h, h_prev, h_update)]:
        kept = (value - prev).abs() <= 1e-12
        updated = (value - update).abs() <= 1e-12
        assert (kept | updated).all(), f"{name}_t is neither {name}_(t-1) nor the LSTM update"
        # With p = 0.5 over 120 units both cases must occur (all-one-way has odds ~2^-120).
        assert (kept & ~updated).any(), f"no unit of {name} was zoned out"
        assert (updated & ~kept).any(), f"every unit of {name} was zoned out"


def recurrent_term(lstm, x, trace):
    """W_hh-side pre-activations recovered from the traced gates (single layer, direction)."""
    pre = torch.cat(
        [
            torch.logit(trace.i[0]),
            torch.logit(trace.f[0]),
            torch.atanh(trace.g[0]),
            torch.logit(trace.o[0]),
        ],
        dim=-1,
    )  # (B, T, 4H)
    xs = x.transpose(0, 1)  # (B, T, I)
    input_term = xs @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0
    h_prev = torch.cat([torch.zeros_like(trace.h[0][:, :1]), trace.h[0][:, :-1]], dim=1)
    return (pre - input_term).detach(), h_prev


def test_weight_drop_train_uses_one_dropconnect_mask_per_call():
    """Solve for the effective W_hh from the trace: it must be W_hh * M / (1 - p), one M."""
    p = 0.5
    lstm = make_lstm(weight_drop=p).train()
    # Moderate inputs keep the gates away from saturation, where logit/atanh lose precision.
    x = 0.5 * torch.randn(6, 8, 3, dtype=F64)
    _, _, tr = lstm(x, return_gates=True)
    rec, h_prev = recurrent_term(lstm, x, tr)
    rec, h_prev = rec[:, 1:].reshape(-1, 16), h_prev[:, 1:].reshape(-1, 4)
    # rec = h_prev @ W_eff.T for every sequence and step if the mask is shared by all of them.
    w_eff = torch.linalg.lstsq(h_prev, rec).solution.T  # (4H, H)
    assert (h_prev @ w_eff.T - rec).abs().max() < 1e-7, "no single W_hh explains every step"
    w_hh = lstm.weight_hh_l0.detach()
    dropped = w_eff.abs() < 1e-7
    kept = (w_eff - w_hh / (1 - p)).abs() < 1e-7
    assert (dropped | kept).all(), "effective W_hh entries are neither 0 nor W_hh / (1 - p)"
    assert dropped.any()
    assert kept.any()


def test_recurrent_dropout_train_uses_one_mask_per_sequence():
    """Recover m ⊙ h_(t-1) from the trace: m must be 0 or 1/(1-p) per unit, fixed over time."""
    p = 0.5
    lstm = make_lstm(recurrent_dropout=p).train()
    batch = 8
    x = 0.5 * torch.randn(6, batch, 3, dtype=F64)
    _, _, tr = lstm(x, return_gates=True)
    rec, h_prev = recurrent_term(lstm, x, tr)
    # W_hh (16 x 4) has full column rank, so m ⊙ h_(t-1) = pinv(W_hh) rec.
    masked_h = rec @ torch.linalg.pinv(lstm.weight_hh_l0.detach()).T  # (B, T, H)
    assert (masked_h @ lstm.weight_hh_l0.detach().T - rec).abs().max() < 1e-7
    masked_h, h_prev = masked_h[:, 1:], h_prev[:, 1:]  # step 0 sees h_0 = 0 either way
    dropped = (masked_h.abs() < 1e-7).all(dim=1)  # (B, H): zero at every step
    kept = ((masked_h - h_prev / (1 - p)).abs() < 1e-7).all(dim=1)
    assert (dropped | kept).all(), "mask is not 0 or 1/(1-p), or changes over time"
    assert dropped.any()
    assert kept.any()
    # One mask per sequence: different rows of the batch must not all share a single mask.
    assert (kept != kept[0]).any()
