"""The keyword search ranks each layer's units once for every cuisine; it must find what a plain
loop over layers, cuisines and units finds, scored by scikit-learn's ROC AUC."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from lstmkit.data.keywords import CUISINES, VOCAB, generate_passages
from lstmkit.inspect.memory import keyword_memory, memory_units, unit_rankings
from lstmkit.inspect.traces import recording
from lstmkit.lm import LanguageModel
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.tokenizers import train_tokenizer


def random_lm(layers: int = 2, hidden: int = 6) -> LanguageModel:
    tok = train_tokenizer("word", " ".join(VOCAB))
    config = LMConfig(
        vocab_size=tok.vocab_size,
        embedding_size=8,
        hidden_size=hidden,
        num_layers=layers,
        dropout=0.0,
        layer_dropout=0.0,
    )
    lm = LanguageModel("word")
    lm.tokenizer_, lm.model_ = tok, LSTMLanguageModel(config).eval()
    return lm


def brute_force(lm: LanguageModel, passages) -> list[tuple[str, int, int, float]]:
    """Per cuisine, the (layer, unit) with the largest |2 AUC - 1|, one passage and one unit at
    a time; the cuisine with the largest first."""
    model, tok = lm.model_, lm.tokenizer_
    cells = [[] for _ in model.layers]
    labels = []
    for p in passages:
        with torch.no_grad(), recording(*model.layers) as calls:
            model(torch.tensor([tok.encode(p.text)]))
        for answer in p.answers:
            span = list(range(answer.food_position + 1, answer.position))
            labels += [answer.cuisine] * len(span)
            for k, call in enumerate(calls):
                cells[k].append(call[0].c[0, 0, span].numpy())  # (n, H)
    cells = [np.concatenate(c) for c in cells]
    best = []
    for cuisine in sorted(set(labels), key=list(CUISINES).index):
        y = [label == cuisine for label in labels]
        scored = []
        for k, layer in enumerate(cells):
            for unit in range(layer.shape[1]):
                scored.append((abs(2 * roc_auc_score(y, layer[:, unit]) - 1), k, unit))
        _, k, unit = max(scored, key=lambda s: (s[0], -s[1], -s[2]))  # first of a tie
        signed = 2 * roc_auc_score(y, cells[k][:, unit]) - 1
        best.append((cuisine, k, unit, signed))
    return sorted(best, key=lambda b: -abs(b[3]))


@pytest.mark.parametrize("seed", [0, 1])
def test_the_search_finds_what_a_loop_over_every_unit_finds(seed):
    torch.manual_seed(seed)
    lm = random_lm()
    passages = generate_passages(30, f"test-memory-search-{seed}")
    expected = brute_force(lm, passages)
    found = keyword_memory(lm, passages)
    assert [(c, k, u) for c, k, u, _ in found.per_cuisine] == [(c, k, u) for c, k, u, _ in expected]
    for (*_, r), (*_, e) in zip(found.per_cuisine, expected, strict=True):
        assert r == pytest.approx(e, abs=1e-4)  # batched vs one by one: float noise
    cuisine, layer, unit, r = expected[0]
    assert (found.cuisine, found.layer, found.unit) == (cuisine, layer, unit)
    assert found.correlation == pytest.approx(r, abs=1e-4)


def test_rankings_for_several_targets_match_one_at_a_time():
    rng = np.random.default_rng(0)
    cells = np.round(rng.normal(size=(300, 9)), 1)  # ties
    cells[:, 4] = 2.0  # a constant unit
    labels = [None if k % 7 == 0 else "abc"[k % 3] for k in range(300)]
    together = unit_rankings(cells, labels, ["a", "b", "c"], top=9)
    for target in "abc":
        assert together[target] == memory_units(cells, labels, target, top=9)
        y = np.array([label == target for label in labels if label is not None])
        x = cells[[label is not None for label in labels]]
        for unit, r in together[target]:
            expected = 0.0 if unit == 4 else 2 * roc_auc_score(y, x[:, unit]) - 1
            assert r == pytest.approx(expected, abs=1e-12)


def test_each_layer_is_ranked_once_for_all_cuisines(monkeypatch):
    # The ranking is the search's cost (a minute on the quickstart model when done per cuisine).
    from lstmkit.inspect import memory

    calls = []
    rank = memory.rankdata
    monkeypatch.setattr(memory, "rankdata", lambda *a, **k: calls.append(1) or rank(*a, **k))
    lm = random_lm(layers=2)
    keyword_memory(lm, generate_passages(20, "test-memory-search"))
    assert len(calls) == 2
