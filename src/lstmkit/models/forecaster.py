"""The forecasting network: an LSTM encoder-decoder that emits quantiles of future real values.

A :class:`ForecastEncoder` reads the look-back window one step at a time; its input at step t is
``[y_t, past_t, future_t]``: the target, the past covariates (known only up to now) and the
future covariates (known ahead: prices set in advance, calendar features). Its final ``(h, c)``
is the context. One of two heads turns the context into the horizon:

* :class:`AutoregressiveDecoder`: an LSTM started from the context itself (same ``hidden_size``
  and ``num_layers``, so no bridge) that emits the horizon one step at a time. Its input at step
  k is ``[ŷ_{k-1}, future_k]``: the previous step's point forecast (the last observed y at
  k = 0) and that step's future covariates; a linear layer maps its top-layer output to Q raw
  values.
* :class:`DirectHead`: one linear layer from ``[h_top; future_1; …; future_K]`` (the context's
  top layer and the whole horizon's future covariates, flattened) to K × Q raw values at once.
  It does use the future covariates; past covariates enter both heads through the encoder only.

Quantiles never cross (:mod:`lstmkit.models.quantiles`); the point forecast is the median.

Training feeds back, per series and step, the truth with probability ``teacher_forcing`` and
otherwise the model's own median, detached (:meth:`LSTMForecaster.loss`). The default is 0: free
running, so training sees its own errors as inference will (exposure bias, Bengio et al. 2015).
Detaching, as :meth:`Decoder.teacher_forced` does with its argmax, trains each step to forecast
from whatever it is given without backpropagating through the chain of K fed-back predictions,
a second recurrence outside the LSTM's gates where gradients can grow unchecked.

With ``one_step_loss`` w > 0 the encoder is also trained as a one-step-ahead forecaster, as
DeepAR scores the conditioning range and Darts' ``RNNModel`` trains on every position: a linear
layer (:attr:`LSTMForecaster.one_step`) maps the encoder's top-layer output after ``y_j`` to Q
quantiles of ``y_{j+1}`` (of the horizon's first value after the last), and w times their
pinball loss over the look-back joins the horizon's. Each window then gives T more targets than
its K; the extra layer is used in training only.

Values are used as given: scale y before (say by the look-back window's mean and spread) and
unscale the quantiles after; that is the data pipeline's job, not the network's.

Legend: B batch, T look-back length, K horizon, P past covariates (n_past), F future covariates
(n_future), Q quantiles, H hidden_size, L num_layers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from lstmkit.errors import UserError
from lstmkit.models.quantiles import check_quantiles, monotone_quantiles, pinball_loss
from lstmkit.nn import LSTM

HEADS = ("autoregressive", "direct")
State = tuple[Tensor, Tensor]  # (h, c), each (L, B, H)


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

    def __post_init__(self) -> None:
        lows = {"horizon": 1, "n_past": 0, "n_future": 0, "hidden_size": 1, "num_layers": 1}
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
        self.lstm = LSTM(input_size, hidden_size, num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0)  # fmt: skip

    def forward(self, x: Tensor) -> tuple[Tensor, State]:
        """Steps (B, T, 1 + P + F) → the top layer's outputs (B, T, H) and the final
        ``(h, c)``, each (L, B, H)."""
        return self.lstm(x)


class AutoregressiveDecoder(nn.Module):
    """An LSTM that emits one step's Q quantiles from the previous point value and covariates."""

    def __init__(
        self,
        n_future: int,
        hidden_size: int,
        num_layers: int,
        quantiles: Sequence[float],
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.quantiles = check_quantiles(quantiles)
        self.median_index = self.quantiles.index(0.5)
        self.n_future, self.hidden_size, self.num_layers = n_future, hidden_size, num_layers
        between = dropout if num_layers > 1 else 0.0  # torch warns about dropout after the top
        self.lstm = LSTM(1 + n_future, hidden_size, num_layers, batch_first=True, dropout=between)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_size, len(self.quantiles))

    def step(self, prev: Tensor, future_t: Tensor | None, state: State) -> tuple[Tensor, State]:
        """Previous point values (B,), future covariates (B, F) or None, state ``(h, c)`` each
        (L, B, H) → quantiles (B, Q) and the new state."""
        x = prev.unsqueeze(-1)  # (B, 1)
        if future_t is not None:
            x = torch.cat([x, future_t], -1)  # (B, 1 + F)
        out, state = self.lstm.step(x, state)  # (B, H)
        raw = self.output(self.dropout(out))  # (B, Q)
        return monotone_quantiles(raw, self.median_index), state

    def forward(
        self,
        last: Tensor,
        future: Tensor | None,
        state: State,
        horizon: int,
        target: Tensor | None = None,
        teacher_forcing: float = 0.0,
    ) -> Tensor:
        """The horizon from the last observed values (B,): quantiles (B, K, Q).

        With ``target`` (B, K) each step's input is, per series and with probability
        ``teacher_forcing``, the true previous value; otherwise the previous median, detached.

        Because every fed-back value is detached, the gradient is that of the LSTM run over
        the inputs the steps were given, which are constants to autograd. So when autograd
        records (training), the steps run once without autograd to find those inputs, and the
        LSTM and the output layer then run once over all K of them: one sequence call instead
        of K one-step calls and their K backward steps (same values, same gradients; parity
        tested). Dropout in training draws its masks for the whole horizon first
        (:meth:`_masks`), so that both runs drop the same units. A forward-only call
        (inference) runs the steps alone.
        """
        replay = torch.is_grad_enabled()
        masks = self._masks(last.shape[0], horizon, last) if self._dropout_active() else None
        with torch.no_grad() if replay else contextlib.nullcontext():
            quantiles, fed = self._steps(last, future, state, horizon, target, teacher_forcing,
                                         masks)  # fmt: skip
        if not replay:
            return quantiles
        x = fed.unsqueeze(-1)  # (B, K, 1)
        if future is not None:
            x = torch.cat([x, future[:, :horizon]], -1)  # (B, K, 1 + F)
        if masks is None:
            out, _ = self.lstm(x, state)  # (B, K, H)
        else:
            out = x
            for k, mask in enumerate(masks):  # layer by layer, each output masked
                out, _ = self.lstm.run_layer(k, out, (state[0][k], state[1][k]))
                out = out if mask is None else out * mask
        return monotone_quantiles(self.output(out), self.median_index)  # (B, K, Q)

    def _steps(self, last, future, state, horizon, target, teacher_forcing, masks=None):
        """The step loop: quantiles (B, K, Q) and the value fed into each step (B, K)."""
        prev, steps, fed = last, [], []
        for k in range(horizon):
            fed.append(prev)
            future_k = None if future is None else future[:, k]
            if masks is None:
                q, state = self.step(prev, future_k, state)
            else:
                q, state = self._masked_step(prev, future_k, state, [m[:, k] for m in masks])
            steps.append(q)
            prev = q[:, self.median_index].detach()
            if target is not None and teacher_forcing > 0:
                truth = torch.rand(prev.shape, device=prev.device) < teacher_forcing
                prev = torch.where(truth, target[:, k], prev)
        return torch.stack(steps, 1), torch.stack(fed, 1)

    def _masks(self, batch: int, horizon: int, like: Tensor) -> list[Tensor | None]:
        """Dropout masks for a horizon, one per layer (B, K, H): the output of each layer but
        the top (the LSTM's dropout), then of the top (before the output layer); each entry 0
        or 1 / (1 - p), None where p is 0. Drawn step by step, between layers then before the
        output, as stepping with dropout draws them, so a seed gives the same masks."""
        levels = [self.lstm.dropout] * (self.num_layers - 1) + [self.dropout.p]
        drawn = [[] if p > 0 else None for p in levels]
        shape = (batch, self.hidden_size)
        for _ in range(horizon):
            for masks, p in zip(drawn, levels, strict=True):
                if masks is not None:
                    masks.append(like.new_empty(shape).bernoulli_(1 - p) / (1 - p))
        return [None if masks is None else torch.stack(masks, 1) for masks in drawn]

    def _masked_step(self, prev, future_t, state, masks):
        """:meth:`step` with the given dropout masks, each (B, H) or None (see :meth:`_masks`)."""
        x = prev.unsqueeze(-1)  # (B, 1)
        if future_t is not None:
            x = torch.cat([x, future_t], -1)  # (B, 1 + F)
        hs, cs = [], []
        for k, mask in enumerate(masks):
            out, (h, c) = self.lstm.run_layer(k, x.unsqueeze(1), (state[0][k], state[1][k]))
            hs.append(h)
            cs.append(c)
            x = out[:, 0] if mask is None else out[:, 0] * mask
        q = monotone_quantiles(self.output(x), self.median_index)
        return q, (torch.stack(hs), torch.stack(cs))

    def _dropout_active(self) -> bool:
        """Whether a dropout mask would be drawn (training with p > 0, here or between layers)."""
        return self.training and (self.dropout.p > 0 or self.lstm.dropout > 0)


