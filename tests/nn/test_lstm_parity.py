"""Parity of `lstmkit.nn.LSTM` with `torch.nn.LSTM` holding the same weights.

The reference for variable lengths is torch.nn.LSTM run on
`pack_padded_sequence(..., enforce_sorted=False)` and padded back to the full length, which is
exactly what the spec promises the `lengths` argument is equivalent to.
"""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit.nn import LSTM

BACKENDS = ["fused", "explicit"]
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
INPUT_SIZE, HIDDEN_SIZE = 3, 5


def randomize_(module, scale=0.5):
    """Overwrite every parameter with fresh uniform values, independent of any init scheme."""
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-scale, scale)


def make_pair(backend, dtype=torch.float32, **kwargs):
    """A torch.nn.LSTM with random weights and our LSTM loaded from its state dict."""
    ref = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, dtype=dtype, **kwargs)
    randomize_(ref)
    ours = LSTM(INPUT_SIZE, HIDDEN_SIZE, backend=backend, dtype=dtype, **kwargs)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ours, ref


def run_reference(ref, x, lengths=None, hx=None):
    """torch.nn.LSTM on the packed batch, padded back to the input's time length."""
    if lengths is None:
        return ref(x, hx)
    time_dim = 1 if ref.batch_first else 0
    packed = pack_padded_sequence(
        x, torch.as_tensor(lengths), batch_first=ref.batch_first, enforce_sorted=False
    )
    out, (h_n, c_n) = ref(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=ref.batch_first, total_length=x.shape[time_dim])
    return out, (h_n, c_n)


def assert_max_diff(actual, expected, tol, what):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    diff = (actual - expected).abs().max().item() if actual.numel() else 0.0
    assert diff <= tol, f"{what}: max abs diff {diff:.3g} > {tol:g}"


def upstream_grads(out, h_n, c_n):
    # A random cotangent for every output, so that output, h_n and c_n all feed the backward.
    gen = torch.Generator().manual_seed(1234)
    return [torch.randn(t.shape, dtype=t.dtype, generator=gen) for t in (out, h_n, c_n)]


def weighted_loss(tensors, cotangents):
    return sum((t * g).sum() for t, g in zip(tensors, cotangents, strict=True))


def compare_forward_backward(ours, ref, x, lengths=None, hx=None, tol=1e-5):
    """Compare outputs and the gradients of input, hx and every parameter."""
    leaves = [x] + ([] if hx is None else list(hx))
    out, (h_n, c_n) = ours(x, hx, lengths=lengths)
    ref_out, (ref_h, ref_c) = run_reference(ref, x, lengths, hx)
    assert_max_diff(out, ref_out, tol, "output")
    assert_max_diff(h_n, ref_h, tol, "h_n")
    assert_max_diff(c_n, ref_c, tol, "c_n")

    cot = upstream_grads(ref_out, ref_h, ref_c)
    names = [name for name, _ in ref.named_parameters()]
    ours_params = [ours.get_parameter(name) for name in names]
    grads = torch.autograd.grad(weighted_loss((out, h_n, c_n), cot), leaves + ours_params)
    ref_grads = torch.autograd.grad(
        weighted_loss((ref_out, ref_h, ref_c), cot), leaves + list(ref.parameters())
    )
    labels = ["input", *["h_0", "c_0"][: len(leaves) - 1], *names]
    for label, g, rg in zip(labels, grads, ref_grads, strict=True):
        assert_max_diff(g, rg, tol, f"grad of {label}")
    return out


def padded_mask(lengths, batch, time, batch_first):
    """Boolean mask, True at padded positions, laid out like the output."""
    steps = torch.arange(time).unsqueeze(1)  # (T, 1)
    mask = steps >= torch.as_tensor(lengths).unsqueeze(0)  # (T, B)
    assert mask.shape == (time, batch)
    return mask.T if batch_first else mask


