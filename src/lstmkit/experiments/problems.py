"""The long-time-lag problems of Hochreiter & Schmidhuber (1997), generated on the fly.

Each problem draws batch-first tensors from a seeded :class:`torch.Generator`, says what the loss
of a batch is, and when a sequence counts as solved:

- ``adding`` (§5.4): pairs (value in [-1, 1], marker); the target is 0.5 + (X1 + X2)/4, solved
  when the absolute error at the sequence end is below 0.04.
- ``temporal-order`` (§5.6, task 6a): random distractors a-d with X or Y at two positions, one
  of four classes XX, XY, YX, YY read at the end; solved when the class is right.
- ``copy``: a few random symbols, a long blank gap, a delimiter, then the symbols recalled; a
  sequence is solved when every recalled symbol is right.

The paper draws each sequence's length from [T, T + T/10]; here every sequence of a batch has the
chosen length T, so that a batch is one (B, T, I) tensor and every cell sees the same lags.

Legend: B batch, T time, I input features (input_size), O outputs, N the steps scored (the
copy problem's N symbols).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

MIN_LENGTH = 10
ADDING_TOLERANCE = 0.04  # H&S 1997 §5.4: "processed correctly if the absolute error ... < 0.04"
TEMPORAL_SYMBOLS = ("E", "B", "a", "b", "c", "d", "X", "Y")
TEMPORAL_CLASSES = ("XX", "XY", "YX", "YY")  # the paper's Q, R, S, U
COPY_SYMBOLS = 8  # data symbols 1..8; 0 is the blank, 9 the delimiter
COPY_RECALL = 10  # symbols to remember (fewer for short sequences, see :func:`copy_count`)
IGNORE = -100  # cross-entropy's ignore_index: copy steps that have no target


@dataclass(frozen=True)
class Scores:
    """Per-batch sums, so that a test set can be scored in chunks."""

    loss: float  # summed over sequences
    error: float  # summed over sequences (adding: |error|; classes: wrong symbols per sequence)
    solved: int  # sequences solved
    count: int  # sequences


class Problem:
    """A long-time-lag problem at sequence length ``length``.

    Attributes:
        name: the problem's CLI name.
        input_size: I, features per step.
        output_size: O, the head's outputs per step.
        error_name: what ``error`` measures, for tables and plots.
    """

    name = ""
    input_size = 0
    output_size = 0
    error_name = ""

    def __init__(self, length: int) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length < MIN_LENGTH:
            raise ValueError(f"length: expected an integer >= {MIN_LENGTH}, got {length!r}")
        self.length = length

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """(inputs (B, T, I) float, targets); the targets' shape depends on the problem."""
        raise NotImplementedError

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """The mean training loss of a batch; ``outputs`` is the head's (B, T, O)."""
        raise NotImplementedError

    def score(self, outputs: Tensor, targets: Tensor) -> Scores:
        """Loss, error and solved sequences of a batch, summed."""
        raise NotImplementedError


