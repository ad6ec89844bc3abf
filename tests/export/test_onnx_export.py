"""ONNX export: the graphs run in onnxruntime give PyTorch's numbers (max abs diff <= 1e-4),
and the exported folder runs with numpy and onnxruntime alone (torch blocked)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch

import lstmkit
from lstmkit.data import Pairs
from lstmkit.decode import greedy
from lstmkit.errors import UserError
from lstmkit.export import graphs
from lstmkit.export import onnx as export
from lstmkit.export.runtime import OnnxForecaster
from lstmkit.forecast import Forecaster
from lstmkit.forecast.windows import forecast_windows, make_windows
from lstmkit.lm import LanguageModel
from lstmkit.models.language_model import LMConfig, LSTMLanguageModel
from lstmkit.models.seq2seq import Seq2SeqConfig, build_seq2seq
from lstmkit.seq2seq import Seq2Seq

TOL = 1e-4
SRC = str(Path(lstmkit.__file__).parents[1])  # the subprocess imports this checkout
TEXT = "the cat sat on the mat\n" * 20
WORDS = ["a", "b", "c", "d"]


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def max_diff(onnx_value, torch_value):
    return float(np.abs(onnx_value - torch_value.detach().numpy()).max())


def exported(graph, example, tmp_path, name):
    spec = export.export_graph(graph, example, tmp_path / f"{name}.onnx", 17)
    return session(tmp_path / f"{name}.onnx"), [v["name"] for v in spec["inputs"]]


# ---------------------------------------------------------------- language model graphs
@pytest.mark.parametrize(
    ("cell", "tie", "layers"),
    [("lstm", False, 2), ("lstm", True, 1), ("gru", False, 2), ("rnn", True, 2)],
)
def test_lm_step_matches_pytorch_over_consecutive_steps(tmp_path, cell, tie, layers):
    config = LMConfig(
        vocab_size=11,
        embedding_size=6,
        hidden_size=8,
        num_layers=layers,
        cell=cell,
        tie_weights=tie,
    )
    model = LSTMLanguageModel(config).eval()
    ort_step, names = exported(
        graphs.LMGraph(model, step=True), graphs.LMGraph(model, True).example(), tmp_path, "step"
    )
    ids = torch.randint(0, 11, (3, 4))  # batch 3 (exported with 2), 4 consecutive steps
    state, feeds = None, None
    for t in range(4):
        with torch.no_grad():
            logits, state = model(ids[:, t : t + 1], state)
        flat = [x for s in state for x in (s if cell == "lstm" else (s,))]
        if feeds is None:  # zeros at the first step, then the graph's own state
            feeds = {
                n: np.zeros((1, 3, x.shape[-1]), np.float32)
                for n, x in zip(names[1:], flat, strict=True)
            }
        out = ort_step.run(None, {"ids": ids[:, t].numpy(), **feeds})
        assert max_diff(out[0], logits[:, 0]) <= TOL
        assert all(max_diff(o, x) <= TOL for o, x in zip(out[1:], flat, strict=True))
        feeds = dict(zip(names[1:], out[1:], strict=True))


def flatten(state):
    return [x for s in state for x in (s if isinstance(s, tuple) else (s,))]


@pytest.mark.parametrize(
    ("cell", "tie"), [("lstm", False), ("lstm", True), ("gru", False), ("rnn", True)]
)
def test_lm_sequence_has_dynamic_batch_and_length_and_takes_a_state(tmp_path, cell, tie):
    config = LMConfig(vocab_size=13, embedding_size=6, hidden_size=8, cell=cell, tie_weights=tie)
    model = LSTMLanguageModel(config).eval()
    graph = graphs.LMGraph(model, step=False)
    ort_seq, names = exported(graph, graph.example(2, 3), tmp_path, "seq")
    ids = torch.randint(0, 13, (5, 9))  # exported with (2, 3)
    with torch.no_grad():
        _, state = model(torch.randint(0, 13, (5, 4)))  # a state that is not zeros
        logits, new_state = model(ids, state)
    feeds = dict(zip(names[1:], (x.numpy() for x in flatten(state)), strict=True))
    out = ort_seq.run(None, {"ids": ids.numpy(), **feeds})
    assert out[0].shape == (5, 9, 13)
    assert max_diff(out[0], logits) <= TOL
    assert all(max_diff(o, x) <= TOL for o, x in zip(out[1:], flatten(new_state), strict=True))


# ---------------------------------------------------------------- seq2seq graphs
S2S_CONFIGS = {
    "none-bi-2layers": {"attention": "none", "num_layers": 2},
    "luong-general-feeding": {"attention": "luong", "input_feeding": True},
    "luong-dot-unidirectional": {
        "attention": "luong",
        "luong_score": "dot",
        "bidirectional": False,
    },
    "bahdanau-2layers-tied": {
        "attention": "bahdanau",
        "num_layers": 2,
        "tie_tgt_embeddings": True,
    },
}


@pytest.mark.parametrize("name", S2S_CONFIGS)
def test_seq2seq_encoder_and_decoder_steps_match_pytorch(tmp_path, name):
    config = Seq2SeqConfig(13, 12, embedding_size=6, hidden_size=8, **S2S_CONFIGS[name])
    model = build_seq2seq(config).eval()
    encoder, decoder = graphs.EncoderGraph(model), graphs.DecoderStepGraph(model)
    ort_enc, _ = exported(encoder, encoder.example(), tmp_path, "enc")
    ort_dec, dec_names = exported(decoder, decoder.example(encoder), tmp_path, "dec")
    src = torch.randint(4, 13, (4, 8))
    lengths = torch.tensor([8, 3, 5, 1])  # padded batch, unsorted, other sizes than exported
    src[torch.arange(8) >= lengths[:, None]] = 0
    with torch.no_grad():
        memory, state = model.encode(src, lengths)
    enc = dict(
        zip(
            [o.name for o in ort_enc.get_outputs()],
            ort_enc.run(None, {"src": src.numpy(), "src_lengths": lengths.numpy()}),
            strict=True,
        )
    )
    assert max_diff(enc["memory_states"], memory.states) <= TOL
    assert (enc["memory_mask"] == memory.mask.numpy()).all()
    assert max_diff(enc["h"], state.h) <= TOL
    assert max_diff(enc["c"], state.c) <= TOL
    if memory.keys is not None:
        assert max_diff(enc["memory_keys"], memory.keys) <= TOL
    tokens = torch.full((4,), 2)
    feeds = {k: v for k, v in enc.items() if k in dec_names}
    for _ in range(3):
        with torch.no_grad():
            logits, state = model.decode_step(tokens, state, memory)
        out = dict(
            zip(
                [o.name for o in ort_dec.get_outputs()],
                ort_dec.run(None, {"tokens": tokens.numpy(), **feeds}),
                strict=True,
            )
        )
        assert max_diff(out["logits"], logits) <= TOL
        assert max_diff(out["h_out"], state.h) <= TOL
        assert max_diff(out["c_out"], state.c) <= TOL
        if state.feed is not None:
            assert max_diff(out["feed_out"], state.feed) <= TOL
        if state.weights is not None:
            assert max_diff(out["attention"], state.weights) <= TOL
        feeds |= {k[: -len("_out")]: v for k, v in out.items() if k.endswith("_out")}
        tokens = logits.argmax(-1)


# ---------------------------------------------------------------- exported folders
def run_without_torch(code: str) -> dict:
    """Runs ``code`` (which prints JSON) in a Python where importing torch fails."""
    script = "import sys\nsys.modules['torch'] = None\n" + code
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"OMP_NUM_THREADS": "1", "PYTHONPATH": SRC},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def lm_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    lm = LanguageModel(
        "char",
        model={"embedding_size": 8, "hidden_size": 16, "num_layers": 2},
        batch_size=2,
        bptt=8,
        train={"epochs": 1},
    ).fit(TEXT, valid=TEXT[:100], out=root / "run", progress=False)
    manifest = export.export_onnx(root / "run", root / "onnx")
    return lm, root, manifest


def test_lm_folder_has_the_manifest_and_tokenizer(lm_export):
    _, root, manifest = lm_export
    assert json.loads((root / "onnx" / "manifest.json").read_text()) == manifest
    assert (manifest["kind"], manifest["opset"], manifest["format"]) == ("lm", 17, "lstmkit-onnx")
    assert {g["file"] for g in manifest["graphs"].values()} == {"lm_step.onnx", "lm_sequence.onnx"}
    assert manifest["special_ids"] == {"pad": 0, "unk": 1, "bos": 2, "eos": 3}
    step = manifest["graphs"]["step"]
    assert step["inputs"][0] == {"name": "ids", "shape": ["B"], "dtype": "int64"}
    assert [v["name"] for v in step["outputs"]] == ["logits", "h1_l0", "c1_l0", "h1_l1", "c1_l1"]
    assert (root / "onnx" / "tokenizer").is_dir()
    assert not list(root.glob(".onnx.*"))


def test_lm_runs_with_onnxruntime_alone(lm_export):
    lm, root, _ = lm_export
    got = run_without_torch(f"""
