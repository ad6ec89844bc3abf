"""The exported graphs: small modules with plain tensor inputs and outputs around a model.

Each wraps a copy of the trained network whose LSTMs are :class:`~lstmkit.export.lstm_op.
ExportLSTM` and calls the model's own methods (``forward``, ``encode``, ``decode_step``,
``forecast``), so the graphs compute what the PyTorch model computes. ``specs`` lists the
input and output names with their dynamic axes.

Legend: B batch, T time, S source length, H hidden_size, L num_layers, V vocabulary, M memory
width (the encoder's D*H), K horizon, Q quantiles, P past and F future covariates.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from lstmkit.export.lstm_op import replace_lstms
from lstmkit.models.attention import Memory
from lstmkit.models.decoder import DecoderState


def export_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with its LSTMs in ONNX form."""
    return replace_lstms(copy.deepcopy(model).cpu().eval())


class _Graph(nn.Module):
    """Stays in eval mode: torch.onnx.export restores the mode it found, and a graph built in
    training mode would then run its model's dropout when called from Python."""

    def train(self, mode: bool = True) -> _Graph:
        return super().train(False)


class LMGraph(_Graph):
    """The language model over a sequence, or one step, with its state in and out.

    Inputs: ``ids`` (B, T) int64 (``step``: (B,)), then per layer k ``h0_l{k}`` (1, B, W_k) and,
    for the LSTM cell, ``c0_l{k}``. Outputs: ``logits`` (B, T, V) (``step``: (B, V)) and the
    states after the last step, ``h1_l{k}``, ``c1_l{k}``.
    """

    def __init__(self, model: nn.Module, step: bool) -> None:
        super().__init__()
        self.model, self.step = export_copy(model), step
        self.lstm = model.config.cell == "lstm"

    def forward(self, ids: Tensor, *flat: Tensor) -> tuple[Tensor, ...]:
        n = 2 if self.lstm else 1
        state = [tuple(flat[k : k + n]) if self.lstm else flat[k] for k in range(0, len(flat), n)]
        logits, new_state = self.model(ids.unsqueeze(1) if self.step else ids, state)
        out = [t for s in new_state for t in (s if self.lstm else (s,))]
        return (logits[:, 0] if self.step else logits, *out)

    def specs(self) -> tuple[dict, dict]:
        c = self.model.config
        widths = [c.hidden_size] * (c.num_layers - 1) + [
            c.embedding_size if c.tie_weights else c.hidden_size
        ]
        ins = {"ids": {0: "B"} if self.step else {0: "B", 1: "T"}}
        outs = {"logits": {0: "B"} if self.step else {0: "B", 1: "T"}}
        for k in range(len(widths)):
            for kind in ("h", "c") if self.lstm else ("h",):
                ins[f"{kind}0_l{k}"] = {1: "B"}
                outs[f"{kind}1_l{k}"] = {1: "B"}
        return ins, outs

    def example(self, batch: int = 2, steps: int = 3) -> tuple[Tensor, ...]:
        c = self.model.config
        widths = [c.hidden_size] * (c.num_layers - 1) + [
            c.embedding_size if c.tie_weights else c.hidden_size
        ]
        ids = torch.randint(0, c.vocab_size, (batch,) if self.step else (batch, steps))
        states = [torch.zeros(1, batch, w) for w in widths for _ in range(2 if self.lstm else 1)]
        return (ids, *states)


