"""Streaming (lstmkit.decode.stream and each task's stream module): token-by-token stepping
equals one pass over the whole input, for the language model, the seq2seq decoder and the
forecaster, in constant memory."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.data import Pairs
from lstmkit.decode.stream import FEED_BLOCK
from lstmkit.errors import UserError
from lstmkit.forecast import Forecaster
from lstmkit.lm import LanguageModel
from lstmkit.lm.stream import LMState
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.seq2seq import Seq2Seq
from lstmkit.tokenizers import train_tokenizer

TEXT = "the cat sat on the mat\nthe dog ate the hat\n" * 3
ATOL = 1e-5


def tiny_lm(kind: str = "char", cell: str = "lstm") -> LanguageModel:
    """Random weights, AWD-LSTM's dropouts on, and left in training mode: a step must switch
    them off itself."""
    lm = LanguageModel(kind)
    lm.tokenizer_ = train_tokenizer(kind, TEXT)
    config = LMConfig(
        lm.tokenizer_.vocab_size,
        embedding_size=8,
        hidden_size=16,
        num_layers=2,
        cell=cell,
        dropout=0.5,
        layer_dropout=0.5,
        input_dropout=0.3,
    )
    lm.model_ = LSTMLanguageModel(config).train()
    return lm


def one_pass_probs(lm: LanguageModel, ids: list[int]) -> torch.Tensor:
    """(T, V) the next-token probabilities at every position of one forward pass, in eval."""
    model = lm.model_
    model.eval()
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
    model.train()
    return logits[0].softmax(-1)


# ---------------------------------------------------------------------------- language model
@pytest.mark.parametrize(("kind", "cell"), [("char", "lstm"), ("word", "lstm"), ("char", "gru")])
def test_token_by_token_equals_one_forward_pass(kind, cell):
    lm = tiny_lm(kind, cell)
    ids = lm.tokenizer_.encode(TEXT)
    want = one_pass_probs(lm, ids)
    state, got = None, []
    for k, i in enumerate(ids):  # token strings and ids alike
        probs, state = lm.step(lm.tokenizer_.id_to_token(i) if k % 2 else i, state)
        got.append(probs)
    assert (torch.stack(got) - want).abs().max().item() <= ATOL
    assert lm.model_.training  # the model's own mode is restored


def test_a_batch_of_32_equals_32_single_streams():
    lm = tiny_lm("char")
    lm.model_.eval()  # as a fitted model is: no mode to switch
    ids = torch.randint(0, lm.tokenizer_.vocab_size, (32, 10))
    batch_state, single = None, [None] * 32
    for t in range(ids.shape[1]):
        batch_probs, batch_state = lm.step(ids[:, t], batch_state)
        assert batch_probs.shape == (32, lm.tokenizer_.vocab_size)
        for b in range(32):
            probs, single[b] = lm.step(int(ids[b, t]), single[b])
            assert (probs - batch_probs[b]).abs().max().item() <= ATOL
    want = one_pass_probs(lm, ids[5].tolist())[-1]  # and a row against the forward pass
    assert (batch_probs[5] - want).abs().max().item() <= ATOL


def footprint(obj, seen=None) -> tuple[int, int]:
    """(numbers in tensors, items in containers) reachable from obj's attributes."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, str | int | float | type(None)):
        return 0, 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return obj.numel(), 0
    if isinstance(obj, torch.nn.Module):
        return 0, 0  # the model's weights
    if isinstance(obj, dict):
        children, items = list(obj.values()), len(obj)
    elif isinstance(obj, list | tuple | set):
        children, items = list(obj), len(obj)
    elif hasattr(obj, "__dict__") or dataclasses.is_dataclass(obj):
        fields = vars(obj) if hasattr(obj, "__dict__") else {}
        children, items = list(fields.values()), 0
    else:
        return 0, 0
    sums = [footprint(c, seen) for c in children]
    return sum(s[0] for s in sums), items + sum(s[1] for s in sums)


def test_the_state_stays_the_same_size_over_many_steps():
    lm = tiny_lm("char")
    stream = lm.stream()
    stream.push("t")
    first, first_numel = footprint(stream), stream.state.numel()
    for char in TEXT * 3:
        stream.push(char)
    assert stream.steps == 1 + 3 * len(TEXT)
    assert footprint(stream) == first
    assert stream.state.numel() == first_numel == 2 * 2 * 16  # 2 layers of (h, c), B = 1, H = 16
    assert isinstance(stream.state, LMState)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stream.state.layers = ()


PARTS = [("char", "the cat s", "at on the m"), ("word", "the cat", " sat on")]


