"""The SpeechRecognizer estimator on the tone language: fit, transcribe (files, arrays, other
rates, timestamps, beam search with a word LM), evaluate against jiwer, save/load, exact resume,
seeding, and the mistakes it names."""

import random
import warnings

import jiwer
import numpy as np
import pytest
import soundfile
import torch
from scipy.signal import resample_poly
from sklearn.base import clone

from lstmkit.checkpoint import load_checkpoint
from lstmkit.data.utterances import load_utterances
from lstmkit.decode.ngram import NGramLM
from lstmkit.errors import Notice, UserError
from lstmkit.speech import SpeechRecognizer
from lstmkit.speech.data import load_speech

TINY = {"model": {"hidden_size": 32, "num_layers": 1, "dropout": 0.0}, "features": {"n_mels": 20}}


def recognizer(spec_augment=False, vtlp=0.0, **train):
    return SpeechRecognizer(
        **TINY,
        batch_size=8,
        spec_augment=spec_augment,
        vtlp=vtlp,
        optim={"lr": 0.02, "warmup_steps": 10},
        train={"epochs": 10, **train},
    )


@pytest.fixture(scope="module")
def fitted(tone_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("speech") / "run"
    estimator = recognizer()
    found = estimator.fit(tone_corpus["train"], tone_corpus["valid"], out=out, progress=False)
    assert found is estimator  # fit returns self
    return estimator, out


@pytest.fixture(scope="module")
def test_set(tone_corpus):
    """The unseen test utterances: paths (str) and transcripts."""
    utterances = load_utterances(tone_corpus["test"])
    return [str(p) for p in utterances.paths], list(utterances.texts)


def samples(path):
    """A file's samples as soundfile reads them (the tone corpus is 16 kHz mono)."""
    audio, rate = soundfile.read(path, dtype="float32")
    assert rate == 16000
    return audio


def test_a_ctc_run_records_the_auto_precision_it_trained_with(fitted):
    _, out = fitted
    assert load_checkpoint(out / "last").config["training"]["precision"] == "auto"


def test_fit_keeps_the_learned_state_in_underscore_attributes(fitted):
    r, out = fitted
    assert r.tokenizer_.vocab_size > 5  # the four letters, the space and the specials
    assert r.feature_config_.n_mels == 20
    assert r.model_.config.n_mels == 20
    assert r.model_.config.hidden_size == 32
    assert not r.model_.training
    assert len(r.progress_.history) == 10
    assert {"loss", "cer", "wer"} <= set(r.progress_.history[-1])
    assert (out / "best" / "tokenizer").is_dir()
    assert r.get_params()["model"] == TINY["model"]  # fitting changes no setting


def test_clone_of_a_fitted_recognizer_is_unfitted_with_equal_settings(fitted):
    r, _ = fitted
    copy = clone(r)
    assert copy.get_params() == r.get_params()
    assert not hasattr(copy, "model_")
    with pytest.raises(UserError, match=r"^SpeechRecognizer: not fitted yet"):
        copy.transcribe(np.zeros(1600, dtype=np.float32))
    assert copy.set_params(batch_size=4) is copy
    assert copy.batch_size == 4
    assert r.batch_size == 8


def test_it_learned_to_hear_most_test_letters(fitted, test_set):
    r, _ = fitted
    paths, texts = test_set
    letters = [t.replace(" ", "") for t in texts]
    heard = [t.replace(" ", "") for t in r.transcribe(paths)]
    assert 100 * jiwer.cer(letters, heard) < 15  # 3% when written; a shuffle of them: ~100%


def test_save_and_load_give_identical_transcripts_and_log_probs(fitted, test_set, tmp_path):
    r, out = fitted
    paths, _ = test_set
    r.save(tmp_path / "model")
    x = torch.randn(2, 40, 20)
    lengths = torch.tensor([40, 31])
    expected = r.transcribe(paths, timestamps=True)
    expected_beam = r.transcribe(paths, method="beam", beam_size=4)
    for again in (SpeechRecognizer.load(tmp_path / "model"), SpeechRecognizer.load(out)):
        assert again.get_params() == r.get_params()
        assert again.transcribe(paths, timestamps=True) == expected  # texts, scores, times
        assert again.transcribe(paths, method="beam", beam_size=4) == expected_beam
        with torch.no_grad():
            a, n = r.model_.log_probs(x, lengths)
            b, m = again.model_.log_probs(x, lengths)
        assert torch.equal(a, b)
        assert torch.equal(n, m)


def test_files_and_their_samples_transcribe_alike(fitted, test_set):
    r, _ = fitted
    paths, _ = test_set
    arrays = [samples(p) for p in paths]
    by_path = r.transcribe(paths, timestamps=True)
    assert r.transcribe(arrays, timestamps=True) == by_path
    assert r.transcribe([torch.from_numpy(a) for a in arrays], timestamps=True) == by_path
    mixed = [p if k % 2 else a for k, (p, a) in enumerate(zip(paths, arrays, strict=True))]
    assert r.transcribe(mixed) == [h["text"] for h in by_path]


def test_arrays_at_another_rate_are_resampled(fitted, test_set, tmp_path):
    r, _ = fitted
    paths, _ = test_set
    at_16k = [samples(p) for p in paths[:6]]
    at_48k = [resample_poly(a, 3, 1).astype(np.float32) for a in at_16k]  # the same audio
    texts = r.transcribe(at_16k)
    assert r.transcribe(at_48k, sample_rate=48000) == texts
    # Exactly: 48 kHz samples brought to 16 kHz (scipy, 1 up, 3 down) as the model's input,
    # and a 48 kHz file of them.
    down = [resample_poly(a, 1, 3).astype(np.float32) for a in at_48k]
    expected = r.transcribe(down, timestamps=True)
    assert r.transcribe(at_48k, sample_rate=48000, timestamps=True) == expected
    soundfile.write(tmp_path / "a.wav", at_48k[0], 48000, subtype="FLOAT")
    alone = r.transcribe(at_48k[:1], sample_rate=48000, timestamps=True)  # a batch of one
    assert r.transcribe([tmp_path / "a.wav"], timestamps=True) == alone


def test_transcripts_come_back_in_input_order(fitted, test_set):
    r, _ = fitted
    paths, _ = test_set
    one_by_one = [r.transcribe([p])[0] for p in paths]
    assert len(set(one_by_one)) >= 4  # the order is seen
    order = list(range(len(paths)))
    random.Random(0).shuffle(order)
    shuffled = [paths[k] for k in order]
    for batch_size in (1, 3, 16):
        found = r.transcribe(shuffled, batch_size=batch_size)
        assert found == [one_by_one[k] for k in order]


def test_word_times_are_ordered_and_within_the_audio(fitted, test_set):
    r, _ = fitted
    paths, _ = test_set
    found = r.transcribe(paths, timestamps=True)
    assert sum(len(h["words"]) for h in found) >= len(paths)
    for path, h in zip(paths, found, strict=True):
        duration = soundfile.info(path).duration
        assert [w["word"] for w in h["words"]] == h["text"].split()
        end = 0.0
        for w in h["words"]:
            assert end <= w["start"] < w["end"] <= duration
            end = w["end"]


def test_a_word_at_the_last_frame_ends_with_the_audio(fitted, monkeypatch):
    """The last output frame stacks 3 feature frames, 2 of them padding when T = 1 (mod 3):
    a word it emits must still end at the end of the audio, not 5 ms after it."""
    r, _ = fitted
    n = 400 + 160 * 30  # 0.325 s: T = 31 feature frames, T' = 11 output frames
    letter, blank = r.tokenizer_.encode("a")[0], r.model_.config.blank_id
    V = r.model_.config.vocab_size

    def log_probs(features, lengths):  # blanks, then "a" at the last frame
        out = torch.div(lengths + 2, 3, rounding_mode="floor")
        logits = torch.zeros(len(lengths), int(out.max()), V)
        logits[..., blank] = 10.0
        for b, t in enumerate(out.tolist()):
            logits[b, t - 1, letter] = 20.0
        return logits.log_softmax(-1), out

    monkeypatch.setattr(r.model_, "log_probs", log_probs)
    [h] = r.transcribe([np.full(n, 0.1, dtype=np.float32)], timestamps=True)
    assert h["text"] == "a"
    assert h["words"][0]["end"] <= n / 16000


def test_beam_search_with_and_without_a_word_lm(fitted, test_set, tmp_path):
    r, _ = fitted
    paths, texts = test_set
    greedy = r.transcribe(paths)
    beam = r.transcribe(paths, method="beam", beam_size=8, timestamps=True)
    assert len(beam) == len(paths)
    assert sum(h["text"] == g for h, g in zip(beam, greedy, strict=True)) >= len(paths) // 2
    lm = NGramLM.train(texts * 3, order=2)
    fused = r.transcribe(paths, method="beam", lm=lm, lm_weight=1.0, word_bonus=2.0)
    assert len(fused) == len(paths)
    assert all(isinstance(t, str) for t in fused)
    lm.write_arpa(tmp_path / "lm.arpa")
    from_file = r.transcribe(paths, method="beam", lm=tmp_path / "lm.arpa", lm_weight=1.0)
    assert from_file == r.transcribe(paths, method="beam", lm=lm, lm_weight=1.0)
    # An LM of weight 0 and no word bonus leaves the search as it was: same texts and scores.
    silent = r.transcribe(
        paths, method="beam", beam_size=8, lm=lm, lm_weight=0.0, word_bonus=0.0, timestamps=True
    )
    assert silent == beam


def test_evaluate_counts_agree_with_jiwer(fitted, tone_corpus, tmp_path):
    r, _ = fitted
    rows = [line.split("\t") for line in tone_corpus["test"].read_text().splitlines()]
    folder = tone_corpus["test"].parent
    # References to normalise, and wrong ones of 4 words, so that two length groups are filled.
    references = [t.upper() + "!" if k % 3 else "a b c d" for k, (_, t) in enumerate(rows)]
    manifest = tmp_path / "eval.tsv"
    lines = [f"{folder / p}\t{t}\n" for (p, _), t in zip(rows, references, strict=True)]
    manifest.write_text("".join(lines))
    with pytest.warns(Notice, match=r"^references: removed 8 characters .*\('!' 8\)"):
        scores = r.evaluate(manifest)
    normal = [t.lower().rstrip("!") for t in references]
    assert scores["references"] == normal
    hypotheses = r.transcribe([str(folder / p) for p, _ in rows])
    assert scores["hypotheses"] == hypotheses
    words = jiwer.process_words(normal, hypotheses)
    assert scores["substitutions"] == words.substitutions
    assert scores["deletions"] == words.deletions
    assert scores["insertions"] == words.insertions
    assert scores["words"] == sum(len(t.split()) for t in normal)
    errors = words.substitutions + words.deletions + words.insertions
    assert scores["wer"] == pytest.approx(100 * errors / scores["words"])
    assert scores["cer"] == pytest.approx(100 * jiwer.cer(normal, hypotheses))
    assert scores["utterances"] == len(rows)
    assert set(scores["by_length"]) == {"1-3", "4-6"}
    long = [k for k, t in enumerate(normal) if len(t.split()) >= 4]
    group = scores["by_length"]["4-6"]
    assert group["utterances"] == len(long)
    part = jiwer.process_words([normal[k] for k in long], [hypotheses[k] for k in long])
    assert group["wer"] == pytest.approx(100 * part.wer)
    assert group["insertions"] == part.insertions
    with pytest.warns(Notice):
        beam = r.evaluate(manifest, method="beam", beam_size=4)  # decoding as transcribe's
    paths = [str(folder / p) for p, _ in rows]
    assert beam["hypotheses"] == r.transcribe(paths, method="beam", beam_size=4)


def test_a_resumed_run_ends_with_the_weights_of_one_that_never_stopped(tone_corpus, tmp_path):
    train, valid = tone_corpus["train"], tone_corpus["valid"]
    # The warp and SpecAugment on: the resumed run must draw what the whole run drew.
    whole = recognizer(spec_augment=True, vtlp=0.2, epochs=2)
    whole.fit(train, valid, tmp_path / "whole", progress=False)
    part = recognizer(spec_augment=True, vtlp=0.2, epochs=2, max_steps=8)  # 6 steps an epoch
    part.fit(train, valid, tmp_path / "part", progress=False)
    stopped = load_checkpoint(tmp_path / "part" / "last")
    resumed = SpeechRecognizer(train={"epochs": 2}).fit(
        train, valid, tmp_path / "part", progress=False, resume=tmp_path / "part" / "last"
    )
    assert resumed.spec_augment is True  # the run's settings were taken over
    assert resumed.vtlp == 0.2
    a = load_checkpoint(tmp_path / "whole" / "last").state_dict
    b = load_checkpoint(tmp_path / "part" / "last").state_dict
    assert not all(torch.equal(stopped.state_dict[k], b[k]) for k in a)  # it did train on
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_same_seed_gives_the_same_weights_and_another_seed_others(tone_corpus):
    data = load_speech(tone_corpus["train"], tone_corpus["valid"], test_fraction=0.0)

    def weights(seed, vtlp=0.0):
        r = recognizer(spec_augment=True, vtlp=vtlp, epochs=1, seed=seed)
        return r.fit(data, progress=False).model_.state_dict()

    a, b, c = weights(3), weights(3), weights(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    d, e = weights(3, vtlp=0.2), weights(3, vtlp=0.2)
    assert all(torch.equal(d[k], e[k]) for k in d)
    assert not all(torch.equal(a[k], d[k]) for k in a)  # the warp changed what it heard


@pytest.mark.slow
def test_greedy_cer_on_unseen_tone_utterances_is_far_below_chance(tones, tmp_path):
    """160 utterances, 12 epochs (~10 s on one core). Chance is the CER of the test references
    against a shuffle of themselves: transcripts of the right lengths and letters, heard from
    nothing (~100%). The model hears the letters; what it still misses is most of the 60 ms
    word gaps, about a fifth of the characters, hence the bound of 40% (and of half chance)."""
    train = tones.write_corpus(tmp_path, 160, seed=10, name="train.tsv")
    valid = tones.write_corpus(tmp_path, 16, seed=11, name="valid.tsv")
    test = tones.write_corpus(tmp_path, 24, seed=12, name="test.tsv")
    r = recognizer(spec_augment=True, epochs=12).fit(train, valid, progress=False)
    scores = r.evaluate(test)
    references = scores["references"]
    rng = random.Random(0)
    shuffles = [rng.sample(references, len(references)) for _ in range(20)]
    chance = 100 * float(np.mean([jiwer.cer(references, s) for s in shuffles]))
    assert chance > 80
    assert scores["cer"] < min(40.0, chance / 2), (scores["cer"], chance)


# ---------------------------------------------------------------------- mistakes
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tokenizer": "word"}, r"^tokenizer: expected one of char, bpe, unigram, got 'word'"),
        ({"batch_size": 0}, r"^batch_size: expected a positive integer, got 0"),
        ({"max_seconds": 0}, r"^max_seconds: expected seconds > 0, got 0"),
        ({"spec_augment": "yes"}, r"^spec_augment: expected true, false or a mapping"),
        ({"vtlp": 0.5}, r"^vtlp: expected a number in \[0, 0\.5\), got 0\.5$"),
        ({"vtlp": "0.1"}, r"^vtlp: expected a number in \[0, 0\.5\), got '0\.1'$"),
        ({"model": {"n_mels": 40}}, r"^model.vocab_size, model.n_mels, .*: set by the tokenizer"),
        ({"model": {"hiden_size": 8}}, r"^model.hiden_size: expected one of the SpeechConfig"),
        ({"features": {"n_mels": 0}}, r"^n_mels: expected an integer ≥ 1, got 0"),
        pytest.param(
            {"features": {"n_mel": 40}},
            r"^features.*'?n_mel'?.*expected one of sample_rate, n_mels",
        ),
        pytest.param(
            {"features": 40},
            r"^features: expected a mapping",
        ),
        pytest.param(
            {"spec_augment": {"freq_mask": 2}},
            r"^spec_augment.*freq_mask.*expected one of freq_masks, freq_width",
        ),
    ],
)
def test_bad_settings_are_named_before_any_work(settings, message, tmp_path):
    with pytest.raises(UserError, match=message):
        SpeechRecognizer(**settings).fit(tmp_path / "never-read.tsv", progress=False)


