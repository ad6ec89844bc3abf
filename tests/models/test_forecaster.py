"""The forecasting network: shapes, decode loop, quantiles, pinball loss, covariates, learning."""

import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from lstmkit.errors import UserError
from lstmkit.forecast.metrics import pinball
from lstmkit.models.forecaster import (
    ForecastConfig,
    build_forecaster,
    monotone_quantiles,
    pinball_loss,
)

B, T, K, P, F = 3, 7, 4, 2, 3
HEADS = ["autoregressive", "direct"]


def small(head="autoregressive", **kw):
    cfg = {
        "horizon": K,
        "n_past": P,
        "n_future": F,
        "hidden_size": 6,
        "num_layers": 2,
        "dropout": 0.0,
        "quantiles": (0.1, 0.25, 0.5, 0.9),
        "head": head,
    } | kw
    return build_forecaster(ForecastConfig(**cfg)).eval()


def batch(dtype=torch.float32):
    """Look-back y (B, T), past (B, T, P), future covariates (B, T, F) and (B, K, F)."""
    future = torch.randn(B, T + K, F, dtype=dtype)
    return (
        torch.randn(B, T, dtype=dtype),
        torch.randn(B, T, P, dtype=dtype),
        *future.split([T, K], 1),
    )


@pytest.mark.parametrize("head", HEADS)
def test_shapes(head):
    model = small(head)
    y, past, fut_hist, fut = batch()
    h, c = model.encode(y, past, fut_hist)
    assert h.shape == c.shape == (2, B, 6)
    assert model.forecast(y, past, fut_hist, fut).shape == (B, K, 4)
    assert model.loss(y, past, fut_hist, fut, target=torch.randn(B, K)).shape == ()
    bare = small(head, n_past=0, n_future=0)
    assert bare.encoder.lstm.input_size == 1
    assert bare.forecast(y).shape == (B, K, 4)


def test_forecast_equals_a_loop_of_decode_step():
    model = small()
    y, past, fut_hist, fut = batch()
    out = model.forecast(y, past, fut_hist, fut)
    state = model.encode(y, past, fut_hist)
    prev = y[:, -1]
    for k in range(K):
        q, state = model.decode_step(prev, fut[:, k], state)
        torch.testing.assert_close(out[:, k], q)
        prev = q[:, 2]  # the median: quantiles (0.1, 0.25, 0.5, 0.9)
    # With full teacher forcing the inputs are the truth: the loss is that of the gold loop.
    target = torch.randn(B, K)
    state, prev, preds = model.encode(y, past, fut_hist), y[:, -1], []
    for k in range(K):
        q, state = model.decode_step(prev, fut[:, k], state)
        preds.append(q)
        prev = target[:, k]
    want = pinball_loss(torch.stack(preds, 1), target, (0.1, 0.25, 0.5, 0.9))
    got = model.loss(y, past, fut_hist, fut, target=target, teacher_forcing=1.0)
    torch.testing.assert_close(got, want)
    assert not torch.allclose(model.loss(y, past, fut_hist, fut, target=target), want)


def reference_loss(model, y, past, fut_hist, fut, target, teacher_forcing):
    """The detached-feedback step loop written out, with grad at every step."""
    state, prev, preds = model.encode(y, past, fut_hist), y[:, -1], []
    for k in range(K):
        q, state = model.decode_step(prev, None if fut is None else fut[:, k], state)
        preds.append(q)
        prev = q[:, 2].detach()  # the median, fed back without its gradient
        if teacher_forcing > 0:
            prev = torch.where(torch.rand(prev.shape) < teacher_forcing, target[:, k], prev)
    return pinball_loss(torch.stack(preds, 1), target, (0.1, 0.25, 0.5, 0.9))


@pytest.mark.parametrize("teacher_forcing", [0.0, 0.5])
@pytest.mark.parametrize("n_future", [0, F])
def test_training_replay_equals_the_step_loop_with_its_gradients(teacher_forcing, n_future):
    torch.manual_seed(0)
    model = small(n_future=n_future).double().train()
    y, past, fut_hist, fut = batch(torch.float64)
    fut_hist, fut = (fut_hist, fut) if n_future else (None, None)
    target = torch.randn(B, K, dtype=torch.float64)
    calls = []
    model.head.lstm.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[1]))

    def loss_and_grads(fn):
        model.zero_grad()
        torch.manual_seed(1)  # the same teacher-forcing draws on both sides
        loss = fn()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    got = loss_and_grads(
        lambda: model.loss(y, past, fut_hist, fut, target=target, teacher_forcing=teacher_forcing)
    )
    assert calls[-1] == K  # the LSTM ran once over the whole horizon
    want = loss_and_grads(
        lambda: reference_loss(model, y, past, fut_hist, fut, target, teacher_forcing)
    )
    torch.testing.assert_close(got[0], want[0])
    for g, w in zip(got[1], want[1], strict=True):
        torch.testing.assert_close(g, w)


