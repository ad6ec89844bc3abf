"""Streaming recognition on the tone language: causal features in chunks against the whole,
streamed text against transcribe's greedy transcript over any chunking, the refusals, and a
stream's state staying the same size."""

import dataclasses

import jiwer
import numpy as np
import pytest
import soundfile
import torch

from lstmkit.data.utterances import load_utterances
from lstmkit.decode.ctc import ctc_greedy
from lstmkit.errors import UserError
from lstmkit.models.speech import CTCRecognizer
from lstmkit.speech import SpeechRecognizer
from lstmkit.speech.features import FeatureConfig, features_of_samples
from lstmkit.speech.stream import FeatureStream

CAUSAL = {
    "model": {"hidden_size": 32, "num_layers": 1, "dropout": 0.0, "bidirectional": False},
    "features": {"n_mels": 20, "normalize": "causal"},
}
RETRAIN = r"train with model=\{'bidirectional': False\} and features=\{'normalize': 'causal'\}$"


@pytest.fixture(scope="module")
def causal(tone_corpus):
    """A tiny unidirectional recogniser on causal features (~20 s to fit on one core)."""
    estimator = SpeechRecognizer(
        **CAUSAL,
        batch_size=8,
        spec_augment=False,
        vtlp=0.0,  # the tone language is told apart by absolute frequency: no warp
        optim={"lr": 0.02, "warmup_steps": 10},
        train={"epochs": 10},
    )
    return estimator.fit(tone_corpus["train"], tone_corpus["valid"], progress=False)


@pytest.fixture(scope="module")
def test_audio(tone_corpus):
    """The unseen test utterances: (samples, transcript) pairs."""
    utterances = load_utterances(tone_corpus["test"])
    return [
        (soundfile.read(path, dtype="float32")[0], text)
        for path, text in zip(utterances.paths, utterances.texts, strict=True)
    ]


def chunks(audio, sizes):
    """``audio`` cut into pieces of the given sizes, the last size repeating."""
    pieces, start, k = [], 0, 0
    while start < len(audio):
        size = sizes[min(k, len(sizes) - 1)]
        pieces.append(audio[start : start + size])
        start, k = start + size, k + 1
    return pieces


def random_sizes(seed, n=400, high=2000):
    return [int(s) for s in np.random.default_rng(seed).integers(0, high, n)]  # 0: empty chunks


def streamed(recognizer, pieces):
    stream = recognizer.stream()
    written = [stream.accept(piece) for piece in pieces]
    written.append(stream.finish())
    assert "".join(written) == stream.text  # what accept and finish return adds up
    return stream.text


# ---------------------------------------------------------------- features


def same_features(got: torch.Tensor, whole: torch.Tensor) -> None:
    """Equal to float32 rounding: MKL's FFT takes other code paths for other batch sizes on some
    CPUs (5e-7 apart on an AMD EPYC, bit for bit on the Intel Xeon)."""
    torch.testing.assert_close(got, whole, rtol=0, atol=1e-5)


@pytest.mark.parametrize("sizes", [[160], [4000], [10**6], [399, 1, 161], random_sizes(0)])
def test_causal_features_in_chunks_equal_features_of_the_whole(tones, sizes):
    config = FeatureConfig(n_mels=20, normalize="causal")
    audio = tones.speak("abc dab", np.random.default_rng(5))
    stream = FeatureStream(config)
    frames = [stream.accept(piece) for piece in chunks(audio, sizes)]
    frames.append(stream.finish())
    same_features(torch.cat(frames), features_of_samples(audio, config))


def test_causal_features_one_sample_at_a_time_equal_the_whole(tones):
    config = FeatureConfig(n_mels=20, normalize="causal")
    audio = tones.speak("ab", np.random.default_rng(6))[:3000]
    stream = FeatureStream(config)
    frames = [stream.accept(audio[k : k + 1]) for k in range(len(audio))]
    frames.append(stream.finish())
    same_features(torch.cat(frames), features_of_samples(audio, config))


def test_audio_shorter_than_a_window_gives_its_one_zero_padded_frame():
    config = FeatureConfig(n_mels=20, normalize="causal")
    audio = np.random.default_rng(7).normal(0, 0.1, 250).astype(np.float32)
    stream = FeatureStream(config)
    assert stream.accept(audio[:100]).shape == (0, 20)
    assert stream.accept(audio[100:]).shape == (0, 20)
    last = stream.finish()
    assert last.shape == (1, 20)
    same_features(last, features_of_samples(audio, config))
    assert FeatureStream(config).finish().shape == (0, 20)  # no audio, no frame


def test_per_utterance_features_cannot_stream():
    with pytest.raises(UserError, match=r"^normalize: expected 'causal' to stream features, got"):
        FeatureStream(FeatureConfig())


# ---------------------------------------------------------------- recognition


def test_the_causal_model_learned_to_hear_most_test_letters(causal, test_audio):
    assert causal.feature_config_.normalize == "causal"
    assert not causal.model_.config.bidirectional
    heard = [t.replace(" ", "") for t in causal.transcribe([a for a, _ in test_audio])]
    letters = [t.replace(" ", "") for _, t in test_audio]
    assert 100 * jiwer.cer(letters, heard) < 15  # 0% when written; a shuffle: ~100%


