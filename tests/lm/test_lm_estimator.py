"""The LanguageModel estimator: fit, next-token prediction, sampling, save and load."""

import math

import pytest
import torch

from lstmkit.data import cuisine_accuracy_by_distance, generate_passages
from lstmkit.decode.sampling import filter_logits as _filter
from lstmkit.errors import Notice, UserError
from lstmkit.lm import LanguageModel

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
            "weight_drop": 0.0,
        },
        batch_size=4,
        bptt=16,
        optim={"lr": 0.01},
        train={"epochs": 8, "ema": 0.0},  # a few dozen steps: the weights as trained
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
    with pytest.raises(UserError, match=r"^top_p: expected a probability in \(0, 1\], got 1.5"):
        lm.generate("the", top_p=1.5)


def test_evaluate_matches_one_pass_over_the_whole_text(fitted):
    lm, _ = fitted
    text = "the mat sat on the cat\n" * 30
    metrics = lm.evaluate(text)
    ids = torch.tensor([lm.tokenizer_.encode(text)])
    with torch.no_grad():
        logits, _ = lm.model_(ids[:, :-1])
    expected = torch.nn.functional.cross_entropy(logits[0], ids[0, 1:]).item()
    assert metrics["tokens"] == len(text) - 1
    assert metrics["loss"] == pytest.approx(expected, rel=1e-5)
    assert metrics["bpc"] == pytest.approx(expected * (len(text) - 1) / len(text) / math.log(2))
    # top-1 accuracy: the fraction of next characters that are the model's most likely
    probs = torch.softmax(logits[0], -1)
    hits = sum(int(probs[t].max() == probs[t, ids[0, t + 1]]) for t in range(len(text) - 1))
    assert metrics["accuracy"] == pytest.approx(hits / (len(text) - 1))
    assert 0 < metrics["accuracy"] < 1


def test_next_word_is_the_greedy_tokens_up_to_a_space(fitted):
    lm, _ = fitted
    word, p = lm.next_word("the cat sat on")
    # The same greedy walk written out with next_token_probs.
    prefix, expected, prob = "the cat sat on", "", 1.0
    while True:
        probs = lm.next_token_probs(prefix + expected)
        token = lm.tokenizer_.id_to_token(int(probs.argmax()))
        prob *= float(probs.max())
        if token.isspace() and expected.strip():
            break
        expected += token
    assert word == expected.strip() == "the"
    assert p == pytest.approx(prob, rel=1e-5)


def test_keyword_accuracy_asks_the_prefix_of_each_question(fitted, monkeypatch):
    lm, _ = fitted
    passages = generate_passages(10, seed=0)
    asked = []
    monkeypatch.setattr(lm, "next_word", lambda text: (asked.append(text), ("INDIAN", 1.0))[1])
    scores = lm.keyword_accuracy(passages)
    assert scores == cuisine_accuracy_by_distance(lambda words: "INDIAN", passages)
    assert all(text.endswith("favourite cuisine is") for text in asked)


def test_unknown_prompt_characters_give_a_notice_not_an_error(fitted):
    lm, _ = fitted
    with pytest.warns(Notice, match="mapped to <unk>: 'Ж'"):
        assert len(lm.predict_next("the Жat", k=2)) == 2


def test_generation_never_samples_special_tokens(fitted):
    lm, _ = fitted
    with torch.no_grad():
        lm.model_.output.bias[lm.tokenizer_.unk_id] += 100.0  # <unk> would win every draw
        lm.model_.output.bias[lm.tokenizer_.pad_id] += 100.0
    try:
        text = lm.generate("the ", max_tokens=20, seed=0)
    finally:
        with torch.no_grad():
            lm.model_.output.bias[lm.tokenizer_.unk_id] -= 100.0
            lm.model_.output.bias[lm.tokenizer_.pad_id] -= 100.0
    assert "<unk>" not in text
    assert "<pad>" not in text
    assert len(text) == 20