def test_a_vocabulary_too_small_for_the_special_tokens_is_named(tone_corpus):
    with pytest.raises(UserError, match=r"^vocab_size: expected an integer >= 5"):
        recognizer().set_params(vocab_size=3).fit(tone_corpus["train"], progress=False)


def write_manifest(folder, rows, tones, name="m.tsv"):
    """A manifest of tone utterances: ``rows`` of (text spoken, transcript written)."""
    rng = np.random.default_rng(0)
    lines = []
    for k, (spoken, written) in enumerate(rows):
        soundfile.write(folder / f"u{k}.wav", tones.speak(spoken, rng), tones.RATE)
        lines.append(f"u{k}.wav\t{written}\n")
    (folder / name).write_text("".join(lines))
    return folder / name


def test_a_transcript_with_nothing_left_after_normalisation_is_named(tmp_path, tones):
    rows = [("ab", "ab"), ("c", "c"), ("d", "?!"), ("a", "a")]
    manifest = write_manifest(tmp_path, rows, tones)
    data = load_speech(manifest, manifest, test_fraction=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Notice)  # the error alone: no note on what was removed
        with pytest.raises(UserError, match=r"m.tsv:3: expected a transcript with letters or"):
            recognizer().fit(data, progress=False)


def test_audio_longer_than_max_seconds_is_named(fitted, tmp_path, tones, monkeypatch):
    manifest = write_manifest(tmp_path, [("ab", "ab"), ("c", "c")], tones)
    with pytest.raises(
        UserError, match=r"u0.wav: expected at most 0.1 s of audio \(`max_seconds`\)"
    ):
        SpeechRecognizer(**TINY, max_seconds=0.1).fit(manifest, manifest, progress=False)
    r, _ = fitted
    monkeypatch.setattr(r, "max_seconds", 0.1)
    with pytest.raises(UserError, match=r"u1.wav: expected at most 0.1 s of audio"):
        r.transcribe([tmp_path / "u1.wav"])


