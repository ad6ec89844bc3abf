"""Gate traces of the three models, checked against the models' own (fused) forward passes and
the cell equations; loading checkpoints for inspection."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.data.calendar import season_length
from lstmkit.data.series_tools import read_frame
from lstmkit.errors import UserError
from lstmkit.forecast import Forecaster
from lstmkit.forecast.windows import make_windows, prepare
from lstmkit.inspect.traces import (
    forecast_trace,
    lm_trace,
    load_any,
    recording,
    seq2seq_trace,
    to_json,
)
from lstmkit.lm import LanguageModel
from lstmkit.models import LMConfig, LSTMLanguageModel, Seq2SeqConfig, build_seq2seq
from lstmkit.models.forecaster import members_of
from lstmkit.nn import LSTM
from lstmkit.seq2seq import Seq2Seq
from lstmkit.tokenizers import train_tokenizer

TEXT = "the cat sat on the mat and the dog sat on the log\n" * 5
ATOL = 1e-5


def word_lm(num_layers=2, cell="lstm") -> LanguageModel:
    lm = LanguageModel("word", batch_size=2, bptt=8)
    lm.tokenizer_ = train_tokenizer("word", TEXT)
    config = LMConfig(
        vocab_size=lm.tokenizer_.vocab_size,
        embedding_size=6,
        hidden_size=8,
        num_layers=num_layers,
        cell=cell,
    )
    lm.model_ = LSTMLanguageModel(config).eval()
    return lm


def rows(q: dict, index) -> dict:
    """The quantities' rows ``index`` (layer * D + direction)."""
    return {k: v[index] for k, v in q.items()}


def check_cell_equations(q: dict, c0=None) -> None:
    """c_t = f c_{t-1} + i g and h_t = o tanh(c_t) for every row, step and unit."""
    c_prev = np.concatenate(
        [np.zeros_like(q["c"][:, :1]) if c0 is None else c0, q["c"][:, :-1]], axis=1
    )
    np.testing.assert_allclose(q["c"], q["f"] * c_prev + q["i"] * q["g"], atol=ATOL)
    np.testing.assert_allclose(q["h"], q["o"] * np.tanh(q["c"]), atol=ATOL)


# ---------------------------------------------------------------------------- language model
def test_lm_trace_matches_the_fused_forward_and_the_cell_equations():
    lm = word_lm()
    trace = lm_trace(lm, "the cat sat on the log")
    (p,) = trace["panels"]
    assert (p["name"], p["layers"], p["directions"]) == ("lstm", 2, 1)
    assert p["tokens"] == ["the", "cat", "sat", "on", "the", "log"]
    assert all(v.shape == (2, 6, 8) and v.dtype == np.float32 for v in p["quantities"].values())
    ids = torch.tensor([lm.tokenizer_.encode("the cat sat on the log")])
    assert lm.model_.layers[0].resolve_backend() == "fused"
    with torch.no_grad():
        logits, state = lm.model_(ids)  # fused: the model as it predicts
    for layer, (h_n, c_n) in enumerate(state):
        np.testing.assert_allclose(p["quantities"]["h"][layer, -1], h_n[0, 0], atol=ATOL)
        np.testing.assert_allclose(p["quantities"]["c"][layer, -1], c_n[0, 0], atol=ATOL)
    check_cell_equations(p["quantities"])
    probs = torch.softmax(logits[0].double(), -1)  # (T, V)
    assert len(trace["top_next"]) == 6
    for t, top in enumerate(trace["top_next"]):
        assert len(top) == 5
        assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
        for token, prob in top:
            assert prob == pytest.approx(
                float(probs[t, lm.tokenizer_.token_to_id(token)]), abs=1e-6
            )
    assert (trace["kind"], trace["attention"], trace["forecast"], trace["memory"]) == (
        "lm",
        None,
        None,
        [],
    )
    assert trace["findings"]
    assert all(isinstance(f, str) for f in trace["findings"])
    json.dumps(to_json(trace))