# A covering set rather than the full cartesian product: every axis (layers, directions,
# batch_first, projection, bias, lengths as list/tensor, unsorted lengths with a 1, max length
# shorter than T) appears in several combinations.
CONFIGS = [
    pytest.param(dict(num_layers=1), None, id="uni-l1"),
    pytest.param(dict(num_layers=1, batch_first=True), [4, 6, 1, 3], id="uni-l1-bf-len"),
    pytest.param(dict(num_layers=2), torch.tensor([2, 6, 5, 1]), id="uni-l2-lentensor"),
    pytest.param(dict(num_layers=3, batch_first=True), None, id="uni-l3-bf"),
    pytest.param(dict(num_layers=1, bidirectional=True), None, id="bi-l1"),
    pytest.param(
        dict(num_layers=1, bidirectional=True, batch_first=True), [3, 1, 6, 4], id="bi-l1-bf-len"
    ),
    pytest.param(dict(num_layers=2, bidirectional=True), [5, 6, 1, 2], id="bi-l2-len"),
    pytest.param(
        dict(num_layers=3, bidirectional=True, batch_first=True),
        torch.tensor([1, 4, 6, 2]),
        id="bi-l3-bf-len",
    ),
    pytest.param(dict(num_layers=1, proj_size=2), None, id="uni-l1-proj"),
    pytest.param(
        dict(num_layers=2, bidirectional=True, batch_first=True, proj_size=3),
        [6, 2, 1, 5],
        id="bi-l2-bf-proj-len",
    ),
    pytest.param(dict(num_layers=2, proj_size=2), [3, 1, 4, 2], id="uni-l2-proj-len-maxltT"),
    pytest.param(dict(num_layers=2, bidirectional=True, bias=False), [6, 6, 6, 6], id="bi-nobias"),
]

F64 = torch.float64
CONFIGS_F64 = [
    pytest.param(
        dict(num_layers=1, batch_first=True, dtype=F64), [4, 6, 1, 3], id="f64-uni-l1-bf-len"
    ),
    pytest.param(
        dict(num_layers=3, bidirectional=True, dtype=F64), [5, 1, 6, 2], id="f64-bi-l3-len"
    ),
    pytest.param(
        dict(num_layers=2, bidirectional=True, proj_size=2, dtype=F64),
        [2, 6, 1, 4],
        id="f64-bi-l2-proj-len",
    ),
]

SEQ_LEN, BATCH = 6, 4


def random_input(cfg, dtype):
    shape = (BATCH, SEQ_LEN, INPUT_SIZE) if cfg.get("batch_first") else (SEQ_LEN, BATCH, INPUT_SIZE)
    return torch.randn(shape, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("cfg", "lengths"), CONFIGS + CONFIGS_F64)
