"""The forecasting network: an LSTM encoder-decoder that emits quantiles of future real values.

A :class:`ForecastEncoder` reads the look-back window one step at a time; its input at step t is
``[y_t, past_t, future_t]``: the target, the past covariates (known only up to now) and the
future covariates (known ahead: prices set in advance, calendar features). Its final ``(h, c)``
is the context. One of two heads turns the context into the horizon:

* :class:`~lstmkit.models.forecast_heads.AutoregressiveDecoder`: an LSTM started from the context
  itself (same ``hidden_size`` and ``num_layers``, so no bridge) that emits the horizon one step at
  a time. Its input at step k is ``[ŷ_{k-1}, future_k]``: the previous step's point forecast (the
  last observed y at k = 0) and that step's future covariates; a linear layer maps its top-layer
  output to Q raw values.
* :class:`~lstmkit.models.forecast_heads.DirectHead`: one linear layer from
  ``[h_top; future_1; …; future_K]`` (the context's top layer and the whole horizon's future
  covariates, flattened) to K × Q raw values at once. It does use the future covariates; past
  covariates enter both heads through the encoder only.

The autoregressive decoder is trained free-running on its own detached medians by default
(:mod:`lstmkit.models.forecast_heads`).

Quantiles never cross (:mod:`lstmkit.models.quantiles`); the point forecast is the median.

With ``one_step_loss`` w > 0 the encoder is also trained as a one-step-ahead forecaster, as
DeepAR scores the conditioning range and Darts' ``RNNModel`` trains on every position: a linear
layer (:attr:`LSTMForecaster.one_step`) maps the encoder's top-layer output after ``y_j`` to Q
quantiles of ``y_{j+1}`` (of the horizon's first value after the last), and w times their
pinball loss over the look-back joins the horizon's. Each window then gives W more targets than
its K; the extra layer is used in training only.

Values are used as given: scale y before (say by the look-back window's mean and spread) and
unscale the quantiles after; that is the data pipeline's job, not the network's.

Legend: B batch, W look-back window, K horizon, P past covariates (n_past), F future covariates
(n_future), Q quantiles, H hidden_size, L num_layers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from lstmkit.errors import UserError
from lstmkit.models.forecast_heads import AutoregressiveDecoder, DirectHead, State
from lstmkit.models.quantiles import check_quantiles, monotone_quantiles, pinball_loss
from lstmkit.nn import LSTM

HEADS = ("autoregressive", "direct")


@dataclass
class ForecastConfig:
    """Hyperparameters of :class:`LSTMForecaster`.

    The encoder's input size is ``1 + n_past + n_future`` (:attr:`input_size`): the target, the
    past and the future covariates, calendar features counted among the future ones.
    """

    horizon: int
    n_past: int = 0
    n_future: int = 0
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.1  # between LSTM layers and before the output layer
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    head: str = "autoregressive"
    one_step_loss: float = 0.0  # weight of the encoder's one-step-ahead loss (module docstring)
    members: int = 1  # networks of this shape side by side (:class:`ForecastEnsemble`)

    def __post_init__(self) -> None:
        lows = {"horizon": 1, "n_past": 0, "n_future": 0, "hidden_size": 1, "num_layers": 1}
        lows["members"] = 1
        for name, low in lows.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserError(f"{name}: expected an integer >= {low}, got {value!r}")
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0 <= d < 1:
            raise UserError(f"dropout: expected a probability in [0, 1), got {d!r}")
        w = self.one_step_loss
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w < float("inf"):
            raise UserError(f"one_step_loss: expected a weight >= 0, got {w!r}")
        self.quantiles = check_quantiles(self.quantiles)
        if self.head not in HEADS:
            raise UserError(f"head: expected one of {', '.join(HEADS)}, got {self.head!r}")

    @property
    def input_size(self) -> int:
        """The encoder's input width, ``1 + n_past + n_future``."""
        return 1 + self.n_past + self.n_future

    def to_dict(self) -> dict:
        return asdict(self)


class ForecastEncoder(nn.Module):
    """A multi-layer LSTM over the look-back window; its final ``(h, c)`` is the context."""

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.lstm = LSTM(
            input_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )

    def forward(self, x: Tensor) -> tuple[Tensor, State]:
        """Steps (B, W, 1 + P + F) → the top layer's outputs (B, W, H) and the final
        ``(h, c)``, each (L, B, H)."""
        return self.lstm(x)


