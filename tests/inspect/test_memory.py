"""The memory-unit search: a planted signal is found; the keywords search on a hand-built cell."""

import warnings

import numpy as np
import pytest
import torch

from lstmkit.data.keywords import CUISINES, FOOD_CUISINE, NOTES_EXAMPLE, VOCAB, generate_passages
from lstmkit.errors import UserError
from lstmkit.inspect.memory import keyword_memory, memory_units
from lstmkit.lm import LanguageModel
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.tokenizers import train_tokenizer


def planted(sign: float, n: int = 600, units: int = 12, unit: int = 7, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = list(rng.choice(["a", "b", "c"], n))
    labels = [None if k % 10 == 0 else label for k, label in enumerate(labels)]
    cells = rng.normal(0, 1, (n, units))
    hit = np.array([label == "b" for label in labels], dtype=float)
    cells[:, unit] = sign * hit + rng.normal(0, 0.3, n)
    return cells, labels, hit


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_planted_unit_comes_first_with_its_sign(sign):
    cells, labels, _ = planted(sign)
    ranking = memory_units(cells, labels, "b", top=3)
    assert len(ranking) == 3
    (unit, r), *rest = ranking
    assert unit == 7
    assert np.sign(r) == sign
    assert abs(r) > 0.8
    assert all(abs(r) >= abs(q) for _, q in rest)


def test_correlation_is_pearsons_over_the_labelled_positions():
    cells, labels, hit = planted(1.0)
    keep = [label is not None for label in labels]
    expected = np.corrcoef(cells[keep, 3], hit[keep])[0, 1]
    found = dict(memory_units(cells, labels, "b", top=12, method="pearson"))
    assert found[3] == pytest.approx(expected, abs=1e-12)


def test_rank_biserial_is_the_mean_sign_over_every_positive_negative_pair():
    cells, labels, hit = planted(1.0, n=120)
    cells[:, 5] = np.round(cells[:, 5], 1)  # ties count one half
    keep = np.array([label is not None for label in labels])
    x, y = cells[keep], hit[keep]
    found = dict(memory_units(cells, labels, "b", top=12))
    for unit in (3, 5, 7):
        pos, neg = x[y == 1, unit], x[y == 0, unit]
        expected = np.mean(np.sign(pos[:, None] - neg[None, :]))  # 2 * AUC - 1, by brute force
        assert found[unit] == pytest.approx(expected, abs=1e-12)


def test_rank_biserial_sees_a_perfect_separation_that_pearson_does_not():
    # one label in six held at +1, the five others at five different levels below it
    levels = {"a": -4.0, "b": -3.0, "c": -2.0, "d": -1.0, "e": 0.0, "x": 1.0}
    labels = [k for k in levels for _ in range(10)]
    cells = np.array([[levels[k]] for k in labels])
    assert memory_units(cells, labels, "x", top=1) == [(0, 1.0)]
    assert memory_units(cells, labels, "x", top=1, method="pearson")[0][1] < 0.7
    with pytest.raises(UserError, match="method: expected one of"):
        memory_units(cells, labels, "x", method="spearman")


def test_a_constant_unit_scores_zero_without_warnings():
    cells, labels, _ = planted(1.0)
    cells[:, 0] = 0.1  # a float mean of which is not exactly 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = dict(memory_units(cells, labels, "b", top=12))
    assert found[0] == 0.0


def test_bad_input_is_named():
    cells, labels, _ = planted(1.0, n=20)
    with pytest.raises(UserError, match="at least 3 labelled positions, got 2"):
        memory_units(cells[:3], ["a", None, "b"], "b")
    with pytest.raises(UserError, match="labels: expected 20"):
        memory_units(cells, labels[:5], "b")
    with pytest.raises(UserError, match="cells: expected an \\(N, H\\) array"):
        memory_units(cells[0], labels, "b")
    with pytest.raises(UserError, match="'z' and some not, got none"):
        memory_units(cells, labels, "z")
    with pytest.raises(UserError, match="top: expected a positive integer"):
        memory_units(cells, labels, "b", top=0)


# ---------------------------------------------------------------------------- keywords
def hand_built_lm() -> LanguageModel:
    """A one-layer word LM whose unit 0 holds "the food is INDIAN" (+1) or not (-1): its input
    gate opens at a food, writing +1 for an Indian food and -1 for any other; its forget gate
    closes at "my" (a new person) and at a food (a second food replaces the first) and is open
    elsewhere. The other units have no weights, so
    their cell state stays 0."""
    tok = train_tokenizer("word", " ".join(VOCAB))
    V, H, big = tok.vocab_size, 4, 10.0
    model = LSTMLanguageModel(
        LMConfig(
            vocab_size=V,
            embedding_size=V,
            hidden_size=H,
            num_layers=1,
            dropout=0.0,
            layer_dropout=0.0,
        )
    )
    lstm = model.layers[0]
    with torch.no_grad():
        model.embed.weight.copy_(torch.eye(V))  # one-hot words
        for p in lstm.parameters():
            p.zero_()
        w, b = lstm.weight_ih_l0, lstm.bias_ih_l0  # rows (i, f, g, o) x H
        foods = [tok.token_to_id(food) for food in FOOD_CUISINE]
        indian = [tok.token_to_id(food) for food in CUISINES["INDIAN"]]
        b[0], w[0, foods] = -big, 2 * big  # i: open at a food only
        b[H], w[H, tok.token_to_id("my")], w[H, foods] = big, -2 * big, -2 * big  # f
        w[2 * H, foods] = -big  # g: -1 at a food ...
        w[2 * H, indian] = big  # ... +1 at an Indian one
        b[3 * H] = big  # o: open
    lm = LanguageModel("word")
    lm.tokenizer_, lm.model_ = tok, model.eval()
    return lm


def test_keyword_memory_finds_the_hand_built_unit_and_its_wipe():
    lm = hand_built_lm()
    found = keyword_memory(lm, passages=generate_passages(40, "test-memory"), cuisine="INDIAN")
    assert (found.layer, found.unit) == (0, 0)
    assert found.correlation > 0.99
    assert found.words == NOTES_EXAMPLE.split()
    assert len(found.c) == len(found.f) == len(found.i) == len(found.words)
    assert found.words[found.change] == "my"  # the forget gate closes there
    assert found.wiped
    assert found.f[found.change] < 0.01
    assert found.words[found.food] == "pasta"
    assert found.i[found.food] > 0.99
    k = found.words.index("INDIAN")
    assert found.c[k - 1] > 0.99  # the memory at the first question: INDIAN
    assert found.c[-2] < -0.99  # at the second: not INDIAN
    assert "at the subject change, 'my', it is wiped by the forget gate" in found.finding()
    assert found.pearson > 0.9  # c is ±1: Pearson agrees


def test_keyword_memory_without_a_cuisine_takes_the_best_and_checks_its_arguments():
    lm = hand_built_lm()
    passages = generate_passages(40, "test-memory")
    found = keyword_memory(lm, passages)
    assert found.cuisine == "INDIAN"  # only INDIAN is held cleanly
    assert found.per_cuisine[0] == ("INDIAN", 0, 0, found.correlation)
    assert sorted(c for c, *_ in found.per_cuisine) == sorted(CUISINES)
    assert all(abs(r) <= found.correlation for *_, r in found.per_cuisine)
    with pytest.raises(UserError, match="cuisine: expected one of INDIAN"):
        keyword_memory(lm, passages, cuisine="indian")
    with pytest.raises(UserError, match=r"layer: expected an integer in \[0, 1\), got 1"):
        keyword_memory(lm, passages, layer=1)
    lm.tokenizer_ = train_tokenizer("char", "abc")
    with pytest.raises(UserError, match="expected a word tokenizer, got 'char'"):
        keyword_memory(lm, passages)
