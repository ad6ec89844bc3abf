"""The views of the series an ensemble's members forecast from, and their mean.

A forecaster's network can be an ensemble (:class:`~lstmkit.models.forecaster.ForecastEnsemble`)
whose members see the same series two ways (``Forecaster(season_adjust="both")``, the default):

* **differenced**: the values, standardised; the member reads seasonal differences and forecasts
  the residual to seasonal naive (naive where the season does not show);
* **adjusted**: the values with the season taken out the M4's way
  (:mod:`lstmkit.forecast.seasonal`), standardised; the member reads first differences and
  forecasts the residual to naive, which is the M4's Naive2 once the season is put back.

Each view has its own scaling, residual lag, seasonal indices and validation-fitted
calibration; each member's forecast is put back into the series' units (unscaled, the season
restored) and the members' quantiles are averaged there, level by level. The mean of two
forecasts that err differently is the oldest ensemble there is (Bates & Granger 1969; N-BEATS
and the M4's best entries averaged members trained on different inputs): on the forecasting
collection's validation windows the two views' mean beat each view alone in every frequency group
(the collection benchmark page).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstmkit.errors import UserError
from lstmkit.forecast.seasonal import SeasonalIndices
from lstmkit.forecast.windows import Prepared, SeriesScaler

# Forecaster(season_adjust=...) -> whether each member's view is season-adjusted
VIEWS = {False: (False,), True: (True,), "both": (False, True)}


@dataclass
class View:
    """What one member's view of the series was fitted to.

    Attributes:
        adjust: the season is taken out (:mod:`lstmkit.forecast.seasonal`).
        residual: ``{"lag", "seasonal_series", "series"}``: the lag the residual is taken at
            (0: none) and the seasonality test behind it
            (:func:`~lstmkit.forecast.windows.residual_lag`).
        seasonal: per series, its seasonal indices, None where none are taken out.
        scaler: the standardisation of this view's values.
        adjustment: the shrinkage and calibration fitted on the validation windows
            (:mod:`lstmkit.forecast.calibration`), or None.
    """

    adjust: bool
    residual: dict
    seasonal: dict[str, SeasonalIndices | None]
    scaler: SeriesScaler
    adjustment: dict | None = None

    @property
    def lag(self) -> int:
        return self.residual["lag"]

    def to_dict(self) -> dict:
        return {
            "adjust": self.adjust,
            "residual": self.residual,
            "seasonal": {k: v and v.to_dict() for k, v in self.seasonal.items()},
            "scaler": self.scaler.to_dict(),
            "adjustment": self.adjustment,
        }

    @classmethod
    def from_dict(cls, data: dict) -> View:
        """Read from a run's config (untrusted)."""
        try:
            seasonal = {
                str(k): v and SeasonalIndices.from_dict(v) for k, v in data["seasonal"].items()
            }
            return cls(
                bool(data["adjust"]),
                dict(data["residual"]),
                seasonal,
                SeriesScaler.from_dict(data["scaler"]),
                data.get("adjustment"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(
                f"views: expected adjust, residual, seasonal and scaler per view ({exc!r})"
            ) from None


def check_season_adjust(value) -> None:
    """``season_adjust`` must be true, false or "both"."""
    if not (isinstance(value, bool) or value == "both"):
        raise UserError(f'season_adjust: expected true, false or "both", got {value!r}')


def in_series_units(
    prepared: list[Prepared], origins: list[tuple[int, int]], z: np.ndarray
) -> np.ndarray:
    """Series-standardised (N, K[, Q]) values of the windows at ``origins`` back in the series'
    units: unscaled, then the season put back where ``prepared[s]`` took one out."""
    out = np.empty(z.shape, dtype=float)
    for n, (s, t) in enumerate(origins):
        out[n] = prepared[s].to_values(t, z[n])
    return out


def mean_of_members(forecasts: list[np.ndarray]) -> np.ndarray:
    """The members' forecasts (each (N, K, Q), in the series' units) averaged level by level;
    a mean of ordered quantiles stays ordered."""
    return np.mean(np.stack(forecasts), 0)


__all__ = ["VIEWS", "View", "check_season_adjust", "in_series_units", "mean_of_members"]