@pytest.mark.parametrize("head", HEADS)
def test_one_step_loss_adds_the_encoders_next_value_pinball_written_out(head):
    torch.manual_seed(0)
    model = small(head, one_step_loss=0.7)
    plain = small(head)
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    assert not missing
    assert unexpected == ["one_step.weight", "one_step.bias"]
    y, past, fut_hist, fut = batch()
    target = torch.randn(B, K)
    # The encoder's top-layer outputs from torch's own LSTM with the same weights.
    reference = torch.nn.LSTM(1 + P + F, 6, 2, batch_first=True)
    reference.load_state_dict(model.encoder.lstm.state_dict())
    out, _ = reference(torch.cat([y.unsqueeze(-1), past, fut_hist], -1))  # (B, T, H)
    raw = (out @ model.one_step.weight.T + model.one_step.bias).detach().numpy()  # (B, T, Q)
    # Quantiles (0.1, 0.25, 0.5, 0.9): the median raw, the others softplus gaps outwards.
    gap = np.log1p(np.exp(raw))
    median = raw[..., 2]
    quantiles = np.stack(
        [median - gap[..., 1] - gap[..., 0], median - gap[..., 1], median, median + gap[..., 3]], -1
    )
    following = torch.cat([y[:, 1:], target[:, :1]], 1).numpy()  # y_{j+1}; the last: target_0
    levels = np.array([0.1, 0.25, 0.5, 0.9])
    diff = following[..., None] - quantiles
    one_step = np.maximum(levels * diff, (levels - 1) * diff).mean()
    with torch.no_grad():
        want = plain.loss(y, past, fut_hist, fut, target=target).item() + 0.7 * one_step
        got = model.loss(y, past, fut_hist, fut, target=target).item()
        # The forecast does not use the extra layer.
        torch.testing.assert_close(
            model.forecast(y, past, fut_hist, fut), plain.forecast(y, past, fut_hist, fut)
        )
    assert got == pytest.approx(want, rel=1e-5)
    assert got > plain.loss(y, past, fut_hist, fut, target=target).item()


def test_one_step_loss_trains_the_encoder_and_its_layer():
    torch.manual_seed(0)
    model, plain = small(one_step_loss=1.0).train(), small().train()
    plain.load_state_dict(model.state_dict(), strict=False)
    y, past, fut_hist, fut = batch()
    target = torch.randn(B, K)
    for m in (model, plain):
        m.loss(y, past, fut_hist, fut, target=target).backward()
    assert model.one_step.weight.grad.abs().sum() > 0
    # The encoder's gradient gains the one-step term's; the decoder's stays as it was.
    encoder = model.encoder.lstm.weight_ih_l0.grad
    assert not torch.allclose(encoder, plain.encoder.lstm.weight_ih_l0.grad)
    torch.testing.assert_close(model.head.lstm.weight_hh_l0.grad, plain.head.lstm.weight_hh_l0.grad)


