"""The metrics log of a run (JSON lines) and its loss-curve plot.

Every record is one line of ``metrics.jsonl``: ``{"split": "train"|"valid", "step": ..., "epoch":
..., "loss": ..., ...}``. A resumed run appends to the same file, so the log of an interrupted and
resumed run reads like one run; :func:`read_metrics` drops the records a resumed run repeats.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from lstmkit.errors import UserError

METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "loss.png"
TENSORBOARD_DIR = "tensorboard"


class MetricsLog:
    """Appends metric records to ``<directory>/metrics.jsonl``, one JSON object per line.

    With ``tensorboard``, each number is also written as a TensorBoard scalar ``<split>/<key>``
    under ``<directory>/tensorboard/`` (needs the ``tensorboard`` package).
    """

    def __init__(self, directory: str | os.PathLike, tensorboard: bool = False) -> None:
        self.path = Path(directory) / METRICS_FILE
        self.tensorboard, self.board = tensorboard, None
        if tensorboard:
            _summary_writer_class()  # a missing package is reported before training starts

    def write(self, split: str, step: int, **values: float | int | str) -> dict:
        """Appends one record and returns it; non-finite numbers are written as strings."""
        record = {"split": split, "step": step}
        for key, value in values.items():
            finite = not isinstance(value, float) or math.isfinite(value)
            record[key] = value if finite else str(value)
            if self.tensorboard and isinstance(value, int | float) and key != "epoch":
                if self.board is None:  # opened on first use: a new run clears the folder first
                    self.board = _summary_writer_class()(str(self.path.parent / TENSORBOARD_DIR))
                self.board.add_scalar(f"{split}/{key}", value, step)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            self.board.flush()
        return record


def _summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's writer needs the tensorboard package
        raise UserError(
            "tensorboard: needs the tensorboard package; pip install tensorboard"
        ) from None
    return SummaryWriter


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a metrics log, in order, keeping the last record of each (split, step)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    records: dict[tuple[str, int], dict] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise UserError(f"{path}: cannot read the metrics log ({err.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{number}:{err.colno}: invalid JSON ({err.msg})") from None
        records[(record.get("split", ""), record.get("step", 0))] = record
    return sorted(records.values(), key=lambda r: (r.get("step", 0), r.get("split", "")))


def plot_loss_curve(records: list[dict], out: str | os.PathLike, title: str = "") -> Path:
    """Draws training and validation loss against the step into a PNG; returns its path."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display is needed or wanted
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for split, style in (("train", "-"), ("valid", "o-")):
        points = [
            (r["step"], r["loss"])
            for r in records
            if r.get("split") == split and isinstance(r.get("loss"), int | float)
        ]
        if points:
            steps, losses = zip(*points, strict=True)
            ax.plot(steps, losses, style, label=split, markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out
