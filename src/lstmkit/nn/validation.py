"""Argument checks for the recurrent layers: every message names the argument, what was expected
and what came."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def check_unit_interval(name: str, value: float, closed: bool) -> None:
    """``value`` must be a probability in [0, 1] (``closed``) or [0, 1)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and (0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0)
    if not ok:
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name}: expected a probability in {interval}, got {value!r}")


def check_input(
    x: Tensor, input_size: int, dtype: torch.dtype, autocast: torch.dtype | None = None
) -> None:
    """A padded batch: 3-D (or unbatched 2-D), floating point, last dimension ``input_size``;
    in ``dtype``, or in ``autocast``'s (under ``torch.autocast``) when given."""
    if not isinstance(x, Tensor):
        raise ValueError(
            f"input: expected a torch.Tensor or PackedSequence, got {type(x).__name__}"
        )
    if x.dim() not in (2, 3):
        raise ValueError(
            f"input: expected a 3-D tensor (T, B, input_size) or (B, T, input_size), "
            f"or 2-D (T, input_size) unbatched, got {x.dim()}-D of shape {_shape(x)}"
        )
    if not x.is_floating_point():
        raise ValueError(f"input: expected a floating-point tensor ({dtype}), got {x.dtype}")
    if x.dtype != dtype and x.dtype != autocast:
        raise ValueError(f"input: expected dtype {dtype} (the parameters' dtype), got {x.dtype}")
    if x.shape[-1] != input_size:
        raise ValueError(
            f"input: expected last dimension input_size={input_size}, got shape {_shape(x)}"
        )
    if x.dim() == 3 and 0 in x.shape[:2]:
        raise ValueError(
            f"input: expected at least one sequence and one step, got shape {_shape(x)}"
        )


def check_lengths(
    lengths: Tensor | Sequence[int] | None, batch: int, steps: int
) -> list[int] | None:
    """Lengths of a padded batch as a list of ints in [1, steps], one per sequence."""
    if lengths is None:
        return None
    if isinstance(lengths, Tensor):
        if lengths.dim() != 1:
            raise ValueError(
                f"lengths: expected a 1-D tensor of {batch} lengths, got shape {_shape(lengths)}"
            )
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise ValueError(f"lengths: expected integer lengths, got dtype {lengths.dtype}")
        values = lengths.tolist()
    else:
        values = list(lengths)
        if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise ValueError(f"lengths: expected a sequence of integers, got {lengths!r}")
    if len(values) != batch:
        raise ValueError(f"lengths: expected {batch} lengths (one per sequence), got {len(values)}")
    bad = [v for v in values if not 1 <= v <= steps]
    if bad:
        raise ValueError(f"lengths: expected every length in [1, T={steps}], got {bad[0]}")
    return values


def check_state(hx, h_shape: tuple, c_shape: tuple, unbatched: bool) -> tuple[Tensor, Tensor]:
    """``hx = (h_0, c_0)`` with the given (batched) shapes; unbatched drops the batch dimension."""
    if not isinstance(hx, tuple | list) or len(hx) != 2:
        raise ValueError(f"hx: expected a tuple (h_0, c_0), got {type(hx).__name__}")
    out = []
    for name, t, shape in (("h_0", hx[0], h_shape), ("c_0", hx[1], c_shape)):
        want = (shape[0], shape[2]) if unbatched else shape
        if not isinstance(t, Tensor) or tuple(t.shape) != tuple(want):
            got = _shape(t) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"hx: expected {name} of shape {want}, got {got}")
        out.append(t)
    return out[0], out[1]


def check_constructor(input_size, hidden_size, num_layers, dropout, proj_size) -> None:
    """The size, depth, dropout and projection arguments of a recurrent layer."""
    for name, value in (
        ("input_size", input_size),
        ("hidden_size", hidden_size),
        ("num_layers", num_layers),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    check_unit_interval("dropout", dropout, closed=True)
    if (
        isinstance(proj_size, bool)
        or not isinstance(proj_size, int)
        or not 0 <= proj_size < hidden_size
    ):
        raise ValueError(
            f"proj_size: expected an integer in [0, hidden_size={hidden_size}), got {proj_size!r}"
        )