def test_parity_with_torch(backend, cfg, lengths):
    cfg = dict(cfg)
    dtype = cfg.pop("dtype", torch.float32)
    ours, ref = make_pair(backend, dtype=dtype, **cfg)
    x = random_input(cfg, dtype)
    out = compare_forward_backward(ours, ref, x, lengths, tol=TOL[dtype])
    if lengths is not None:
        # Equality within tolerance is not enough: padding must be exactly zero.
        mask = padded_mask(lengths, BATCH, SEQ_LEN, cfg.get("batch_first", False))
        assert (out[mask] == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_parity_with_nonzero_hx(backend, with_lengths):
    cfg = dict(num_layers=2, bidirectional=True, proj_size=3)
    ours, ref = make_pair(backend, **cfg)
    x = random_input(cfg, torch.float32)
    h_0 = torch.randn(4, BATCH, 3, requires_grad=True)
    c_0 = torch.randn(4, BATCH, HIDDEN_SIZE, requires_grad=True)
    lengths = [3, 6, 1, 4] if with_lengths else None
    compare_forward_backward(ours, ref, x, lengths, hx=(h_0, c_0))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("with_hx", [False, True], ids=["no-hx", "hx"])
def test_unbatched_input(backend, with_hx):
    cfg = dict(num_layers=2, bidirectional=True)
    ours, ref = make_pair(backend, **cfg)
    x = torch.randn(SEQ_LEN, INPUT_SIZE, requires_grad=True)
    hx = None
    if with_hx:
        hx = (
            torch.randn(4, HIDDEN_SIZE, requires_grad=True),
            torch.randn(4, HIDDEN_SIZE, requires_grad=True),
        )
    out = compare_forward_backward(ours, ref, x, hx=hx)
    assert out.shape == (SEQ_LEN, 2 * HIDDEN_SIZE)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("enforce_sorted", [False, True], ids=["unsorted", "sorted"])
def test_packed_sequence_input(backend, enforce_sorted):
    cfg = dict(num_layers=2, bidirectional=True, batch_first=True, proj_size=2)
    ours, ref = make_pair(backend, **cfg)
    x = random_input(cfg, torch.float32)
    lengths = [6, 4, 3, 1] if enforce_sorted else [3, 6, 1, 4]
    h_0 = torch.randn(4, BATCH, 2, requires_grad=True)
    c_0 = torch.randn(4, BATCH, HIDDEN_SIZE, requires_grad=True)
    # Pack twice: one packing graph per backward pass below.
    out, (h_n, c_n) = ours(
        pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=enforce_sorted),
        (h_0, c_0),
    )
    ref_out, (ref_h, ref_c) = ref(
        pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=enforce_sorted),
        (h_0, c_0),
    )
    assert isinstance(out, PackedSequence)
    assert torch.equal(out.batch_sizes, ref_out.batch_sizes)
    for ours_idx, ref_idx in [
        (out.sorted_indices, ref_out.sorted_indices),
        (out.unsorted_indices, ref_out.unsorted_indices),
    ]:
        assert (ours_idx is None) == (ref_idx is None)
        if ref_idx is not None:
            assert torch.equal(ours_idx, ref_idx)
    assert_max_diff(out.data, ref_out.data, 1e-5, "packed output")
    assert_max_diff(h_n, ref_h, 1e-5, "h_n")
    assert_max_diff(c_n, ref_c, 1e-5, "c_n")

    cot = upstream_grads(ref_out.data, ref_h, ref_c)
    leaves = [x, h_0, c_0]
    names = [name for name, _ in ref.named_parameters()]
    grads = torch.autograd.grad(
        weighted_loss((out.data, h_n, c_n), cot), leaves + [ours.get_parameter(n) for n in names]
    )
    ref_grads = torch.autograd.grad(
        weighted_loss((ref_out.data, ref_h, ref_c), cot), leaves + list(ref.parameters())
    )
    for label, g, rg in zip(["input", "h_0", "c_0", *names], grads, ref_grads, strict=True):
        assert_max_diff(g, rg, 1e-5, f"grad of {label}")


def test_is_a_torch_lstm_with_torch_parameter_layout():
    cfg = dict(num_layers=2, bidirectional=True, proj_size=2)
    ours = LSTM(INPUT_SIZE, HIDDEN_SIZE, **cfg)
    ref = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, **cfg)
    assert isinstance(ours, nn.LSTM)
    ours_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    ref_shapes = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert ours_shapes == ref_shapes


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_dict_from_ours_into_torch(backend):
    # The other direction (torch -> ours, strict) is what make_pair does for every parity test.
    cfg = dict(num_layers=2, bidirectional=True, batch_first=True, proj_size=3)
    ours = LSTM(INPUT_SIZE, HIDDEN_SIZE, backend=backend, **cfg)
    randomize_(ours)
    ref = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, **cfg)
    ref.load_state_dict(ours.state_dict(), strict=True)
    for name, p in ours.named_parameters():
        assert torch.equal(p, ref.get_parameter(name)), name
    x = random_input(cfg, torch.float32)
    compare_forward_backward(ours, ref, x, [6, 1, 4, 2])

    # And back again into a fresh module of ours: the round trip preserves every tensor.
    again = LSTM(INPUT_SIZE, HIDDEN_SIZE, backend=backend, **cfg)
    again.load_state_dict(ref.state_dict(), strict=True)
    for name, tensor in ours.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name


