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


def test_batches_ask_for_the_cuisine_at_each_question():
    import random

    qs = _load()
    ids, targets, lengths = qs.batch(random.Random(0), size=8, max_filler=5)
    assert ids.shape == targets.shape
    asked = (targets >= 0).nonzero().tolist()
    assert asked  # every passage has at least one question
    for b, t in asked:
        assert qs.VOCAB[ids[b, t]] == "is"
        assert t < lengths[b]
        assert qs.VOCAB[ids[b, t + 1]] == qs.LABELS[targets[b, t]]  # the next word is the answer


@pytest.mark.slow
def test_quickstart_learns_the_keyword_task(capsys):
    qs = _load()
    qs.main(["--steps", "300", "--seed", "0"])
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy with up to 30 filler words: ")[1].split("%")[0])
    assert accuracy > 60.0  # chance is 1 in 6; the full 600 steps of `make demo` reach ~100%
    assert "forget" in out
