"""statsforecast's output in the baselines' terms: intervals as quantiles, ETS states read back."""

import numpy as np
import pytest
from statsforecast.models import AutoETS

from lstmkit.forecast.sf_compat import (
    ets_point_forecast,
    fix_damped,
    interval_levels,
    interval_quantiles,
)


@pytest.fixture
def monthly():
    t = np.arange(72)
    noise = np.random.default_rng(0).normal(0, 0.3, t.size)
    return (15 + 0.2 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) + noise


def test_quantiles_are_the_interval_bounds():
    assert interval_levels((0.1, 0.5, 0.9, 0.05)) == [0.0, 80.0, 90.0]
    out = {"lo-80.0": np.array([1.0]), "hi-80.0": np.array([3.0]), "hi-0.0": np.array([2.0])}
    assert interval_quantiles(out, (0.1, 0.5, 0.9)) == {0.1: [1.0], 0.5: [2.0], 0.9: [3.0]}
    assert interval_quantiles(out, None) is None


@pytest.mark.parametrize("model", ["AAA", "MAM", "ANA", "MNM", "AAN"])
def test_undamped_forecasts_read_back_from_the_state(monthly, model):
    """The state layout (level, slope, seasons newest first) as statsforecast forecasts it."""
    fitted = AutoETS(season_length=12, model=model, damped=False).fit(monthly)
    out = fitted.predict(h=15, level=[80.0])
    np.testing.assert_allclose(ets_point_forecast(fitted.model_, 15), out["mean"], rtol=1e-12)
    assert fix_damped(fitted.model_, out) is out


@pytest.mark.parametrize("model", ["AAA", "MAM", "AAN"])
def test_damped_forecasts_sum_phi_to_the_horizon(monthly, model):
    fitted = AutoETS(season_length=12, model=model, damped=True).fit(monthly)
    undamped_sum = {**fitted.model_, "components": fitted.model_["components"][:3] + "N"}
    phi = fitted.model_["par"][3]
    fixed = fix_damped(fitted.model_, fitted.predict(h=15, level=[80.0]))
    # the damped trend l + (φ + … + φ^h) b against the undamped l + h b, season alike
    slope = fitted.model_["states"][-1][1]
    steps = np.arange(1, 16)
    gap = (np.cumsum(phi**steps) - steps) * slope
    undamped = ets_point_forecast(undamped_sum, 15)
    if model[2] == "M":
        seasons = undamped / (fitted.model_["states"][-1][0] + steps * slope)
        gap = gap * seasons
    np.testing.assert_allclose(fixed["mean"] - undamped, gap, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fixed["hi-80.0"] - fixed["lo-80.0"] > 0, True)
