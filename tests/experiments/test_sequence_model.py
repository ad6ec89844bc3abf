"""The experiments' network: torch's cells underneath, and the chrono initialisation."""

import math

import pytest
import torch
from torch import nn

from lstmkit.experiments.models import SequenceModel


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_forward_is_torchs_cell_and_a_linear_head(cell):
    torch.manual_seed(0)
    model = SequenceModel(cell, 3, 5, 2, init="standard")
    reference = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](3, 5, batch_first=True)
    reference.load_state_dict(model.rnn.state_dict(), strict=False)
    x = torch.randn(4, 7, 3)
    want = model.head(reference(x)[0])
    torch.testing.assert_close(model(x), want, rtol=1e-5, atol=1e-6)


def test_standard_init_sets_the_lstm_forget_bias_to_one():
    model = SequenceModel("lstm", 2, 4, 1, init="standard")
    H = 4
    assert (model.rnn.bias_ih_l0[H : 2 * H] == 1).all()
    assert (model.rnn.bias_hh_l0[H : 2 * H] == 0).all()


@pytest.mark.parametrize("T", [10, 200])
def test_chrono_init_follows_tallec_and_ollivier(T):
    torch.manual_seed(1)
    H = 500
    lstm = SequenceModel("lstm", 2, H, 1, init="chrono", max_lag=T).rnn
    forget = lstm.bias_ih_l0[H : 2 * H] + lstm.bias_hh_l0[H : 2 * H]
    inputs = lstm.bias_ih_l0[:H] + lstm.bias_hh_l0[:H]
    # b_f = log(u), u ~ U[1, T - 1]; b_i = -b_f
    u = forget.exp()
    assert u.min() >= 1 - 1e-5
    assert u.max() <= T - 1 + 1e-4
    assert u.mean().item() == pytest.approx(T / 2, rel=0.1)  # the mean of U[1, T - 1]
    torch.testing.assert_close(inputs, -forget)
    gru = SequenceModel("gru", 2, H, 1, init="chrono", max_lag=T).rnn
    z = (gru.bias_ih_l0[H : 2 * H] + gru.bias_hh_l0[H : 2 * H]).exp()  # the update gate
    assert 1 - 1e-5 <= z.min() <= z.max() <= T - 1 + 1e-4
    # the remaining biases are torch's: within +-1/sqrt(H)
    assert lstm.bias_ih_l0[2 * H :].abs().max() <= 1 / math.sqrt(H)


def test_chrono_leaves_the_plain_rnn_as_torch_makes_it():
    torch.manual_seed(2)
    chrono = SequenceModel("rnn", 2, 4, 1, init="chrono", max_lag=50)
    torch.manual_seed(2)
    standard = SequenceModel("rnn", 2, 4, 1, init="standard")
    for a, b in zip(chrono.parameters(), standard.parameters(), strict=True):
        assert torch.equal(a, b)


def test_bad_arguments():
    with pytest.raises(ValueError, match="cell: expected one of lstm, gru, rnn, got 'tcn'"):
        SequenceModel("tcn", 2, 4, 1)
    with pytest.raises(ValueError, match="init: expected one of chrono, standard, got 'x'"):
        SequenceModel("lstm", 2, 4, 1, init="x")
