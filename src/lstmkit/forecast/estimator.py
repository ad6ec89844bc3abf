"""The forecasting Python API: ``Forecaster(horizon=12).fit(df)``, ``predict``, ``backtest``.

Estimator style, as :class:`lstmkit.lm.LanguageModel` and scikit-learn/Darts: the constructor
stores hyperparameters, ``fit`` trains one global model over every series (through the one
trainer) and returns ``self``, learned state lives in attributes ending in ``_``, and
``save``/``load`` use the checkpoint directory format (the scaling statistics and each series'
last look-back window in its config, so ``predict()`` needs no data).

The network is :class:`lstmkit.models.forecaster.LSTMForecaster`; the windows and scaling are in
:mod:`lstmkit.forecast.windows`, the trainer's task in :mod:`lstmkit.forecast.task`;
:meth:`Forecaster.backtest` scores it beside the baselines of :mod:`lstmkit.forecast.baselines`.

Legend: N series forecast at once, W look-back window, K horizon, Q quantiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from lstmkit.checkpoint import Checkpoint, build_model
from lstmkit.data.calendar import calendar_feature_names, season_length
from lstmkit.data.series import Series, SeriesFrame
from lstmkit.data.series_split import split_series
from lstmkit.data.series_tools import (
    READ_OPTIONS,
    fingerprint,
    from_tail,
    future_values,
    read_frame,
    series_tail,
)
from lstmkit.errors import UserError
from lstmkit.forecast import calibration
from lstmkit.forecast import stream as streaming
from lstmkit.forecast.backtest import Backtest
from lstmkit.forecast.backtest import backtest as run_backtest
from lstmkit.forecast.baselines import BASELINES
from lstmkit.forecast.seasonal import SeasonalIndices, season_removed
from lstmkit.forecast.task import ForecastTask
from lstmkit.forecast.views import (
    VIEWS,
    View,
    check_season_adjust,
    in_series_units,
    mean_of_members,
)
from lstmkit.forecast.windows import (
    SeriesScaler,
    forecast_windows,
    make_windows,
    prepare,
    residual_lag,
    seasonal_scales,
)
from lstmkit.models.forecaster import ForecastConfig, build_forecaster, members_of
from lstmkit.train.estimator import Estimator
from lstmkit.train.trainer import BEST

# The network's settings, in ``model``; checkpoints before it recorded them as arguments.
NETWORK_FIELDS = ("hidden_size", "num_layers", "dropout", "quantiles", "head", "one_step_loss")
DEFAULT_OPTIM = {"lr": 0.003, "schedule": "cosine", "weight_decay": 0.0}
# Early stopping after 5 epochs without a better validation loss: short series peak early, and
# training gets cheaper at the same scores (the forecaster training benchmark page).
DEFAULT_TRAIN = {"epochs": 30, "clip": 1.0, "patience": 5}


class Forecaster(Estimator):
    """One global LSTM encoder-decoder over your series, forecasting quantiles.

    Args:
        horizon: steps forecast at once (K).
        lookback: steps the encoder reads (W); default ``max(2 * horizon, 2 * season)``,
            shortened to what the shortest series allows.
        model: :class:`~lstmkit.models.forecaster.ForecastConfig` fields (``hidden_size``,
            ``num_layers``, ``dropout``, ``quantiles``, ``head``: ``"autoregressive"``, an LSTM
            decoder fed its own median, or ``"direct"``; ``one_step_loss``: weight of the
            encoder's one-step-ahead loss over the look-back), over its defaults.
        calendar: add the calendar features of the frequency as future covariates.
        window_norm: normalise each window by its look-back's mean and spread (RevIN), so the
            network learns shapes rather than levels. Off can suit a stationary series; on is
            the default because it did better on real ones (the forecaster training benchmark
            page has the measurements).
        residual: forecast the deviation from the seasonal naive forecast, reading seasonal
            differences (:mod:`lstmkit.forecast.windows`); from the naive forecast (lag 1) when
            the season is 1 or, for the frequency's season, when the training parts of most
            series fail :func:`~lstmkit.data.calendar.seasonality_test` at it (daily
            temperatures have no weekly cycle to repeat); a ``season`` given is used as is.
        season: the seasonal period for MASE, the seasonal baselines and the residual; default
            from the frequency (:func:`~lstmkit.data.calendar.season_length`).
        season_adjust: ``"both"`` (the default): two networks in one checkpoint, one reading
            the series as ``False`` below, the other as ``True``, their forecasts averaged in the
            series' units (:mod:`lstmkit.forecast.views`; on the forecasting collection's
            validation windows the pair beat either alone overall and in three of the four
            frequency groups, for about twice the training). ``True``: one network on the
            series with each seasonal series' season taken out the M4 competition's way
            (:mod:`lstmkit.forecast.seasonal`: classical decomposition indices of its training
            part, where the M4 test finds the season) and put back into the forecast, the
            residual then to the naive forecast of the adjusted series, which is the M4's
            Naive2. ``False``: one network on the values as they are
            (the residual as ``residual`` says).
        batch_size, batches_per_epoch: windows per batch, batches per epoch.
        teacher_forcing: probability of feeding the decoder the truth in training.
        valid_windows: horizons at each series' end held out to pick the best epoch and to
            fit ``shrink`` and ``calibrate`` (:mod:`lstmkit.forecast.calibration`).
        shrink: with ``residual``, shrink the forecast toward seasonal naive by a weight in
            [0, 1] per step fitted on the validation windows (0: seasonal naive exactly). Off
            by default: it helped some series but hurt more (the forecasting real-series
            benchmark page has the measurements).
        calibrate: widen or narrow each interval q/1-q by split-conformal calibration on them.
        optim, train: :class:`~lstmkit.train.OptimConfig` /
            :class:`~lstmkit.train.config.TrainConfig` fields, over
            the forecaster's defaults (:data:`DEFAULT_OPTIM`, :data:`DEFAULT_TRAIN`: 30 epochs,
            early stopping after 5 without a better validation loss; ``patience=None``: off).

    Example:
        >>> import numpy as np
        >>> t = pd.date_range("2000-01", periods=120, freq="MS")
        >>> df = pd.DataFrame({"month": t, "y": np.sin(np.arange(120) * np.pi / 6) + 5})
        >>> fc = Forecaster(horizon=6, model={"hidden_size": 8, "num_layers": 1},
        ...                 batches_per_epoch=2, train={"epochs": 1}).fit(df, progress=False)
        >>> list(fc.predict().columns), len(fc.predict())
        (['series', 'time', 'forecast', 'q0.1', 'q0.5', 'q0.9'], 6)
    """

    task = "forecast"
    default_optim = DEFAULT_OPTIM
    default_train = DEFAULT_TRAIN
    network_config = ForecastConfig
    _differs = "the series differ from those"

    def __init__(
        self,
        horizon: int = 12,
        lookback: int | None = None,
        model: dict | None = None,
        calendar: bool = True,
        window_norm: bool = True,
        residual: bool = True,
        season: int | None = None,
        season_adjust: bool | str = "both",
        batch_size: int = 64,
        batches_per_epoch: int = 50,
        teacher_forcing: float = 0.0,
        valid_windows: int = 1,
        shrink: bool = False,
        calibrate: bool = True,
        optim: dict | None = None,
        train: dict | None = None,
    ) -> None:
        self.horizon = horizon
        self.lookback = lookback
        self.model = model
        self.calendar = calendar
        self.window_norm = window_norm
        self.residual = residual
        self.season = season
        self.season_adjust = season_adjust
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.teacher_forcing = teacher_forcing
        self.valid_windows = valid_windows
        self.shrink = shrink
        self.calibrate = calibrate
        self.optim = optim
        self.train = train

    # ------------------------------------------------------------------ training
    def fit(
        self,
        data,
        *,
        out: str | Path | None = None,
        progress: bool = True,
        resume: str | Path | None = None,
        **read_options,
    ) -> Forecaster:
        """Train on every series of ``data``; returns self, holding the best model.

        Args:
            data: a pandas DataFrame, a CSV path, a built-in series name or a
                :class:`~lstmkit.data.series.SeriesFrame`. A table with the columns
                ``unique_id, ds, y`` (neuralforecast's and statsforecast's long format) is
                read as one series per ``unique_id``; other long tables name their id column
                with ``id_col``.
            out: the run folder; default a temporary one, deleted after training.
            progress: show a progress bar.
            resume: a checkpoint (``last/``) of an earlier run to continue exactly; its
                settings are used, and of this estimator's only ``train`` (budgets).
            read_options: how to read ``data``: ``time``, ``target``, ``id_col``,
                ``past_covariates``, ``future_covariates``, ``freq``, ``fill``.

        Raises:
            UserError: bad settings, unreadable data, or series too short for the look-back,
                horizon and validation windows.
        """
        self._kept_residuals = None
        return self._fit_run(read_frame(data, **read_options), out, progress, resume)

    def backtest(
        self,
        data,
        folds: int = 3,
        step: int | None = None,
        baselines: Sequence[str] = tuple(BASELINES),
        *,
        out: str | Path | None = None,
        progress: bool = True,
        resume: str | Path | None = None,
        **read_options,
    ) -> Backtest:
        """Trains before the first of ``folds`` rolling origins per series, then scores the
        forecasts of every fold beside the baselines' (:mod:`lstmkit.forecast.backtest`).

        Args:
            data: as :meth:`fit` reads it.
            folds, step: origins per series and steps between them (default the horizon).
            baselines: names from :data:`lstmkit.forecast.baselines.BASELINES`.
            out, progress, resume: as :meth:`fit`.

        Returns:
            A :class:`~lstmkit.forecast.backtest.Backtest`: the scores and every forecast.
        """
        frame = read_frame(data, **read_options)
        return run_backtest(
            self, frame, folds, step, baselines, out=out, progress=progress, resume=resume
        )

    def _fingerprint(self, frame: SeriesFrame) -> str | None:
        return fingerprint(frame.series)

    def _resume_state(self, checkpoint: Checkpoint) -> None:
        # Its residuals' lags; a run from before the seasonality test took the season untested.
        self.season_ = checkpoint.config["data"]["season"]
        self._kept_residuals = [v.residual for v in self._read_views(checkpoint.config["data"])]

    def _make_network(self):
        return build_forecaster(self.config_)

    def _after_fit(self, task: ForecastTask, out: Path) -> None:
        self.model_.cpu()
        if self.shrink or self.calibrate:
            members = members_of(self.model_)
            for v, (view, member) in enumerate(zip(self.views_, members, strict=True)):
                *found, independent = calibration.validation_forecasts(member, task, v)
                view.adjustment = calibration.fit_adjustment(
                    *found,
                    self.config_.quantiles,
                    shrink=self.shrink,
                    calibrate=self.calibrate,
                    independent=independent,
                )
            if (out / BEST).exists():
                views = [view.to_dict() for view in self.views_]
                calibration.stamp_checkpoint(out / BEST, self.model_, {"views": views})

    def _make_task(
        self, frame: SeriesFrame, checkpoint: Checkpoint | None, seed: int
    ) -> ForecastTask:
        """Check the settings against the data, fit each view's scaler, cut the windows."""
        self.freq_ = frame.freq
        self.season_ = self.season or season_length(frame.freq)
        kinds = VIEWS[self.season_adjust]
        # resumed: the run's own residuals
        residuals = self._kept_residuals or [self._residual(frame, adjust) for adjust in kinds]
        lag = max(r["lag"] for r in residuals)
        self.lookback_ = self.lookback or self._default_lookback(frame, lag)
        reach = self.lookback_ + lag
        ends = [
            split_series(s, self.horizon, self.valid_windows, 0, lookback=reach).train_end
            for s in frame
        ]
        self.views_ = []  # the adjustments are fitted after training: none till then
        for adjust, residual in zip(kinds, residuals, strict=True):
            seasonal = {
                s.name: SeasonalIndices.fit(s, end, self.season_) if adjust else None
                for s, end in zip(frame, ends, strict=True)
            }
            adjusted = [season_removed(s, seasonal[s.name]) for s in frame]
            scaler = SeriesScaler.fit(adjusted, ends)
            self.views_.append(View(adjust, residual, seasonal, scaler))
        self.calendar_names_ = calendar_feature_names(frame.freq) if self.calendar else []
        self.covariates_ = {"past": frame.past_covariates, "future": frame.future_covariates}
        self.read_options_ = {k: frame.source.get(k) for k in READ_OPTIONS if k in frame.source}
        self.config_ = ForecastConfig(
            horizon=self.horizon,
            n_past=len(frame.past_covariates) + bool(self.residual),
            n_future=len(frame.future_covariates) + len(self.calendar_names_),
            members=len(self.views_),
            **(self.model or {}),
        )
        prepared = [[self._prepare(s, view) for s in frame] for view in self.views_]
        W, K = self.lookback_, self.horizon
        train = [(i, t) for i, end in enumerate(ends) for t in range(self.reach_, end - K + 1)]
        valid = [
            (i, t)
            for i, (s, end) in enumerate(zip(frame, ends, strict=True))
            for t in range(end, len(s) - K + 1)
        ]
        self.history_ = {s.name: series_tail(s, self.reach_) for s in frame}
        meta = {"config": self._run_config(frame), "files": {}, "seed": seed}
        return ForecastTask(
            prepared,
            train,
            valid,
            W,
            K,
            self.batch_size,
            self.batches_per_epoch,
            meta,
            self.window_norm,
            self.teacher_forcing,
            seasonal_scales([s.values for s in frame], ends, self.season_),
            [view.lag for view in self.views_],
        )

    def _check_settings(self) -> None:
        super()._check_settings()
        for key in ("horizon", "n_past", "n_future", "members"):
            if key in (self.model or {}):
                raise UserError(
                    f"model.{key}: set by the forecaster from horizon and the data's "
                    f"columns; leave it out of model"
                )
        for name in ("horizon", "batch_size", "batches_per_epoch", "valid_windows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name}: expected a positive integer, got {value!r}")
        for name in ("lookback", "season"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise UserError(f"{name}: expected a positive integer, got {value!r}")
        check_season_adjust(self.season_adjust)
        for name in ("shrink", "calibrate"):
            if not isinstance(value := getattr(self, name), bool):
                raise UserError(f"{name}: expected true or false, got {value!r}")
        if not 0 <= self.teacher_forcing <= 1:
            raise UserError(
                f"teacher_forcing: expected a probability in [0, 1], got {self.teacher_forcing!r}"
            )

    def min_length(self, freq: str, test_steps: int = 0) -> int:
        """The fewest steps a series needs for :meth:`fit` (with ``test_steps`` held out after
        it): the look-back (1 at least: the default one shrinks to fit), the season the
        residuals are taken over, one horizon to train on and the validation windows. (A
        series long enough to fail the seasonality test at the season, residuals then taken
        at lag 1, can do with up to a season less.)"""
        season = self.season or season_length(freq)
        plain = VIEWS[self.season_adjust][0] is False  # the view at the seasonal lag
        lag = (season if plain and season > 1 else 1) if self.residual else 0
        return test_steps + (self.valid_windows + 1) * self.horizon + (self.lookback or 1) + lag

    def _default_lookback(self, frame: SeriesFrame, lag: int) -> int:
        wanted = max(2 * self.horizon, 2 * self.season_)
        room = min(len(s) for s in frame) - (self.valid_windows + 1) * self.horizon
        return max(1, min(wanted, room - lag))

    def _residual(self, frame: SeriesFrame | None, adjust: bool = False) -> dict:
        """The residual's lag and its test (:func:`~lstmkit.forecast.windows.residual_lag`) over
        the training parts of ``frame``'s series; untested without a frame (a checkpoint from
        before the test) or with a ``season`` given; lag 0 without residuals; lag 1 (naive,
        Naive2 once the season is back) on the season-``adjust``-ed view."""
        if not self.residual:
            return {"lag": 0, "seasonal_series": None, "series": None}
        if adjust:
            return residual_lag([], 1)
        held = self.valid_windows * self.horizon
        parts = [] if frame is None else [s.values[: len(s) - held] for s in frame]
        return residual_lag(parts, self.season_, tested=frame is not None and self.season is None)

    @property
    def residual_(self) -> dict:
        """The first view's residual (:attr:`views_`; ``{"lag", "seasonal_series",
        "series"}``)."""
        return self.views_[0].residual

    @property
    def lag_(self) -> int:
        """The largest lag of the views' residuals (the season, 1, or 0 without residuals)."""
        return max(view.lag for view in self.views_)

    @property
    def scaler_(self) -> SeriesScaler:
        """The first view's scaling (each view has its own: :attr:`views_`)."""
        return self.views_[0].scaler

    @property
    def adjustment_(self) -> dict | list[dict | None] | None:
        """The shrinkage and calibration fitted on the validation windows: the one view's, or a
        list of each view's (None where none was fitted)."""
        found = [view.adjustment for view in self.views_]
        if len(found) == 1 or not any(found):
            return found[0]
        return found

    @property
    def reach_(self) -> int:
        """Steps of history a window reads: the look-back, and the largest residual lag more."""
        return self.lookback_ + self.lag_

    def _prepare(
        self, series: Series, view: View, future_extra=None, extra_steps: int = 0, origin=None
    ):
        seasonal = self._seasonal_indices(series, view, len(series) if origin is None else origin)
        return prepare(
            series,
            view.scaler,
            self.freq_ if self.calendar else None,
            future_extra,
            extra_steps,
            seasonal,
        )

    def _run_config(self, frame: SeriesFrame | None = None) -> dict:
        data = {
            "freq": self.freq_,
            "season": self.season_,
            "lookback": self.lookback_,
            "scaler": self.scaler_.to_dict(),
            "calendar": self.calendar_names_,
            "covariates": self.covariates_,
            "read_options": self.read_options_,
            "history": self.history_,
            "views": [view.to_dict() for view in self.views_],
        }
        if frame is not None:
            data.update(sources=frame.spec(), fingerprint=fingerprint(frame.series))
        return {"model": self.config_.to_dict(), "data": data, "estimator": self.recorded_params()}

    @classmethod
    def params_from_config(cls, config: dict) -> dict:
        """Checkpoints before the ``model`` setting recorded the network's fields flat."""
        params = dict(config["estimator"])
        params.setdefault("season_adjust", False)  # before the views: one network on the values
        flat = {k: params.pop(k) for k in NETWORK_FIELDS if k in params}
        if flat:
            params["model"] = {**flat, **(params.get("model") or {})}
        return params

    def _restore(self, checkpoint: Checkpoint) -> None:
        data = checkpoint.config["data"]
        self.freq_, self.season_, self.lookback_ = data["freq"], data["season"], data["lookback"]
        self.calendar_names_, self.covariates_ = data["calendar"], data["covariates"]
        self.read_options_, self.history_ = data["read_options"], data["history"]
        where = checkpoint.directory / "config.json"
        try:
            self.views_ = self._read_views(data)
        except UserError as error:
            raise UserError(f"{where}: data.{error}") from None
        self.config_ = config = self._network(checkpoint)
        if len(self.views_) != config.members:
            raise UserError(
                f"{where}: data.views: expected one per network ({config.members}), "
                f"got {len(self.views_)}"
            )
        self.model_ = build_model(checkpoint, lambda: build_forecaster(config))

    def _read_views(self, data: dict) -> list[View]:
        """The views of a run's config; a checkpoint from before them held one view's scaler,
        residual (before the seasonality test: the season, untested) and adjustment."""
        if "views" in data:
            if not isinstance(data["views"], list) or not data["views"]:
                raise UserError("views: expected a list of one view or more")
            return [View.from_dict(v) for v in data["views"]]
        residual = data.get("residual") or self._residual(None)
        scaler = SeriesScaler.from_dict(data["scaler"])
        return [View(False, residual, {}, scaler, data.get("adjustment"))]

    # ------------------------------------------------------------------ inference
    def predict(
        self,
        horizon: int | None = None,
        data=None,
        future: pd.DataFrame | None = None,
        **read_options,
    ) -> pd.DataFrame:
        """Forecast ``horizon`` steps after the end of each series.

        Args:
            horizon: steps, at most the trained horizon; default the trained horizon.
            data: the history, read as in :meth:`fit` (the columns named at training unless
                ``read_options`` say otherwise); default the end of the training data.
            future: the user's future covariates over the horizon, when the model has any: a
                table with the time column (and the id column, long format) and those columns.

        Returns:
            One row per series and step: ``series``, ``time``, ``forecast`` (the median) and a
            ``q<level>`` column per quantile.

        Raises:
            UserError: a horizon beyond the trained one, a series shorter than the look-back,
                other covariates than at training, or missing future covariates.
        """
        self._check_fitted()
        horizon = self.horizon if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, int) or not horizon >= 1:
            raise UserError(f"horizon: expected a positive integer, got {horizon!r}")
        if horizon > self.horizon:
            raise UserError(
                f"horizon: expected at most the trained horizon {self.horizon}, got {horizon}"
            )
        series = self.history(data, **read_options)
        extra = [self._future_rows(s, future) for s in series]
        return first_steps(self.forecast_at(series, [len(s) for s in series], extra), horizon)

    def start(self, series: str | None = None, data=None, **read_options):
        """The state after a series' history, for :meth:`step` (:mod:`lstmkit.forecast.stream`)."""
        self._check_fitted()
        return streaming.forecast_start(self, series, data, **read_options)

    def step(self, value: float, state=None):
        """One value in, ``(forecast as :meth:`predict`'s, new state)`` out, bounded memory."""
        self._check_fitted()
        return streaming.forecast_step(self, value, state)

    def forecast_at(
        self, series: list[Series], origins: list[int], future_extra=None, adjusted: bool = True
    ) -> pd.DataFrame:
        """Forecast the full horizon from ``origins[i]`` of ``series[i]`` (its history before
        it); future covariates past a series' end come from ``future_extra[i]``. ``adjusted``:
        with the shrinkage and calibration fitted on the validation windows."""
        self._check_fitted()
        K, W = self.horizon, self.lookback_
        future_extra = future_extra or [None] * len(series)
        for s, t in zip(series, origins, strict=True):
            if t < self.reach_:
                raise UserError(
                    f"series {s.name!r}: expected at least {self.reach_} steps (the "
                    f"look-back of {W}, and the season for residuals) before the "
                    f"forecast origin, got {t}"
                )
        origins_at = list(enumerate(origins))
        found = []  # per view: (N, K, Q) in the series' units
        for view, member in zip(self.views_, members_of(self.model_), strict=True):
            prepared = [
                self._prepare(s, view, future_extra[i], max(0, t + K - len(s)), t)
                for i, (s, t) in enumerate(zip(series, origins, strict=True))
            ]
            window = make_windows(prepared, origins_at, W, K, self.window_norm, view.lag)
            with torch.no_grad():
                q = forecast_windows(member, window).numpy()  # (N, K, Q) standardised
            if adjusted and view.adjustment:
                base = window.base.numpy() if view.lag else None  # (N, K)
                q = calibration.adjust_quantiles(q, base, view.adjustment, self.config_.quantiles)
            found.append(in_series_units(prepared, origins_at, q))
        rows = []
        for (i, t), values in zip(origins_at, mean_of_members(found), strict=True):
            s = series[i]
            times = pd.date_range(s.index[t - 1], periods=K + 1, freq=s.index.freq)[1:]
            table = pd.DataFrame({"series": s.name, "time": times})
            table["forecast"] = values[:, self.config_.quantiles.index(0.5)]
            for k, level in enumerate(self.config_.quantiles):
                table[f"q{level:g}"] = values[:, k]
            rows.append(table)
        return pd.concat(rows, ignore_index=True)

    def _seasonal_indices(self, series: Series, view: View, origin: int):
        """A trained series' seasonal indices in ``view``; a series unseen in training gets its
        own, fitted on its history before ``origin`` (as its scale is); None where the view
        takes none out."""
        if series.name in view.seasonal:
            return view.seasonal[series.name]
        if not view.adjust:
            return None
        return SeasonalIndices.fit(series, origin, self.season_)

    def history(self, data=None, **read_options) -> list[Series]:
        """The series a forecast starts from: ``data`` read with the training's column names
        (``read_options`` override them) and checked against the model, or, without data, the
        last window of each training series kept in the model.

        Raises:
            UserError: other covariates or another frequency than at training.
        """
        self._check_fitted()
        if data is None:
            return [from_tail(name, h, self.freq_) for name, h in self.history_.items()]
        frame = read_frame(data, **{**self.read_options_, **read_options})
        for kind in ("past", "future"):
            given = getattr(frame, f"{kind}_covariates")
            if list(given) != list(self.covariates_[kind]):
                raise UserError(
                    f"{kind}_covariates: expected the columns the model was trained "
                    f"with, {self.covariates_[kind]}, got {given}"
                )
        if frame.freq != self.freq_:
            raise UserError(f"freq: expected the training frequency {self.freq_}, got {frame.freq}")
        return frame.series

    def _future_rows(self, series: Series, future: pd.DataFrame | None):
        names = self.covariates_["future"]
        if not names:
            return None
        if future is None:
            raise UserError(
                f"future: the model uses future covariates {names}; expected a table "
                f"of them over the horizon"
            )
        return future_values(future, series, self.horizon, names, self.read_options_)


def first_steps(table: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The first ``horizon`` rows of each series in a forecast table (its rows in step order)."""
    return table[table.groupby("series", sort=False).cumcount() < horizon].reset_index(drop=True)


__all__ = ["DEFAULT_OPTIM", "DEFAULT_TRAIN", "Forecaster", "first_steps"]