def cell(x, h, c, lstm, k):
    """One LSTM cell step of layer k, the gate equations written out (torch's gate order)."""
    w_ih, w_hh = getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")
    b = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
    i, f, g, o = (x @ w_ih.T + h @ w_hh.T + b).chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def test_training_with_dropout_replays_the_steps_with_their_masks():
    torch.manual_seed(0)
    model = small(dropout=0.3).double().train()
    head = model.head
    y, past, fut_hist, fut = batch(torch.float64)
    target = torch.randn(B, K, dtype=torch.float64)
    calls = []
    head.lstm.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[1]))

    def loss_and_grads(fn):
        model.zero_grad()
        torch.manual_seed(1)  # the encoder's dropout, then the decoder's masks
        loss = fn()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    def reference():
        state = model.encode(y, past, fut_hist)
        masks = head._masks(B, K, y)  # (B, K, H) per layer: 0 or 1 / (1 - p)
        hs, cs = list(state[0]), list(state[1])
        prev, preds = y[:, -1], []
        for k in range(K):
            x = torch.cat([prev.unsqueeze(-1), fut[:, k]], -1)
            for layer in range(2):
                hs[layer], cs[layer] = cell(x, hs[layer], cs[layer], head.lstm, layer)
                x = hs[layer] * masks[layer][:, k]
            q = monotone_quantiles(head.output(x), 2)
            preds.append(q)
            prev = q[:, 2].detach()
        return pinball_loss(torch.stack(preds, 1), target, (0.1, 0.25, 0.5, 0.9))

    got = loss_and_grads(lambda: model.loss(y, past, fut_hist, fut, target=target))
    assert calls == []  # no call of the whole module: the layers ran one by one, masked
    want = loss_and_grads(reference)
    torch.testing.assert_close(got[0], want[0])
    for g, w in zip(got[1], want[1], strict=True):
        torch.testing.assert_close(g, w)

    # The masks are those torch's own dropout draws when the decoder steps one at a time.
    def stepped():
        state, prev, preds = model.encode(y, past, fut_hist), y[:, -1], []
        for k in range(K):
            q, state = model.decode_step(prev, fut[:, k], state)
            preds.append(q)
            prev = q[:, 2].detach()
        return pinball_loss(torch.stack(preds, 1), target, (0.1, 0.25, 0.5, 0.9))

    torch.testing.assert_close(loss_and_grads(stepped)[0], got[0])
    # The masks drop units at rate p and keep the mean.
    masks = head._masks(4000, K, y)
    assert len(masks) == 2
    for mask in masks:
        assert (mask == 0).double().mean().item() == pytest.approx(0.3, abs=0.01)
        assert mask.mean().item() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("head", HEADS)
def test_quantiles_are_increasing(head):
    model = small(head, hidden_size=5)
    for p in model.parameters():  # large weights so the raw gaps span a wide range
        torch.nn.init.normal_(p, std=3.0)
    y, past, fut_hist, fut = (5 * x for x in batch())
    q = model.forecast(y, past, fut_hist, fut)
    assert torch.all(q[..., 1:] >= q[..., :-1])
    raw = 20 * torch.randn(50, 5)
    mono = monotone_quantiles(raw, 2)
    assert torch.all(mono[:, 1:] >= mono[:, :-1])
    torch.testing.assert_close(mono[:, 2], raw[:, 2])  # the median is the raw middle value
    sp = torch.nn.functional.softplus
    torch.testing.assert_close(mono[:, 4] - mono[:, 3], sp(raw[:, 4]))
    torch.testing.assert_close(mono[:, 1] - mono[:, 0], sp(raw[:, 0]))


def test_pinball_equals_forecast_metrics_pinball():
    rng = np.random.default_rng(0)
    qs = [0.05, 0.3, 0.5, 0.8]
    pred, y = rng.normal(size=(6, 5, 4)), rng.normal(size=(6, 5))  # (N, K, Q), (N, K)
    got = pinball_loss(torch.from_numpy(pred), torch.from_numpy(y), qs).item()
    assert got == pytest.approx(pinball(y, np.moveaxis(pred, -1, 0), qs), rel=1e-12)
    # and a hand-worked term: q = 0.8, y − ŷ = −2 → (0.8 − 1)·(−2) = 0.4
    assert pinball_loss(torch.tensor([3.0]), torch.tensor(1.0), [0.8]).item() == pytest.approx(0.4)


