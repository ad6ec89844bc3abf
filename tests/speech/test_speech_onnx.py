"""ONNX export of a speech recogniser: onnxruntime gives PyTorch's log-probabilities on padded
batches of any size (max abs diff <= 1e-4 on valid frames), greedy transcripts equal
``transcribe``'s, the manifest alone rebuilds the features, and mistakes are named."""

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import onnxruntime as ort
import pytest
import soundfile
import torch

from lstmkit import registry
from lstmkit.cli.main import main
from lstmkit.data.utterances import load_utterances
from lstmkit.errors import UserError
from lstmkit.export.onnx import export_graph, export_onnx
from lstmkit.export.speech_onnx import OnnxSpeechRecognizer, SpeechGraph, write_speech
from lstmkit.models.speech import CTCRecognizer, SpeechConfig
from lstmkit.speech import SpeechRecognizer
from lstmkit.speech.features import features_of_samples
from lstmkit.tokenizers import load_tokenizer

TOL = 1e-4
# stack 3 (not the default 4): the checks below count output frames of 30 ms
TINY = {
    "model": {"stack": 3, "hidden_size": 16, "num_layers": 2, "dropout": 0.0},
    "features": {"n_mels": 20},
}
WRITER = "lstmkit.export.speech_onnx:write_speech"


@pytest.fixture(scope="module")
def fitted(tone_corpus, tmp_path_factory):
    """A tiny recogniser fitted on the tone language, its run folder and its ONNX export (made
    through ``export_onnx`` with the registry's speech entry given the writer)."""
    root = tmp_path_factory.mktemp("speech-onnx")
    recognizer = SpeechRecognizer(
        **TINY,
        batch_size=8,
        spec_augment=False,
        vtlp=0.0,  # the tone language is told apart by absolute frequency: no warp
        optim={"lr": 0.02, "warmup_steps": 10},
        train={"epochs": 8},
    ).fit(tone_corpus["train"], tone_corpus["valid"], out=root / "run", progress=False)
    spec = dataclasses.replace(registry.TASKS["speech"], onnx=WRITER)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(registry.TASKS, "speech", spec)
        manifest = export_onnx(root / "run", root / "onnx")
    return recognizer, root, manifest


@pytest.fixture(scope="module")
def test_audio(tone_corpus):
    """The unseen test utterances: paths (str) and their samples."""
    paths = [str(p) for p in load_utterances(tone_corpus["test"]).paths]
    return paths, [soundfile.read(p, dtype="float32")[0] for p in paths]


def session(root):
    return ort.InferenceSession(
        str(root / "onnx" / "speech.onnx"), providers=["CPUExecutionProvider"]
    )


def padded(features, garbage=0.0):
    """(B, T, F) with ``garbage`` past each utterance's frames, and the lengths (B,) int64."""
    lengths = np.array([len(f) for f in features], dtype=np.int64)
    x = np.full((len(features), lengths.max(), features[0].shape[1]), garbage, np.float32)
    for k, f in enumerate(features):
        x[k, : len(f)] = f
    return x, lengths


def torch_log_probs(recognizer, x, lengths):
    with torch.no_grad():
        log_probs, out_lengths = recognizer.model_.log_probs(torch.from_numpy(x), lengths)
    return log_probs.numpy(), out_lengths.numpy()


def assert_valid_frames_close(got, want, out_lengths):
    for row, n in enumerate(out_lengths):
        assert np.abs(got[row, :n] - want[row, :n]).max() <= TOL


