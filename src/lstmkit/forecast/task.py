"""The forecasting task for the one trainer: windows drawn at random, pinball loss, MASE.

Legend: B windows in a batch, K horizon, Q quantiles.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lstmkit.forecast.views import in_series_units, mean_of_members
from lstmkit.forecast.windows import Prepared, Window, make_windows
from lstmkit.models.forecaster import members_of
from lstmkit.models.quantiles import pinball_loss
from lstmkit.nn.device import device_of

METRICS = ("loss", "mase", "mae")  # the validation metrics a run can monitor (evaluate's)


class ForecastTask:
    """Windows for the trainer: pinball loss of the window-normalised horizon.

    Each epoch draws ``batches_per_epoch`` batches of ``batch_size`` training windows uniformly
    with replacement (seeded by the epoch, so a resumed run draws the same ones) — one epoch is
    then the same amount of work whatever the data's size, as neuralforecast counts steps.

    An ensemble's members (:class:`~lstmkit.models.forecaster.ForecastEnsemble`) each read their
    own view of the series (:mod:`lstmkit.forecast.views`): a batch is then one window batch per
    view at the same origins, the loss the mean of the members' losses, and the validation
    scores those of the members' mean forecast in the series' units.

    Args:
        prepared: the scaled series; or, one list per view, an ensemble's.
        train_origins, valid_origins: (series index, t) pairs; a valid window's target lies in
            the validation part.
        lookback, horizon, window_norm: as :func:`make_windows`.
        batch_size, batches_per_epoch: windows per batch, batches per epoch.
        meta: ``{"config": the run's config, "files": {}, "seed": int}``.
        teacher_forcing: see :meth:`lstmkit.models.forecaster.LSTMForecaster.loss`.
        mase_scales: per series, MASE's denominator in the series' units.
        season: the residual's lag, as :func:`make_windows`' ``season``; one per view.
    """

    task = "forecast"
    metrics = METRICS

    def __init__(
        self,
        prepared: list[Prepared],
        train_origins: list[tuple[int, int]],
        valid_origins: list[tuple[int, int]],
        lookback: int,
        horizon: int,
        batch_size: int,
        batches_per_epoch: int,
        meta: dict,
        window_norm: bool = True,
        teacher_forcing: float = 0.0,
        mase_scales: list[float] | None = None,
        season: int | list[int] = 0,
    ) -> None:
        self.views = [prepared] if prepared and isinstance(prepared[0], Prepared) else prepared
        self.seasons = [season] if isinstance(season, int) else list(season)
        if len(self.seasons) != len(self.views):
            raise ValueError(f"season: expected one per view ({len(self.views)}), got {season}")
        self.train_origins, self.valid_origins = train_origins, valid_origins
        self.lookback, self.horizon, self.window_norm = lookback, horizon, window_norm
        self.batch_size, self.batches_per_epoch, self.meta = batch_size, batches_per_epoch, meta
        self.teacher_forcing = teacher_forcing
        self.mase_scales = mase_scales or [1.0] * len(self.views[0])

    @property
    def prepared(self) -> list[Prepared]:
        """The first view's series."""
        return self.views[0]

    def num_batches(self) -> int:
        return self.batches_per_epoch

    def windows(self, origins, view: int = 0) -> Window:
        """The windows of ``view`` at ``origins``."""
        return make_windows(
            self.views[view],
            origins,
            self.lookback,
            self.horizon,
            self.window_norm,
            self.seasons[view],
        )

    def _windows(self, origins) -> Window | list[Window]:
        found = [self.windows(origins, v) for v in range(len(self.views))]
        return found[0] if len(found) == 1 else found

    def batches(self, epoch: int, start: int):
        rng = np.random.default_rng([self.meta["seed"], epoch])
        draws = rng.integers(0, len(self.train_origins), (self.batches_per_epoch, self.batch_size))
        for row in draws[start:]:
            yield self._windows([self.train_origins[i] for i in row])

    def train_loss(self, model: nn.Module, batch: Window | list[Window], carry):
        device = device_of(model)
        windows = batch if isinstance(batch, list) else [batch]
        losses = []
        for member, window in zip(members_of(model), windows, strict=True):
            inputs = [None if x is None else x.to(device) for x in window.inputs()]
            target = window.target.to(device)
            losses.append(member.loss(*inputs, target=target, teacher_forcing=self.teacher_forcing))
        return torch.stack(losses).mean(), windows[0].y.shape[0], None

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation pinball loss (window-normalised units, as training; the members' mean)
        and MASE, MAE (in the first view's standardised units) of the median of the members'
        mean forecast, over every validation window."""
        total, count, mase, mae = 0.0, 0, 0.0, 0.0
        device = device_of(model)
        for k in range(0, len(self.valid_origins), 256):
            origins = self.valid_origins[k : k + 256]
            medians, truth = [], None
            for v, member in enumerate(members_of(model)):
                window = self.windows(origins, v)
                inputs = [None if x is None else x.to(device) for x in window.inputs()]
                q = member.forecast(*inputs).cpu()  # (B, K, Q) window-normalised
                loss = pinball_loss(q, window.target, member.quantiles).item()
                total += loss * len(origins) / len(self.views)
                median = window.undo(q[..., member.median_index]).numpy()
                medians.append(in_series_units(self.views[v], origins, median))
                if truth is None:
                    target = window.undo(window.target).numpy()
                    truth = in_series_units(self.views[v], origins, target)
            count += len(origins)
            err = np.abs(mean_of_members(medians) - truth).mean(1)  # (B,) the series' units
            mase += sum(e / self.mase_scales[s] for e, (s, _) in zip(err, origins, strict=True))
            mae += sum(e / self.views[0][s].std for e, (s, _) in zip(err, origins, strict=True))
        return {"loss": total / count, "mase": float(mase) / count, "mae": float(mae) / count}

    def run_config(self) -> dict:
        return self.meta["config"]

    def files(self) -> dict[str, bytes]:
        return self.meta["files"]


__all__ = ["METRICS", "ForecastTask"]
