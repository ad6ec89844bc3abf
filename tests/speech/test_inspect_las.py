"""`lstmkit inspect` on a Listen-Attend-Spell recogniser: the attention alignment of the greedy
transcript (checked against greedy decoding and the teacher-forced speller), the listener's
pyramid of panels and the speller's, the CTC head's posteriors when there is one, the report
with and without them, an empty transcript, and `lstmkit inspect RUN --audio FILE`.

An untrained network (fixed seed) stands in for a fitted one: these are structural checks, and
a LAS that has learned needs a 200-utterance corpus (tests/speech/test_speech_las_estimator.py).
"""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from lstmkit.cli.main import main
from lstmkit.decode import greedy
from lstmkit.inspect.report import check_trace, page_data, write_report
from lstmkit.inspect.speech import speech_trace
from lstmkit.models.speech_las import build_las
from lstmkit.speech import SpeechRecognizer
from lstmkit.speech.features import FeatureConfig, features_of_samples
from lstmkit.tokenizers import train_tokenizer

# Three pyramid layers over pairs of frames: 20, 40 and 80 ms a frame.
MODEL = {
    "stack": 2,
    "hidden_size": 8,
    "num_layers": 3,
    "speller_hidden_size": 8,
    "embedding_size": 4,
    "dropout": 0.0,
}
H, STACK, LAYERS = 8, 2, 3
HOP = 0.01
ATOL = 1e-5
PNG = b"\x89PNG\r\n\x1a\n"


def las(ctc_weight: float = 0.0, seed: int = 0) -> SpeechRecognizer:
    """An untrained LAS recogniser of the tone language's letters."""
    r = SpeechRecognizer(
        architecture="las",
        model={**MODEL, "ctc_weight": ctc_weight},
        features={"n_mels": 20},
    )
    r.tokenizer_ = train_tokenizer("char", "abcd dcba")
    r.feature_config_ = FeatureConfig.from_dict({"n_mels": 20})
    torch.manual_seed(seed)
    r.model_ = build_las(r._model_config()).eval()
    return r


@pytest.fixture(scope="module")
def audio(tones, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("inspect-las") / "ab-cd.wav"
    soundfile.write(path, tones.speak("ab cd", np.random.default_rng(0)), tones.RATE)
    return str(path)


@pytest.fixture(scope="module")
def plain():
    return las()


@pytest.fixture(scope="module")
def trace(plain, audio):
    return speech_trace(plain, audio)


def features_of(r, path) -> torch.Tensor:
    samples, rate = soundfile.read(path, dtype="float32")
    assert rate == r.feature_config_.sample_rate
    return features_of_samples(samples, r.feature_config_)  # (T, F)


def listener_lengths(T: int) -> list[int]:
    """Frames of each pyramid layer: T / stack, then halved, each rounded up."""
    lengths = [math.ceil(T / STACK)]
    for _ in range(LAYERS - 1):
        lengths.append(math.ceil(lengths[-1] / 2))
    return lengths


# ---------------------------------------------------------------------------- the alignment
def test_alignment_is_greedy_decodings_attention(plain, audio, trace):
    x = features_of(plain, audio)
    T = x.shape[0]
    ratio = 30 * HOP  # transcribe's 30 tokens a second, per feature frame
    (hyp,) = greedy(plain.model_, x[None], torch.tensor([T]), None, max_len_ratio=ratio)
    a = trace["attention"]
    weights = a["weights"]
    S = listener_lengths(T)[-1]
    assert weights.shape == (len(hyp.tokens) + 1, S)  # one row per token and eos
    np.testing.assert_allclose(weights.sum(1), 1, atol=1e-5)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights, hyp.attention.numpy(), atol=ATOL)
    # The teacher-forced speller on the greedy tokens attends the same way.
    tok = plain.tokenizer_
    tgt_in = torch.tensor([[tok.bos_id, *hyp.tokens]])
    with torch.no_grad():
        _, forced = plain.model_.logits(x[None], torch.tensor([T]), tgt_in)  # (1, U+1, S)
    np.testing.assert_allclose(weights, forced[0].numpy(), atol=ATOL)
    # Source: listener frames by start time (80 ms each); target: the tokens, then eos.
    assert a["src"] == [f"{k * STACK * 2 ** (LAYERS - 1) * HOP:.2f}s" for k in range(S)]
    labels = ["␣" if t == " " else t for t in (tok.id_to_token(i) for i in hyp.tokens)]
    assert a["tgt"] == [*labels, tok.id_to_token(tok.eos_id)]
    s = trace["speech"]
    assert s["transcript"] == " ".join(tok.decode(hyp.tokens).split())
    assert s["transcript"]  # the seed's network writes something: the checks are not vacuous
    assert s["log_probs"] is None
    assert s["output_seconds"] == pytest.approx(STACK * 2 ** (LAYERS - 1) * HOP)
    assert [w["word"] for w in s["words"]] == s["transcript"].split()
    assert any("listener frame it weighs most" in f for f in trace["findings"])
    assert any("no per-frame posteriors" in f for f in trace["findings"])


