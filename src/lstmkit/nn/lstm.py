r"""The LSTM layer: torch.nn.LSTM's interface, the memory cell written out, its gates visible.

For each layer and direction, with :math:`x_t` the input and :math:`h_{t-1}, c_{t-1}` the state::

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate: how much of g_t to add
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate: how much of c_{t-1} to keep
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   candidate values
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate: how much of tanh(c_t) to show
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                    cell state: the long-term memory
    h_t = o_t ⊙ tanh(c_t)                               hidden state and output

With ``proj_size > 0``, ``h_t = W_hr (o_t ⊙ tanh(c_t))``. Variants (explicit backend):
``peephole`` adds ``w_ci ⊙ c_{t-1}`` to i, ``w_cf ⊙ c_{t-1}`` to f and ``w_co ⊙ c_t`` to o;
``layer_norm`` normalises ``W_i· x_t`` and ``W_h· h_{t-1}`` (each over all 4H gate rows) and
``c_t`` before its tanh; ``recurrent_dropout`` multiplies ``h_{t-1}`` by one mask per sequence
before ``W_h·``; ``zoneout`` keeps each unit of ``c_t`` and ``h_t`` at its previous value with
probability p; ``weight_drop`` applies DropConnect to ``W_h·``.

Legend: B batch, T time, I input_size, H hidden_size, R proj_size or H, L num_layers,
D directions (2 if bidirectional else 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import _VF, Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit.nn.explicit import run_explicit
from lstmkit.nn.validation import (
    check_constructor,
    check_input,
    check_lengths,
    check_state,
    check_unit_interval,
)

BACKENDS = ("auto", "fused", "explicit")


class LSTM(nn.LSTM):
    """A multi-layer LSTM with torch.nn.LSTM's arguments, parameters and outputs, plus gate traces.

    Two backends compute the same function: ``"fused"`` is torch's own kernel (oneDNN on CPU,
    cuDNN on GPU); ``"explicit"`` is lstmkit's hand-written recurrence, which can return the gate
    trace and runs the variants. ``"auto"`` takes fused whenever nothing needs the explicit cell.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size:
            as torch.nn.LSTM.
        backend: ``"auto"``, ``"fused"`` or ``"explicit"``.
        forget_bias: if set, the forget gate's bias starts at this value (``bias_ih``; ``bias_hh``
            at 0), as Jozefowicz et al. (2015) recommend (1.0).
        layer_norm: layer-normalised gates and cell (Ba et al. 2016).
        peephole: peephole connections from the cell to the gates (Gers & Schmidhuber 2000).
        recurrent_dropout: probability of dropping a unit of h_{t-1}, one mask per sequence
            (Gal & Ghahramani 2016); training only.
        zoneout: probability of a unit of c_t and h_t keeping its previous value
            (Krueger et al. 2017); in eval the expectation is used.
        weight_drop: DropConnect probability on the recurrent weights (Merity et al. 2018);
            training only; works with both backends.

    Example:
        >>> lstm = LSTM(8, 16, batch_first=True)
        >>> out, (h, c), trace = lstm(torch.randn(2, 5, 8), lengths=[5, 3], return_gates=True)
        >>> out.shape, trace.f.shape
        (torch.Size([2, 5, 16]), torch.Size([1, 2, 5, 16]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        backend: str = "auto",
        forget_bias: float | None = None,
        layer_norm: bool = False,
        peephole: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        weight_drop: float = 0.0,
        device=None,
        dtype=None,
    ) -> None:
        check_constructor(input_size, hidden_size, num_layers, dropout, proj_size)
        if backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
        check_unit_interval("recurrent_dropout", recurrent_dropout, closed=False)
        check_unit_interval("zoneout", zoneout, closed=False)
        check_unit_interval("weight_drop", weight_drop, closed=False)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device=device,
            dtype=dtype,
        )
        self.backend = backend
        self.forget_bias = forget_bias
        self.layer_norm = layer_norm
        self.peephole = peephole
        self.recurrent_dropout = recurrent_dropout
        self.zoneout = zoneout
        self.weight_drop = weight_drop
        if backend == "fused" and self._needs_explicit(training=True):
            raise ValueError(
                "backend: 'fused' cannot run layer_norm, peephole, zoneout or recurrent_dropout; "
                "use backend='explicit' or 'auto'"
            )
        self._add_variant_parameters(device, dtype)
        self._reset_variants()

    # ---------------------------------------------------------------- parameters
    def _suffixes(self) -> list[str]:
        dirs = ["", "_reverse"] if self.bidirectional else [""]
        return [f"_l{layer}{d}" for layer in range(self.num_layers) for d in dirs]

    def _add_variant_parameters(self, device, dtype) -> None:
        kw = {"device": device, "dtype": dtype}
        H = self.hidden_size
        for sfx in self._suffixes():
            if self.peephole:
                # rows (i, f, o): w_ci, w_cf act on c_{t-1}; w_co on c_t
                setattr(self, f"weight_ch{sfx}", nn.Parameter(torch.empty(3, H, **kw)))
            if self.layer_norm:
                for name, size in (("ih", 4 * H), ("hh", 4 * H), ("c", H)):
                    setattr(self, f"ln_{name}_weight{sfx}", nn.Parameter(torch.empty(size, **kw)))
                    setattr(self, f"ln_{name}_bias{sfx}", nn.Parameter(torch.empty(size, **kw)))

    def _reset_variants(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        H = self.hidden_size
        with torch.no_grad():
            for sfx in self._suffixes():
                if self.peephole:
                    getattr(self, f"weight_ch{sfx}").uniform_(-bound, bound)
                if self.layer_norm:
                    for name in ("ih", "hh", "c"):
                        getattr(self, f"ln_{name}_weight{sfx}").fill_(1.0)
                        getattr(self, f"ln_{name}_bias{sfx}").zero_()
                if self.forget_bias is not None and self.bias:
                    getattr(self, f"bias_ih{sfx}")[H : 2 * H].fill_(self.forget_bias)
                    getattr(self, f"bias_hh{sfx}")[H : 2 * H].zero_()

    def reset_parameters(self) -> None:
        """Re-initialise as torch.nn.LSTM does, then the variants and the forget-gate bias."""
        super().reset_parameters()
        if hasattr(self, "forget_bias"):  # nn.LSTM.__init__ calls this before our attributes exist
            self._reset_variants()

    def extra_repr(self) -> str:
        text = super().extra_repr() + f", backend={self.backend!r}"
        for name in ("layer_norm", "peephole"):
            if getattr(self, name):
                text += f", {name}=True"
        for name in ("forget_bias", "recurrent_dropout", "zoneout", "weight_drop"):
            if getattr(self, name):
                text += f", {name}={getattr(self, name)}"
        return text

    # ---------------------------------------------------------------- backend choice
    def _needs_explicit(self, training: bool) -> bool:
        return bool(
            self.layer_norm
            or self.peephole
            or self.zoneout > 0
            or (self.recurrent_dropout > 0 and training)
        )

    def resolve_backend(self, return_gates: bool = False) -> str:
        """The backend a forward call would use now: ``"fused"`` or ``"explicit"`` (a training
        call with variable ``lengths`` on CPU takes the explicit one under ``"auto"``: see
        :meth:`_explicit_is_faster`)."""
        if self.backend == "fused":
            if return_gates:
                raise ValueError(
                    "return_gates: the fused backend cannot return the gate trace; "
                    "use backend='explicit' or 'auto'"
                )
            return "fused"
        if self.backend == "explicit" or return_gates or self._needs_explicit(self.training):
            return "explicit"
        return "fused"

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: tuple[Tensor, Tensor] | None = None,
        lengths: Tensor | Sequence[int] | None = None,
        return_gates: bool = False,
    ):
        """Run the LSTM over a batch of sequences.

        Args:
            input: (T, B, I), or (B, T, I) if ``batch_first``, or unbatched (T, I), or a
                PackedSequence.
            hx: optional initial ``(h_0, c_0)``, shaped (L*D, B, R) and (L*D, B, H); zeros if None.
            lengths: optional (B,) true lengths of a padded batch, in [1, T], any order.
            return_gates: also return the :class:`GateTrace` (uses the explicit backend).

        Returns:
            ``(output, (h_n, c_n))``, or ``(output, (h_n, c_n), trace)`` with ``return_gates``;
            output is (T, B, D*R) (batch_first: (B, T, D*R)), zero at padded positions; h_n and
            c_n are taken at each sequence's own last step.

        Raises:
            ValueError: naming ``input``, ``hx`` or ``lengths`` when a shape or value is wrong.
        """
        backend = self.resolve_backend(return_gates)
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError("lengths: must be None when input is a PackedSequence")
            if backend == "fused":
                return self._packed_fused(input, hx)
            return self._packed_explicit(input, hx, return_gates)
        check_input(input, self.input_size, self._weight_dtype(), _autocast_dtype(input))
        unbatched = input.dim() == 2
        x = (
            input.unsqueeze(0)
            if unbatched
            else (input if self.batch_first else input.transpose(0, 1))
        )
        B, T = x.shape[:2]  # x is (B, T, I)
        lengths = check_lengths(lengths, B, T)
        hx = self._initial_state(hx, x, unbatched)
        if backend == "fused" and self._explicit_is_faster(x, lengths):
            backend = "explicit"
        if backend == "fused":
            out, h_n, c_n = self._run_fused(x, hx, lengths)
            trace = None
        else:
            out, h_n, c_n, trace = self._run_explicit(x, hx, lengths, return_gates)
        if unbatched:
            out, h_n, c_n = out.squeeze(0), h_n.squeeze(1), c_n.squeeze(1)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n), trace) if return_gates else (out, (h_n, c_n))

    def step(self, x: Tensor, hx: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One time step for a decoder's inner loop: x (B, I) and ``(h, c)`` each (L, B, H) →
        the top layer's output (B, H) and the new ``(h, c)``.

        :meth:`forward`'s one-step path (torch's LSTM cell per layer) without its argument
        checks and sequence bookkeeping, which cost more than the cell itself at small sizes;
        callers build ``x`` and ``hx`` themselves. Where the cell path does not apply
        (bidirectional, projections, dropout between layers in training, the explicit backend's
        options), or forward hooks are registered, this is a call of the module on one step.
        """
        hooked = self._forward_hooks or self._forward_pre_hooks  # e.g. inspect's gate recording
        if not hooked and self.resolve_backend() == "fused" and self._cell_step_ok():
            out, h, c = self._run_cell_step(x.unsqueeze(1), hx)
            return out[:, 0], (h, c)
        out, state = self(x.unsqueeze(1 if self.batch_first else 0), hx)
        return (out[:, 0] if self.batch_first else out[0]), state

    def run_layer(
        self, k: int, x: Tensor, hx: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Layer ``k`` alone over x (B, T, I) from ``(h, c)`` each (B, H): its output (B, T, H)
        and final ``(h, c)``, torch's kernel (its cell at T = 1), no dropout.

        For a caller that applies its own dropout masks between layers, as the forecaster's
        decoder does to run a horizon's steps again with the masks it stepped with.

        Raises:
            ValueError: as :meth:`layer_weights`.
        """
        layer = self.layer_weights(k, "run_layer")
        if x.shape[1] == 1:
            h, c = _VF.lstm_cell(x[:, 0], hx, *layer)
            return h.unsqueeze(1), (h, c)
        out, h, c = _VF.lstm(
            x, (hx[0][None], hx[1][None]), layer, self.bias, 1, 0.0, self.training, False, True
        )
        return out, (h[0], c[0])

    def layer_weights(self, k: int, caller: str = "layer_weights") -> list[Tensor]:
        """Layer ``k``'s ``[w_ih, w_hh]`` (and ``[b_ih, b_hh]`` after them, with biases) as
        torch's kernel and ``torch.lstm_cell`` take them, for callers that run a layer
        themselves: :meth:`run_layer`, a decoder's inner loop.

        Raises:
            ValueError: ``k`` out of range, or an LSTM torch's kernel does not compute
                (bidirectional, projections, the explicit backend's variants, weight drop).
        """
        if not 0 <= k < self.num_layers:
            raise ValueError(f"k: expected a layer in [0, {self.num_layers}), got {k}")
        variant = self.backend == "explicit" or self._needs_explicit(True) or self.weight_drop
        if self.bidirectional or self.proj_size or variant:
            raise ValueError(
                f"{caller}: expected a plain unidirectional LSTM (torch's kernel), "
                "without projections, variants or weight drop"
            )
        names = [f"weight_ih_l{k}", f"weight_hh_l{k}"]
        names += [f"bias_ih_l{k}", f"bias_hh_l{k}"] if self.bias else []
        return [getattr(self, name) for name in names]

    def _weight_dtype(self) -> torch.dtype:
        return self.weight_ih_l0.dtype

    def _initial_state(self, hx, x: Tensor, unbatched: bool) -> tuple[Tensor, Tensor]:
        B = x.shape[0]
        LD = self.num_layers * (2 if self.bidirectional else 1)
        R = self.proj_size or self.hidden_size
        if hx is None:
            zeros = x.new_zeros
            return zeros(LD, B, R), zeros(LD, B, self.hidden_size)
        h0, c0 = check_state(hx, (LD, B, R), (LD, B, self.hidden_size), unbatched)
        return (h0.unsqueeze(1), c0.unsqueeze(1)) if unbatched else (h0, c0)

    def _packed_fused(self, packed: PackedSequence, hx):
        """torch's kernel on a PackedSequence; returns ``(output, (h_n, c_n))``."""
        x, _ = pad_packed_sequence(packed, batch_first=True)
        hx = self._initial_state(hx, x, unbatched=False)
        # torch's kernel reads packed data as it is; hx follows the caller's batch order.
        if packed.sorted_indices is not None:
            hx = (hx[0][:, packed.sorted_indices], hx[1][:, packed.sorted_indices])
        data, weights = packed.data, self._weights()
        dtype = _autocast_dtype(data)
        if dtype is not None:  # torch's autocast casts for the padded call, not this one
            data, weights = data.to(dtype), [w.to(dtype) for w in weights]
            hx = (hx[0].to(dtype), hx[1].to(dtype))
        data, h_n, c_n = _VF.lstm(
            data,
            packed.batch_sizes,
            hx,
            weights,
            self.bias,
            self.num_layers,
            self.dropout,
            self.training,
            self.bidirectional,
        )
        if packed.unsorted_indices is not None:
            h_n, c_n = h_n[:, packed.unsorted_indices], c_n[:, packed.unsorted_indices]
        out = PackedSequence(
            data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        )
        return out, (h_n, c_n)

    def _packed_explicit(self, packed: PackedSequence, hx, return_gates: bool):
        """lstmkit's recurrence on a PackedSequence, padded and packed again; returns
        ``(output, (h_n, c_n))``, with the trace after them if ``return_gates``."""
        x, lengths = pad_packed_sequence(packed, batch_first=True)
        hx = self._initial_state(hx, x, unbatched=False)
        out, h_n, c_n, trace = self._run_explicit(x, hx, lengths.tolist(), return_gates)
        order = packed.sorted_indices
        sorted_out = out if order is None else out[order]
        sorted_len = lengths if order is None else lengths[order]
        data = pack_padded_sequence(sorted_out, sorted_len, batch_first=True).data
        out = PackedSequence(
            data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        )
        return (out, (h_n, c_n), trace) if return_gates else (out, (h_n, c_n))

    def recurrent_weight(self, sfx: str) -> Tensor:
        """``weight_hh`` of one layer and direction, with DropConnect applied in training."""
        w = getattr(self, f"weight_hh{sfx}")
        if self.weight_drop > 0 and self.training:
            keep = 1.0 - self.weight_drop
            w = w * torch.empty_like(w).bernoulli_(keep).div_(keep)
        return w

    def _weights(self) -> list[Tensor]:
        """The flat weight list torch's kernel takes, weight-drop applied."""
        return [
            self.recurrent_weight(name[len("weight_hh") :])
            if name.startswith("weight_hh")
            else getattr(self, name)
            for name in self._flat_weights_names
        ]

    def _run_fused(self, x: Tensor, hx, lengths: list[int] | None):
        """torch's own kernel on (B, T, I); returns output (B, T, D*R), h_n, c_n."""
        if x.shape[1] == 1 and self._cell_step_ok():
            return self._run_cell_step(x, hx)
        if lengths is None:
            out, h_n, c_n = _VF.lstm(
                x,
                hx,
                self._weights(),
                self.bias,
                self.num_layers,
                self.dropout,
                self.training,
                self.bidirectional,
                True,
            )
            return out, h_n, c_n
        packed = pack_padded_sequence(
            x, torch.tensor(lengths), batch_first=True, enforce_sorted=False
        )
        out, (h_n, c_n) = self._packed_fused(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, h_n, c_n

    def _explicit_is_faster(self, x: Tensor, lengths: list[int] | None) -> bool:
        """Under ``backend="auto"``: training on CPU with variable lengths goes explicit.

        torch's packed-sequence backward zero-fills the whole gate gradient at every step; the
        explicit backend masks instead, which trains no slower, and faster on some CPUs. In
        inference the fused kernel stays faster, so only training switches (the LSTM layer
        benchmark page has the measurements). Under autocast too: the explicit backend's input
        projections in bfloat16 and its float32 recurrence train faster than torch's bfloat16
        kernel (the mixed-precision benchmark page).
        """
        return (
            self.backend == "auto"
            and lengths is not None
            and min(lengths) < x.shape[1]
            and self.training
            and torch.is_grad_enabled()
            and x.device.type == "cpu"
        )

    def _cell_step_ok(self) -> bool:
        """Whether one step may run as torch's LSTM cell per layer (see :meth:`_run_cell_step`)."""
        return not (self.bidirectional or self.proj_size or (self.training and self.dropout > 0))

    def _run_cell_step(self, x: Tensor, hx):
        """One time step (B, 1, I) as torch's LSTM cell, layer by layer: the same arithmetic as
        the sequence kernel, which costs far more at T = 1 (a decoder's or a stream's step; the
        LSTM layer benchmark page has the measurements).
        """
        weights = self._weights()  # per layer: w_ih, w_hh[, b_ih, b_hh]
        per_layer = len(weights) // self.num_layers
        inp, hs, cs = x[:, 0], [], []  # inp (B, I)
        for k in range(self.num_layers):
            inp, c = _VF.lstm_cell(inp, (hx[0][k], hx[1][k]), *weights[k * per_layer :][:per_layer])
            hs.append(inp)  # (B, H)
            cs.append(c)
        return inp.unsqueeze(1), torch.stack(hs), torch.stack(cs)

    def _run_explicit(self, x: Tensor, hx, lengths: list[int] | None, return_gates: bool):
        """lstmkit's recurrence on (B, T, I); returns output (B, T, D*R), h_n, c_n, trace.

        Under ``torch.autocast`` the input projections' matrix products run in its dtype and
        the rest as it would without, in the weights' dtype: its kernels (and the variants it
        exists for) are written for float32 and float64.
        """
        products = _autocast_dtype(x)
        if products is None:
            return run_explicit(self, x, hx, lengths, return_gates)
        dtype = self._weight_dtype()
        with torch.autocast(x.device.type, enabled=False):
            hx = (hx[0].to(dtype), hx[1].to(dtype))
            return run_explicit(self, x.to(dtype), hx, lengths, return_gates, products)


def _autocast_dtype(x: Tensor) -> torch.dtype | None:
    """The dtype ``torch.autocast`` computes in on ``x``'s device, or None outside it."""
    kind = x.device.type
    return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None