def test_a_silent_training_file_is_named(tmp_path, tones):
    manifest = write_manifest(tmp_path, [("ab", "ab"), ("c", "c"), ("d", "d")], tones)
    soundfile.write(tmp_path / "u1.wav", np.zeros(8000), tones.RATE)
    data = load_speech(manifest, manifest, test_fraction=0.0)  # u1.wav is trained on
    with pytest.raises(UserError, match=r"u1.wav.*: silent audio"):
        recognizer(epochs=1).fit(data, progress=False)


def test_transcribe_names_its_bad_arguments(fitted, tmp_path):
    r, _ = fitted
    audio = np.zeros(1600, dtype=np.float32)
    with pytest.raises(UserError, match=r"^method: expected one of greedy, beam, got 'best'"):
        r.transcribe(audio, method="best")
    with pytest.raises(UserError, match=r"^lm: needs method='beam', got method='greedy'"):
        r.transcribe(audio, lm=NGramLM.train(["a b"]))
    with pytest.raises(UserError, match=r"missing.wav: no such audio file"):
        r.transcribe([tmp_path / "missing.wav"])
    with pytest.raises(UserError, match=r"^audio: expected finite samples, got NaN or inf"):
        r.transcribe(np.full(1600, np.nan, dtype=np.float32))
    with pytest.raises(UserError, match=r"^audio: expected mono samples \(N,\), got .* \(0,\)"):
        r.transcribe([np.zeros(0, dtype=np.float32)])
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(UserError, match=r"broken.wav: expected audio that libsndfile can read"):
        r.transcribe([tmp_path / "broken.wav"])
    with pytest.raises(UserError, match=r"^beam_size: expected a positive integer, got 0"):
        r.transcribe(audio, method="beam", beam_size=0)


def test_a_stereo_array_is_refused_not_read_as_many_utterances(fitted):
    r, _ = fitted
    with pytest.raises(UserError, match=r"^audio: expected mono samples \(N,\)"):
        r.transcribe(np.zeros((800, 2), dtype=np.float32))


def test_a_bad_transcribe_batch_size_is_named(fitted):
    r, _ = fitted
    with pytest.raises(UserError, match=r"^batch_size: expected a positive integer, got 0"):
        r.transcribe(np.zeros(1600, dtype=np.float32), batch_size=0)


def test_a_bad_sample_rate_is_named_as_the_argument(fitted):
    r, _ = fitted
    with pytest.raises(UserError, match=r"^sample_rate: expected"):
        r.transcribe(np.zeros(1600, dtype=np.float32), sample_rate=0)