def test_log_probs_match_pytorch_on_a_batch_of_unequal_lengths(fitted, test_audio):
    recognizer, root, _ = fitted
    fc = recognizer.feature_config_
    features = [features_of_samples(s, fc).numpy() for s in test_audio[1][:4]]
    x, lengths = padded(features, garbage=7.0)  # padding that would show if it leaked in
    assert len(set(lengths % 3)) > 1  # lengths that stack into partial last frames differently
    got, got_lengths = session(root).run(None, {"features": x, "lengths": lengths})
    want, want_lengths = torch_log_probs(recognizer, x, lengths)
    assert got.shape == want.shape
    assert got_lengths.tolist() == want_lengths.tolist() == (-(-lengths // 3)).tolist()
    assert_valid_frames_close(got, want, want_lengths)
    # Each utterance alone, unpadded: the batch's padding reaches no direction of the LSTM.
    for row, f in enumerate(features):
        alone, _ = torch_log_probs(recognizer, f[None], np.array([len(f)]))
        assert np.abs(got[row, : want_lengths[row]] - alone[0]).max() <= TOL


@pytest.mark.parametrize(("batch", "lengths"), [(1, [7]), (5, [30, 29, 28, 5, 1])])
def test_batch_and_time_axes_are_dynamic(fitted, batch, lengths):
    recognizer, root, _ = fitted
    gen = torch.Generator().manual_seed(batch)
    features = [torch.randn(n, 20, generator=gen).numpy() for n in lengths]
    x, n = padded(features)
    got, got_lengths = session(root).run(None, {"features": x, "lengths": n})
    want, want_lengths = torch_log_probs(recognizer, x, n)
    assert got.shape == (batch, -(-max(lengths) // 3), recognizer.tokenizer_.vocab_size)
    assert got_lengths.tolist() == want_lengths.tolist()
    assert_valid_frames_close(got, want, want_lengths)


@pytest.mark.parametrize(
    ("stack", "bidirectional", "layers", "opset"),
    [(1, True, 1, 14), (2, False, 2, 17), (4, True, 3, 20)],
)
def test_graph_matches_the_network_for_other_stacks_directions_and_opsets(
    tmp_path, stack, bidirectional, layers, opset
):
    config = SpeechConfig(
        vocab_size=7,
        n_mels=5,
        stack=stack,
        hidden_size=6,
        num_layers=layers,
        bidirectional=bidirectional,
        suppress_ids=(1, 2),
    )
    model = CTCRecognizer(config).eval()
    graph = SpeechGraph(model)
    export_graph(graph, graph.example(), tmp_path / "g.onnx", opset)
    runner = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    for T in (11, 12, 13):
        x = torch.randn(3, T, 5)
        n = np.array([T, T - 3, 1])
        got, got_lengths = runner.run(None, {"features": x.numpy(), "lengths": n})
        want, want_lengths = torch_log_probs(SimpleNamespace(model_=model), x.numpy(), n)
        assert got_lengths.tolist() == want_lengths.tolist() == (-(-n // stack)).tolist()
        assert_valid_frames_close(got, want, want_lengths)
        assert np.all(got[:, :, 1:3] < -1e3)  # the suppressed ids, as the network lowers them


def test_greedy_transcripts_from_onnx_equal_transcribe(fitted, test_audio):
    recognizer, root, _ = fitted
    paths, samples = test_audio
    features = [features_of_samples(s, recognizer.feature_config_).numpy() for s in samples]
    got = OnnxSpeechRecognizer(root / "onnx", threads=1).transcribe_features(features)
    want = recognizer.transcribe(paths)
    assert got == want
    assert len(set(want) - {""}) >= 2  # the model hears something: not all empty or the same


def test_greedy_ids_merge_repeats_and_drop_blanks(fitted):
    _, root, manifest = fitted
    runner = OnnxSpeechRecognizer(root / "onnx", threads=1)
    x, n = padded([np.random.default_rng(0).normal(size=(k, 20)) for k in (40, 25)])
    log_probs, out_lengths = runner.log_probs(x, n)
    blank = manifest["special_ids"]["blank"]
    for row, ids in enumerate(runner.greedy(x, n)):
        path = [int(np.argmax(frame)) for frame in log_probs[row, : out_lengths[row]]]
        merged = [t for k, t in enumerate(path) if k == 0 or t != path[k - 1]]
        assert ids == [t for t in merged if t != blank]


def test_manifest_holds_the_graph_tokenizer_features_and_blank(fitted):
    recognizer, root, manifest = fitted
    assert json.loads((root / "onnx" / "manifest.json").read_text()) == manifest
    assert (manifest["format"], manifest["kind"], manifest["opset"]) == (
        "lstmkit-onnx",
        "speech",
        17,
    )
    graph = manifest["graphs"]["log_probs"]
    assert graph["file"] == "speech.onnx"
    assert graph["inputs"] == [
        {"name": "features", "shape": ["B", "T", 20], "dtype": "float32"},
        {"name": "lengths", "shape": ["B"], "dtype": "int64"},
    ]
    assert graph["outputs"][0]["shape"] == ["B", "T_out", recognizer.tokenizer_.vocab_size]
    tok = recognizer.tokenizer_
    assert manifest["special_ids"]["blank"] == tok.pad_id == recognizer.model_.config.blank_id
    assert (manifest["special_ids"]["unk"], manifest["special_ids"]["eos"]) == (
        tok.unk_id,
        tok.eos_id,
    )
    assert manifest["features"]["sample_rate"] == 16000
    assert (manifest["features"]["win_length"], manifest["features"]["hop_length"]) == (400, 160)
    assert manifest["decoding"]["frame_stack"] == 3
    assert manifest["decoding"]["frame_seconds"] == pytest.approx(0.03)
    copy = load_tokenizer(root / "onnx" / "tokenizer")
    assert [copy.id_to_token(i) for i in range(copy.vocab_size)] == [
        tok.id_to_token(i) for i in range(tok.vocab_size)
    ]


def test_the_manifest_alone_rebuilds_the_features(fitted, test_audio):
    """The features written out with numpy from the manifest's settings and mel filters, as a
    user without lstmkit would, equal the recogniser's own."""
    recognizer, root, manifest = fitted
    s = manifest["features"]
    bank = np.load(root / "onnx" / s["mel_filters"], allow_pickle=False)  # (N, F)
    win, hop, n_fft = s["win_length"], s["hop_length"], s["n_fft"]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    samples = test_audio[1][0].astype(np.float64)
    T = 1 + (len(samples) - win) // hop
    frames = np.stack([samples[t * hop : t * hop + win] * window for t in range(T)])  # (T, win)
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2  # (T, N)
    logmel = np.log(power @ bank + s["log_floor"])  # (T, F)
    std = np.maximum(logmel.std(0), s["std_floor"])
    ours = (logmel - logmel.mean(0)) / std
    want = features_of_samples(test_audio[1][0], recognizer.feature_config_).numpy()
    assert ours.shape == want.shape
    assert np.abs(ours - want).max() <= 1e-3


def test_lstmkit_export_writes_the_speech_folder_end_to_end(fitted, tmp_path, monkeypatch):
    _, root, _ = fitted
    spec = dataclasses.replace(registry.TASKS["speech"], onnx=WRITER)
    monkeypatch.setitem(registry.TASKS, "speech", spec)
    assert main(["export", str(root / "run"), "--out", str(tmp_path / "out"), "--json"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json",
        "mel_filters.npy",
        "speech.onnx",
        "tokenizer",
    ]


def test_an_unfitted_recognizer_is_named(tmp_path):
    with pytest.raises(
        UserError, match=r"^recognizer: expected a fitted SpeechRecognizer .* an unfitted "
    ):
        write_speech(SpeechRecognizer(**TINY), tmp_path, 17)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("features", "lengths", "message"),
    [
        (
            np.zeros((2, 9, 13), np.float32),
            [9, 4],
            r"^features: expected \(B, T, 20\), got shape \(2, 9, 13\)",
        ),
        (np.zeros((9, 20), np.float32), [9], r"^features: expected \(B, T, 20\)"),
        (np.full((1, 9, 20), np.nan, np.float32), [9], "^features: expected finite values"),
        (np.zeros((2, 9, 20), np.float32), [9], r"^lengths: expected \(2,\) integers >= 1"),
        (np.zeros((2, 9, 20), np.float32), [9, 0], r"^lengths: expected \(2,\) integers >= 1"),
        (np.zeros((2, 9, 20), np.float32), [10, 4], "^lengths: expected at most T = 9, got 10$"),
    ],
)
def test_bad_features_or_lengths_are_named(fitted, features, lengths, message):
    runner = OnnxSpeechRecognizer(fitted[1] / "onnx", threads=1)
    with pytest.raises(UserError, match=message):
        runner.log_probs(features, np.array(lengths))


def test_a_damaged_or_foreign_export_folder_is_named(fitted, tmp_path):
    with pytest.raises(UserError, match=r"^folder: expected an lstmkit ONNX export with manifest"):
        OnnxSpeechRecognizer(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "lstmkit-onnx", "kind": "lm"')
    with pytest.raises(UserError, match=r"manifest.json: expected JSON, got"):
        OnnxSpeechRecognizer(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "lstmkit-onnx", "kind": "lm"}')
    with pytest.raises(
        UserError, match=r"expected a lstmkit-onnx export of a speech model, got .*'lm'"
    ):
        OnnxSpeechRecognizer(tmp_path)
    runner = OnnxSpeechRecognizer(fitted[1] / "onnx", threads=1)
    with pytest.raises(UserError, match=r"^features\[1\]: expected \(T, 20\) with T >= 1"):
        runner.transcribe_features([np.zeros((5, 20)), np.zeros((0, 20))])


def test_the_graph_module_stays_in_eval_mode(fitted):
    graph = SpeechGraph(fitted[0].model_)
    assert not graph.train().training
    assert not graph.model.training