@pytest.mark.parametrize("sizes", [[160], [4000], [10**6], random_sizes(1)])
def test_streamed_text_is_the_greedy_transcript_of_the_whole(causal, test_audio, sizes):
    audio = [a for a, _ in test_audio]
    expected = causal.transcribe(audio)
    assert sum(len(t) for t in expected) > 20  # not a comparison of empty strings
    assert [streamed(causal, chunks(a, sizes)) for a in audio] == expected


def test_one_sample_chunks_give_the_greedy_transcript(causal, test_audio):
    audio = min((a for a, _ in test_audio), key=len)
    assert (
        streamed(causal, [audio[k : k + 1] for k in range(len(audio))])
        == (causal.transcribe(audio)[0])
    )


def test_a_token_held_across_chunks_is_written_once(causal, test_audio):
    # With 160-sample chunks every output frame comes from its own chunk, so a token CTC holds
    # for several frames crosses chunk edges; the test audio must hold some for this to bite.
    fc, model = causal.feature_config_, causal.model_
    held = 0
    for audio, _ in test_audio:
        features = features_of_samples(audio, fc)
        with torch.no_grad():
            log_probs, _ = model.log_probs(features[None], torch.tensor([len(features)]))
        held += sum(last > first for first, last in ctc_greedy(log_probs)[0].spans)
        text = streamed(causal, chunks(audio, [160]))
        assert text == causal.transcribe(audio)[0]
    assert held > 5


def test_a_saved_causal_model_streams_alike(causal, test_audio, tmp_path):
    causal.save(tmp_path / "model")
    again = SpeechRecognizer.load(tmp_path / "model")
    assert again.feature_config_ == causal.feature_config_
    audio = test_audio[0][0]
    assert streamed(again, chunks(audio, [777])) == streamed(causal, chunks(audio, [777]))


def test_state_stays_the_same_size_over_a_long_stream(causal, tones):
    rng = np.random.default_rng(8)
    audio = np.concatenate([tones.speak("abcd dcba", rng) for _ in range(6)])  # ~10 s
    sizes = [int(s) for s in rng.integers(1, 2 * len(audio) // 200, 200)]
    stream = causal.stream()
    fc, config = causal.feature_config_, causal.model_.config
    shapes = set()
    for piece in chunks(audio, sizes)[:200]:
        stream.accept(piece)
        state = stream.state
        assert len(state["samples"]) < fc.win_length
        assert state["frames"].shape[1] < config.stack
        shapes.add(
            (state["total"].shape, state["squares"].shape, state["h"].shape, state["c"].shape)
        )
        # nothing kept is a view of a larger buffer: no chunk nor frame outlives its call
        assert state["samples"].base is None
        for name in ("frames", "h", "c"):
            assert state[name].untyped_storage().nbytes() == state[name].nbytes
    assert shapes == {((20,), (20,), (1, 1, 32), (1, 1, 32))}
    assert stream.text  # it heard something


# ---------------------------------------------------------------- refusals


def test_a_bidirectional_model_is_refused(causal):
    other = SpeechRecognizer(**CAUSAL)
    other.tokenizer_, other.feature_config_ = causal.tokenizer_, causal.feature_config_
    other.model_ = CTCRecognizer(dataclasses.replace(causal.model_.config, bidirectional=True))
    with pytest.raises(UserError, match=r"^stream: expected a unidirectional model, got a bid.*"):
        other.stream()
    with pytest.raises(UserError, match=RETRAIN):
        other.stream()


def test_a_model_on_per_utterance_features_is_refused(causal):
    other = SpeechRecognizer(**CAUSAL)
    other.tokenizer_, other.model_ = causal.tokenizer_, causal.model_
    other.feature_config_ = dataclasses.replace(causal.feature_config_, normalize="utterance")
    with pytest.raises(UserError, match=r"^stream: expected a model trained on causal features, "):
        other.stream()
    with pytest.raises(UserError, match=RETRAIN):
        other.stream()


def test_an_unfitted_recognizer_cannot_stream():
    with pytest.raises(UserError, match=r"^SpeechRecognizer: not fitted yet"):
        SpeechRecognizer(**CAUSAL).stream()


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros(10, np.int16), r"^samples: expected float samples, full scale at ±1, got int16"),
        (np.zeros((2, 10), np.float32), r"^samples: expected a 1-D array \(N,\) of mono audio"),
        (np.array([0.0, np.nan]), r"^samples: expected finite values, got NaN or infinity$"),
    ],
)
def test_bad_samples_are_named(causal, samples, message):
    stream = causal.stream()
    with pytest.raises(UserError, match=message):
        stream.accept(samples)


def test_a_finished_stream_takes_no_more_audio(causal):
    stream = causal.stream()
    stream.accept(np.zeros(800, np.float32))
    stream.finish()
    with pytest.raises(UserError, match=r"^stream: expected audio before finish\(\), got more"):
        stream.accept(np.zeros(10, np.float32))
    with pytest.raises(UserError, match=r"^stream: expected audio before finish\(\)"):
        stream.finish()