class Adding(Problem):
    """H&S 1997 §5.4. Inputs (B, T, 2): value, marker (1 at X1 and X2, -1 at the first and last
    step unless marked, else 0). Target (B,) = 0.5 + (X1 + X2)/4 at the last step."""

    name, input_size, output_size, error_name = "adding", 2, 1, "mean |error|"

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        B, T = batch_size, self.length
        values = torch.rand(B, T, generator=generator) * 2 - 1  # (B, T)
        # X1: one of the first ten pairs. X2: one of the first T/2 - 1 still unmarked pairs,
        # i.e. the r-th unmarked pair counting from the start.
        first = torch.randint(0, 10, (B,), generator=generator)
        r = torch.randint(0, T // 2 - 1, (B,), generator=generator)
        second = torch.where(r < first, r, r + 1)
        markers = torch.zeros(B, T)
        markers[:, 0] = -1.0
        markers[:, -1] = -1.0
        rows = torch.arange(B)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        # "In the rare case where the first pair of the sequence gets marked, we set X1 to zero"
        values[rows[(first == 0) | (second == 0)], 0] = 0.0
        x1, x2 = values[rows, first], values[rows, second]
        return torch.stack([values, markers], dim=-1), 0.5 + (x1 + x2) / 4.0

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return F.mse_loss(outputs[:, -1, 0], targets)

    def score(self, outputs: Tensor, targets: Tensor) -> Scores:
        error = (outputs[:, -1, 0] - targets).abs()  # (B,)
        return Scores(
            loss=float((error**2).sum()),
            error=float(error.sum()),
            solved=int((error < ADDING_TOLERANCE).sum()),
            count=len(targets),
        )


class _Classes(Problem):
    """Cross-entropy at the steps whose target is not IGNORE."""

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        logits, labels = self._scored(outputs, targets)
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)

    def score(self, outputs: Tensor, targets: Tensor) -> Scores:
        logits, labels = self._scored(outputs, targets)  # (B, N, O), (B, N)
        loss = F.cross_entropy(
            logits.transpose(1, 2), labels, reduction="none", ignore_index=IGNORE
        )
        wrong = ((logits.argmax(-1) != labels) & (labels != IGNORE)).float()  # (B, N)
        kept = (labels != IGNORE).sum(1).clamp(min=1)  # (B,)
        return Scores(
            loss=float((loss.sum(1) / kept).sum()),
            error=float((wrong.sum(1) / kept).sum()),
            solved=int((wrong.sum(1) == 0).sum()),
            count=len(labels),
        )

    def _scored(self, outputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class TemporalOrder(_Classes):
    """H&S 1997 §5.6 (task 6a). One-hot inputs (B, T, 8) over E, B, a, b, c, d, X, Y: E first,
    B (the trigger) last, X or Y at t1 in [T/10, T/5] and t2 in [T/2, T/2 + T/10] (the paper's
    [10, 20] and [50, 60] at T = 100), random a-d elsewhere. Target (B,): the class of
    (symbol at t1, symbol at t2) among XX, XY, YX, YY, read at the last step."""

    name, input_size, output_size = "temporal-order", len(TEMPORAL_SYMBOLS), len(TEMPORAL_CLASSES)
    error_name = "error rate"

    def positions(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The inclusive ranges of t1 and t2 (0-based steps)."""
        T = self.length
        return (T // 10, T // 5), (T // 2, T // 2 + T // 10)

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        B, T = batch_size, self.length
        symbols = torch.randint(2, 6, (B, T), generator=generator)  # a, b, c, d
        symbols[:, 0], symbols[:, -1] = 0, 1  # E, B
        (lo1, hi1), (lo2, hi2) = self.positions()
        t1 = torch.randint(lo1, hi1 + 1, (B,), generator=generator)
        t2 = torch.randint(lo2, hi2 + 1, (B,), generator=generator)
        first = torch.randint(0, 2, (B,), generator=generator)  # 0: X, 1: Y
        second = torch.randint(0, 2, (B,), generator=generator)
        rows = torch.arange(B)
        symbols[rows, t1] = 6 + first
        symbols[rows, t2] = 6 + second
        inputs = F.one_hot(symbols, len(TEMPORAL_SYMBOLS)).float()  # (B, T, F)
        return inputs, 2 * first + second

    def _scored(self, outputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        return outputs[:, -1:], targets[:, None]  # (B, 1, O), (B, 1)


def copy_count(length: int) -> int:
    """How many symbols a copy sequence of ``length`` asks to recall: 10, or fewer so that the
    gap is at least as long as the recall."""
    return min(COPY_RECALL, (length - 1) // 3)


class Copy(_Classes):
    """Copy/recall. Symbols (B, T): N = :func:`copy_count` random symbols in 1..8, blanks (0),
    the delimiter (9) at step T - N - 1, then N blanks during which the N symbols are to be
    output in order. Inputs are their one-hot (B, T, 10); targets (B, T) are the symbols at the
    last N steps and IGNORE elsewhere."""

    name, input_size, output_size = "copy", COPY_SYMBOLS + 2, COPY_SYMBOLS + 2
    error_name = "symbol error rate"

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        B, T, N = batch_size, self.length, copy_count(self.length)
        data = torch.randint(1, COPY_SYMBOLS + 1, (B, N), generator=generator)
        symbols = torch.zeros(B, T, dtype=torch.long)
        symbols[:, :N] = data
        symbols[:, T - N - 1] = COPY_SYMBOLS + 1
        targets = torch.full((B, T), IGNORE, dtype=torch.long)
        targets[:, T - N :] = data
        return F.one_hot(symbols, self.input_size).float(), targets

    def _scored(self, outputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        N = copy_count(self.length)
        return outputs[:, -N:], targets[:, -N:]  # (B, N, O), (B, N)


PROBLEMS = {"adding": Adding, "temporal-order": TemporalOrder, "copy": Copy}


def make_problem(name: str, length: int) -> Problem:
    """The problem ``name`` (one of :data:`PROBLEMS`) at sequence length ``length``.

    Example:
        >>> x, y = make_problem("adding", 50).sample(4, torch.Generator().manual_seed(0))
        >>> tuple(x.shape), tuple(y.shape)
        ((4, 50, 2), (4,))
    """
    if name not in PROBLEMS:
        raise ValueError(f"problem: expected one of {', '.join(PROBLEMS)}, got {name!r}")
    return PROBLEMS[name](length)
