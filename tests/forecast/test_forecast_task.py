"""The forecasting task: training-part scaling, hand-sliced windows, seeded batches, validation."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.data.series import Series
from lstmkit.forecast.task import ForecastTask
from lstmkit.forecast.windows import (
    WINDOW_SCALE_FLOOR,
    Prepared,
    SeriesScaler,
    make_windows,
    prepare,
    seasonal_scales,
)
from lstmkit.models.forecaster import ForecastConfig, build_forecaster

L, K, P, F = 4, 3, 2, 3  # look-back, horizon, past and future covariates
QUANTILES = (0.1, 0.5, 0.9)


def month_sincos(index: pd.DatetimeIndex) -> np.ndarray:
    """Month-of-year as (sin, cos) of 2*pi*(month - 1)/12, written out for the test."""
    angle = 2 * np.pi * (np.asarray(index.month) - 1) / 12
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


def hand_prepared(name, n, seed, extra=0) -> Prepared:
    """Random standardised values and covariates; ``future`` runs ``extra`` steps past the end."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2001-01-01", periods=n, freq="MS")
    return Prepared(
        name,
        index,
        rng.normal(size=n),
        rng.normal(size=(n, P)),
        rng.normal(size=(n + extra, F)),
        0.0,
        1.0,
    )


def hand_window(p: Prepared, t: int, norm: bool = True, season: int = 0) -> dict:
    """One window cut by numpy slicing. With a season m the look-back is the seasonal
    differences, the target the deviation from seasonal naive (the last m values repeated) and
    the look-back's level around its mean one more past covariate; then both are normalised:
    by the look-back's mean and population std, or for differences by their root mean square
    alone (no centring)."""
    look = p.y[t - L : t]
    base = np.zeros(K)
    past = p.past[t - L : t]
    if season:
        look = look - p.y[t - L - season : t - season]
        base = np.resize(p.y[t - season : t], K)
        level = p.y[t - L : t] - p.y[t - L : t].mean()
        past = np.hstack([past, level[:, None]])
    if norm and season:
        loc, scale = 0.0, max(np.sqrt(np.mean(look**2)), WINDOW_SCALE_FLOOR)
    elif norm:
        loc, scale = look.mean(), max(look.std(), WINDOW_SCALE_FLOOR)
    else:
        loc, scale = 0.0, 1.0
    target = p.y[t : t + K]
    return {
        "y": (look - loc) / scale,
        "past": past,
        "future_hist": p.future[t - L : t],
        "future_horizon": p.future[t : t + K],
        "target": (target - base - loc) / scale if len(target) == K else None,
        "loc": loc,
        "scale": scale,
        "base": base,
    }


def close(tensor, array, **kw):
    np.testing.assert_allclose(tensor.numpy(), np.asarray(array), rtol=1e-5, atol=1e-6, **kw)


# --------------------------------------------------------------------------------- scaler
def test_scaler_stats_use_the_training_part_only():
    rng = np.random.default_rng(0)
    index = pd.date_range("2000-01-01", periods=12, freq="MS")
    a = Series("a", index, rng.normal(3, 2, 12), rng.normal(size=(12, 2)), rng.normal(size=(12, 1)))
    b = Series(
        "b", index[:9], rng.normal(-1, 5, 9), rng.normal(size=(9, 2)), rng.normal(size=(9, 1))
    )
    ends = [8, 6]
    scaler = SeriesScaler.fit([a, b], ends)
    assert scaler.target["a"] == pytest.approx((a.values[:8].mean(), a.values[:8].std()))
    assert scaler.target["b"] == pytest.approx((b.values[:6].mean(), b.values[:6].std()))
    pooled = np.concatenate([a.past[:8], b.past[:6]])  # 14 rows: both training parts
    for column, (mean, std) in enumerate(scaler.past):
        assert mean == pytest.approx(pooled[:, column].mean())
        assert std == pytest.approx(pooled[:, column].std())
    future = np.concatenate([a.future[:8], b.future[:6]])[:, 0]
    assert scaler.future == [pytest.approx((future.mean(), future.std()))]

    # Whatever comes after the training cut does not move the statistics.
    wild = [
        Series(
            s.name,
            s.index,
            np.r_[s.values[:e], np.full(len(s) - e, 1e6)],
            np.r_[s.past[:e], np.full((len(s) - e, 2), -1e6)],
            np.r_[s.future[:e], np.full((len(s) - e, 1), 1e6)],
        )
        for s, e in zip([a, b], ends, strict=True)
    ]
    assert SeriesScaler.fit(wild, ends) == scaler


