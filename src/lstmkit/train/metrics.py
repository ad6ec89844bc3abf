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
    """Draws :func:`loss_figure` into a PNG; returns its path."""
    out = Path(out)
    loss_figure(records, title).savefig(out)
    return out


def loss_figure(records: list[dict], title: str = ""):
    """Training and validation loss against the step, as a :class:`matplotlib.figure.Figure`.

    The loss axis shows where the run settles: when the first tenth of the steps rises so far
    above everything after it (the first steps' spike) that the rest would get less than half
    the height, it is cut off and a note gives its peak. The axis is logarithmic where the losses
    shown span more than a factor of 5. The
    best validation loss is marked with a star; the learning rate (the train records' ``lr``)
    is drawn on a second axis.
    """
    from matplotlib.figure import Figure  # Agg by default: no display, no pyplot state

    curves = {split: _points(records, split, "loss") for split in ("train", "valid")}
    rates = _points(records, "train", "lr")
    fig = Figure(figsize=(8, 4.2), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    styles = {"train": {"color": "tab:blue", "lw": 1.2}, "valid": {"color": "tab:orange"}}
    for split, (steps, values) in curves.items():
        if steps:
            marker = {"marker": "o", "markersize": 3} if split == "valid" else {}
            ax.plot(steps, values, label=split, **styles[split], **marker)
    valid_steps, valid_losses = curves["valid"]
    if valid_losses:
        best = min(range(len(valid_losses)), key=valid_losses.__getitem__)
        ax.plot(
            valid_steps[best],
            valid_losses[best],
            "*",
            color="tab:red",
            markersize=11,
            label=f"best valid {valid_losses[best]:.4g} (step {valid_steps[best]})",
        )
    _loss_scale(ax, curves)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    handles, labels = ax.get_legend_handles_labels()
    if rates[0]:
        twin = ax.twinx()
        (line,) = twin.plot(*rates, color="0.45", lw=1, ls="--", label="learning rate")
        twin.set_ylabel("learning rate", color="0.35")
        twin.set_ylim(0, max(rates[1]) * 1.08 or 1)
        twin.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        handles, labels = [*handles, line], [*labels, "learning rate"]
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=8)
    return fig


def _points(records: list[dict], split: str, key: str) -> tuple[list[int], list[float]]:
    """The finite values of ``key`` in ``split``'s records, and their steps."""
    points = [
        (r["step"], float(r[key]))
        for r in records
        if r.get("split") == split and isinstance(r.get(key), int | float) and math.isfinite(r[key])
    ]
    return [p[0] for p in points], [p[1] for p in points]


def _loss_scale(ax, curves: dict[str, tuple[list[int], list[float]]]) -> None:
    """Limits cut above the settled part of the run, on a log scale where the losses shown span
    more than a factor of 5 (a narrower span reads better on a linear one)."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    steps = [s for ss, _ in curves.values() for s in ss]
    values = [v for _, vs in curves.values() for v in vs]
    if not values:
        return
    first, last = min(steps), max(steps)
    settled = [
        v
        for ss, vs in curves.values()
        for s, v in zip(ss, vs, strict=True)
        if s >= first + 0.1 * (last - first)
    ]
    low, top, peak = min(values), max(values), max(values)
    scale = math.log if low > 0 else float
    if len(settled) >= 3 and scale(peak) - scale(low) > 2 * (scale(max(settled)) - scale(low)):
        top = max(settled)  # the spike would squash the rest into less than half the height
        ax.annotate(
            f"first steps off the scale: loss up to {peak:.3g}",
            xy=(0.01, 0.98),
            xycoords="axes fraction",
            va="top",
            fontsize=8,
            color="0.3",
        )
    if low > 0 and top / low > 5:
        ax.set_yscale("log")
        ax.set_ylim(low / 1.05, top * 1.1)
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        span = top - low or abs(top) or 1.0
        ax.set_ylim(low - 0.04 * span, top + 0.1 * span)
