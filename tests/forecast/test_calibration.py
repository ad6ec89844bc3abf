"""Shrinkage toward seasonal naive and split-conformal calibration of the forecaster's quantiles,
checked against the formulas written out here (Romano et al. 2019; least squares)."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from lstmkit.forecast.calibration import (
    PER_STEP_WINDOWS,
    adjust_quantiles,
    conformal_margin,
    fit_adjustment,
    quantile_pairs,
)

LEVELS = (0.1, 0.5, 0.9)


def by_hand(scores, alpha):
    """The ceil((n + 1)(1 - alpha))-th smallest score, counted with exact fractions."""
    n = len(scores)
    numerator = (n + 1) * round((1 - alpha) * 1000)  # alpha has at most 3 decimals here
    rank = -(-numerator // 1000)  # ceil of an exact fraction
    return sorted(scores)[min(rank, n) - 1]


@pytest.mark.parametrize(
    ("scores", "alpha", "expected"),
    [
        # n = 10: ceil(11 * 0.8) = ceil(8.8) = 9 -> the 9th smallest, 0.7
        ([0.3, -0.1, 0.5, 0.2, 0.9, 0.0, 0.4, 0.7, 0.1, 0.6], 0.2, 0.7),
        # n = 9: (9 + 1) * 0.8 = 8 exactly (8.000000000000002 in floating point) -> 8th, 0.8
        ([0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 0.2, 0.8),
        # n = 3: ceil(4 * 0.8) = 4 > 3: too few scores, the largest is used
        ([-1.0, 2.0, 0.5], 0.2, 2.0),
        # n = 4, alpha 0.5: ceil(5 * 0.5) = 3 -> the 3rd smallest
        ([4.0, -3.0, 1.0, 0.0], 0.5, 1.0),
    ],
)
def test_conformal_margin_is_the_hand_computed_quantile(scores, alpha, expected):
    assert conformal_margin(np.array(scores), alpha) == expected
    assert by_hand(scores, alpha) == expected  # the formula in the test agrees with the table


def test_conformal_margin_matches_the_formula_on_random_scores():
    rng = np.random.default_rng(0)
    for n in (5, 19, 20, 57, 100):
        scores = list(rng.normal(size=n))
        for alpha in (0.1, 0.2, 0.5):
            assert conformal_margin(np.array(scores), alpha) == by_hand(scores, alpha)


def test_quantile_pairs_mirror_levels_and_leave_the_unpaired():
    assert quantile_pairs((0.1, 0.5, 0.9)) == [(0, 2)]
    assert quantile_pairs((0.05, 0.1, 0.25, 0.5, 0.75, 0.9)) == [(1, 5), (2, 4)]
    assert quantile_pairs((0.2, 0.5)) == []


def overconfident(n, K, sigma, half_width, rng):
    """Windows of y = mu + N(0, sigma²) whose 0.1/0.9 forecasts are mu -/+ half_width."""
    mu = rng.normal(size=(n, 1)) + np.arange(K)  # (n, K)
    y = mu + rng.normal(0, sigma, (n, K))
    q = np.stack([mu - half_width, mu, mu + half_width], -1)  # (n, K, 3)
    return q, y


def coverage(q, y):
    return float(np.mean((q[..., 0] <= y) & (y <= q[..., -1])))


def test_calibrated_80_percent_interval_covers_80_percent_of_fresh_windows():
    rng = np.random.default_rng(1)
    sigma, half, K = 2.0, 0.5, 4
    q_cal, y_cal = overconfident(400, K, sigma, half, rng)
    adjustment = fit_adjustment(q_cal, None, y_cal, LEVELS, shrink=False)
    q_new, y_new = overconfident(20_000, K, sigma, half, rng)
    fixed = adjust_quantiles(q_new, None, adjustment, LEVELS)
    # Uncalibrated: P(|N(0, sigma²)| <= half) = 2 Phi(half / sigma) - 1 = 19.7%.
    raw = coverage(q_new, y_new)
    assert raw == pytest.approx(2 * norm.cdf(half / sigma) - 1, abs=0.01)
    # Calibrated: 80% up to the calibration set's own sampling error (sd ~ sqrt(.8 * .2 / 400)
    # = 0.02 per step), at every step.
    assert coverage(fixed, y_new) == pytest.approx(0.8, abs=0.04)
    for k in range(K):
        assert coverage(fixed[:, k : k + 1], y_new[:, k : k + 1]) == pytest.approx(0.8, abs=0.06)
    # The margin itself: sigma * z_0.9 - half, the half width that covers 80% exactly.
    margins = np.array(adjustment["calibration"][0]["margin"])
    np.testing.assert_allclose(margins, sigma * norm.ppf(0.9) - half, atol=0.35)
    assert adjustment["per_step"]
    assert adjustment["calibration"][0]["alpha"] == pytest.approx(0.2)


def test_margins_are_per_step_with_enough_windows_else_pooled():
    rng = np.random.default_rng(2)
    K = 3
    for n in (PER_STEP_WINDOWS - 1, PER_STEP_WINDOWS):
        q, y = overconfident(n, K, 1.0, 0.1, rng)
        y[:, 2] += 5 * rng.normal(size=n)  # the last step much noisier
        scores = np.maximum(q[..., 0] - y, y - q[..., 2])  # (n, K), the formula
        got = fit_adjustment(q, None, y, LEVELS, shrink=False)["calibration"][0]["margin"]
        if n >= PER_STEP_WINDOWS:
            expected = [by_hand(list(scores[:, k]), 0.2) for k in range(K)]
        else:
            expected = [by_hand(list(scores.ravel()), 0.2)] * K
        assert got == pytest.approx(expected, abs=0)


def test_adjusted_quantiles_move_pairs_symmetrically_keep_the_median_and_stay_ordered():
    q = np.array([[[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]])  # (1, K=2, Q=3)
    levels = (0.1, 0.5, 0.9)
    adj = {"shrink": None, "calibration": [{"levels": [0.1, 0.9], "margin": [0.5, -2.0]}]}
    out = adjust_quantiles(q, None, adj, levels)
    # Step 0 widened by 0.5 each side; step 1 narrowed by 2 would cross: clipped at the median.
    np.testing.assert_allclose(out[0], [[-0.5, 1.0, 2.5], [1.0, 1.0, 1.0]])
    # Two pairs: the inner one widened past the outer one is put back in order.
    levels5 = (0.1, 0.25, 0.5, 0.75, 0.9)
    q5 = np.array([[[0.0, 0.5, 1.0, 1.5, 2.0]]])
    adj5 = {
        "calibration": [
            {"levels": [0.1, 0.9], "margin": [0.0]},
            {"levels": [0.25, 0.75], "margin": [1.0]},
        ]
    }
    out5 = adjust_quantiles(q5, None, adj5, levels5)
    np.testing.assert_allclose(out5[0, 0], [-0.5, -0.5, 1.0, 2.5, 2.5])


def test_shrink_weight_is_the_clipped_least_squares_coefficient():
    rng = np.random.default_rng(3)
    n, K = 30, 4
    base = rng.normal(size=(n, K))
    predicted = rng.normal(size=(n, K))  # the network's correction to seasonal naive
    # The true correction is a different fraction of the predicted one at each step.
    truth = base + predicted * np.array([0.3, 0.8, -0.5, 2.0]) + 0.1 * rng.normal(size=(n, K))
    q = (base + predicted)[..., None] + np.array([-1.0, 0.0, 1.0])  # (n, K, 3)
    adj = fit_adjustment(q, base, truth, LEVELS, calibrate=False)
    r, e = predicted, truth - base
    expected = np.clip((r * e).sum(0) / (r * r).sum(0), 0, 1)  # per step: n >= PER_STEP_WINDOWS
    np.testing.assert_allclose(adj["shrink"], expected, rtol=1e-12)
    assert adj["shrink"][2] == 0
    assert adj["shrink"][3] == 1
    out = adjust_quantiles(q, base, adj, LEVELS)
    np.testing.assert_allclose(out[..., 1], base + expected * predicted)  # b + a_k r̂
    np.testing.assert_allclose(out[..., 2] - out[..., 1], 1.0)  # the spread moves with it
    np.testing.assert_allclose(out[:, 2, 1], base[:, 2])  # a = 0: seasonal naive exactly
    # Fewer windows: one weight over every step pooled.
    few = fit_adjustment(q[:5], base[:5], truth[:5], LEVELS, calibrate=False)
    pooled = np.clip((r[:5] * e[:5]).sum() / (r[:5] ** 2).sum(), 0, 1)
    np.testing.assert_allclose(few["shrink"], [pooled] * K, rtol=1e-12)


def test_calibration_follows_the_shrinkage():
    rng = np.random.default_rng(4)
    n, K = 25, 2
    base = np.zeros((n, K))
    q = np.stack([np.full((n, K), v) for v in (-1.0, 3.0, 4.0)], -1)  # far-off median
    y = rng.normal(size=(n, K))
    adj = fit_adjustment(q, base, y, LEVELS)
    assert adj["shrink"] == [0.0, 0.0]  # the network only hurts: seasonal naive
    shrunk = q - 3.0  # the median moved to 0, the interval with it: [-4, 1]
    scores = np.maximum(shrunk[..., 0] - y, y - shrunk[..., 2])
    for k in range(K):
        expected = by_hand(list(scores[:, k]), 0.2)
        assert adj["calibration"][0]["margin"][k] == pytest.approx(expected, abs=1e-12)
    assert math.isclose(adj["windows"], n)