def test_scaler_constant_column_std_one_and_json_round_trip():
    index = pd.date_range("2000-01-01", periods=6, freq="D")
    past = np.stack([np.full(6, 4.0), np.arange(6.0)], axis=1)  # a constant column first
    s = Series("x", index, np.array([1.0, 3, 2, 5, 4, 6]), past)
    scaler = SeriesScaler.fit([s], [5])
    assert scaler.past[0] == (4.0, 1.0)
    assert scaler.past[1] == pytest.approx((2.0, np.sqrt(2.0)))  # 0..4
    assert scaler.future == []
    back = SeriesScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert back == scaler
    # A series unseen in training is scaled by its own statistics.
    values = np.array([2.0, 4.0, 6.0])
    assert scaler.target_stats("new", values) == pytest.approx((4.0, values.std()))


def test_prepare_scales_and_lays_out_user_then_calendar_covariates():
    index = pd.date_range("2001-11-01", periods=6, freq="MS")
    values = np.array([5.0, 7, 6, 9, 8, 10])
    user = np.arange(6.0)[:, None]
    s = Series("s", index, values, None, user)
    scaler = SeriesScaler({"s": (6.0, 2.0)}, [], [(1.0, 4.0)])
    extra = np.array([[10.0], [20.0], [30.0], [40.0]])
    p = prepare(s, scaler, "MS", future_extra=extra, extra_steps=4)
    np.testing.assert_allclose(p.y, (values - 6.0) / 2.0)
    assert (p.mean, p.std) == (6.0, 2.0)
    assert p.past is None
    months = pd.date_range("2001-11-01", periods=10, freq="MS")  # 6 observed + 4 ahead
    want = np.hstack([(np.r_[user[:, 0], extra[:, 0]][:, None] - 1.0) / 4.0, month_sincos(months)])
    np.testing.assert_allclose(p.future, want, atol=1e-12)
    # No calendar: only the user's columns, and only as many rows as the series has.
    bare = prepare(s, scaler, None)
    np.testing.assert_allclose(bare.future, (user - 1.0) / 4.0)


# --------------------------------------------------------------------------------- windows
@pytest.mark.parametrize(("norm", "season"), [(True, 0), (False, 0), (True, 3), (False, 2)])
def test_make_windows_equal_hand_slices(norm, season):
    prepared = [hand_prepared("a", 12, 0), hand_prepared("b", 15, 1)]
    origins = [(0, 7), (1, 9), (1, 12), (0, 9)]  # t >= L + season; t + K within the series
    w = make_windows(prepared, origins, L, K, window_norm=norm, season=season)
    hands = [hand_window(prepared[s], t, norm, season) for s, t in origins]
    for key in ("y", "past", "future_hist", "future_horizon", "target", "base"):
        close(getattr(w, key), np.stack([h[key] for h in hands]))
    close(w.loc, [h["loc"] for h in hands])
    close(w.scale, [h["scale"] for h in hands])
    assert w.y.shape == (4, L)
    assert w.target.shape == (4, K)
    assert w.past.shape == (4, L, P + bool(season))
    assert w.future_horizon.shape == (4, K, F)
    # Undoing the normalisation (and the seasonal naive) gives back the raw target slices.
    raw_target = np.stack([prepared[s].y[t : t + K] for s, t in origins])
    close(w.undo(w.target), raw_target)
    quantiles = torch.stack([w.target - 1, w.target, w.target + 2], -1)  # (B, K, Q)
    close(w.undo(quantiles)[..., 2] - w.undo(quantiles)[..., 1], 2 * w.scale[:, None].expand(4, K))
    raw_look = np.stack([prepared[s].y[t - L : t] for s, t in origins])
    if season:
        raw_look -= np.stack([prepared[s].y[t - L - season : t - season] for s, t in origins])
    close(w.y * w.scale[:, None] + w.loc[:, None], raw_look)


