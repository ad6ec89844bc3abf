"""Finite-difference checks of the explicit backend's hand-written backward.

The module's own parameter tensors are passed to `gradcheck` as inputs: gradcheck perturbs
inputs in place, so the module sees each perturbation without any reparametrisation, and the
analytical side differentiates with respect to the very same tensors.
"""

import pytest
import torch
from torch.autograd import gradcheck

from lstmkit.nn import LSTM

T, B, I, H = 4, 3, 3, 4


def perturb_variant_params_(lstm):
    """Move peephole and layer-norm parameters away from their init (1s and 0s).

    At init LN gains are 1 and shifts/peepholes 0, where some wrong gradients (e.g. a missing
    gain factor) would still be correct; random values expose them.
    """
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("weight_ch"):
                p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) - 0.5)
            elif name.startswith("ln_") and "_weight_" in name:
                p.copy_(0.5 + torch.rand(p.shape, generator=gen, dtype=p.dtype))
            elif name.startswith("ln_"):
                p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) - 0.5)


def run_gradcheck(
    lstm, *, batch_first=False, lengths=None, with_hx=False, train=False, fast_mode=False
):
    lstm.train(train)
    perturb_variant_params_(lstm)
    num_dirs = 2 if lstm.bidirectional else 1
    out_size = lstm.proj_size or lstm.hidden_size
    x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=torch.float64)
    inputs = [x.requires_grad_()]
    if with_hx:
        h_0 = torch.randn(lstm.num_layers * num_dirs, B, out_size, dtype=torch.float64)
        c_0 = torch.randn(lstm.num_layers * num_dirs, B, H, dtype=torch.float64)
        inputs += [h_0.requires_grad_(), c_0.requires_grad_()]
    params = list(lstm.parameters())
    n_leading = len(inputs)

    def fn(*args):
        # Same seed before every evaluation: every call then draws the same dropout/zoneout
        # masks, which makes the training-mode function deterministic and differentiable.
        torch.manual_seed(0)
        hx = tuple(args[1:n_leading]) if with_hx else None
        out, (h_n, c_n) = lstm(args[0], hx, lengths=lengths)
        return out, h_n, c_n

    assert gradcheck(fn, (*inputs, *params), eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=fast_mode)


def make(**kwargs):
    lstm = LSTM(I, H, backend=kwargs.pop("backend", "explicit"), dtype=torch.float64, **kwargs)
    assert all(p.dtype == torch.float64 for p in lstm.parameters())
    return lstm


def test_gradcheck_plain():
    run_gradcheck(make())


def test_gradcheck_proj_with_hx():
    run_gradcheck(make(proj_size=2), with_hx=True)


def test_gradcheck_bidirectional_with_lengths():
    run_gradcheck(
        make(bidirectional=True, batch_first=True),
        batch_first=True,
        lengths=torch.tensor([3, 1, 4]),
        with_hx=True,
    )


def test_gradcheck_bidirectional_two_layers_with_lengths():
    # fast_mode compares a random projection v^T J u instead of the full Jacobian (a few
    # evaluations instead of one per input element); a wrong gradient entry still shows up
    # unless it cancels exactly. The single-layer test above covers the full Jacobian.
    run_gradcheck(
        make(num_layers=2, bidirectional=True),
        lengths=[3, 1, 4],
        with_hx=True,
        fast_mode=True,
    )


@pytest.mark.parametrize(
    ("kwargs", "train"),
    [
        pytest.param(dict(peephole=True), False, id="peephole"),
        pytest.param(dict(layer_norm=True), False, id="layer_norm"),
        pytest.param(dict(layer_norm=True, proj_size=3), False, id="layer_norm-proj"),
        pytest.param(dict(recurrent_dropout=0.5), True, id="recurrent_dropout-train"),
        pytest.param(dict(zoneout=0.4), True, id="zoneout-train"),
        pytest.param(dict(zoneout=0.4), False, id="zoneout-eval"),
        pytest.param(dict(weight_drop=0.5), True, id="weight_drop-train"),
        pytest.param(
            dict(weight_drop=0.5, backend="fused"), True, id="weight_drop-train-fused-backend"
        ),
    ],
)
def test_gradcheck_variant(kwargs, train):
    run_gradcheck(make(**kwargs), train=train)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_gradcheck_all_variants_together(train):
    lstm = make(
        bidirectional=True,
        proj_size=3,
        forget_bias=1.0,
        peephole=True,
        layer_norm=True,
        recurrent_dropout=0.3,
        zoneout=0.3,
        weight_drop=0.3,
    )
    # Full Jacobian for the single-layer combination would take ~30 s; fast_mode (see above).
    run_gradcheck(lstm, lengths=[4, 2, 1], with_hx=True, train=train, fast_mode=True)


def test_gradcheck_all_variants_full_jacobian():
    # A smaller combination (unidirectional, no proj) where the full Jacobian is affordable.
    lstm = make(peephole=True, layer_norm=True, recurrent_dropout=0.3, zoneout=0.3, weight_drop=0.3)
    run_gradcheck(lstm, lengths=[4, 2, 1], train=True)
