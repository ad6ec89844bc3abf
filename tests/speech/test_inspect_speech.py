"""`lstmkit inspect` on a speech recogniser: the features it reads, its CTC posteriors, its
transcript and its encoder's gates, checked against the model's own (fused) forward pass, the
feature formula and the CTC collapse; the report's speech figures; the CLI's --audio."""

import dataclasses
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from lstmkit import registry
from lstmkit.cli.main import main
from lstmkit.data.utterances import load_utterances
from lstmkit.errors import UserError
from lstmkit.inspect import report_speech
from lstmkit.inspect.report import write_report
from lstmkit.inspect.speech import speech_trace, speech_trace_for
from lstmkit.inspect.traces import to_json
from lstmkit.lm import LanguageModel
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.speech import SpeechRecognizer
from lstmkit.speech.features import features_of_samples
from lstmkit.tokenizers import train_tokenizer

# Two layers, bidirectional (the default): four rows of gates.
# stack 3 (not the default 4): the checks below count output frames of 30 ms
TINY = {
    "model": {"stack": 3, "hidden_size": 32, "num_layers": 2, "dropout": 0.0},
    "features": {"n_mels": 20},
}
PNG = b"\x89PNG\r\n\x1a\n"
ATOL = 1e-5


@pytest.fixture(scope="module")
def fitted(tone_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("inspect-speech") / "run"
    recognizer = SpeechRecognizer(
        **TINY,
        batch_size=8,
        spec_augment=False,
        vtlp=0.0,  # the tone language is told apart by absolute frequency: no warp
        optim={"lr": 0.02, "warmup_steps": 10},
        train={"epochs": 14, "ema": 0.0},  # enough to hear the first test file's two words
    )
    recognizer.fit(tone_corpus["train"], tone_corpus["valid"], out=out, progress=False)
    return recognizer, out


@pytest.fixture(scope="module")
def audio(tone_corpus) -> str:
    return str(load_utterances(tone_corpus["test"]).paths[0])


@pytest.fixture(scope="module")
def trace(fitted, audio):
    return speech_trace(fitted[0], audio)


def reference_features(recognizer, path) -> torch.Tensor:
    samples, rate = soundfile.read(path, dtype="float32")  # the tone corpus: 16 kHz mono
    assert rate == recognizer.feature_config_.sample_rate
    return features_of_samples(samples, recognizer.feature_config_)


# ---------------------------------------------------------------------------- the trace
def test_spectrogram_is_the_features_the_model_reads(fitted, audio, trace):
    recognizer, _ = fitted
    features = trace["speech"]["features"]
    n = soundfile.info(audio).frames
    assert features.shape == (1 + (n - 400) // 160, 20)  # 25 ms windows every 10 ms at 16 kHz
    assert features.dtype == np.float32
    np.testing.assert_array_equal(features, reference_features(recognizer, audio).numpy())
    # Normalised band by band over the utterance.
    np.testing.assert_allclose(features.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(features.std(0), 1, atol=1e-3)
    assert trace["speech"]["seconds"] == pytest.approx(n / 16000)
    assert trace["speech"]["frame_seconds"] == pytest.approx(0.01)
    assert trace["speech"]["output_seconds"] == pytest.approx(0.03)


def test_posteriors_are_the_models_log_probs(fitted, audio, trace):
    recognizer, _ = fitted
    s = trace["speech"]
    x = reference_features(recognizer, audio)
    model = recognizer.model_
    assert model.lstm.resolve_backend() == "fused"  # the reference: the model as it transcribes
    with torch.no_grad():
        log_probs, lengths = model.log_probs(x[None], torch.tensor([x.shape[0]]))
    assert s["log_probs"].shape == (math.ceil(x.shape[0] / 3), recognizer.tokenizer_.vocab_size)
    assert int(lengths[0]) == s["log_probs"].shape[0]
    np.testing.assert_allclose(s["log_probs"], log_probs[0].numpy(), atol=ATOL)
    np.testing.assert_allclose(np.exp(s["log_probs"].astype(np.float64)).sum(1), 1, atol=1e-5)
    tok, blank = recognizer.tokenizer_, model.config.blank_id
    assert s["blank"] == blank == tok.pad_id
    assert s["labels"][blank] == "∅"
    assert s["labels"][tok.token_to_id(" ")] == "␣"
    assert s["labels"][tok.token_to_id("a")] == "a"
    best = s["log_probs"].argmax(1)
    assert trace["panels"][0]["tokens"] == [s["labels"][i] for i in best]
    plain = json.loads(json.dumps(to_json(trace)))
    np.testing.assert_array_equal(plain["speech"]["log_probs"], s["log_probs"])


def test_gates_of_every_layer_and_direction_over_the_output_frames(fitted, audio, trace):
    recognizer, _ = fitted
    (p,) = trace["panels"]
    T_out, H = trace["speech"]["log_probs"].shape[0], 32
    assert (p["name"], p["layers"], p["directions"]) == ("encoder", 2, 2)
    q = p["quantities"]
    assert all(v.shape == (4, T_out, H) and v.dtype == np.float32 for v in q.values())
    # The top layer's hidden states are the encoder's output (fused), forward then backward.
    x = reference_features(recognizer, audio)
    with torch.no_grad():
        states, _ = recognizer.model_.encode(x[None], torch.tensor([x.shape[0]]))  # (1, T', 2H)
    np.testing.assert_allclose(q["h"][2], states[0, :, :H].numpy(), atol=ATOL)
    np.testing.assert_allclose(q["h"][3], states[0, :, H:].numpy(), atol=ATOL)
    # The cell equations, the backward rows running from the last frame to the first.
    for row in range(4):
        f, i, g, o, c, h = (q[k][row].astype(np.float64) for k in "figoch")
        if row % 2:
            f, i, g, o, c, h = (a[::-1] for a in (f, i, g, o, c, h))
        c_prev = np.concatenate([np.zeros((1, H)), c[:-1]])
        np.testing.assert_allclose(c, f * c_prev + i * g, atol=ATOL)
        np.testing.assert_allclose(h, o * np.tanh(c), atol=ATOL)
    assert any("encoder layer 1 (backward)" in finding for finding in trace["findings"])
    assert not recognizer.model_.training


def test_transcript_is_the_collapsed_best_path_with_word_times(fitted, trace):
    recognizer, _ = fitted
    s = trace["speech"]
    best = s["log_probs"].argmax(1)
    collapsed = [k for k, _ in itertools.groupby(best.tolist()) if k != s["blank"]]
    text = "".join(recognizer.tokenizer_.id_to_token(k) for k in collapsed)
    assert s["transcript"] == " ".join(text.split())
    assert len(s["words"]) >= 2  # the model hears words: the checks below are not vacuous
    assert [w["word"] for w in s["words"]] == s["transcript"].split()
    for w in s["words"]:
        assert 0 <= w["start"] < w["end"] <= s["seconds"] + 1e-9
        frames = w["start"] / s["output_seconds"]  # a word starts at an output frame
        assert frames == pytest.approx(round(frames), abs=1e-6)
    assert trace["findings"][0].startswith(f"Greedy transcript: {s['transcript']!r}")
    blanks = int((best == s["blank"]).sum())
    assert f"in {blanks} of the {len(best)} output frames" in trace["findings"][1]


def test_bad_audio_is_named(fitted, tmp_path):
    recognizer, _ = fitted
    with pytest.raises(UserError, match=r"nope\.wav: no such audio file"):
        speech_trace(recognizer, tmp_path / "nope.wav")
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(8000, dtype=np.float32), 16000)
    with pytest.raises(UserError, match=r"silent\.wav: silent audio \(peak -inf dBFS\)"):
        speech_trace(recognizer, silent)
    with pytest.raises(UserError, match=r"^label: only a language model"):
        speech_trace_for(recognizer, silent, {"label": "x", "directory": "run"})


# ---------------------------------------------------------------------------- the report
def page_json(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_report_shows_the_spectrogram_and_the_posteriors(trace, tmp_path):
    paths = write_report(trace, tmp_path / "speech.html")
    names = ["speech.html", "speech-gates.png", "speech-spectrogram.png", "speech-posteriors.png"]
    assert [p.name for p in paths] == names
    for png in paths[1:]:
        assert png.read_bytes().startswith(PNG)
    html = paths[0].read_text(encoding="utf-8")
    for element in ('<canvas id="spectrogram"', '<canvas id="posteriors"', 'id="transcript"'):
        assert element in html
    for external in ("http://", "https://", "//cdn", "url("):
        assert external not in html
    assert html.count("<script") == 2
    s, page = trace["speech"], page_json(html)["speech"]
    np.testing.assert_allclose(page["features"], s["features"], rtol=5e-4, atol=1e-12)
    assert page["labels"] == s["labels"]  # a small vocabulary: every token shown
    probs = np.exp(s["log_probs"].astype(np.float64))
    np.testing.assert_allclose(page["posteriors"], probs, rtol=5e-4, atol=1e-12)
    assert page["transcript"] == s["transcript"]
    assert [w["word"] for w in page["words"]] == [w["word"] for w in s["words"]]
    assert "the page shows the first" not in html


def test_page_caps_frames_and_tokens_and_says_so(trace, tmp_path, monkeypatch):
    monkeypatch.setattr(report_speech, "MAX_FRAMES", 30)
    monkeypatch.setattr(report_speech, "MAX_TOKENS", 3)
    s = trace["speech"]
    T, V = s["features"].shape[0], len(s["labels"])
    paths = write_report(trace, tmp_path / "capped.html")
    html = paths[0].read_text(encoding="utf-8")
    page = page_json(html)["speech"]
    assert np.asarray(page["features"]).shape == (30, 20)
    probs = np.exp(s["log_probs"].astype(np.float64))  # (T', V)
    peak = probs.max(0)
    peak[s["blank"]] = 2  # the blank always, then the two highest peaks
    kept = sorted(np.argsort(-peak)[:3].tolist())
    assert page["labels"] == [s["labels"][k] for k in kept]
    np.testing.assert_allclose(page["posteriors"], probs[:10, kept], rtol=5e-4, atol=1e-12)
    assert f"the first 30 of {T:,} feature frames" in html
    assert f"the posteriors show 3 of {V} tokens" in html
    assert paths[-1].name == "capped-posteriors.png"  # the figures keep every frame


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("log_probs"), r"trace\['speech'\]: missing key 'log_probs'"),
        (
            lambda s: s.update(labels=s["labels"][:-1]),
            r"trace\['speech'\]\['log_probs'\]: expected shape \(T', len\(labels\)\)",
        ),
        (lambda s: s.update(blank=99), r"trace\['speech'\]\['blank'\]: expected an id in \[0, "),
        (lambda s: s.update(features=np.zeros(3)), r"\['features'\]: expected shape \(T, F\)"),
        (lambda s: s["words"].append({"word": "x"}), r"\['words'\]\[\d+\]: missing key 'start'"),
    ],
)
def test_malformed_speech_is_refused_with_the_place(trace, tmp_path, edit, message):
    bad = {**trace, "speech": {**trace["speech"], "words": list(trace["speech"]["words"])}}
    edit(bad["speech"])
    with pytest.raises(UserError, match=message):
        write_report(bad, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------------------- the CLI
@pytest.fixture
def registered(monkeypatch):
    """The registry entry the speech task gets (until it is in lstmkit.registry itself)."""
    spec = dataclasses.replace(
        registry.TASKS["speech"],
        trace="lstmkit.inspect.speech:speech_trace_for",
        trace_input="audio",
    )
    monkeypatch.setitem(registry.TASKS, "speech", spec)


def inspect(*args, capsys) -> tuple[int, str, str]:
    code = main(["inspect", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_the_report_and_json(registered, fitted, audio, tmp_path, capsys):
    _, run = fitted
    out = tmp_path / "report.html"
    code, text, err = inspect(run, "--audio", audio, "--out", out, "--json", capsys=capsys)
    assert code == 0, err
    result = json.loads(text)
    assert result["kind"] == "speech"
    assert result["files"][0] == str(out)
    assert [Path(f).name for f in result["files"]][2:] == [
        "report-spectrogram.png",
        "report-posteriors.png",
    ]
    assert all(Path(f).exists() for f in result["files"])
    assert [w["word"] for w in result["words"]] == result["transcript"].split()
    assert result["findings"][0].startswith("Greedy transcript:")


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    lm = LanguageModel("word", batch_size=2, bptt=8)
    lm.tokenizer_ = train_tokenizer("word", "the cat sat\n")
    config = LMConfig(lm.tokenizer_.vocab_size, embedding_size=4, hidden_size=4, num_layers=1)
    lm.model_ = LSTMLanguageModel(config).eval()
    folder = tmp_path_factory.mktemp("inspect-lm") / "lm"
    lm.save(folder)
    return folder


def test_cli_names_the_mistakes(registered, fitted, audio, lm_run, tmp_path, capsys):
    _, run = fitted
    out = tmp_path / "r.html"
    missing = tmp_path / "nope.wav"
    mistakes = [
        ([run, "--audio", missing], f"--audio {missing}: no such audio file"),
        ([run, "--audio", tmp_path], f"--audio {tmp_path}: expected an audio file, got a folder"),
        ([run, "--text", "abc"], f"--text: {run} holds a speech recogniser; give its audio with "),
        ([lm_run, "--audio", audio], f"--audio: {lm_run} holds a language model; give text with"),
        ([run, "--audio", audio, "--label", "a"], "--label: only a language model"),
        ([run, "--audio", audio, "--text", "a"], "expected one of them, got --text and --audio"),
        ([run], "--text, --text-file, --csv, --audio or --image: expected one of them, got none"),
    ]
    for args, message in mistakes:
        code, _, err = inspect(*args, "--out", out, capsys=capsys)
        assert code == 2, args
        assert message in err, err
        assert not out.exists()
