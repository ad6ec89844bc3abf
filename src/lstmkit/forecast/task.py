"""The forecasting task for the one trainer: windows drawn at random, pinball loss, MASE.

Legend: B windows in a batch, K horizon, Q quantiles.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lstmkit.forecast.windows import Prepared, Window, make_windows
from lstmkit.models.quantiles import pinball_loss
from lstmkit.nn.device import device_of

METRICS = ("loss", "mase", "mae")  # the validation metrics a run can monitor (evaluate's)


class ForecastTask:
    """Windows for the trainer: pinball loss of the window-normalised horizon.

    Each epoch draws ``batches_per_epoch`` batches of ``batch_size`` training windows uniformly
    with replacement (seeded by the epoch, so a resumed run draws the same ones) — one epoch is
    then the same amount of work whatever the data's size, as neuralforecast counts steps.

    Args:
        prepared: the scaled series.
        train_origins, valid_origins: (series index, t) pairs; a valid window's target lies in
            the validation part.
        lookback, horizon, window_norm, season: as :func:`make_windows`.
        batch_size, batches_per_epoch: windows per batch, batches per epoch.
        meta: ``{"config": the run's config, "files": {}, "seed": int}``.
        teacher_forcing: see :meth:`lstmkit.models.forecaster.LSTMForecaster.loss`.
        mase_scales: per series, MASE's denominator in standardised units.
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
        season: int = 0,
    ) -> None:
        self.prepared = prepared
        self.train_origins, self.valid_origins = train_origins, valid_origins
        self.lookback, self.horizon, self.window_norm = lookback, horizon, window_norm
        self.batch_size, self.batches_per_epoch, self.meta = batch_size, batches_per_epoch, meta
        self.teacher_forcing, self.season = teacher_forcing, season
        self.mase_scales = mase_scales or [1.0] * len(prepared)

    def num_batches(self) -> int:
        return self.batches_per_epoch

    def _windows(self, origins) -> Window:
        return make_windows(
            self.prepared, origins, self.lookback, self.horizon, self.window_norm, self.season
        )

    def batches(self, epoch: int, start: int):
        rng = np.random.default_rng([self.meta["seed"], epoch])
        draws = rng.integers(0, len(self.train_origins), (self.batches_per_epoch, self.batch_size))
        for row in draws[start:]:
            yield self._windows([self.train_origins[i] for i in row])

    def train_loss(self, model: nn.Module, batch: Window, carry):
        device = device_of(model)
        inputs = [None if x is None else x.to(device) for x in batch.inputs()]
        loss = model.loss(
            *inputs, target=batch.target.to(device), teacher_forcing=self.teacher_forcing
        )
        return loss, batch.y.shape[0], None

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation pinball loss (window-normalised units, as training) and MASE, MAE
        (standardised units) of the median, over every validation window."""
        total, count, mase, mae = 0.0, 0, 0.0, 0.0
        for k in range(0, len(self.valid_origins), 256):
            origins = self.valid_origins[k : k + 256]
            window = self._windows(origins)
            device = device_of(model)
            inputs = [None if x is None else x.to(device) for x in window.inputs()]
            q = model.forecast(*inputs).cpu()  # (B, K, Q) window-normalised
            total += pinball_loss(q, window.target, model.quantiles).item() * len(origins)
            count += len(origins)
            median, truth = window.undo(q[..., model.median_index]), window.undo(window.target)
            err = (median - truth).abs().mean(1)  # (B,) standardised units
            scales = torch.tensor([self.mase_scales[s] for s, _ in origins])
            mae += err.sum().item()
            mase += (err / scales).sum().item()
        return {"loss": total / count, "mase": mase / count, "mae": mae / count}

    def run_config(self) -> dict:
        return self.meta["config"]

    def files(self) -> dict[str, bytes]:
        return self.meta["files"]


__all__ = ["METRICS", "ForecastTask"]
