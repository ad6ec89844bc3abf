"""Forecast metrics against their formulas written out by hand on tiny arrays."""

import math

import numpy as np
import pytest

from lstmkit.errors import UserError
from lstmkit.forecast.metrics import (
    coverage,
    mae,
    mase,
    pinball,
    rmse,
    score_forecast,
    smape,
)

Y = [1.0, 2.0, 4.0]
YHAT = [2.0, 2.0, 1.0]


def test_mae_and_rmse_by_hand():
    assert mae(Y, YHAT) == pytest.approx((1 + 0 + 3) / 3)
    assert rmse(Y, YHAT) == pytest.approx(math.sqrt((1 + 0 + 9) / 3))


def test_smape_counts_zero_over_zero_as_zero():
    # 200/H · Σ |y−ŷ|/(|y|+|ŷ|): terms 0/0 → 0, 1/3, 2/4
    assert smape([0.0, 2.0, 1.0], [0.0, 1.0, 3.0]) == pytest.approx(200 / 3 * (0 + 1 / 3 + 2 / 4))
    assert smape([0.0], [0.0]) == 0.0
    assert smape([1.0], [-1.0]) == pytest.approx(200.0)  # the bound


def test_batch_is_mean_over_series():
    y = np.array([[0.0, 2.0], [1.0, 1.0]])
    yhat = np.array([[1.0, 2.0], [1.0, 3.0]])
    assert mae(y, yhat) == pytest.approx((mae(y[0], yhat[0]) + mae(y[1], yhat[1])) / 2)
    assert smape(y, yhat) == pytest.approx((smape(y[0], yhat[0]) + smape(y[1], yhat[1])) / 2)


def test_mase_by_hand():
    insample = [1.0, 3.0, 2.0, 6.0, 5.0, 9.0]
    # lag-2 differences |2−1|, |6−3|, |5−2|, |9−6| = 1, 3, 3, 3 → scale 10/4 = 2.5
    # forecast errors |7−8|, |10−8| → MAE 1.5 → MASE 1.5 / 2.5
    assert mase([7.0, 10.0], [8.0, 8.0], insample, season=2) == pytest.approx(0.6)
    # lag 1: |2|, |1|, |4|, |1|, |4| → scale 12/5
    assert mase([7.0, 10.0], [8.0, 8.0], insample, season=1) == pytest.approx(1.5 / (12 / 5))


def test_mase_batch_scales_each_series_on_its_own_history():
    insample = np.array([[0.0, 1.0, 2.0], [0.0, 4.0, 8.0]])  # scales 1 and 4
    y = np.array([[3.0, 4.0], [12.0, 16.0]])
    yhat = np.array([[2.0, 4.0], [12.0, 12.0]])  # MAEs 0.5 and 2
    assert mase(y, yhat, insample, season=1) == pytest.approx((0.5 / 1 + 2 / 4) / 2)


def test_mase_errors_are_named():
    with pytest.raises(
        UserError, match=r"insample: expected at least season \+ 1 = 4 values, got 3"
    ):
        mase([1.0], [1.0], [1.0, 2.0, 3.0], season=3)
    with pytest.raises(UserError, match=r"insample: .*not exactly 2-periodic.*got MAE 0"):
        mase([1.0], [1.0], [1.0, 2.0, 1.0, 2.0], season=2)
    with pytest.raises(UserError, match=r"insample: expected shape \(2, T\)"):
        mase(np.zeros((2, 3)), np.zeros((2, 3)), np.arange(5.0), season=1)
    with pytest.raises(UserError, match="season: expected an integer ≥ 1, got 0"):
        mase([1.0], [1.0], [1.0, 2.0], season=0)


def test_coverage_by_hand():
    y = [1.0, 2.0, 3.0, 4.0]
    lower = [0.0, 2.0, 3.5, 0.0]
    upper = [1.0, 5.0, 4.0, 3.0]
    # inside (bounds included): yes, yes, no, no
    assert coverage(y, lower, upper) == 0.5
    with pytest.raises(UserError, match="upper: expected upper ≥ lower everywhere, got 1"):
        coverage([1.0, 2.0], [0.0, 3.0], [2.0, 2.5])


def test_pinball_by_hand():
    y = [1.0, 3.0]
    q_pred = [[2.0, 2.0], [0.0, 4.0]]  # q = 0.1, then q = 0.9
    # q=0.1: y−ŷ = −1, 1 → max(0.1·d, −0.9·d) = 0.9, 0.1
    # q=0.9: y−ŷ = 1, −1 → max(0.9·d, −0.1·d) = 0.9, 0.1
    assert pinball(y, q_pred, [0.1, 0.9]) == pytest.approx((0.9 + 0.1 + 0.9 + 0.1) / 4)
    # at the median, the pinball loss is half the absolute error
    assert pinball(Y, [YHAT], [0.5]) == pytest.approx(mae(Y, YHAT) / 2)


def test_shape_errors_are_named():
    with pytest.raises(UserError, match=r"yhat: expected the shape of y \(3,\), got \(2,\)"):
        mae(Y, [1.0, 2.0])
    with pytest.raises(UserError, match=r"y: expected a non-empty array shaped \(K,\) or \(N, K\)"):
        rmse(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)))
    with pytest.raises(UserError, match="y: expected finite values, got 1 NaN/inf"):
        smape([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(UserError, match=r"lower: expected the shape of y \(3,\), got \(1,\)"):
        coverage(Y, [0.0], Y)
    with pytest.raises(UserError, match=r"q_pred: expected shape \(2, 3\) \(quantiles first\)"):
        pinball(Y, [YHAT], [0.1, 0.9])
    with pytest.raises(UserError, match="quantiles: expected levels strictly between 0 and 1"):
        pinball(Y, [YHAT], [1.0])


def test_score_forecast_collects_everything():
    insample = [1.0, 3.0, 2.0, 6.0, 5.0, 9.0]
    y, yhat = [7.0, 10.0], [8.0, 8.0]
    s = score_forecast(y, yhat, insample, 2, lower=[6.0, 6.0], upper=[9.0, 9.0])
    assert s == pytest.approx(
        {
            "mae": mae(y, yhat),
            "rmse": rmse(y, yhat),
            "smape": smape(y, yhat),
            "mase": 0.6,
            "coverage": 0.5,
        }
    )
    s = score_forecast(y, yhat, insample, 2, q_pred=[yhat], quantiles=[0.5])
    assert s["pinball"] == pytest.approx(0.75)
    with pytest.raises(UserError, match="upper: expected lower and upper together"):
        score_forecast(y, yhat, insample, 2, lower=[0.0, 0.0])