class EncoderGraph(_Graph):
    """The seq2seq encoder: ``src`` (B, S) int64 and ``src_lengths`` (B,) int64 →
    ``memory_states`` (B, S, M), ``memory_keys`` (B, S, A) (with attention), ``memory_mask``
    (B, S) bool, and the decoder's initial ``h``, ``c`` (L, B, H) and ``feed`` (B, H) (input
    feeding)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = export_copy(model)
        self.attention = model.attention is not None
        self.feeding = model.decoder.input_feeding

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, ...]:
        memory, state = self.model.encode(src, src_lengths)
        keys = [memory.keys + 0] if self.attention else []  # + 0: never the states' own name
        feed = [state.feed] if self.feeding else []
        return (memory.states, *keys, memory.mask, state.h, state.c, *feed)

    def specs(self) -> tuple[dict, dict]:
        ins = {"src": {0: "B", 1: "S"}, "src_lengths": {0: "B"}}
        outs = {"memory_states": {0: "B", 1: "S"}}
        if self.attention:
            outs["memory_keys"] = {0: "B", 1: "S"}
        outs |= {"memory_mask": {0: "B", 1: "S"}, "h": {1: "B"}, "c": {1: "B"}}
        if self.feeding:
            outs["feed"] = {0: "B"}
        return ins, outs

    def example(self) -> tuple[Tensor, ...]:
        vocab = self.model.encoder.embed.num_embeddings
        return torch.randint(4, vocab, (3, 5)), torch.tensor([5, 2, 4])


class DecoderStepGraph(_Graph):
    """One decoder step: ``tokens`` (B,) int64, ``h``, ``c`` (L, B, H), ``feed`` (B, H) (input
    feeding), ``memory_states``, ``memory_keys`` (with attention), ``memory_mask`` → ``logits``
    (B, V), the new ``h``, ``c``, ``feed`` and this step's ``attention`` (B, S)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = export_copy(model)
        self.attention = model.attention is not None
        self.feeding = model.decoder.input_feeding

    def forward(self, tokens: Tensor, h: Tensor, c: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        rest = list(rest)
        feed = rest.pop(0) if self.feeding else None
        states = rest.pop(0)
        keys = rest.pop(0) if self.attention else None
        mask = rest.pop(0)
        logits, state = self.model.decode_step(
            tokens, DecoderState(h, c, feed), Memory(states, keys, mask)
        )
        extra = ([state.feed] if self.feeding else []) + ([state.weights] if self.attention else [])
        return (logits, state.h, state.c, *extra)

    def specs(self) -> tuple[dict, dict]:
        ins = {"tokens": {0: "B"}, "h": {1: "B"}, "c": {1: "B"}}
        if self.feeding:
            ins["feed"] = {0: "B"}
        ins["memory_states"] = {0: "B", 1: "S"}
        if self.attention:
            ins["memory_keys"] = {0: "B", 1: "S"}
        ins["memory_mask"] = {0: "B", 1: "S"}
        outs = {"logits": {0: "B"}, "h_out": {1: "B"}, "c_out": {1: "B"}}
        if self.feeding:
            outs["feed_out"] = {0: "B"}
        if self.attention:
            outs["attention"] = {0: "B", 1: "S"}
        return ins, outs

    def example(self, encoder: EncoderGraph) -> tuple[Tensor, ...]:
        with torch.no_grad():
            memory = encoder(*encoder.example())
        B = memory[0].shape[0]
        k = 2 if self.attention else 1
        mask, h, c = memory[k], memory[k + 1], memory[k + 2]
        tokens = torch.full((B,), self.model.bos_id, dtype=torch.long)
        feed = [memory[k + 3]] if self.feeding else []
        return (tokens, h, c, *feed, *memory[:k], mask)


class ForecastGraph(_Graph):
    """The forecaster on window-normalised inputs: ``y`` (B, T), ``past`` (B, T, P),
    ``future_hist`` (B, T, F), ``future_horizon`` (B, K, F) (the covariates only when the
    model has them) → ``quantiles`` (B, K, Q), as :meth:`LSTMForecaster.forecast`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = export_copy(model)
        self.n_past, self.n_future = model.n_past, model.n_future

    def forward(self, y: Tensor, *covariates: Tensor) -> Tensor:
        rest = list(covariates)
        past = rest.pop(0) if self.n_past else None
        future_hist = rest.pop(0) if self.n_future else None
        future_horizon = rest.pop(0) if self.n_future else None
        return self.model.forecast(y, past, future_hist, future_horizon)

    def specs(self) -> tuple[dict, dict]:
        ins = {"y": {0: "B", 1: "T"}}
        if self.n_past:
            ins["past"] = {0: "B", 1: "T"}
        if self.n_future:
            ins |= {"future_hist": {0: "B", 1: "T"}, "future_horizon": {0: "B"}}
        return ins, {"quantiles": {0: "B"}}

    def example(self, batch: int = 2, steps: int = 6) -> tuple[Tensor, ...]:
        K = self.model.horizon
        out = [torch.randn(batch, steps)]
        if self.n_past:
            out.append(torch.randn(batch, steps, self.n_past))
        if self.n_future:
            out += [torch.randn(batch, steps, self.n_future), torch.randn(batch, K, self.n_future)]
        return tuple(out)


class WindowForecastGraph(_Graph):
    """The forecaster from a series' standardised history, with the window arithmetic of
    :func:`lstmkit.forecast.windows.make_windows` and :meth:`Window.undo` inside the graph.

    Inputs: ``history`` (B, W + d) the last look-back W plus d values of the series-standardised
    target (d: the residual's lag, 0 without residuals), ``past`` (B, W, P) the user's
    standardised past covariates, ``future_hist`` (B, W, F) and ``future_horizon`` (B, K, F)
    the standardised future covariates with the calendar features (each only when the model
    has them). Outputs: ``quantiles`` (B, K, Q) in series-standardised units and ``base``
    (B, K) the seasonal naive forecast added back (zeros without residuals), which the
    validation-fitted adjustment reads.

    Args:
        model: the fitted network.
        lookback, lag: W and d; ``window_norm``: the estimator's setting.
    """

    def __init__(self, model: nn.Module, lookback: int, lag: int, window_norm: bool) -> None:
        super().__init__()
        from lstmkit.forecast.windows import WINDOW_SCALE_FLOOR

        self.inner = ForecastGraph(model)
        self.lookback, self.lag, self.window_norm = lookback, lag, window_norm
        self.floor = WINDOW_SCALE_FLOOR
        self.n_user_past = model.n_past - (1 if lag else 0)  # the level is the graph's own

    def forward(self, history: Tensor, *covariates: Tensor) -> tuple[Tensor, Tensor]:
        rest = list(covariates)
        past = rest.pop(0) if self.n_user_past else None
        W, d, K = self.lookback, self.lag, self.inner.model.horizon
        hist = history[:, d:]  # (B, W)
        base = torch.zeros_like(history[:, :1]).expand(-1, K)  # (B, K)
        if d:
            level = (hist - hist.mean(1, keepdim=True)).unsqueeze(-1)  # (B, W, 1)
            past = level if past is None else torch.cat([past, level], -1)
            hist = hist - history[:, :W]
            base = history[:, [W + k % d for k in range(K)]]  # (B, K)
        if self.window_norm and d:  # differences: scaled, not centred (as make_windows)
            loc = torch.zeros_like(hist[:, :1])
            scale = hist.pow(2).mean(1, keepdim=True).sqrt().clamp_min(self.floor)  # (B, 1)
        elif self.window_norm:
            loc = hist.mean(1, keepdim=True)
            scale = hist.std(1, keepdim=True, correction=0).clamp_min(self.floor)
        else:
            loc, scale = torch.zeros_like(hist[:, :1]), torch.ones_like(hist[:, :1])
        inputs = [(hist - loc) / scale] + ([past] if past is not None else []) + rest
        q = self.inner(*inputs)  # (B, K, Q) window-normalised
        return q * scale.unsqueeze(-1) + loc.unsqueeze(-1) + base.unsqueeze(-1), base

    def specs(self) -> tuple[dict, dict]:
        ins = {"history": {0: "B"}}
        if self.n_user_past:
            ins["past"] = {0: "B"}
        if self.inner.n_future:
            ins |= {"future_hist": {0: "B"}, "future_horizon": {0: "B"}}
        return ins, {"quantiles": {0: "B"}, "base": {0: "B"}}

    def example(self, batch: int = 2) -> tuple[Tensor, ...]:
        W, K, F = self.lookback, self.inner.model.horizon, self.inner.n_future
        out = [torch.randn(batch, W + self.lag)]
        if self.n_user_past:
            out.append(torch.randn(batch, W, self.n_user_past))
        if F:
            out += [torch.randn(batch, W, F), torch.randn(batch, K, F)]
        return tuple(out)