def _check_series(name: str, x: Tensor | None, shape: tuple[int, ...]) -> None:
    """``x`` must be a float tensor of ``shape`` when its last size is > 0, else None."""
    if shape[-1] == 0:
        if x is not None:
            raise ValueError(
                f"{name}: expected None (the model has no such covariates), got a "
                f"tensor of shape {tuple(x.shape)}"
            )
        return
    if x is None or not x.is_floating_point() or tuple(x.shape) != shape:
        got = "None" if x is None else f"{x.dtype} {tuple(x.shape)}"
        raise ValueError(f"{name}: expected a float tensor of shape {shape}, got {got}")


class LSTMForecaster(nn.Module):
    """Encoder and head (autoregressive decoder or direct), forecasting Q quantiles per step.

    Example:
        >>> model = build_forecaster(ForecastConfig(horizon=3, n_past=2, n_future=1,
        ...                                         hidden_size=8)).eval()
        >>> y, past, fut = torch.randn(4, 10), torch.randn(4, 10, 2), torch.randn(4, 13, 1)
        >>> model.forecast(y, past, fut[:, :10], fut[:, 10:]).shape
        torch.Size([4, 3, 3])
    """

    def __init__(
        self,
        encoder: ForecastEncoder,
        head: AutoregressiveDecoder | DirectHead,
        horizon: int,
        one_step_loss: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_future = head.n_future
        self.n_past = encoder.input_size - 1 - head.n_future
        if self.n_past < 0:
            raise ValueError(
                f"encoder: expected input_size >= 1 + n_future = "
                f"{1 + head.n_future}, got {encoder.input_size}"
            )
        if encoder.hidden_size != head.hidden_size or (
            isinstance(head, AutoregressiveDecoder) and encoder.num_layers != head.num_layers
        ):
            raise ValueError(
                "head: expected the encoder's hidden_size (and num_layers, for the "
                "autoregressive decoder) so the context fits"
            )
        if isinstance(head, DirectHead) and head.horizon != horizon:
            raise ValueError(
                f"horizon: the direct head was built for {head.horizon}, got {horizon}"
            )
        self.encoder, self.head, self.horizon = encoder, head, horizon
        self.quantiles, self.median_index = head.quantiles, head.median_index
        self.one_step_loss = one_step_loss
        # The encoder's one-step-ahead quantiles (training only; see the module docstring).
        self.one_step = (
            nn.Linear(encoder.hidden_size, len(self.quantiles)) if one_step_loss > 0 else None
        )

    def encode(
        self, y: Tensor, past: Tensor | None = None, future_hist: Tensor | None = None
    ) -> State:
        """Look-back y (B, W), past (B, W, P) and future covariates (B, W, F) → context
        ``(h, c)``, each (L, B, H). A covariate the model has none of (P or F = 0) is None.

        Raises:
            ValueError: naming the argument whose shape is wrong.
        """
        return self._encode(y, past, future_hist)[1]

    def _encode(self, y, past, future_hist) -> tuple[Tensor, State]:
        """:meth:`encode`, also returning the top layer's outputs (B, W, H)."""
        if y.dim() != 2 or not y.is_floating_point():
            raise ValueError(f"y: expected a float tensor (B, W), got {y.dtype} {tuple(y.shape)}")
        B, W = y.shape
        _check_series("past", past, (B, W, self.n_past))
        _check_series("future_hist", future_hist, (B, W, self.n_future))
        parts = [y.unsqueeze(-1)] + [x for x in (past, future_hist) if x is not None]
        return self.encoder(torch.cat(parts, -1))  # (B, W, 1 + P + F)

    def decode_step(
        self, prev: Tensor, future_t: Tensor | None, state: State
    ) -> tuple[Tensor, State]:
        """One autoregressive step: previous values (B,), future covariates (B, F) or None and
        ``(h, c)`` → quantiles (B, Q) and the new state."""
        if not isinstance(self.head, AutoregressiveDecoder):
            raise ValueError(
                "decode_step: the direct head emits the whole horizon at once; use forecast"
            )
        return self.head.step(prev, future_t, state)

    def _run(self, y, past, future_hist, future_horizon, target=None, teacher_forcing=0.0):
        """Quantiles (B, K, Q) and the encoder's top-layer outputs (B, W, H)."""
        outputs, state = self._encode(y, past, future_hist)
        _check_series("future_horizon", future_horizon, (y.shape[0], self.horizon, self.n_future))
        if isinstance(self.head, DirectHead):
            return self.head(state[0][-1], future_horizon), outputs
        pred = self.head(y[:, -1], future_horizon, state, self.horizon, target, teacher_forcing)
        return pred, outputs

    def forecast(
        self,
        y: Tensor,
        past: Tensor | None = None,
        future_hist: Tensor | None = None,
        future_horizon: Tensor | None = None,
    ) -> Tensor:
        """Quantiles (B, K, Q) of the next K values, increasing along Q; the median is
        ``[..., median_index]``. Arguments as :meth:`encode`, plus the future covariates of the
        horizon (B, K, F). The autoregressive head feeds back its own medians."""
        return self._run(y, past, future_hist, future_horizon)[0]

    def loss(
        self,
        y: Tensor,
        past: Tensor | None = None,
        future_hist: Tensor | None = None,
        future_horizon: Tensor | None = None,
        *,
        target: Tensor,
        teacher_forcing: float = 0.0,
    ) -> Tensor:
        """Pinball loss against ``target`` (B, K), the mean over quantiles and steps; with
        ``one_step_loss`` w > 0, plus w times the encoder's one-step-ahead pinball loss over the
        look-back (the module docstring).

        Args:
            y, past, future_hist, future_horizon: as :meth:`forecast`.
            target: (B, K) the true next values.
            teacher_forcing: probability in [0, 1] of feeding the true previous value instead of
                the model's own median (autoregressive head only; see the module docstring).

        Raises:
            ValueError: naming the argument whose shape or value is wrong.
        """
        if tuple(target.shape) != (y.shape[0], self.horizon):
            raise ValueError(
                f"target: expected shape {(y.shape[0], self.horizon)}, got {tuple(target.shape)}"
            )
        if not 0 <= teacher_forcing <= 1:
            raise ValueError(f"teacher_forcing: expected a value in [0, 1], got {teacher_forcing}")
        pred, outputs = self._run(y, past, future_hist, future_horizon, target, teacher_forcing)
        loss = pinball_loss(pred, target, self.quantiles)
        if self.one_step is None:
            return loss
        ahead = monotone_quantiles(self.one_step(outputs), self.median_index)  # (B, W, Q)
        following = torch.cat([y[:, 1:], target[:, :1]], 1)  # (B, W): y_{j+1}
        return loss + self.one_step_loss * pinball_loss(ahead, following, self.quantiles)


class ForecastEnsemble(nn.Module):
    """``members`` :class:`LSTMForecaster` networks of one shape, side by side in one checkpoint.

    Each member reads its own windows (the forecaster gives each member another view of the
    series: :mod:`lstmkit.forecast.estimator`) and forecasts on its own; the forecaster puts the
    members' forecasts back into the series' units and averages them there. Nothing is shared
    but the shape, the batches and the training run.

    Example:
        >>> model = build_forecaster(ForecastConfig(horizon=3, hidden_size=8, members=2))
        >>> len(model.members), model.members[1].forecast(torch.randn(4, 10)).shape
        (2, torch.Size([4, 3, 3]))
    """

    def __init__(self, members: list[LSTMForecaster]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"members: expected two or more networks, got {len(members)}")
        self.members = nn.ModuleList(members)
        first = members[0]
        self.horizon, self.quantiles, self.median_index = (
            first.horizon,
            first.quantiles,
            first.median_index,
        )
        self.n_past, self.n_future = first.n_past, first.n_future


def members_of(model: nn.Module) -> list[LSTMForecaster]:
    """The networks of a forecasting model: an ensemble's members, or the model itself."""
    return list(model.members) if isinstance(model, ForecastEnsemble) else [model]


def build_forecaster(config: ForecastConfig) -> LSTMForecaster | ForecastEnsemble:
    """The :class:`LSTMForecaster` that ``config`` describes, or with ``members`` > 1 a
    :class:`ForecastEnsemble` of that many (each initialised from the random stream in turn).

    Example:
        >>> model = build_forecaster(ForecastConfig(horizon=12, n_past=1, n_future=4))
        >>> model.encoder.lstm.input_size, model.head.lstm.input_size  # [y, past, fut], [ŷ, fut]
        (6, 5)
    """
    if config.members > 1:
        return ForecastEnsemble([_network(config) for _ in range(config.members)])
    return _network(config)


def _network(config: ForecastConfig) -> LSTMForecaster:
    c = config
    encoder = ForecastEncoder(c.input_size, c.hidden_size, c.num_layers, c.dropout)
    if c.head == "direct":
        head = DirectHead(c.n_future, c.hidden_size, c.horizon, c.quantiles, c.dropout)
    else:
        head = AutoregressiveDecoder(
            c.n_future, c.hidden_size, c.num_layers, c.quantiles, c.dropout
        )
    return LSTMForecaster(encoder, head, c.horizon, c.one_step_loss)
