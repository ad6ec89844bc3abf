"""Padding bookkeeping of the explicit backend, and padded steps that hold garbage."""

import pytest
import torch

from lstmkit.nn import LSTM
from lstmkit.nn.padding import Lengths


def test_reverse_within_lengths_is_an_involution_that_keeps_padding_in_place():
    lengths = [3, 1, 4]
    x = torch.arange(3 * 4, dtype=torch.float32).view(3, 4, 1)  # (B, T, F), value = b*T + t
    seqs = Lengths(lengths, steps=4, device="cpu")
    rev = seqs.reverse(x)
    for b, n in enumerate(lengths):
        expected = [x[b, n - 1 - t, 0] if t < n else x[b, t, 0] for t in range(4)]
        assert rev[b, :, 0].tolist() == [float(v) for v in expected]
    assert torch.equal(seqs.reverse(rev), x)


def test_reverse_gradient_matches_autograds_gather_and_gradcheck():
    seqs = Lengths([3, 1, 4], steps=4, device="cpu")
    x = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)  # (B, T, F)
    weight = torch.randn(3, 4, 2, dtype=torch.float64)
    (grad,) = torch.autograd.grad((seqs.reverse(x) * weight).sum(), x)
    index = seqs.index.expand(-1, -1, 2)
    (reference,) = torch.autograd.grad((x.gather(1, index) * weight).sum(), x)
    assert torch.equal(grad, reference)
    assert torch.autograd.gradcheck(seqs.reverse, (x,))


def test_last_takes_each_sequence_at_its_own_last_step():
    x = torch.arange(3 * 4, dtype=torch.float32).view(3, 4, 1)  # (B, T, F)
    seqs = Lengths([3, 1, 4], steps=4, device="cpu")
    assert seqs.last(x)[:, 0].tolist() == [x[0, 2, 0].item(), x[1, 0, 0].item(), x[2, 3, 0].item()]


def test_full_lengths_need_no_bookkeeping():
    seqs = Lengths([4, 4], steps=4, device="cpu")
    assert seqs.pad is None
    x = torch.randn(2, 4, 3)  # (B, T, F)
    assert torch.equal(seqs.reverse(x), x.flip(1))
    assert torch.equal(seqs.last(x), x[:, -1])


@pytest.mark.parametrize("backend", ["fused", "explicit"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_nan_in_padding_does_not_reach_outputs_or_gradients(backend, bidirectional):
    lstm = LSTM(3, 4, num_layers=2, bidirectional=bidirectional, batch_first=True, backend=backend)
    x = torch.randn(2, 5, 3)
    x[1, 2:] = float("nan")  # the second sequence is 2 steps long; its padding is NaN
    x.requires_grad_(True)
    out, (h, c) = lstm(x, lengths=[5, 2])
    (out.sum() + h.sum() + c.sum()).backward()
    for t in (out, h, c):
        assert torch.isfinite(t).all()
    assert (out[1, 2:] == 0).all()
    assert torch.isfinite(x.grad).all()
    assert (x.grad[1, 2:] == 0).all()
    assert all(torch.isfinite(p.grad).all() for p in lstm.parameters())