# ---- variants that must leave torch parity intact --------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_interlayer_dropout_is_noop_in_eval(backend):
    ours, ref = make_pair(backend, num_layers=3, bidirectional=True, dropout=0.5)
    ours.eval()
    ref.eval()
    x = random_input({}, torch.float32)
    compare_forward_backward(ours, ref, x, [6, 2, 1, 5])


@pytest.mark.parametrize("backend", BACKENDS)
def test_interlayer_dropout_is_active_in_train(backend):
    ours, _ = make_pair(backend, num_layers=2, dropout=0.5)
    x = random_input({}, torch.float32)
    ours.train()
    train_out, _ = ours(x)
    ours.eval()
    eval_out, _ = ours(x)
    assert not torch.allclose(train_out, eval_out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_weight_drop_is_noop_in_eval(backend):
    ref = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True)
    randomize_(ref)
    ours = LSTM(
        INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True, weight_drop=0.5, backend=backend
    )
    ours.load_state_dict(ref.state_dict(), strict=True)
    ours.eval()
    compare_forward_backward(ours, ref, random_input({}, torch.float32), [4, 6, 1, 3])


@pytest.mark.parametrize("backend", BACKENDS)
def test_weight_drop_in_train_changes_output_not_parameters(backend):
    ours = LSTM(INPUT_SIZE, HIDDEN_SIZE, weight_drop=0.5, backend=backend)
    randomize_(ours)
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    x = random_input({}, torch.float32)
    ours.eval()
    eval_out, _ = ours(x)
    ours.train()
    train_out, (h_n, c_n) = ours(x)
    assert not torch.allclose(train_out, eval_out)
    # DropConnect is applied to a copy: the stored W_hh must not be overwritten by the mask.
    for name, tensor in ours.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    # The gradient still reaches the (masked) recurrent weights.
    (train_out.sum() + h_n.sum() + c_n.sum()).backward()
    grad = ours.weight_hh_l0.grad
    assert grad is not None
    assert grad.abs().sum() > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_forget_bias_init(backend):
    lstm = LSTM(
        INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True, forget_bias=1.0, backend=backend
    )
    h = HIDDEN_SIZE
    for layer in range(2):
        for sfx in ("", "_reverse"):
            b_ih = lstm.get_parameter(f"bias_ih_l{layer}{sfx}")
            b_hh = lstm.get_parameter(f"bias_hh_l{layer}{sfx}")
            assert torch.equal(b_ih[h : 2 * h], torch.ones(h)), f"bias_ih_l{layer}{sfx}"
            assert torch.equal(b_hh[h : 2 * h], torch.zeros(h)), f"bias_hh_l{layer}{sfx}"
            # The other gates keep a random init (not all zero, not all one).
            others = torch.cat([b_ih[:h], b_ih[2 * h :]])
            assert others.unique().numel() > 1


def test_resolve_backend():
    def resolve(return_gates=False, **kwargs):
        return LSTM(INPUT_SIZE, HIDDEN_SIZE, **kwargs).resolve_backend(return_gates=return_gates)

    assert resolve() == "fused"
    assert resolve(return_gates=True) == "explicit"
    assert resolve(forget_bias=1.0) == "fused"
    assert resolve(weight_drop=0.5) == "fused"
    assert resolve(dropout=0.3, num_layers=2) == "fused"
    for variant in (dict(peephole=True), dict(layer_norm=True), dict(zoneout=0.1)):
        assert resolve(**variant) == "explicit", variant
    assert resolve(backend="explicit") == "explicit"
    assert resolve(backend="explicit", return_gates=True) == "explicit"
    assert resolve(backend="fused") == "fused"
    assert resolve(backend="fused", weight_drop=0.5) == "fused"