@pytest.mark.parametrize(("kind", "first", "second"), PARTS)
def test_feeding_in_two_parts_equals_feeding_at_once(kind, first, second):
    lm = tiny_lm(kind)
    stream = lm.stream()
    stream.feed(first)
    two_parts = stream.feed(second)
    at_once = lm.stream().feed(first + second)
    assert stream.steps == len(lm.tokenizer_.encode(first + second))
    assert (two_parts - at_once).abs().max().item() <= ATOL
    assert (at_once - lm.next_token_probs(first + second)).abs().max().item() <= ATOL
    assert [t for t, _ in stream.top(3)] == [t for t, _ in lm.predict_next(first + second, 3)]
    assert stream.reset().steps == 0
    assert stream.probs is None
    assert torch.equal(stream.feed(first + second), at_once)


def test_a_text_longer_than_a_feed_block_equals_one_forward_pass():
    lm = tiny_lm("char")
    text = (TEXT * 10)[: 2 * FEED_BLOCK + 37]
    want = one_pass_probs(lm, lm.tokenizer_.encode(text))[-1]
    assert (lm.stream().feed(text) - want).abs().max().item() <= ATOL


def test_bad_steps_are_named():
    lm = tiny_lm("word")
    with pytest.raises(UserError, match="token: expected a token of the vocabulary, got 'zebra'"):
        lm.step("zebra")
    with pytest.raises(UserError, match=r"token: expected a token string or an id in \[0, "):
        lm.step(lm.tokenizer_.vocab_size)
    _, state = lm.step(torch.tensor([4, 5, 6]))
    with pytest.raises(UserError, match="token: expected a batch of 3 \\(the state's\\), got 2"):
        lm.step(["the", "cat"], state)
    with pytest.raises(UserError, match="state: expected a LMState from an earlier step, got list"):
        lm.step("the", [])
    stream = lm.stream()
    with pytest.raises(UserError, match="top: expected a token read first"):
        stream.top(2)
    with pytest.raises(UserError, match="text: expected at least one token, got ''"):
        stream.feed("")
    with pytest.raises(UserError, match="expected one token \\(a stream is one sequence\\)"):
        stream.push(["the", "cat"])
    with pytest.raises(UserError, match="not fitted"):
        LanguageModel().step("a")


# ---------------------------------------------------------------------------- seq2seq
WORDS = ["a", "b", "c", "d"]


def reverse_pairs(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    src = [
        " ".join(WORDS[i] for i in torch.randint(0, 4, (int(L),), generator=gen))
        for L in torch.randint(2, 5, (n,), generator=gen)
    ]
    return Pairs(src, [" ".join(reversed(s.split())) for s in src])


@pytest.fixture(scope="module")
def s2s():
    model = {
        "embedding_size": 16,
        "hidden_size": 16,
        "num_layers": 1,
        "dropout": 0.0,
        "attention": "luong",
    }
    return Seq2Seq(
        "word", "word", model=model, batch_size=16, optim={"lr": 0.02}, train={"epochs": 3}
    ).fit(reverse_pairs(120), valid=reverse_pairs(10, 1), progress=False)


def test_stepping_the_gold_target_equals_the_teacher_forced_logits(s2s):
    pairs = reverse_pairs(4, seed=2)
    tok = s2s.tgt_tokenizer_
    batch_state = s2s.start(pairs.src)  # four sources of different lengths, padded together
    targets = [["<bos>", *t.split()] for t in pairs.tgt]
    T = max(len(t) for t in targets)
    batch_probs = []
    for t in range(T):
        column = [row[t] if t < len(row) else "<eos>" for row in targets]
        probs, batch_state = s2s.step(column, batch_state)
        batch_probs.append(probs)
    for b, (src, tgt) in enumerate(zip(pairs.src, targets, strict=True)):
        ids = s2s.encode_source(src)
        tgt_in = torch.tensor([[tok.token_to_id(w) for w in tgt]])  # (1, T)
        with torch.no_grad():
            logits, _ = s2s.model_.logits(torch.tensor([ids]), torch.tensor([len(ids)]), tgt_in)
        want = logits[0].softmax(-1)  # (T, V)
        state = s2s.start(src)
        for t, word in enumerate(tgt):
            probs, state = s2s.step(word, state)
            assert (probs - want[t]).abs().max().item() <= ATOL
            assert (batch_probs[t][b] - want[t]).abs().max().item() <= ATOL


def test_greedy_stepping_reproduces_translate(s2s):
    src = reverse_pairs(8, seed=3).src
    tok = s2s.tgt_tokenizer_
    banned = [tok.pad_id, tok.bos_id]
    got = []
    for sentence in src:
        limit = min(200, math.ceil(1.5 * s2s.length_ratio_ * len(s2s.encode_source(sentence))))
        stream, out = s2s.stream(sentence), []
        numel = stream.state.numel()
        for t in range(limit + 1):
            probs = stream.probs.clone()
            probs[banned] = -1
            if t >= limit:  # as greedy decoding: only eos once the length limit is reached
                probs[torch.arange(len(probs)) != tok.eos_id] = -1
            token = int(probs.argmax())
            if token == tok.eos_id:
                break
            out.append(token)
            stream.push(token)
            assert stream.state.numel() == numel
        got.append(tok.decode(out))
    assert got == s2s.translate(src, method="greedy")
    assert stream.steps == len(out)


def test_bad_seq2seq_steps_are_named(s2s):
    with pytest.raises(UserError, match="sentence: expected some text, got '  '"):
        s2s.start("  ")
    state = s2s.start(["a b", "c d"])
    with pytest.raises(UserError, match="token: expected a batch of 2 \\(the state's\\), got 1"):
        s2s.step("<bos>", state)
    with pytest.raises(UserError, match="token: expected a token of the vocabulary, got 'e'"):
        s2s.step(["<bos>", "e"], state)


# ---------------------------------------------------------------------------- forecaster
H, N, MORE = 4, 60, 5
TINY = {
    "horizon": H,
    "model": {"hidden_size": 8, "num_layers": 1},
    "batch_size": 8,
    "batches_per_epoch": 3,
    "train": {"epochs": 2},
}


def monthly(n: int, seed: int = 0) -> pd.DataFrame:
    k = np.arange(n)
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "month": pd.date_range("2000-01-01", periods=n, freq="MS"),
            "y": 5 + 0.05 * k + np.sin(2 * np.pi * k / 12) + rng.normal(0, 0.1, n),
            "z": 3 + np.cos(2 * np.pi * k / 12) + rng.normal(0, 0.1, n),
        }
    )