def test_unknown_words_become_unk_and_long_texts_are_cut():
    lm = word_lm(num_layers=1)
    trace = lm_trace(lm, "the zebra sat on the quokka " * 3, max_tokens=4)
    assert trace["panels"][0]["tokens"] == ["the", "<unk>", "sat", "on"]
    assert trace["panels"][0]["quantities"]["f"].shape == (1, 4, 8)
    assert len(trace["top_next"]) == 4
    unknown, cut = trace["notices"]
    assert "mapped to <unk>: 'zebra', 'quokka'" in unknown
    assert "18 tokens, truncated to the first 4" in cut
    with pytest.raises(UserError, match="text: expected some text, got none"):
        lm_trace(lm, "  \n ")


def test_recording_leaves_the_lstm_as_it_was():
    lstm = LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    with recording(lstm) as (calls,):
        lstm(x)
    assert len(calls) == 1
    assert calls[0].f.shape == (1, 2, 5, 4)
    assert len(lstm(x)) == 2  # (output, (h, c)) again: the hooks are gone
    assert not lstm._forward_hooks
    assert not lstm._forward_pre_hooks
    with pytest.raises(UserError, match="expected LSTM layers to inspect, got GRU"):  # noqa: SIM117
        with recording(torch.nn.GRU(3, 4)):
            pass


# ---------------------------------------------------------------------------- seq2seq
def tiny_seq2seq(attention="luong") -> Seq2Seq:
    src = ["one two three", "two three four", "four one"]
    tgt = ["a b c", "b c d", "d a"]
    s2s = Seq2Seq(
        "word",
        "word",
        model={"embedding_size": 6, "hidden_size": 8, "num_layers": 1, "attention": attention},
    )
    s2s.src_tokenizer_ = train_tokenizer("word", [s + "\n" for s in src])
    s2s.tgt_tokenizer_ = train_tokenizer("word", [t + "\n" for t in tgt])
    s2s.model_ = build_seq2seq(Seq2SeqConfig(**s2s.model_config_)).eval()
    s2s.length_ratio_ = 1.0
    return s2s


def test_seq2seq_trace_matches_the_encoder_decoder_and_greedy_translation():
    s2s = tiny_seq2seq()
    model = s2s.model_
    trace = seq2seq_trace(s2s, "one two three four")
    encoder, decoder = trace["panels"]
    assert (encoder["name"], encoder["layers"], encoder["directions"]) == ("encoder", 1, 2)
    assert encoder["tokens"] == ["one", "two", "three", "four"]
    assert encoder["quantities"]["h"].shape == (2, 4, 8)
    src = torch.tensor([s2s.src_tokenizer_.encode("one two three four")])
    with torch.no_grad():
        states, _ = model.encoder(src, torch.tensor([4]))  # (1, S, 2H), fused
        np.testing.assert_allclose(encoder["quantities"]["h"][0], states[0, :, :8], atol=ATOL)
        np.testing.assert_allclose(encoder["quantities"]["h"][1], states[0, :, 8:], atol=ATOL)
        # The decoder's steps: Luong attention without input feeding reads only the previous
        # token, so the whole greedy output can be replayed through the fused LSTM at once.
        translation = s2s.translate(["one two three four"], method="greedy")[0]
        out_ids = s2s.tgt_tokenizer_.encode(translation)
        assert decoder["tokens"] == [*translation.split(), "<eos>"]
        _, state = model.encode(src, torch.tensor([4]))
        tgt_in = torch.tensor([[model.bos_id, *out_ids]])
        out, _ = model.decoder.lstm(model.decoder.embed(tgt_in), (state.h, state.c))
    np.testing.assert_allclose(decoder["quantities"]["h"][0], out[0], atol=ATOL)
    check_cell_equations(decoder["quantities"], c0=state.c[:, 0, None].numpy())
    check_cell_equations(rows(encoder["quantities"], [0]))
    backward = {k: v[:, ::-1] for k, v in rows(encoder["quantities"], [1]).items()}
    check_cell_equations(backward)  # the backward direction reads from the last token
    attention = trace["attention"]
    assert attention["src"] == encoder["tokens"]
    assert attention["tgt"] == decoder["tokens"]
    assert attention["weights"].shape == (len(decoder["tokens"]), 4)
    np.testing.assert_allclose(attention["weights"].sum(1), 1.0, atol=1e-6)
    json.dumps(to_json(trace))