@pytest.mark.parametrize(
    "cfg",
    [
        dict(num_layers=1),
        dict(num_layers=3, batch_first=True),
        dict(num_layers=2, bias=False),
        dict(num_layers=2, dtype=F64),
        dict(num_layers=2, bidirectional=True),  # not a cell step: the sequence kernel
        dict(num_layers=2, proj_size=2),  # not a cell step either
    ],
    ids=["l1", "l3-bf", "l2-nobias", "l2-f64", "bi-l2", "l2-proj"],
)
@pytest.mark.parametrize("with_hx", [False, True])
def test_single_step_parity_with_torch(cfg, with_hx):
    # A decoder's or a stream's step (T = 1) runs as torch's LSTM cell per layer: same outputs
    # and gradients as torch.nn.LSTM's sequence kernel, with and without a given state.
    cfg = dict(cfg)
    dtype = cfg.pop("dtype", torch.float32)
    ours, ref = make_pair("fused", dtype=dtype, **cfg)
    shape = (BATCH, 1, INPUT_SIZE) if cfg.get("batch_first") else (1, BATCH, INPUT_SIZE)
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    hx = None
    if with_hx:
        D = 2 if cfg.get("bidirectional") else 1
        P = cfg.get("proj_size") or HIDDEN_SIZE
        L = cfg["num_layers"] * D
        hx = (
            torch.randn(L, BATCH, P, dtype=dtype, requires_grad=True),
            torch.randn(L, BATCH, HIDDEN_SIZE, dtype=dtype, requires_grad=True),
        )
    compare_forward_backward(ours, ref, x, hx=hx, tol=TOL[dtype])


def test_single_step_uses_cell_only_where_it_matches(monkeypatch):
    # Inter-layer dropout in training keeps the sequence kernel (its own dropout draws).
    calls = []
    lstm = LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, dropout=0.5, batch_first=True)
    original = LSTM._run_cell_step
    monkeypatch.setattr(
        LSTM, "_run_cell_step", lambda self, *a: calls.append(1) or original(self, *a)
    )
    x = torch.randn(2, 1, INPUT_SIZE)
    lstm.train()
    lstm(x)
    assert calls == []
    lstm.eval()
    lstm(x)
    assert calls == [1]


@pytest.mark.parametrize(
    "cfg",
    [dict(num_layers=2), dict(num_layers=2, batch_first=True), dict(num_layers=1, proj_size=2)],
    ids=["l2", "l2-bf", "l1-proj-fallback"],
)
def test_step_equals_torch_lstm_on_one_step_with_gradients(cfg):
    ref = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, dtype=F64, **cfg)
    randomize_(ref)
    ours = LSTM(INPUT_SIZE, HIDDEN_SIZE, dtype=F64, **cfg)
    ours.load_state_dict(ref.state_dict())
    P = cfg.get("proj_size") or HIDDEN_SIZE
    x = torch.randn(BATCH, INPUT_SIZE, dtype=F64, requires_grad=True)
    h0 = torch.randn(cfg["num_layers"], BATCH, P, dtype=F64, requires_grad=True)
    c0 = torch.randn(cfg["num_layers"], BATCH, HIDDEN_SIZE, dtype=F64, requires_grad=True)
    out, (h, c) = ours.step(x, (h0, c0))
    want, (h_ref, c_ref) = ref(x.unsqueeze(1 if cfg.get("batch_first") else 0), (h0, c0))
    want = want[:, 0] if cfg.get("batch_first") else want[0]
    for got, ref_value in ((out, want), (h, h_ref), (c, c_ref)):
        torch.testing.assert_close(got, ref_value)
    probe = [torch.randn_like(t) for t in (out, h, c)]
    inputs = [x, h0, c0, *ref.parameters()]
    ours_params = dict(ours.named_parameters())
    got = torch.autograd.grad(
        [out, h, c], [x, h0, c0, *(ours_params[n] for n, _ in ref.named_parameters())], probe
    )
    expected = torch.autograd.grad([want, h_ref, c_ref], inputs, probe)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)