import json
from lstmkit.export.runtime import OnnxLanguageModel
lm = OnnxLanguageModel({str(root / "onnx")!r}, threads=1)
probs = lm.next_token_probs("the ca")
logits, state = lm.step([5, 6])
logits, state = lm.step([7, 8], state)
print(json.dumps({{"probs": probs.tolist(), "step": logits.tolist(),
                  "torch": "torch" in sys.modules and sys.modules["torch"] is not None}}))
""")
    assert not got["torch"]
    expected = lm.next_token_probs("the ca").double().numpy()
    assert np.abs(np.array(got["probs"]) - expected).max() <= TOL
    with torch.no_grad():
        logits, _ = lm.model_(torch.tensor([[5, 7], [6, 8]]))
    assert np.abs(np.array(got["step"]) - logits[:, -1].numpy()).max() <= TOL


def reverse_pairs(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    src = [" ".join(WORDS[i] for i in torch.randint(0, 4, (3,), generator=gen)) for _ in range(n)]
    return Pairs(src, [" ".join(reversed(s.split())) for s in src])


@pytest.fixture(scope="module")
def s2s_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("s2s")
    s2s = Seq2Seq(
        "word",
        "word",
        model={
            "embedding_size": 8,
            "hidden_size": 16,
            "num_layers": 1,
            "dropout": 0.0,
            "attention": "bahdanau",
        },
        batch_size=16,
        optim={"lr": 0.02},
        train={"epochs": 3},
    ).fit(reverse_pairs(80), valid=reverse_pairs(8, 1), out=root / "run", progress=False)
    export.export_onnx(root / "run", root / "onnx", opset=18)
    return s2s, root


def test_greedy_translation_with_onnxruntime_alone_equals_seq2seq(s2s_export):
    s2s, root = s2s_export
    sentences = ["a b c", "d", "c c a b d a", "", "b a"]
    got = run_without_torch(f"""