@pytest.fixture(scope="module")
def series():
    return monthly(N + MORE)


@pytest.fixture(scope="module")
def forecaster(series):
    return Forecaster(**TINY).fit(series.iloc[:N], target=["y", "z"], progress=False)


def test_stepping_values_equals_forecast_at_each_origin(forecaster, series):
    fc = forecaster
    full = {s.name: s for s in fc.history(series)}
    for name in ("y", "z"):
        state = fc.start(name)
        assert len(state.values) == fc.reach_
        for k in range(MORE):
            out, state = fc.step(float(series[name].iloc[N + k]), state)
            assert len(state.values) == fc.reach_
            want = fc.forecast_at([full[name]], [N + k + 1])
            pd.testing.assert_frame_equal(out, want, rtol=1e-6)
        assert out["time"].iloc[0] == series["month"].iloc[-1] + pd.DateOffset(months=1)
    pd.testing.assert_frame_equal(
        out, fc.predict(data=series).query("series == 'z'").reset_index(drop=True), rtol=1e-6
    )
    # From given data rather than the stored training tail:
    state = fc.start("y", data=series.iloc[: N + 2])
    out, _ = fc.step(float(series["y"].iloc[N + 2]), state)
    pd.testing.assert_frame_equal(out, fc.forecast_at([full["y"]], [N + 3]), rtol=1e-6)


def test_bad_forecast_steps_are_named(forecaster, series):
    fc = forecaster
    with pytest.raises(UserError, match=r"series: expected one of \['y', 'z'\], got None"):
        fc.step(1.0)
    state = fc.start("y")
    with pytest.raises(UserError, match="value: expected a finite number, got nan"):
        fc.step(float("nan"), state)
    with pytest.raises(UserError, match="value: expected a finite number, got '3'"):
        fc.step("3", state)
    with pytest.raises(UserError, match="state: expected a ForecastState"):
        fc.step(1.0, state.values)
    renamed = series.iloc[:N].rename(columns={"y": "w"})
    with pytest.raises(UserError, match=r"series: expected one the model was trained on"):
        fc.start("w", data=renamed, target=["w", "z"])


def test_a_model_with_covariates_is_refused_with_the_reason(series):
    fc = Forecaster(**{**TINY, "train": {"epochs": 1}, "batches_per_epoch": 1}).fit(
        series.iloc[:N], target="y", past_covariates=["z"], progress=False
    )
    with pytest.raises(
        UserError,
        match=r"step: expected a model without past or future "
        r"covariates .*'past': \['z'\]",
    ):
        fc.step(1.0)