def test_gradcheck_of_one_decode_step():
    model = small(num_layers=1).double()
    gen = torch.Generator().manual_seed(3)

    def rand(*shape):
        return torch.randn(*shape, dtype=torch.float64, generator=gen, requires_grad=True)

    prev, fut_t, h, c = rand(B), rand(B, F), rand(1, B, 6), rand(1, B, 6)

    def fn(prev, fut_t, h, c):
        q, (h1, c1) = model.decode_step(prev, fut_t, (h, c))
        return q, h1, c1

    assert gradcheck(fn, (prev, fut_t, h, c), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("head", HEADS)
def test_future_covariates_change_the_forecast_from_their_step_on(head):
    model = small(head)
    y, past, fut_hist, fut = batch()
    out = model.forecast(y, past, fut_hist, fut)
    changed = fut.clone()
    changed[:, 2] += 1.0
    out2 = model.forecast(y, past, fut_hist, changed)
    assert not torch.allclose(out2[:, 2], out[:, 2])
    if head == "autoregressive":  # causal: the earlier steps cannot see step 2's covariates
        torch.testing.assert_close(out2[:, :2], out[:, :2])


@pytest.mark.parametrize("head", HEADS)
def test_past_covariates_enter_through_the_look_back_only(head):
    model = small(head)
    y, past, fut_hist, fut = batch()
    full_past = torch.cat([past, torch.randn(B, K, P)], 1)  # (B, T + K, P): known later
    out = model.forecast(y, full_past[:, :T], fut_hist, fut)
    later = full_past.clone()
    later[:, T:] = torch.randn(B, K, P)
    torch.testing.assert_close(model.forecast(y, later[:, :T], fut_hist, fut), out)
    earlier = full_past.clone()
    earlier[:, T - 1] += 1.0
    assert not torch.allclose(model.forecast(y, earlier[:, :T], fut_hist, fut), out)
    with pytest.raises(ValueError, match=r"past: expected a float tensor of shape \(3, 7, 2\)"):
        model.forecast(y, full_past, fut_hist, fut)


def sine_windows(n, gen):
    """Noiseless sine, period 12, random phases: look-back (n, 24) and the next 12 (n, 12)."""
    phase = torch.rand(n, 1, generator=gen) * 2 * math.pi
    series = torch.sin(2 * math.pi * torch.arange(36) / 12 + phase)  # (n, 36)
    return series[:, :24], series[:, 24:]


@pytest.mark.parametrize("head", HEADS)
def test_learns_a_sine_wave(head):
    model = build_forecaster(
        ForecastConfig(horizon=12, hidden_size=32, num_layers=1, dropout=0.0, head=head)
    ).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(1)
    for _ in range(300):
        y, target = sine_windows(32, gen)
        loss = model.loss(y, target=target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    y, target = sine_windows(100, gen)
    with torch.no_grad():
        median = model.eval().forecast(y)[..., 1]
    assert (median - target).abs().mean().item() < 0.05


def test_config_errors_name_the_field():
    cases = [
        ({"horizon": 0}, "horizon: expected an integer >= 1, got 0"),
        ({"n_past": -1}, "n_past: expected an integer >= 0, got -1"),
        ({"hidden_size": 2.0}, "hidden_size: expected an integer >= 1, got 2.0"),
        ({"num_layers": True}, "num_layers: expected an integer >= 1, got True"),
        ({"dropout": 1.0}, r"dropout: expected a probability in \[0, 1\), got 1.0"),
        ({"quantiles": (0.1, 1.0)}, "quantiles: expected levels strictly between 0 and 1"),
        ({"quantiles": (0.9, 0.5)}, "quantiles: expected strictly increasing levels"),
        ({"quantiles": (0.1, 0.9)}, "quantiles: expected 0.5 among the levels"),
        ({"quantiles": 0.5}, "quantiles: expected a sequence of levels, got 0.5"),
        ({"head": "seq2seq"}, "head: expected one of autoregressive, direct, got 'seq2seq'"),
        ({"one_step_loss": -1}, "one_step_loss: expected a weight >= 0, got -1"),
        ({"one_step_loss": "1"}, "one_step_loss: expected a weight >= 0, got '1'"),
    ]
    for change, message in cases:
        with pytest.raises(UserError, match=message):
            ForecastConfig(**({"horizon": 2} | change))
    assert ForecastConfig(horizon=2, quantiles=[0.5]).quantiles == (0.5,)


def test_argument_errors_name_the_argument():
    model = small()
    y, past, fut_hist, fut = batch()
    with pytest.raises(
        ValueError, match=r"future_horizon: expected .* shape \(3, 4, 3\), got None"
    ):
        model.forecast(y, past, fut_hist)
    with pytest.raises(ValueError, match="past: expected None"):
        small(n_past=0).forecast(y, past, fut_hist, fut)
    with pytest.raises(ValueError, match=r"target: expected shape \(3, 4\), got \(3, 5\)"):
        model.loss(y, past, fut_hist, fut, target=torch.randn(B, 5))
    with pytest.raises(ValueError, match="teacher_forcing: expected a value in"):
        model.loss(y, past, fut_hist, fut, target=torch.randn(B, K), teacher_forcing=2.0)
    with pytest.raises(ValueError, match="decode_step: the direct head"):
        small("direct").decode_step(y[:, -1], fut[:, 0], model.encode(y, past, fut_hist))
