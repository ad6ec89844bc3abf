"""The fused CPU kernel of the explicit backend against the Python loop it replaces and torch.

The other tests of the explicit backend run the kernel whenever it builds; here the Python loop is
checked too (it serves the variants, and machines without a compiler), and the two are compared.
"""

import shutil

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmkit.nn import LSTM, kernel, recurrence

CONFIGS = [
    {"num_layers": 1},
    {"num_layers": 2, "bidirectional": True},
    {"num_layers": 2, "batch_first": True, "lengths": [5, 1, 3]},
    {"num_layers": 1, "bidirectional": True, "lengths": [2, 5, 4]},
]


@pytest.fixture
def python_loop(monkeypatch):
    """Run the explicit backend without the kernel."""
    monkeypatch.setattr(recurrence, "_kernel_for", lambda *args: None)


def _run(lstm, x, lengths):
    out, (h, c) = lstm(x) if lengths is None else lstm(x, lengths=lengths)
    cot = [
        torch.randn(t.shape, dtype=t.dtype, generator=torch.Generator().manual_seed(7))
        for t in (out, h, c)
    ]
    loss = sum((t * g).sum() for t, g in zip((out, h, c), cot, strict=True))
    grads = torch.autograd.grad(loss, [x, *lstm.parameters()])
    return [out, h, c, *grads]


def _reference(cfg, dtype):
    cfg = dict(cfg)
    lengths = cfg.pop("lengths", None)
    ref = nn.LSTM(3, 6, dtype=dtype, **cfg)
    with torch.no_grad():
        for p in ref.parameters():
            p.uniform_(-0.6, 0.6)
    ours = LSTM(3, 6, backend="explicit", dtype=dtype, **cfg)
    ours.load_state_dict(ref.state_dict())
    shape = (3, 5, 3) if ref.batch_first else (5, 3, 3)
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    return ref, ours, x, lengths


def _torch_run(ref, x, lengths):
    if lengths is None:
        return _run(ref, x, None)
    packed = pack_padded_sequence(
        x, torch.tensor(lengths), batch_first=ref.batch_first, enforce_sorted=False
    )

    class Padded(nn.Module):  # torch.nn.LSTM on the packed batch, padded back
        def __init__(self):
            super().__init__()
            self.ref = ref

        def forward(self, x, lengths=None):
            out, state = self.ref(packed)
            T = x.shape[1] if ref.batch_first else x.shape[0]
            return pad_packed_sequence(out, batch_first=ref.batch_first, total_length=T)[0], state

    return _run(Padded(), x, lengths)


@pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler on this machine")
def test_kernel_builds_where_a_compiler_is():
    assert kernel.load() is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_python_loop_matches_torch(python_loop, cfg, dtype):
    ref, ours, x, lengths = _reference(cfg, dtype)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for got, want in zip(_run(ours, x, lengths), _torch_run(ref, x, lengths), strict=True):
        assert (got - want).abs().max().item() <= tol


@pytest.mark.skipif(kernel.load() is None, reason="the fused kernel did not build here")
@pytest.mark.parametrize("cfg", CONFIGS)
def test_kernel_matches_python_loop(monkeypatch, cfg):
    _, ours, x, lengths = _reference(cfg, torch.float64)
    with_kernel = _run(ours, x, lengths)
    monkeypatch.setattr(recurrence, "_kernel_for", lambda *args: None)
    without = _run(ours, x, lengths)
    for a, b in zip(with_kernel, without, strict=True):
        assert (a - b).abs().max().item() <= 1e-12


def test_python_loop_gradcheck(python_loop):
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True, backend="explicit", dtype=torch.float64)
    x = torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in lstm.named_parameters()]

    def f(x, *params):
        out, (h, c) = torch.func.functional_call(
            lstm, dict(zip(names, params, strict=True)), (x,), {"lengths": [4, 2, 1]}
        )
        return out, h, c

    assert torch.autograd.gradcheck(f, (x, *lstm.parameters()))


PAIRED = [
    {"num_layers": 2, "bidirectional": True},
    {"num_layers": 1, "bidirectional": True, "lengths": [2, 5, 4]},
    {"num_layers": 2, "bidirectional": True, "batch_first": True, "lengths": [5, 1, 3]},
]


@pytest.fixture
def two_threads():
    """Both directions run at once only where torch has two threads or more."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def _spy_pairs(monkeypatch) -> list:
    """Counts the layers that ran through PairedRecurrence."""
    calls, apply = [], recurrence.PairedRecurrence.apply
    monkeypatch.setattr(
        recurrence.PairedRecurrence, "apply", lambda *a: calls.append(1) or apply(*a)
    )
    return calls


@pytest.mark.skipif(kernel.load() is None, reason="the fused kernel did not build here")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cfg", PAIRED)
def test_both_directions_at_once_match_torch(monkeypatch, two_threads, cfg, dtype):
    ref, ours, x, lengths = _reference(cfg, dtype)
    calls = _spy_pairs(monkeypatch)
    got = _run(ours, x, lengths)
    assert len(calls) == cfg["num_layers"]  # every layer ran its two directions at once
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for a, b in zip(got, _torch_run(ref, x, lengths), strict=True):
        assert (a - b).abs().max().item() <= tol


@pytest.mark.skipif(kernel.load() is None, reason="the fused kernel did not build here")
def test_both_directions_at_once_match_one_after_the_other(monkeypatch, two_threads):
    _, ours, x, lengths = _reference(PAIRED[2], torch.float64)
    at_once = _run(ours, x, lengths)
    monkeypatch.setattr(recurrence, "PAIR_MAX_WORK", 0)  # every layer one direction at a time
    calls = _spy_pairs(monkeypatch)
    apart = _run(ours, x, lengths)
    assert calls == []
    for a, b in zip(at_once, apart, strict=True):
        assert (a - b).abs().max().item() <= 1e-12


@pytest.mark.skipif(kernel.load() is None, reason="the fused kernel did not build here")
def test_both_directions_at_once_gradcheck(monkeypatch, two_threads):
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True, backend="explicit", dtype=torch.float64)
    x = torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in lstm.named_parameters()]
    calls = _spy_pairs(monkeypatch)

    def f(x, *params):
        out, (h, c) = torch.func.functional_call(
            lstm, dict(zip(names, params, strict=True)), (x,), {"lengths": [4, 2, 1]}
        )
        return out, h, c

    assert torch.autograd.gradcheck(f, (x, *lstm.parameters()))
    assert calls


def test_one_thread_runs_the_directions_one_after_the_other(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert not recurrence.pairs_directions(torch.zeros(2, 3, 16), 4)
    finally:
        torch.set_num_threads(threads)