import json
from lstmkit.export.runtime import OnnxSeq2Seq
model = OnnxSeq2Seq({str(root / "onnx")!r}, threads=1)
src = {[s2s.encode_source(s) for s in sentences if s]!r}
print(json.dumps({{"ids": model.greedy(src, max_len=7),
                  "text": model.translate({sentences!r}),
                  "one": model.translate({sentences[2]!r})}}))
""")
    src = [s2s.encode_source(s) for s in sentences if s]
    lengths = torch.tensor([len(s) for s in src])
    padded = torch.zeros(len(src), int(lengths.max()), dtype=torch.long)
    for row, ids in enumerate(src):
        padded[row, : len(ids)] = torch.tensor(ids)
    want = [h.tokens for h in greedy(s2s.model_, padded, lengths, max_len=7)]
    assert got["ids"] == want
    assert got["text"] == s2s.translate(sentences, method="greedy")
    assert len({len(ids) for ids in got["ids"]}) > 1  # outputs of several lengths: not trivial
    assert got["text"][3] == ""
    assert got["one"] == got["text"][2]  # one sentence in, one string out


@pytest.fixture(scope="module")
def series():
    k = np.arange(60)
    y = 5 + 0.05 * k + np.sin(2 * np.pi * k / 12) + np.random.default_rng(0).normal(0, 0.1, 60)
    price = np.cos(k / 5)
    return pd.DataFrame(
        {
            "month": pd.date_range("2000-01-01", periods=60, freq="MS"),
            "y": y,
            "visits": np.sin(k / 3),
            "price": price,
        }
    )


FORECASTERS = {
    # residual windows, calendar, a past and a future covariate, the autoregressive head
    "autoregressive-covariates": (
        {"model": {"head": "autoregressive"}},
        {"past_covariates": ["visits"], "future_covariates": ["price"]},
    ),
    # plain windows (mean and std), no covariates at all, the direct head
    "direct-plain": (
        {"model": {"head": "direct"}, "residual": False, "calendar": False},
        {"target": "y"},
    ),
    # the residual to naive (lag 1: a season of 1 given)
    "naive-residual": ({"season": 1}, {"target": "y"}),
}
SEASON_AND_LAG = {
    "autoregressive-covariates": (12, 12),
    "direct-plain": (12, 0),
    "naive-residual": (1, 1),
}


def stacked(values, origins, lo, hi):
    """Rows values[t - lo : t + hi] per origin, or None without values."""
    return None if values is None else np.stack([values[t - lo : t + hi] for _, t in origins])


@pytest.mark.parametrize("name", FORECASTERS)
def test_forecaster_matches_model_forecast_and_the_estimators_windows(tmp_path, series, name):
    options, columns = FORECASTERS[name]
    network = {"hidden_size": 8, "num_layers": 2, "quantiles": (0.1, 0.5, 0.9)}
    options = {**options, "model": {**network, **options.get("model", {})}}
    fc = Forecaster(  # one network: an ensemble's members are test_forecast_views.py's
        horizon=4,
        batch_size=8,
        batches_per_epoch=2,
        train={"epochs": 1},
        season_adjust=False,
        **options,
    ).fit(series, out=tmp_path / "run", progress=False, **columns)
    manifest = export.export_onnx(tmp_path / "run", tmp_path / "onnx")
    model = fc.model_
    pre = manifest["preprocessing"]
    assert (pre["lookback"], pre["quantiles"]) == (fc.lookback_, [0.1, 0.5, 0.9])
    assert (pre["season"], pre["lag"]) == SEASON_AND_LAG[name]
    runner = OnnxForecaster(tmp_path / "onnx", threads=1)
    B, T, K = 5, fc.lookback_ + 3, 4  # other sizes than the export example's
    y = torch.randn(B, T)
    past = torch.randn(B, T, model.n_past) if model.n_past else None
    fut = torch.randn(B, T + K, model.n_future) if model.n_future else None
    hist, hor = (None, None) if fut is None else (fut[:, :T], fut[:, T:])
    with torch.no_grad():
        expected = model.forecast(y, past, hist, hor)
    got = runner.forecast(*(None if x is None else x.numpy() for x in (y, past, hist, hor)))
    assert got.shape == (B, K, 3)
    assert max_diff(got, expected) <= TOL
    # From the standardised history, against the estimator's own windows and their undoing.
    p = fc._prepare(fc.history(series)[0], fc.views_[0])
    L, d = fc.lookback_, fc.lag_
    origins = [(0, 40), (0, 60 - K), (0, L + d)]
    window = make_windows([p], origins, L, K, fc.window_norm, d)
    with torch.no_grad():
        expected = forecast_windows(model, window)
    q, base = runner.forecast_window(
        stacked(p.y, origins, L + d, 0),
        stacked(p.past, origins, L, 0),
        stacked(p.future, origins, L, 0),
        stacked(p.future, origins, 0, K),
    )
    assert max_diff(q, expected) <= TOL
    assert max_diff(base, window.base) <= TOL


# ---------------------------------------------------------------- the folder, whole or not at all
def test_an_existing_folder_is_kept_unless_overwrite(lm_export, tmp_path):
    _, root, _ = lm_export
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists and is not empty"):
        export.export_onnx(root / "run", out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    export.export_onnx(root / "run", out, overwrite=True)
    assert not (out / "keep.txt").exists()
    assert (out / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left


def test_a_failed_export_leaves_the_old_folder_and_no_half_folder(lm_export, tmp_path, monkeypatch):
    _, root, _ = lm_export
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")

    def broken(*args):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(export, "export_graph", broken)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        export.export_onnx(root / "run", out, overwrite=True)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        export.export_onnx(root / "run", tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("opset", "message"),
    [
        (13, "^opset: expected an integer from 14 to 20, got 13$"),
        (True, "^opset: expected an integer"),
    ],
)
def test_bad_opset_is_named(lm_export, tmp_path, opset, message):
    with pytest.raises(UserError, match=message):
        export.export_onnx(lm_export[1] / "run", tmp_path / "out", opset=opset)
