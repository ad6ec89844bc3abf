"""``monitor`` names one of the task's validation metrics, checked before training writes
anything (it used to fail at the first validation, after a run folder was started)."""

import pytest

from lstmkit.errors import UserError
from lstmkit.lm import LanguageModel
from lstmkit.lm.task import METRICS as LM_METRICS

TEXT = "the cat sat on the mat\n" * 40


def tiny(monitor: str) -> LanguageModel:
    model = {"embedding_size": 4, "hidden_size": 4, "num_layers": 1}
    return LanguageModel("char", model=model, batch_size=2, bptt=8, train={"monitor": monitor})


def test_an_unknown_metric_is_refused_before_the_run_folder_is_written(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(UserError) as error:
        tiny("ppx").fit(TEXT, valid=TEXT[:100], out=out, progress=False)
    assert (
        str(error.value)
        == "monitor: expected one of the validation metrics loss, ppl, accuracy, got 'ppx'"
    )
    assert not out.exists() or not any(out.iterdir())


def test_the_lm_metrics_are_what_its_validation_reports(tmp_path):
    lm = tiny("ppl").fit(TEXT, valid=TEXT[:100], out=tmp_path / "run", progress=False)
    assert set(LM_METRICS) <= set(lm.progress_.history[-1])
