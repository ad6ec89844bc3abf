"""‖∂loss/∂h_t‖ against a hand-unrolled torch cell with the same weights, and a formula."""

import pytest
import torch
from torch import nn

from lstmkit.experiments.gradient_flow import gradient_norms
from lstmkit.experiments.models import SequenceModel
from lstmkit.experiments.problems import make_problem

CELL_MODULES = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}


def reference_norms(model: SequenceModel, problem, x, y) -> torch.Tensor:
    """torch.autograd.grad of the loss w.r.t. the hidden states of torch's own cell, unrolled by
    hand, with the model's weights; (T,) by distance from the end."""
    H = model.rnn.hidden_size
    cell = CELL_MODULES[model.cell](x.shape[-1], H)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(model.rnn, f"{name}_l0"))
    B, T = x.shape[:2]
    h, c = torch.zeros(B, H), torch.zeros(B, H)
    hidden = []
    for t in range(T):
        if model.cell == "lstm":
            h, c = cell(x[:, t], (h, c))
        else:
            h = cell(x[:, t], h)
        hidden.append(h)
    outputs = model.head(torch.stack(hidden, 1))
    loss = problem.loss(outputs, y)
    grads = torch.autograd.grad(loss, hidden)
    return torch.stack([g.norm(dim=-1).mean() for g in grads]).flip(0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("name", ["adding", "temporal-order", "copy"])
def test_matches_a_hand_unrolled_torch_cell(cell, name):
    torch.manual_seed(0)
    problem = make_problem(name, 12)
    model = SequenceModel(cell, problem.input_size, 6, problem.output_size)
    x, y = problem.sample(5, torch.Generator().manual_seed(1))
    got = gradient_norms(model, problem, x, y)
    want = reference_norms(model, problem, x, y)
    assert got.shape == (12,)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-9)
    assert (got[1:] > 0).all()  # the gradient reached every step through the recurrence


def test_last_step_gradient_is_the_heads_formula():
    # adding: loss = mean_b (w·h_b + b0 - y_b)^2, so dloss/dh_{T-1} = 2 (yhat_b - y_b) w / B
    torch.manual_seed(3)
    problem = make_problem("adding", 10)
    model = SequenceModel("lstm", 2, 4, 1)
    x, y = problem.sample(7, torch.Generator().manual_seed(4))
    with torch.no_grad():
        yhat = model(x)[:, -1, 0]
    want = (2 * (yhat - y).abs() / 7 * model.head.weight.norm()).mean()
    got = gradient_norms(model, problem, x, y)[0]
    assert got.item() == pytest.approx(want.item(), rel=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_unrolled_is_the_same_function_as_forward(cell):
    torch.manual_seed(5)
    model = SequenceModel(cell, 3, 5, 2)
    x = torch.randn(4, 9, 3)
    outputs, hidden = model.unrolled(x)
    torch.testing.assert_close(outputs, model(x), rtol=1e-5, atol=1e-6)
    assert len(hidden) == 9
    assert hidden[0].shape == (4, 5)


def test_a_plain_rnns_gradient_vanishes_with_distance():
    # small recurrent weights: each step back multiplies the gradient by at most |W_hh| < 1
    torch.manual_seed(6)
    problem = make_problem("adding", 40)
    model = SequenceModel("rnn", 2, 8, 1)
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(0.5)
    norms = gradient_norms(model, problem, *problem.sample(16, torch.Generator().manual_seed(7)))
    assert norms[30] < 1e-6 * norms[0]
