"""The loss curve people look at: the settled part of the run on the scale, the first steps' spike
cut off with a note, the best validation loss marked, the learning rate on a second axis."""

import math

import numpy as np
from test_trainer import ToyTask, make_model

from lstmkit.train.metrics import loss_figure, plot_loss_curve, read_metrics
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import TrainConfig, Trainer


def records(spike: float = 6.0, floor: float = 0.7, steps: int = 100) -> list[dict]:
    """A spike in the first steps, then a slow fall from 0.85 to ``floor``; lr decays."""
    out = []
    for s in range(1, steps + 1):
        loss = spike if s <= 3 else floor + 0.15 * math.exp(-s / 30)
        out.append({"split": "train", "step": s, "loss": loss, "lr": 1e-3 * (1 - s / (steps + 1))})
        if s % 20 == 0:
            out.append({"split": "valid", "step": s, "loss": loss + 0.01})
    return out


def lines(ax) -> dict[str, np.ndarray]:
    return {line.get_label(): np.asarray(line.get_ydata(), float) for line in ax.get_lines()}


def test_the_first_steps_spike_is_cut_off_and_noted():
    data = records()
    ax = loss_figure(data, title="t").axes[0]
    low, high = ax.get_ylim()
    lowest = min(r["loss"] for r in data)
    settled_top = 0.7 + 0.15 * math.exp(-11 / 30)  # the highest loss after the first tenth
    assert low < lowest < settled_top <= high < 1.0  # the spike (6.0) is far above
    assert ax.get_yscale() == "linear"  # 0.7 to 0.95: a narrow span
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["first steps off the scale: loss up to 6"]


def test_a_wide_span_is_drawn_on_a_log_scale_without_a_note():
    data = [{"split": "train", "step": s, "loss": 5 * 0.97**s} for s in range(1, 200)]
    ax = loss_figure(data).axes[0]
    assert ax.get_yscale() == "log"
    assert not ax.texts  # nothing cut off: the loss falls smoothly
    low, high = ax.get_ylim()
    assert low <= 5 * 0.97**199
    assert high >= 5 * 0.97


def test_the_best_validation_loss_is_marked_and_the_lr_drawn_on_a_second_axis():
    data = records()
    fig = loss_figure(data)
    ax, twin = fig.axes[:2]
    valid = [r["loss"] for r in data if r["split"] == "valid"]
    best = [label for label in lines(ax) if label.startswith("best valid")]
    assert best == [f"best valid {min(valid):.4g} (step 100)"]
    lr = lines(twin)["learning rate"]
    np.testing.assert_allclose(lr, [r["lr"] for r in data if r["split"] == "train"])
    assert twin.get_ylim()[0] == 0
    assert "learning rate" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_without_lr_records_there_is_no_second_axis(tmp_path):
    data = [{k: v for k, v in r.items() if k != "lr"} for r in records()]
    assert len(loss_figure(data).axes) == 1
    out = plot_loss_curve(data, tmp_path / "loss.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_logs_the_learning_rate(tmp_path):
    trainer = Trainer(
        make_model(0),
        ToyTask(),
        OptimConfig(lr=0.01, schedule="constant"),
        TrainConfig(epochs=2, log_every=2),
        tmp_path / "run",
        progress=False,
    )
    trainer.fit()
    train = [r for r in read_metrics(tmp_path / "run") if r["split"] == "train"]
    assert train
    assert all(r["lr"] == 0.01 for r in train)
    fig = loss_figure(read_metrics(tmp_path / "run"))
    assert len(fig.axes) == 2
