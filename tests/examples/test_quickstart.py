"""The quickstart (`make demo`) runs end to end; a short budget keeps it to seconds."""

import importlib.util
from pathlib import Path

import pytest

from lstmkit.checkpoint import load_checkpoint
from lstmkit.data.config_file import read_config_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load():
    spec = importlib.util.spec_from_file_location("quickstart", EXAMPLES / "quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quickstart_model_is_the_one_of_its_config_file(tmp_path):
    qs = _load()
    config = read_config_file(EXAMPLES / "keywords.yaml")
    lm = qs.build(qs.read_config_file(qs.CONFIG), epochs=None, minutes=3.0, seed=0)
    assert lm.model["hidden_size"] == config["model"]["hidden_size"]
    assert lm.train["epochs"] == config["training"]["epochs"]
    assert lm.optim["lr"] == config["optim"]["lr"]


@pytest.mark.slow
def test_quickstart_prints_every_section(tmp_path, capsys):
    qs = _load()
    out = tmp_path / "run"
    lm = qs.main(["--out", str(out), "--epochs", "1", "--minutes", "0.1"])
    text = capsys.readouterr().out
    for heading in (
        "1. Training",
        "2. The notes' example",
        "3. Cuisine accuracy",
        "4. Next-word prediction",
        "5. Inside the memory cell",
        "6. The memory, seen",
    ):
        assert heading in text
    assert text.count("favourite cuisine is -> ") == 2  # the notes' two questions
    assert "51+" in text
    assert "wipes it at" in text
    assert "holds the keyword" in text
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert load_checkpoint(out / "last").config["model"]["hidden_size"] == lm.model["hidden_size"]