def test_window_scale_is_floored_for_a_flat_look_back():
    p = hand_prepared("flat", 10, 0)
    p.y[1:5] = [2.0, 2.1, 2.0, 2.1]  # population std 0.05, under the floor
    p.y[5:9] = 3.0  # std 0
    w = make_windows([p], [(0, 5), (0, 9)], L, 1)
    close(w.loc, [2.05, 3.0])
    close(w.scale, [WINDOW_SCALE_FLOOR, WINDOW_SCALE_FLOOR])
    close(w.y, [[-0.5, 0.5, -0.5, 0.5], [0.0, 0.0, 0.0, 0.0]])


def test_no_target_at_the_series_end_and_calendar_past_the_end():
    index = pd.date_range("2001-11-01", periods=8, freq="MS")
    s = Series("s", index, np.array([1.0, 2, 4, 3, 5, 6, 5, 7]))
    scaler = SeriesScaler({"s": (0.0, 1.0)}, [], [])
    p = prepare(s, scaler, "MS", extra_steps=K)
    w = make_windows([p], [(0, 8)], L, K)
    assert w.target is None
    cal = month_sincos(pd.date_range("2001-11-01", periods=8 + K, freq="MS"))
    close(w.future_hist[0], cal[8 - L : 8])
    close(w.future_horizon[0], cal[8 : 8 + K])  # 2002-07 .. 2002-09, after the data
    # One origin too close to the end takes the batch's target away; full ones keep it.
    assert make_windows([p], [(0, 5), (0, 6)], L, K).target is None
    assert make_windows([p], [(0, 5)], L, K).target.shape == (1, K)


def test_seasonal_scales_by_hand():
    a, b = hand_prepared("a", 30, 0), hand_prepared("b", 30, 1)
    got = seasonal_scales([a.y, b.y], [20, 5], season=12)  # values in their own units
    assert got[0] == pytest.approx(np.mean(np.abs(a.y[12:20] - a.y[0:8])))
    assert got[1] == pytest.approx(np.mean(np.abs(np.diff(b.y[:5]))))  # too short for lag 12


# --------------------------------------------------------------------------------- the task
def make_task(seed=0, n_valid=6, batches=5, season=0):
    prepared = [hand_prepared("a", 40 + n_valid, 0), hand_prepared("b", 30 + n_valid, 1)]
    first = L + season
    train = [(0, t) for t in range(first, 40 - K + 1)] + [(1, t) for t in range(first, 30 - K + 1)]
    valid = [(0, t) for t in range(40, 40 + n_valid - K + 1)]
    valid += [(1, t) for t in range(30, 30 + n_valid - K + 1)]
    meta = {"config": {"model": {}}, "files": {}, "seed": seed}
    task = ForecastTask(
        prepared,
        train,
        valid,
        L,
        K,
        batch_size=7,
        batches_per_epoch=batches,
        meta=meta,
        mase_scales=[0.5, 2.0],
        season=season,
    )
    return task, prepared


def tiny_model(season=0):
    config = ForecastConfig(
        horizon=K,
        n_past=P + bool(season),
        n_future=F,
        hidden_size=8,
        num_layers=1,
        dropout=0.0,
        quantiles=QUANTILES,
    )
    return build_forecaster(config).eval()


