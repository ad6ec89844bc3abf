"""The forecaster's heads: what turns the encoder's context ``(h, c)`` into the horizon.

* :class:`AutoregressiveDecoder`: an LSTM started from the context that emits one step at a
  time, fed its previous point forecast and that step's future covariates.
* :class:`DirectHead`: one linear layer from the context's top layer and the horizon's future
  covariates to every step at once.

Training feeds back, per series and step, the truth with probability ``teacher_forcing`` and
otherwise the model's own median, detached (:meth:`lstmkit.models.forecaster.LSTMForecaster.loss`).
The default is 0: free running, so training sees its own errors as inference will (exposure bias,
Bengio et al. 2015). Detaching, as :meth:`lstmkit.models.seq2seq.Decoder.teacher_forced` does with
its argmax, trains each step to forecast from whatever it is given without backpropagating through
the chain of K fed-back predictions, a second recurrence outside the LSTM's gates where gradients
can grow unchecked.

Legend: B batch, K horizon, F future covariates (n_future), Q quantiles, H hidden_size,
L num_layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lstmkit.models.quantiles import check_quantiles, monotone_quantiles
from lstmkit.nn import LSTM

State = tuple[Tensor, Tensor]  # (h, c), each (L, B, H)


class QuantileHead(nn.Module):
    """What both heads share: the quantile levels (the median's index among them), the width of
    the context and of the future covariates they read, and dropout before their output layer."""

    def __init__(
        self, n_future: int, hidden_size: int, quantiles: Sequence[float], dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.quantiles = check_quantiles(quantiles)
        self.median_index = self.quantiles.index(0.5)
        self.n_future, self.hidden_size = n_future, hidden_size
        self.dropout = nn.Dropout(dropout)


class AutoregressiveDecoder(QuantileHead):
    """An LSTM that emits one step's Q quantiles from the previous point value and covariates."""

    def __init__(
        self,
        n_future: int,
        hidden_size: int,
        num_layers: int,
        quantiles: Sequence[float],
        dropout: float = 0.0,
    ) -> None:
        super().__init__(n_future, hidden_size, quantiles, dropout)
        self.num_layers = num_layers
        between = dropout if num_layers > 1 else 0.0  # torch warns about dropout after the top
        self.lstm = LSTM(1 + n_future, hidden_size, num_layers, batch_first=True, dropout=between)
        self.output = nn.Linear(hidden_size, len(self.quantiles))

    def step(self, prev: Tensor, future_t: Tensor | None, state: State) -> tuple[Tensor, State]:
        """Previous point values (B,), future covariates (B, F) or None, state ``(h, c)`` each
        (L, B, H) → quantiles (B, Q) and the new state."""
        out, state = self.lstm.step(self._input(prev, future_t), state)  # (B, H)
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
        records (training), the steps run once without autograd to find those inputs
        (:meth:`_free_run`), and the LSTM and the output layer then run once over all K of
        them: one sequence call instead of K one-step calls and their K backward steps (same
        values, same gradients; parity tested). Dropout in training draws its masks for the
        whole horizon first (:meth:`_masks`), so that both runs drop the same units. A
        forward-only call (inference) runs the steps alone.
        """
        if not torch.is_grad_enabled():
            return self._steps(last, future, state, horizon, target, teacher_forcing)
        masks = self._masks(last.shape[0], horizon, last) if self._dropout_active() else None
        with torch.no_grad():
            fed = self._free_run(last, future, state, horizon, target, teacher_forcing, masks)
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

    def _steps(self, last, future, state, horizon, target, teacher_forcing) -> Tensor:
        """The step loop: quantiles (B, K, Q), each step fed the previous median."""
        prev, steps = last, []
        for k in range(horizon):
            q, state = self.step(prev, None if future is None else future[:, k], state)
            steps.append(q)
            prev = self._fed(q[:, self.median_index].detach(), target, k, teacher_forcing)
        return torch.stack(steps, 1)

    def _free_run(self, last, future, state, horizon, target, teacher_forcing, masks):
        """The value fed into each step (B, K), as :meth:`_steps` finds it (with ``masks``, the
        dropout :meth:`_masks` drew, for the replay to apply again), computing only what
        that needs: each layer's cell (``torch.lstm_cell``, the kernel :meth:`step` runs) and the
        output layer's median row, without the other quantiles or any module call. The replay
        needs nothing else, and costs about half the step loop (the forecaster training
        benchmark page has the measurements). It runs in the weights' dtype, outside
        ``torch.autocast`` (a bfloat16 training step's state is cast back), so that what is fed
        back is found at full precision."""
        with torch.autocast(last.device.type, enabled=False):
            layers = [self.lstm.layer_weights(k) for k in range(self.num_layers)]
            w, b = self.output.weight[self.median_index], self.output.bias[self.median_index]
            hs, cs = list(state[0].to(w.dtype)), list(state[1].to(w.dtype))
            prev, fed = last, []
            for k in range(horizon):
                fed.append(prev)
                x = self._input(prev, None if future is None else future[:, k])
                for layer, weights in enumerate(layers):
                    hs[layer], cs[layer] = torch.lstm_cell(x, (hs[layer], cs[layer]), *weights)
                    mask = None if masks is None else masks[layer]
                    x = hs[layer] if mask is None else hs[layer] * mask[:, k]
                median = torch.addmv(b, x, w)  # monotone_quantiles keeps the median as it is
                prev = self._fed(median, target, k, teacher_forcing)
            return torch.stack(fed, 1)

    @staticmethod
    def _fed(median: Tensor, target: Tensor | None, k: int, teacher_forcing: float) -> Tensor:
        """What step k + 1 reads (B,): per series, the truth ``target[:, k]`` with probability
        ``teacher_forcing``, else the median."""
        if target is None or teacher_forcing <= 0:
            return median
        truth = torch.rand(median.shape, device=median.device) < teacher_forcing
        return torch.where(truth, target[:, k], median)

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

    @staticmethod
    def _input(prev: Tensor, future_t: Tensor | None) -> Tensor:
        """A step's input ``[ŷ, future]`` (B, 1 + F) from the previous values (B,)."""
        x = prev.unsqueeze(-1)  # (B, 1)
        return x if future_t is None else torch.cat([x, future_t], -1)

    def _dropout_active(self) -> bool:
        """Whether a dropout mask would be drawn (training with p > 0, here or between layers)."""
        return self.training and (self.dropout.p > 0 or self.lstm.dropout > 0)


class DirectHead(QuantileHead):
    """One linear layer from the context's top layer and the horizon's covariates to K × Q."""

    def __init__(
        self,
        n_future: int,
        hidden_size: int,
        horizon: int,
        quantiles: Sequence[float],
        dropout: float = 0.0,
    ) -> None:
        super().__init__(n_future, hidden_size, quantiles, dropout)
        self.horizon = horizon
        Q = len(self.quantiles)
        self.output = nn.Linear(hidden_size + horizon * n_future, horizon * Q)

    def forward(self, h_top: Tensor, future: Tensor | None) -> Tensor:
        """Top-layer context (B, H) and future covariates (B, K, F) or None → (B, K, Q)."""
        x = self.dropout(h_top)
        if future is not None:
            x = torch.cat([x, future.flatten(1)], -1)  # (B, H + K*F)
        raw = self.output(x).view(x.shape[0], self.horizon, len(self.quantiles))  # (B, K, Q)
        return monotone_quantiles(raw, self.median_index)