@pytest.mark.parametrize("steps", [1, 6])
def test_run_layer_by_layer_equals_torch_lstm_with_gradients(steps):
    ref = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, batch_first=True, dtype=F64)
    randomize_(ref)
    ours = LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, batch_first=True, dtype=F64)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(BATCH, steps, INPUT_SIZE, dtype=F64, requires_grad=True)
    h0 = torch.randn(2, BATCH, HIDDEN_SIZE, dtype=F64, requires_grad=True)
    c0 = torch.randn(2, BATCH, HIDDEN_SIZE, dtype=F64, requires_grad=True)
    out, finals = x, []
    for k in range(2):
        out, state = ours.run_layer(k, out, (h0[k], c0[k]))
        finals.append(state)
    want, (h_ref, c_ref) = ref(x, (h0, c0))
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(torch.stack([h for h, _ in finals]), h_ref)
    torch.testing.assert_close(torch.stack([c for _, c in finals]), c_ref)
    probe = torch.randn_like(out)
    names = [n for n, _ in ref.named_parameters()]
    mine = dict(ours.named_parameters())
    got = torch.autograd.grad(out, [x, h0, c0, *(mine[n] for n in names)], probe)
    expected = torch.autograd.grad(want, [x, h0, c0, *ref.parameters()], probe)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)
    with pytest.raises(ValueError, match=r"k: expected a layer in \[0, 2\), got 2"):
        ours.run_layer(2, x, (h0[0], c0[0]))
    for variant in (
        {"bidirectional": True},
        {"layer_norm": True},
        {"weight_drop": 0.2},
        {"backend": "explicit"},
    ):
        with pytest.raises(ValueError, match="run_layer: expected a plain unidirectional LSTM"):
            LSTM(INPUT_SIZE, HIDDEN_SIZE, **variant).run_layer(0, x, (h0[0], c0[0]))
        with pytest.raises(ValueError, match="layer_weights: expected a plain"):
            LSTM(INPUT_SIZE, HIDDEN_SIZE, **variant).layer_weights(0)


def test_layer_weights_step_torch_lstm_cell_as_the_lstm_steps():
    """A decoder's own loop (torch.lstm_cell per layer on ``layer_weights``) equals the layer."""
    ref = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, dtype=F64)
    randomize_(ref)
    ours = LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, dtype=F64)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, BATCH, INPUT_SIZE, dtype=F64)
    want, (_, c_ref) = ref(x)
    hs = [torch.zeros(BATCH, HIDDEN_SIZE, dtype=F64) for _ in range(2)]
    cs = [h.clone() for h in hs]
    for t in range(3):
        inp = x[t]
        for k in range(2):
            hs[k], cs[k] = torch.lstm_cell(inp, (hs[k], cs[k]), *ours.layer_weights(k))
            inp = hs[k]
        torch.testing.assert_close(inp, want[t])
    torch.testing.assert_close(torch.stack(cs), c_ref)
    shapes = [w.shape for w in LSTM(INPUT_SIZE, HIDDEN_SIZE, bias=False).layer_weights(0)]
    assert shapes == [(4 * HIDDEN_SIZE, INPUT_SIZE), (4 * HIDDEN_SIZE, HIDDEN_SIZE)]


def test_auto_trains_variable_lengths_on_cpu_explicitly_with_the_same_result(monkeypatch):
    # backend="auto" in CPU training with variable lengths takes the explicit backend (faster
    # there); inference and equal lengths keep the fused kernel. Same numbers either way.
    ref = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True, batch_first=True)
    randomize_(ref)
    ours = LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True, batch_first=True)
    ours.load_state_dict(ref.state_dict())
    used = []
    for name in ("_run_fused", "_run_explicit"):
        original = getattr(LSTM, name)
        monkeypatch.setattr(
            LSTM, name, lambda self, *a, _o=original, _n=name: used.append(_n) or _o(self, *a)
        )
    x = torch.randn(BATCH, SEQ_LEN, INPUT_SIZE, requires_grad=True)
    compare_forward_backward(ours, ref, x, lengths=[6, 2, 5, 1])
    assert used == ["_run_explicit"]
    used.clear()
    compare_forward_backward(ours, ref, x, lengths=[6, 6, 6, 6])
    assert used == ["_run_fused"]
    used.clear()
    with torch.no_grad():
        ours(x, lengths=[6, 2, 5, 1])
    assert used == ["_run_fused"]
