"""Forecasting: one global LSTM encoder-decoder over your series, forecasting quantiles.

* :mod:`lstmkit.forecast.estimator` — :class:`Forecaster` (``fit``, ``predict``, ``backtest``,
  ``save``/``load``).
* :mod:`lstmkit.forecast.windows` — scaling, look-back/horizon windows, the residual to seasonal
  naive.
* :mod:`lstmkit.forecast.task` — windows drawn at random and the pinball loss, for the trainer.
* :mod:`lstmkit.forecast.calibration` — shrinkage and conformal intervals on held-out windows.
* :mod:`lstmkit.forecast.backtest` — rolling origins, the LSTM beside the baselines.
* :mod:`lstmkit.forecast.baselines`, :mod:`lstmkit.forecast.metrics`,
  :mod:`lstmkit.forecast.plot`, :mod:`lstmkit.forecast.stream`.
"""

from lstmkit.forecast.backtest import Backtest
from lstmkit.forecast.estimator import Forecaster

__all__ = ["Backtest", "Forecaster"]
