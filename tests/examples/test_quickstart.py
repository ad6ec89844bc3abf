"""The quickstart (`make demo`) runs end to end; a short budget keeps it to seconds."""

import importlib.util
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def _load():
    spec = importlib.util.spec_from_file_location("quickstart", QUICKSTART)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_passages_mark_one_question_per_person():
    import random

    qs = _load()
    words, targets = qs.passage(random.Random(0), people=3, max_filler=5)
    assert len(words) == len(targets)
    asked = [k for k, t in enumerate(targets) if t >= 0]
    assert len(asked) == 3
    assert all(words[k] == "is" for k in asked)


@pytest.mark.slow
def test_quickstart_learns_the_keyword_task(capsys):
    qs = _load()
    qs.main(["--steps", "120", "--seed", "0"])
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy with up to 12 filler words: ")[1].split("%")[0])
    assert accuracy > 90.0
    assert "forget" in out