# ---------------------------------------------------------------------------- the panels
def test_listener_panels_one_per_pyramid_layer(plain, audio, trace):
    x = features_of(plain, audio)
    T = x.shape[0]
    lengths = listener_lengths(T)
    panels = trace["panels"]
    assert [p["name"] for p in panels] == ["listener 0", "listener 1", "listener 2", "speller"]
    for k, (p, n) in enumerate(zip(panels, lengths, strict=False)):
        assert (p["layers"], p["directions"]) == (1, 2)
        assert p["tokens"] == [f"{t * STACK * 2**k * HOP:.2f}s" for t in range(n)]
        assert all(v.shape == (2, n, H) for v in p["quantities"].values())
        for row in range(2):  # the cell equations, the backward row from the last frame
            f, i, g, o, c, h = (p["quantities"][q][row].astype(np.float64) for q in "figoch")
            if row:
                f, i, g, o, c, h = (v[::-1] for v in (f, i, g, o, c, h))
            c_prev = np.concatenate([np.zeros((1, H)), c[:-1]])
            np.testing.assert_allclose(c, f * c_prev + i * g, atol=ATOL)
            np.testing.assert_allclose(h, o * np.tanh(c), atol=ATOL)
    # The top layer's hidden states are the listener's output (fused), forward then backward.
    with torch.no_grad():
        states, _, _ = plain.model_.listen(x[None], torch.tensor([T]))  # (1, S, 2H)
    top = panels[LAYERS - 1]["quantities"]["h"]
    np.testing.assert_allclose(top[0], states[0, :, :H].numpy(), atol=ATOL)
    np.testing.assert_allclose(top[1], states[0, :, H:].numpy(), atol=ATOL)
    assert any(f.startswith("listener 2 (backward): mean forget") for f in trace["findings"])


def test_speller_panel_one_step_per_output_token(trace):
    speller = trace["panels"][-1]
    steps = len(trace["attention"]["tgt"])
    assert speller["tokens"] == trace["attention"]["tgt"]
    assert (speller["layers"], speller["directions"]) == (1, 1)
    q = {k: v[0].astype(np.float64) for k, v in speller["quantities"].items()}  # (steps, H)
    assert q["f"].shape == (steps, H)
    # Step t's cell carries step t-1's (the first starts from the bridge's state).
    np.testing.assert_allclose(
        q["c"][1:], q["f"][1:] * q["c"][:-1] + q["i"][1:] * q["g"][1:], atol=ATOL
    )
    np.testing.assert_allclose(q["h"], q["o"] * np.tanh(q["c"]), atol=ATOL)


def test_an_empty_transcript_still_has_its_eos_step(audio):
    r = las(seed=1)
    with torch.no_grad():
        r.model_.speller.output.bias[r.tokenizer_.eos_id] = 100.0  # eos first, always
    t = speech_trace(r, audio)
    assert t["speech"]["transcript"] == ""
    assert t["speech"]["words"] == []
    assert t["attention"]["tgt"] == [r.tokenizer_.id_to_token(r.tokenizer_.eos_id)]
    assert len(t["panels"][-1]["tokens"]) == 1
    assert t["findings"][0] == "Greedy transcript: '' (0 words); no words."
    check_trace(t)  # the report can draw it (writing the page is tested below)
    assert page_data(t)[0]["attention"]["tgt"] == t["attention"]["tgt"]