def windows_equal(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.inputs(), b.inputs(), strict=True)) and (
        torch.equal(a.target, b.target)
        and torch.equal(a.loc, b.loc)
        and torch.equal(a.base, b.base)
    )


def test_batches_depend_on_seed_and_epoch_and_resume_mid_epoch():
    task, prepared = make_task()
    whole = list(task.batches(epoch=3, start=0))
    assert len(whole) == task.num_batches() == 5
    assert all(b.y.shape == (7, L) and b.target.shape == (7, K) for b in whole)
    again = list(task.batches(epoch=3, start=0))
    assert all(windows_equal(a, b) for a, b in zip(whole, again, strict=True))
    tail = list(task.batches(epoch=3, start=2))
    assert len(tail) == 3
    assert all(windows_equal(a, b) for a, b in zip(whole[2:], tail, strict=True))
    other = list(task.batches(epoch=4, start=0))
    assert not all(windows_equal(a, b) for a, b in zip(whole, other, strict=True))
    reseeded = list(make_task(seed=1)[0].batches(epoch=3, start=0))
    assert not all(windows_equal(a, b) for a, b in zip(whole, reseeded, strict=True))

    # Every drawn row is one of the training windows, never a validation one.
    def hand(origins):
        return np.stack([hand_window(prepared[s], t)["y"] for s, t in origins])

    train, valid = hand(task.train_origins), hand(task.valid_origins)
    for batch in whole:
        for row in batch.y.numpy():
            assert np.abs(train - row).max(1).min() < 1e-5
            assert np.abs(valid - row).max(1).min() > 1e-3


def hand_pinball(q_pred: np.ndarray, target: np.ndarray) -> float:
    """Mean over windows, steps and levels of max(q*(y - yq), (q - 1)*(y - yq))."""
    diff = target[..., None] - q_pred  # (B, K, Q)
    levels = np.array(QUANTILES)
    return float(np.mean(np.maximum(levels * diff, (levels - 1) * diff)))


def test_train_loss_is_the_pinball_loss_of_the_forecast():
    task, _ = make_task()
    model = tiny_model()
    batch = next(task.batches(epoch=0, start=0))
    loss, count, carry = task.train_loss(model, batch, None)
    assert count == 7
    assert carry is None
    with torch.no_grad():
        q = model.forecast(*batch.inputs()).numpy()
    assert loss.item() == pytest.approx(hand_pinball(q, batch.target.numpy()), rel=1e-5)


@pytest.mark.parametrize("season", [0, 5])
def test_evaluate_equals_a_hand_computation_over_every_valid_window(season):
    task, prepared = make_task(n_valid=160, season=season)  # 316 windows: two chunks of 256
    assert len(task.valid_origins) > 256
    model = tiny_model(season)
    hands = [hand_window(prepared[s], t, season=season) for s, t in task.valid_origins]

    def stack(key):
        return np.stack([h[key] for h in hands])

    def tensor(key):
        return torch.tensor(stack(key), dtype=torch.float32)

    with torch.no_grad():
        q = model.forecast(
            tensor("y"), tensor("past"), tensor("future_hist"), tensor("future_horizon")
        ).numpy()
    loc, scale = stack("loc")[:, None], stack("scale")[:, None]
    median = q[..., 1] * scale + loc + stack("base")  # standardised units
    truth = np.stack([prepared[s].y[t : t + K] for s, t in task.valid_origins])
    err = np.abs(median - truth).mean(1)  # (B,)
    denominators = np.array([[0.5, 2.0][s] for s, _ in task.valid_origins])
    got = task.evaluate(model)
    assert got["mae"] == pytest.approx(err.mean(), rel=1e-5)
    assert got["mase"] == pytest.approx((err / denominators).mean(), rel=1e-5)
    assert got["loss"] == pytest.approx(hand_pinball(q, stack("target")), rel=1e-5)
