"""The LanguageModel estimator: fit, next-token prediction, sampling, save and load."""

import pytest
import torch

from lstmkit.errors import UserError
from lstmkit.lm import LanguageModel, _filter

TEXT = "the cat sat on the mat\n" * 40


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "run"
    lm = LanguageModel(
        "char",
        model={
            "embedding_size": 16,
            "hidden_size": 32,
            "num_layers": 1,
            "dropout": 0.0,
            "layer_dropout": 0.0,
        },
        batch_size=4,
        bptt=16,
        optim={"lr": 0.01},
        train={"epochs": 8},
    )
    return lm.fit(TEXT, valid=TEXT[:200], out=out, progress=False), out


def test_fit_learns_the_next_character(fitted):
    lm, out = fitted
    (best, p), *_ = lm.predict_next("the cat sat on the m", k=3)
    assert best == "a"
    assert p > 0.5
    assert (out / "best" / "model.safetensors").exists()
    assert lm.progress_.history[-1]["loss"] < 1.0


def test_save_then_load_gives_the_same_distribution(fitted, tmp_path):
    lm, _ = fitted
    lm.save(tmp_path / "model")
    again = LanguageModel.load(tmp_path / "model")
    assert torch.equal(again.next_token_probs("the cat"), lm.next_token_probs("the cat"))


def test_generation_repeats_with_a_seed(fitted):
    lm, _ = fitted
    a = lm.generate("the ", max_tokens=30, temperature=0.8, seed=1)
    b = lm.generate("the ", max_tokens=30, temperature=0.8, seed=1)
    assert a == b
    assert len(a) == 30


def test_top_k_and_top_p_keep_the_right_tokens():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert torch.isfinite(_filter(logits, 2, None)).tolist() == [True, True, False, False]
    # Nucleus 0.7: 0.5 alone is not enough, 0.5 + 0.3 reaches it.
    assert torch.isfinite(_filter(logits, None, 0.7)).tolist() == [True, True, False, False]
    assert torch.isfinite(_filter(logits, None, 0.5)).tolist() == [True, False, False, False]


def test_unfitted_and_bad_sampling_options_are_named(fitted):
    with pytest.raises(UserError, match="not fitted"):
        LanguageModel().predict_next("x")
    lm, _ = fitted
    with pytest.raises(UserError, match="temperature"):
        lm.generate("the", temperature=0)
    with pytest.raises(UserError, match="top_p"):
        lm.generate("the", top_p=1.5)