def test_seq2seq_without_attention_and_with_a_reversed_source():
    s2s = tiny_seq2seq(attention="none")
    s2s.reverse_source = True
    trace = seq2seq_trace(s2s, "one two nine")
    assert trace["attention"] is None
    assert trace["panels"][0]["tokens"] == ["<unk>", "two", "one"]  # as the encoder reads it
    assert "mapped to <unk>: 'nine'" in trace["notices"][0]


# ---------------------------------------------------------------------------- forecaster
@pytest.fixture(scope="module")
def forecaster():
    t = pd.date_range("2000-01-01", periods=72, freq="MS")
    y = 10 + np.sin(np.arange(72) * np.pi / 6) + np.random.default_rng(0).normal(0, 0.1, 72)
    df = pd.DataFrame({"month": t, "y": y})
    fc = Forecaster(
        horizon=4,
        model={"hidden_size": 8, "num_layers": 2},
        batch_size=8,
        batches_per_epoch=2,
        train={"epochs": 1},
    ).fit(df, progress=False)
    return fc, df


def test_forecast_trace_reads_the_window_the_model_reads(forecaster):
    fc, df = forecaster
    trace = forecast_trace(fc, df)
    encoder, decoder = trace["panels"]
    L = fc.lookback_
    assert encoder["tokens"] == [f"{d:%Y-%m-%d}" for d in df["month"].iloc[-L:]]
    assert encoder["quantities"]["c"].shape == (2, L, 8)
    assert decoder["tokens"] == ["2006-01-01", "2006-02-01", "2006-03-01", "2006-04-01"]
    # The window built here from the data, as forecast_at builds it, through the fused encoder.
    (series,) = read_frame(df, **fc.read_options_).series
    m = season_length("MS")
    p = prepare(series, fc.scaler_, "MS", None, fc.horizon)
    window = make_windows([p], [(0, len(series))], L, fc.horizon, True, m)
    with torch.no_grad():
        # the default ensemble's first member reads this view: the values, seasonal differences
        member = members_of(fc.model_)[0]
        h, c = member.encode(window.y, window.past, window.future_hist)  # (L, 1, H)
    np.testing.assert_allclose(encoder["quantities"]["h"][:, -1], h[:, 0], atol=ATOL)
    np.testing.assert_allclose(encoder["quantities"]["c"][:, -1], c[:, 0], atol=ATOL)
    check_cell_equations(encoder["quantities"])
    table = fc.predict(data=df)
    f = trace["forecast"]
    assert f["series"] == "y"
    assert f["time"] == decoder["tokens"]
    np.testing.assert_allclose(f["forecast"], table["forecast"])
    np.testing.assert_allclose(f["lower"], table["q0.1"])
    np.testing.assert_allclose(f["upper"], table["q0.9"])
    assert f["history"] == pytest.approx(df["y"].iloc[-len(f["history"]) :].tolist())
    assert f["history_time"][-1] == "2005-12-01"
    json.dumps(to_json(trace))


def test_forecast_trace_without_data_uses_the_kept_history(forecaster):
    fc, _ = forecaster
    trace = forecast_trace(fc)
    np.testing.assert_allclose(trace["forecast"]["forecast"], fc.predict()["forecast"])
    assert trace["forecast"]["history_time"][-1] == "2005-12-01"


# ---------------------------------------------------------------------------- checkpoints
def test_load_any_loads_each_task_and_refuses_what_has_no_gates(forecaster, tmp_path):
    lm = word_lm(num_layers=1)
    lm.save(tmp_path / "lm")
    assert isinstance(load_any(tmp_path / "lm"), LanguageModel)
    s2s = tiny_seq2seq()
    s2s.save(tmp_path / "s2s")
    assert isinstance(load_any(tmp_path / "s2s"), Seq2Seq)
    forecaster[0].save(tmp_path / "fc")
    assert isinstance(load_any(tmp_path / "fc"), Forecaster)
    word_lm(num_layers=1, cell="gru").save(tmp_path / "gru")
    with pytest.raises(UserError, match=r"gru: a GRU language model has no LSTM gates"):
        load_any(tmp_path / "gru")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"empty: expected a checkpoint or a run folder"):
        load_any(tmp_path / "empty")
    with pytest.raises(UserError, match=r"missing: no such checkpoint directory"):
        load_any(tmp_path / "missing")
