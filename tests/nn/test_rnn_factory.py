"""GRU and RNN `lengths` handling against torch's own modules, and the `recurrent` factory."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmkit.nn import GRU, LSTM, RNN, recurrent

I, H, T, B = 3, 4, 6, 4
PAIRS = {"gru": (GRU, nn.GRU), "rnn": (RNN, nn.RNN)}


def make_pair(cell, **kwargs):
    ours_cls, torch_cls = PAIRS[cell]
    ref = torch_cls(I, H, **kwargs)
    with torch.no_grad():
        for p in ref.parameters():
            p.uniform_(-0.5, 0.5)
    ours = ours_cls(I, H, **kwargs)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ours, ref


def assert_max_diff(actual, expected, what, tol=1e-5):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    diff = (actual - expected).abs().max().item()
    assert diff <= tol, f"{what}: max abs diff {diff:.3g} > {tol:g}"


CASES = [
    pytest.param("gru", dict(), id="gru"),
    pytest.param(
        "gru", dict(num_layers=2, bidirectional=True, batch_first=True), id="gru-bi-l2-bf"
    ),
    pytest.param("rnn", dict(num_layers=2), id="rnn-tanh-l2"),
    pytest.param(
        "rnn", dict(bidirectional=True, nonlinearity="relu", batch_first=True), id="rnn-relu-bi-bf"
    ),
]


@pytest.mark.parametrize(("cell", "kwargs"), CASES)
@pytest.mark.parametrize("lengths", [None, [4, 6, 1, 3]], ids=["full", "lengths"])
def test_parity_with_torch_on_packed_sequences(cell, kwargs, lengths):
    ours, ref = make_pair(cell, **kwargs)
    batch_first = kwargs.get("batch_first", False)
    num_states = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x = torch.randn((B, T, I) if batch_first else (T, B, I), requires_grad=True)
    h_0 = torch.randn(num_states, B, H, requires_grad=True)

    out, h_n = ours(x, h_0, lengths=lengths)
    if lengths is None:
        ref_out, ref_h = ref(x, h_0)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        ref_out, ref_h = ref(packed, h_0)
        ref_out, _ = pad_packed_sequence(ref_out, batch_first=batch_first, total_length=T)
        steps = torch.arange(T).unsqueeze(1) >= torch.tensor(lengths)  # (T, B), True = padding
        assert (out[steps.T if batch_first else steps] == 0).all(), "padding is not exactly zero"
    assert_max_diff(out, ref_out, "output")
    assert_max_diff(h_n, ref_h, "h_n")

    gen = torch.Generator().manual_seed(5)
    g_out, g_h = torch.randn(out.shape, generator=gen), torch.randn(h_n.shape, generator=gen)
    names = [n for n, _ in ref.named_parameters()]
    grads = torch.autograd.grad(
        (out * g_out).sum() + (h_n * g_h).sum(), [x, h_0] + [ours.get_parameter(n) for n in names]
    )
    ref_grads = torch.autograd.grad(
        (ref_out * g_out).sum() + (ref_h * g_h).sum(), [x, h_0, *ref.parameters()]
    )
    for label, g, rg in zip(["input", "h_0", *names], grads, ref_grads, strict=True):
        assert_max_diff(g, rg, f"grad of {label}")


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_packed_sequence_passthrough(cell):
    ours, ref = make_pair(cell, bidirectional=True)
    packed = pack_padded_sequence(torch.randn(T, B, I), [2, 6, 1, 5], enforce_sorted=False)
    out, h_n = ours(packed)
    ref_out, ref_h = ref(packed)
    assert torch.equal(out.batch_sizes, ref_out.batch_sizes)
    assert torch.equal(out.unsorted_indices, ref_out.unsorted_indices)
    assert_max_diff(out.data, ref_out.data, "packed output")
    assert_max_diff(h_n, ref_h, "h_n")


@pytest.mark.parametrize(
    ("cell", "cls", "torch_cls"),
    [("lstm", LSTM, nn.LSTM), ("gru", GRU, nn.GRU), ("rnn", RNN, nn.RNN)],
)
def test_factory_builds_the_requested_cell(cell, cls, torch_cls):
    module = recurrent(cell, I, H, num_layers=2, bidirectional=True, batch_first=True)
    assert type(module) is cls
    assert isinstance(module, torch_cls)
    assert (module.input_size, module.hidden_size, module.num_layers) == (I, H, 2)
    assert module.bidirectional
    assert module.batch_first
    out = module(torch.randn(B, T, I), lengths=[3, 6, 1, 2])[0]
    assert out.shape == (B, T, 2 * H)


def test_factory_passes_lstm_only_options():
    module = recurrent("lstm", I, H, proj_size=2, peephole=True)
    assert module.proj_size == 2
    assert hasattr(module, "weight_ch_l0")


@pytest.mark.parametrize("cell", ["transformer", "", "conv"])
def test_factory_rejects_unknown_cell(cell):
    with pytest.raises(ValueError, match="cell") as info:
        recurrent(cell, I, H)
    message = str(info.value).lower()
    for allowed in ("lstm", "gru", "rnn"):
        assert allowed in message, message
