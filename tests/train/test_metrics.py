"""The metrics log: JSON lines that survive a resume, and the loss-curve PNG."""

import json

import pytest

from lstmkit.errors import UserError
from lstmkit.train.metrics import MetricsLog, plot_loss_curve, read_metrics


def test_records_are_json_lines_in_order(tmp_path):
    log = MetricsLog(tmp_path)
    log.write("train", 10, loss=2.5, tokens_per_s=1000.0)
    log.write("valid", 10, loss=2.7, ppl=14.88)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["split"] for line in lines] == ["train", "valid"]
    assert json.loads(lines[1]) == {"split": "valid", "step": 10, "loss": 2.7, "ppl": 14.88}


def test_non_finite_values_stay_valid_json(tmp_path):
    MetricsLog(tmp_path).write("train", 1, loss=float("nan"))
    assert json.loads((tmp_path / "metrics.jsonl").read_text())["loss"] == "nan"


def test_a_resumed_run_replaces_the_records_it_repeats(tmp_path):
    log = MetricsLog(tmp_path)
    for step, loss in [(1, 3.0), (2, 2.0), (3, 1.5)]:
        log.write("train", step, loss=loss)
    for step, loss in [(3, 1.4), (4, 1.2)]:  # resumed from the checkpoint at step 2
        log.write("train", step, loss=loss)
    assert [(r["step"], r["loss"]) for r in read_metrics(tmp_path)] == [
        (1, 3.0),
        (2, 2.0),
        (3, 1.4),
        (4, 1.2),
    ]


def test_a_broken_line_is_named(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"split": "train", "step": 1}\n{oops\n')
    with pytest.raises(UserError, match=r"metrics.jsonl:2:2: invalid JSON"):
        read_metrics(tmp_path)


def test_loss_curve_is_a_png(tmp_path):
    log = MetricsLog(tmp_path)
    for step in range(1, 20):
        log.write("train", step, loss=3.0 / step)
    log.write("valid", 10, loss=0.5)
    out = plot_loss_curve(read_metrics(tmp_path), tmp_path / "loss.png", title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000