class DirectHead(nn.Module):
    """One linear layer from the context's top layer and the horizon's covariates to K × Q."""

    def __init__(
        self,
        n_future: int,
        hidden_size: int,
        horizon: int,
        quantiles: Sequence[float],
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.quantiles = check_quantiles(quantiles)
        self.median_index = self.quantiles.index(0.5)
        self.n_future, self.hidden_size, self.horizon = n_future, hidden_size, horizon
        self.dropout = nn.Dropout(dropout)
        Q = len(self.quantiles)
        self.output = nn.Linear(hidden_size + horizon * n_future, horizon * Q)

    def forward(self, h_top: Tensor, future: Tensor | None) -> Tensor:
        """Top-layer context (B, H) and future covariates (B, K, F) or None → (B, K, Q)."""
        x = self.dropout(h_top)
        if future is not None:
            x = torch.cat([x, future.flatten(1)], -1)  # (B, H + K*F)
        raw = self.output(x).view(x.shape[0], self.horizon, len(self.quantiles))  # (B, K, Q)
        return monotone_quantiles(raw, self.median_index)


def _check_series(name: str, x: Tensor | None, shape: tuple[int, ...]) -> None:
    """``x`` must be a float tensor of ``shape`` when its last size is > 0, else None."""
    if shape[-1] == 0:
        if x is not None:
            raise ValueError(f"{name}: expected None (the model has no such covariates), got a "
                             f"tensor of shape {tuple(x.shape)}")  # fmt: skip
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
            raise ValueError(f"encoder: expected input_size >= 1 + n_future = "
                             f"{1 + head.n_future}, got {encoder.input_size}")  # fmt: skip
        if encoder.hidden_size != head.hidden_size or (
            isinstance(head, AutoregressiveDecoder) and encoder.num_layers != head.num_layers
        ):
            raise ValueError("head: expected the encoder's hidden_size (and num_layers, for the "
                             "autoregressive decoder) so the context fits")  # fmt: skip
        if isinstance(head, DirectHead) and head.horizon != horizon:
            raise ValueError(
                f"horizon: the direct head was built for {head.horizon}, got {horizon}"
            )
        self.encoder, self.head, self.horizon = encoder, head, horizon
        self.quantiles, self.median_index = head.quantiles, head.median_index
        self.one_step_loss = one_step_loss
        # The encoder's one-step-ahead quantiles (training only; see the module docstring).
        self.one_step = (nn.Linear(encoder.hidden_size, len(self.quantiles))
                         if one_step_loss > 0 else None)  # fmt: skip

    def encode(self, y: Tensor, past: Tensor | None = None, future_hist: Tensor | None = None
               ) -> State:  # fmt: skip
        """Look-back y (B, T), past (B, T, P) and future covariates (B, T, F) → context
        ``(h, c)``, each (L, B, H). A covariate the model has none of (P or F = 0) is None.

        Raises:
            ValueError: naming the argument whose shape is wrong.
        """
        return self._encode(y, past, future_hist)[1]

    def _encode(self, y, past, future_hist) -> tuple[Tensor, State]:
        """:meth:`encode`, also returning the top layer's outputs (B, T, H)."""
        if y.dim() != 2 or not y.is_floating_point():
            raise ValueError(f"y: expected a float tensor (B, T), got {y.dtype} {tuple(y.shape)}")
        B, T = y.shape
        _check_series("past", past, (B, T, self.n_past))
        _check_series("future_hist", future_hist, (B, T, self.n_future))
        parts = [y.unsqueeze(-1)] + [x for x in (past, future_hist) if x is not None]
        return self.encoder(torch.cat(parts, -1))  # (B, T, 1 + P + F)

    def decode_step(self, prev: Tensor, future_t: Tensor | None, state: State
                    ) -> tuple[Tensor, State]:  # fmt: skip
        """One autoregressive step: previous values (B,), future covariates (B, F) or None and
        ``(h, c)`` → quantiles (B, Q) and the new state."""
        if not isinstance(self.head, AutoregressiveDecoder):
            raise ValueError("decode_step: the direct head emits the whole horizon at once; "
                             "use forecast")  # fmt: skip
        return self.head.step(prev, future_t, state)

    def _run(self, y, past, future_hist, future_horizon, target=None, teacher_forcing=0.0):
        """Quantiles (B, K, Q) and the encoder's top-layer outputs (B, T, H)."""
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
            raise ValueError(f"target: expected shape {(y.shape[0], self.horizon)}, "
                             f"got {tuple(target.shape)}")  # fmt: skip
        if not 0 <= teacher_forcing <= 1:
            raise ValueError(f"teacher_forcing: expected a value in [0, 1], got {teacher_forcing}")
        pred, outputs = self._run(y, past, future_hist, future_horizon, target, teacher_forcing)
        loss = pinball_loss(pred, target, self.quantiles)
        if self.one_step is None:
            return loss
        ahead = monotone_quantiles(self.one_step(outputs), self.median_index)  # (B, T, Q)
        following = torch.cat([y[:, 1:], target[:, :1]], 1)  # (B, T): y_{j+1}
        return loss + self.one_step_loss * pinball_loss(ahead, following, self.quantiles)


def build_forecaster(config: ForecastConfig) -> LSTMForecaster:
    """The :class:`LSTMForecaster` that ``config`` describes.

    Example:
        >>> model = build_forecaster(ForecastConfig(horizon=12, n_past=1, n_future=4))
        >>> model.encoder.lstm.input_size, model.head.lstm.input_size  # [y, past, fut], [ŷ, fut]
        (6, 5)
    """
    c = config
    encoder = ForecastEncoder(c.input_size, c.hidden_size, c.num_layers, c.dropout)
    if c.head == "direct":
        head = DirectHead(c.n_future, c.hidden_size, c.horizon, c.quantiles, c.dropout)
    else:
        head = AutoregressiveDecoder(
            c.n_future, c.hidden_size, c.num_layers, c.quantiles, c.dropout
        )
    return LSTMForecaster(encoder, head, c.horizon, c.one_step_loss)