# ---------------------------------------------------------------------------- CTC head
@pytest.fixture(scope="module")
def joint():
    return las(ctc_weight=0.3)


def test_ctc_head_gives_posteriors_over_the_listener_frames(joint, audio):
    t = speech_trace(joint, audio)
    x = features_of(joint, audio)
    with torch.no_grad():
        lp, _n = joint.model_.ctc_log_probs(x[None], torch.tensor([x.shape[0]]))  # (1, S, V)
    s = t["speech"]
    S = listener_lengths(x.shape[0])[-1]
    assert s["log_probs"].shape == (S, joint.tokenizer_.vocab_size) == tuple(lp.shape[1:])
    np.testing.assert_allclose(s["log_probs"], lp[0].numpy(), atol=ATOL)
    np.testing.assert_allclose(np.exp(s["log_probs"].astype(np.float64)).sum(1), 1, atol=1e-5)
    assert s["labels"][s["blank"]] == "∅"
    assert s["blank"] == joint.tokenizer_.pad_id
    assert t["attention"]["weights"].shape[1] == S
    assert f"of the {S} output frames" in t["findings"][1]


# ---------------------------------------------------------------------------- the report
def page_json(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_report_without_ctc_head_has_no_posteriors(trace, tmp_path):
    paths = write_report(trace, tmp_path / "las.html")
    names = ["las.html", "las-gates.png", "las-attention.png", "las-spectrogram.png"]
    assert [p.name for p in paths] == names
    for png in paths[1:]:
        assert png.read_bytes().startswith(PNG)
    html = paths[0].read_text(encoding="utf-8")
    for element in ('<canvas id="attention"', '<canvas id="spectrogram"', 'id="no-posteriors"'):
        assert element in html
    assert '<canvas id="posteriors"' not in html
    assert "weights over the listener frames" in html
    page = page_json(html)
    assert page["speech"]["posteriors"] is None
    assert page["speech"]["labels"] == []
    assert [p["name"] for p in page["panels"]] == [p["name"] for p in trace["panels"]]
    np.testing.assert_allclose(
        page["attention"]["weights"], trace["attention"]["weights"], rtol=5e-4, atol=1e-12
    )


def test_report_with_ctc_head_has_the_posteriors(joint, audio, tmp_path):
    t = speech_trace(joint, audio)
    paths = write_report(t, tmp_path / "joint.html")
    assert [p.name for p in paths][2:] == [
        "joint-attention.png",
        "joint-spectrogram.png",
        "joint-posteriors.png",
    ]
    html = paths[0].read_text(encoding="utf-8")
    assert '<canvas id="posteriors"' in html
    assert 'id="no-posteriors"' not in html
    page = page_json(html)["speech"]
    probs = np.exp(t["speech"]["log_probs"].astype(np.float64))
    np.testing.assert_allclose(page["posteriors"], probs, rtol=5e-4, atol=1e-12)


# ---------------------------------------------------------------------------- the CLI
def test_cli_inspects_a_las_run(plain, audio, tmp_path, capsys):
    run = tmp_path / "run"
    plain.save(run)
    out = tmp_path / "report.html"
    code = main(["inspect", str(run), "--audio", audio, "--out", str(out), "--json"])
    text, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(text)
    assert result["kind"] == "speech"
    assert result["title"].startswith("Speech recogniser (Listen, Attend and Spell) hearing")
    assert [Path(f).name for f in result["files"]] == [
        "report.html",
        "report-gates.png",
        "report-attention.png",
        "report-spectrogram.png",
    ]
    assert all(Path(f).exists() for f in result["files"])
    assert result["transcript"] == plain.transcribe(audio)[0]
    assert [w["word"] for w in result["words"]] == result["transcript"].split()
