"""The Seq2Seq estimator: fit, translate, evaluate, save/load and exact resume."""

import pytest
import torch

from lstmkit.data import Pairs
from lstmkit.errors import UserError
from lstmkit.seq2seq import Seq2Seq

WORDS = ["a", "b", "c", "d"]


def reverse_pairs(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    src = [" ".join(WORDS[i] for i in torch.randint(0, 4, (3,), generator=gen)) for _ in range(n)]
    return Pairs(src, [" ".join(reversed(s.split())) for s in src])


def estimator(**train):
    return Seq2Seq(
        "word",
        "word",
        model={
            "embedding_size": 16,
            "hidden_size": 32,
            "num_layers": 1,
            "dropout": 0.0,
            "attention": "luong",
        },
        batch_size=16,
        optim={"lr": 0.02},
        train={"epochs": 12, **train},
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("s2s") / "run"
    return estimator().fit(
        reverse_pairs(200), valid=reverse_pairs(20, 1), out=out, progress=False
    ), out


def test_learns_to_reverse_and_translates_blank_lines_to_blank(fitted):
    s2s, _ = fitted
    test = reverse_pairs(30, seed=2)
    assert s2s.translate(test.src, method="greedy") == test.tgt
    assert s2s.translate(["a b c", "  ", "d d a"], method="beam") == ["c b a", "", "a d d"]


def test_evaluate_and_n_best(fitted):
    s2s, _ = fitted
    test = reverse_pairs(10, seed=3)
    scores = s2s.evaluate(test.src, test.tgt, method="beam", beam_size=3)
    assert scores["exact"] == 100.0
    assert scores["hypotheses"] == test.tgt
    (best, second), *_ = s2s.translate(["a b c"], beam_size=3, n_best=2)
    assert best[0] == "c b a"
    assert best[1] >= second[1]


def test_save_and_load_translate_alike(fitted, tmp_path):
    s2s, out = fitted
    s2s.save(tmp_path / "model")
    for again in (Seq2Seq.load(tmp_path / "model"), Seq2Seq.load(out)):
        src = reverse_pairs(5, seed=4).src
        assert again.translate(src, method="greedy") == s2s.translate(src, method="greedy")


def test_resume_continues_exactly(tmp_path):
    pairs, valid = reverse_pairs(64), reverse_pairs(8, 1)
    whole = estimator(epochs=2).fit(pairs, valid, tmp_path / "whole", progress=False)
    estimator(epochs=2, max_steps=5).fit(pairs, valid, tmp_path / "part", progress=False)
    resumed = Seq2Seq(train={"epochs": 2}).fit(
        pairs, valid, tmp_path / "part", progress=False, resume=tmp_path / "part" / "last"
    )
    a, b = whole.model_.state_dict(), resumed.model_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_selecting_the_model_on_bleu(tmp_path):
    s2s = estimator(epochs=2, monitor="bleu").fit(
        reverse_pairs(64), reverse_pairs(8, 1), tmp_path / "run", progress=False
    )
    assert {"bleu", "chrf", "exact"} <= set(s2s.progress_.history[-1])


def test_mistakes_are_named(fitted):
    with pytest.raises(UserError, match="not fitted"):
        Seq2Seq().translate(["a"])
    s2s, _ = fitted
    with pytest.raises(UserError, match=r"^method: expected one of greedy, beam, sample, got "):
        s2s.translate(["a"], method="best")
    with pytest.raises(UserError, match="max_src_len/max_tgt_len: every training pair is longer"):
        Seq2Seq(max_src_len=1).fit(reverse_pairs(40), progress=False)


def test_validation_scores_decode_with_the_network_they_are_given(fitted):
    # Under ema the trainer validates the weights' average, not the estimator's model_: BLEU
    # and exact match must come from the network passed in, and model_ is left as it was.
    s2s, _ = fitted
    valid = reverse_pairs(20, 1)
    scores = s2s._validation_scores(valid)
    trained = s2s.model_
    untrained = s2s._make_network().eval()  # fresh weights: cannot reverse
    assert scores(trained)["exact"] == 100.0  # percent
    assert scores(untrained)["exact"] < 50.0
    assert s2s.model_ is trained
