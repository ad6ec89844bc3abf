"""`lstmkit speech train|transcribe|eval` on the tone language: results as tables and JSON, input
order, --print-config and --config replays, --resume."""

import contextlib
import importlib.util
import io
import json
import random
from pathlib import Path

import pytest
import soundfile
import yaml
from safetensors.torch import load_file

from lstmkit.checkpoint import load_checkpoint
from lstmkit.cli.main import main
from lstmkit.decode.ngram import NGramLM
from lstmkit.speech import SpeechRecognizer


def _tones():
    """The tone language of ``tests/speech/conftest.py`` (each letter a pure tone), loaded under
    its own name: ``conftest`` names several modules in a run of the whole suite."""
    path = Path(__file__).resolve().parents[1] / "speech" / "conftest.py"
    spec = importlib.util.spec_from_file_location("speech_tones", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tones = _tones()
TINY = (
    "--hidden-size 32 --num-layers 1 --dropout 0 --n-mels 20 --batch-size 8 --lr 0.02 "
    "--warmup-steps 10 --no-spec-augment --no-progress"
).split()


@pytest.fixture(scope="module", autouse=True)
def _feature_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LSTMKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tones")
    return {
        "train": tones.write_corpus(folder, 48, seed=0, name="train.tsv"),
        "valid": tones.write_corpus(folder, 12, seed=1, name="valid.tsv"),
        "test": tones.write_corpus(folder, 12, seed=2, name="test.tsv"),
    }


def data_flags(corpus):
    return ["--data", str(corpus["train"]), "--valid", str(corpus["valid"])]


def run(argv, capsys=None):
    """``lstmkit ARGV``: exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """A run of 10 epochs with a test set, and what it printed (--json)."""
    out = tmp_path_factory.mktemp("speech") / "run"
    argv = ["speech", "train", *data_flags(corpus), "--test", corpus["test"], "--out", out]
    code, printed, err = run([*argv, *TINY, "--epochs", "10", "--json"])
    assert code == 0, err
    return out, json.loads(printed)


def test_train_prints_its_history_and_test_scores_as_json(trained, corpus):
    out, result = trained
    assert result["out"] == str(out)
    assert result["epochs"] == 10
    assert len(result["history"]) == 10
    assert {"loss", "cer", "wer"} <= set(result["history"][-1])
    test = result["test"]
    assert "hypotheses" not in test
    expected = SpeechRecognizer.load(out).evaluate(corpus["test"])
    for key in ("wer", "cer", "substitutions", "deletions", "insertions", "words", "utterances"):
        assert test[key] == pytest.approx(expected[key])
    assert test["utterances"] == 12
    assert (out / "best" / "tokenizer").is_dir()


def test_train_prints_a_table(corpus, tmp_path):
    argv = ["speech", "train", *data_flags(corpus), "--out", tmp_path / "r", *TINY]
    code, printed, _ = run([*argv, "--epochs", "1", "--test-fraction", "0.1"])
    assert code == 0
    lines = printed.splitlines()
    assert lines[0].startswith(f"run: {tmp_path / 'r'}")
    assert "valid loss" in printed
    assert "valid wer" in printed
    assert "test (greedy):" in printed
    assert "WER %" in printed


def test_transcribe_prints_one_line_per_file_in_the_order_given(trained, corpus):
    out, _ = trained
    wavs = sorted(str(p) for p in corpus["test"].parent.glob("test-*.wav"))
    random.Random(1).shuffle(wavs)
    recognizer = SpeechRecognizer.load(out)
    one_by_one = [recognizer.transcribe([w])[0] for w in wavs]
    assert len(set(one_by_one)) >= 4  # the order can be seen
    code, printed, err = run(["speech", "transcribe", out, *wavs])
    assert (code, err) == (0, "")
    assert printed.splitlines() == one_by_one


def test_transcribe_json_gives_each_word_s_start_and_end(trained, corpus):
    out, _ = trained
    wavs = sorted(str(p) for p in corpus["test"].parent.glob("test-*.wav"))[:5]
    code, printed, _ = run(["speech", "transcribe", out, *wavs, "--json"])
    assert code == 0
    lines = [json.loads(line) for line in printed.splitlines()]
    assert [line["audio"] for line in lines] == wavs
    assert sum(len(line["words"]) for line in lines) >= 5
    for line, wav in zip(lines, wavs, strict=True):
        assert [w["word"] for w in line["words"]] == line["text"].split()
        for w in line["words"]:
            assert 0 <= w["start"] < w["end"] <= soundfile.info(wav).duration


def test_transcribe_with_beam_search_and_an_arpa_lm(trained, corpus, tmp_path):
    out, _ = trained
    wavs = sorted(str(p) for p in corpus["test"].parent.glob("test-*.wav"))[:4]
    texts = [line.split("\t")[1] for line in corpus["train"].read_text().splitlines()]
    NGramLM.train(texts, order=2).write_arpa(tmp_path / "lm.arpa")
    argv = ["speech", "transcribe", out, *wavs, "--method", "beam", "--beam-size", "4"]
    code, printed, _ = run([*argv, "--lm", tmp_path / "lm.arpa", "--lm-weight", "0.8"])
    assert code == 0
    lm = NGramLM.read_arpa(tmp_path / "lm.arpa")
    expected = SpeechRecognizer.load(out).transcribe(
        wavs, method="beam", beam_size=4, lm=lm, lm_weight=0.8
    )
    assert printed.splitlines() == expected


def test_eval_prints_a_table_and_json(trained, corpus):
    out, _ = trained
    code, printed, _ = run(["speech", "eval", out, "--data", corpus["test"], "--json"])
    assert code == 0
    result = json.loads(printed)
    expected = SpeechRecognizer.load(out).evaluate(corpus["test"])
    assert result["model"] == str(out / "best")
    assert result["method"] == "greedy"
    assert result["wer"] == pytest.approx(expected["wer"])
    assert result["cer"] == pytest.approx(expected["cer"])
    assert result["by_length"]["1-3"]["utterances"] == 12
    assert "hypotheses" not in result
    code, table, _ = run(["speech", "eval", out, "--data", corpus["test"]])
    assert code == 0
    header, rule, everything, *groups = table.splitlines()
    columns = ["utterances", "WER", "%", "CER", "%", "sub", "del", "ins", "words", "count"]
    assert header.split() == columns
    assert set(rule) == {"-", " "}
    assert everything.split()[:3] == ["all", f"{expected['wer']:.2f}", f"{expected['cer']:.2f}"]
    assert everything.split()[-1] == "12"
    assert [g.split()[:2] for g in groups] == [["1-3", "words"]]


def test_print_config_then_config_replays_the_run(corpus, tmp_path):
    argv = ["speech", "train", *data_flags(corpus), *TINY, "--epochs", "1", "--seed", "5"]
    argv += ["--vtlp", "0.15"]
    code, printed, err = run([*argv, "--out", tmp_path / "never", "--print-config"])
    assert (code, err) == (0, "")
    assert not (tmp_path / "never").exists()
    settings = yaml.safe_load(printed)
    assert settings["features"]["n_mels"] == 20
    assert settings["model"]["hidden_size"] == 32
    assert settings["features"]["spec_augment"] is False
    assert settings["features"]["vtlp"] == 0.15
    assert settings["training"]["seed"] == 5
    assert settings["data"]["valid"] == str(corpus["valid"])
    (tmp_path / "printed.yaml").write_text(printed)
    replay = ["speech", "train", "--config", tmp_path / "printed.yaml"]
    assert run([*replay, "--print-config"])[1] == printed
    assert run([*argv, "--out", tmp_path / "a"])[0] == 0
    assert run([*replay, "--out", tmp_path / "b"])[0] == 0
    a, b = (load_checkpoint(tmp_path / name / "last") for name in "ab")
    assert a.config["estimator"] == b.config["estimator"]
    assert a.state_dict.keys() == b.state_dict.keys()
    assert all((a.state_dict[k] == b.state_dict[k]).all() for k in a.state_dict)


def test_a_run_s_config_json_replays_the_run(trained, tmp_path):
    out, _ = trained
    replay = ["speech", "train", "--config", out / "best" / "config.json"]
    code, printed, err = run([*replay, "--print-config"])
    assert code == 0
    assert "left out" not in err
    assert yaml.safe_load(printed)["features"]["n_mels"] == 20


def test_resume_continues_a_stopped_run_exactly(corpus, tmp_path):
    argv = ["speech", "train", *data_flags(corpus), *TINY, "--epochs", "2", "--seed", "2"]
    # masks too must resume exactly
    augment = [*(a for a in argv if a != "--no-spec-augment"), "--spec-augment"]
    assert run([*augment, "--out", tmp_path / "whole"])[0] == 0
    assert run([*augment, "--out", tmp_path / "part", "--max-steps", "8"])[0] == 0
    stopped = load_file(tmp_path / "part" / "last" / "model.safetensors")
    code, printed, err = run(["speech", "train", "--resume", tmp_path / "part", "--json"])
    assert code == 0, err
    assert json.loads(printed)["steps"] == 12
    a, b = (load_file(tmp_path / name / "last" / "model.safetensors") for name in ("whole", "part"))
    assert not all((stopped[k] == b[k]).all() for k in a)
    assert all((a[k] == b[k]).all() for k in a)


@pytest.fixture
def small(tmp_path):
    """Six tone utterances, and ``argv`` training on all of them in their order."""
    manifest = tones.write_corpus(tmp_path, 6, seed=3, name="small.tsv")
    argv = ["speech", "train", "--data", manifest, "--valid", manifest, "--test-fraction", "0"]
    return manifest, [*argv, "--out", tmp_path / "new", *TINY, "--epochs", "1"]


def test_an_error_while_computing_features_is_a_line_of_its_own(small, tmp_path):
    manifest, argv = small
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt not a wave file")
    manifest.write_text(manifest.read_text() + "bad.wav\tab\n")
    code, _, err = run([a for a in argv if a != "--no-progress"])
    assert code == 2
    [line] = [line for line in err.splitlines() if "error:" in line]
    assert line.startswith("lstmkit speech train: error: ")
    assert not (tmp_path / "new").exists()


def test_a_transcript_with_nothing_left_is_one_line(small, tmp_path):
    manifest, argv = small
    rows = manifest.read_text().splitlines()
    rows[2] = rows[2].split("\t")[0] + "\t?!"
    manifest.write_text("\n".join(rows) + "\n")
    code, _, err = run(argv)
    assert code == 2
    assert err.splitlines() == [
        f"lstmkit speech train: error: {manifest}:3: expected a transcript with letters or "
        "digits, got none left after normalisation"
    ]


@pytest.mark.parametrize("value", ["0.5", "-0.1", "x"])
def test_a_vtlp_outside_its_range_is_refused_before_any_work(small, value, tmp_path):
    _, argv = small
    code, _, err = run([*argv, "--vtlp", value])
    assert code == 2
    assert f"--vtlp: expected a number in [0, 0.5), got '{value}'" in err
    assert not (tmp_path / "new").exists()


def test_a_file_longer_than_max_seconds_names_the_flag(small):
    _, argv = small
    code, _, err = run([*argv, "--max-seconds", "0.1"])
    assert code == 2
    assert "expected at most 0.1 s of audio (--max-seconds)" in err


def test_transcribe_refuses_a_file_longer_than_its_max_seconds_before_any_work(trained, corpus):
    out, _ = trained
    wav = sorted(corpus["test"].parent.glob("test-*.wav"))[0]
    seconds = soundfile.info(str(wav)).duration
    code, printed, err = run(["speech", "transcribe", out, wav, "--max-seconds", seconds / 2])
    assert code == 2
    assert printed == ""
    assert err.splitlines() == [
        f"lstmkit speech transcribe: error: {wav}: expected at most {seconds / 2:g} s of audio "
        f"(--max-seconds), got {seconds:.2f} s"
    ]
    code, printed, _ = run(["speech", "transcribe", out, wav, "--max-seconds", seconds * 2])
    assert code == 0
    assert len(printed.splitlines()) == 1


def test_lm_trains_the_n_gram_model_of_the_normalised_text_and_transcripts(corpus, tmp_path):
    text = tmp_path / "more.txt"
    text.write_text("Abc, ABD!\n\nbad cab\n")
    arpa = tmp_path / "words.arpa"
    argv = ["speech", "lm", "--text", text, "--data", corpus["train"], "--order", "2"]
    code, printed, err = run([*argv, "--out", arpa, "--json"])
    assert code == 0, err
    transcripts = [line.split("\t")[1] for line in corpus["train"].read_text().splitlines()]
    expected = NGramLM.train(["abc abd", "bad cab", *transcripts], order=2)
    found = NGramLM.read_arpa(arpa)
    assert found.counts == expected.counts
    for words in ("abc abd", "bad cab", "a b c", transcripts[0]):
        assert found.sentence_log_prob(words) == pytest.approx(expected.sentence_log_prob(words))
    result = json.loads(printed)
    assert result["sentences"] == 2 + len(transcripts)
    assert result["2-grams"] == expected.counts[1]


def test_lm_refuses_to_replace_a_file_without_overwrite(corpus, tmp_path):
    arpa = tmp_path / "words.arpa"
    arpa.write_text("an earlier model")
    code, _, err = run(["speech", "lm", "--data", corpus["train"], "--out", arpa])
    assert code == 2
    assert err.splitlines() == [
        f"lstmkit speech lm: error: --out {arpa}: already exists; choose a new file or pass "
        "--overwrite"
    ]
    assert arpa.read_text() == "an earlier model"
    argv = ["speech", "lm", "--data", corpus["train"], "--out", arpa, "--overwrite"]
    code, printed, _ = run(argv)
    assert code == 0
    assert printed.startswith(f"wrote {arpa}: order 3 from 48 sentences")
    assert NGramLM.read_arpa(arpa).order == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--text, --data: expected text or transcripts to learn from, got none"),
        (["--data", "DATA", "--order", "6"], "--order: expected an integer from 1 to 5, got 6"),
        (["--text", "EMPTY"], "--text, --data: expected some words, got only blank lines"),
    ],
)
def test_lm_names_its_bad_options(argv, message, corpus, tmp_path):
    (tmp_path / "empty.txt").write_text("?!\n\n")
    swap = {"DATA": str(corpus["train"]), "EMPTY": str(tmp_path / "empty.txt")}
    argv = [swap.get(a, a) for a in argv]
    code, _, err = run(["speech", "lm", *argv, "--out", tmp_path / "lm.arpa"])
    assert code == 2
    assert err.splitlines() == [f"lstmkit speech lm: error: {message}"]
    assert not (tmp_path / "lm.arpa").exists()


@pytest.fixture(scope="module")
def streaming(corpus, tmp_path_factory):
    """A unidirectional run on causally normalised features: a model that can stream."""
    out = tmp_path_factory.mktemp("speech") / "streaming"
    argv = ["speech", "train", *data_flags(corpus), "--out", out, *TINY, "--epochs", "10"]
    code, _, err = run([*argv, "--unidirectional", "--feature-normalize", "causal"])
    assert code == 0, err
    return out


def test_stream_prints_the_greedy_transcript_chunk_by_chunk(streaming, corpus):
    wavs = sorted(str(p) for p in corpus["test"].parent.glob("test-*.wav"))[:3]
    recognizer = SpeechRecognizer.load(streaming)
    assert recognizer.feature_config_.normalize == "causal"
    assert not recognizer.model_.config.bidirectional
    expected = recognizer.transcribe(wavs)
    assert any(expected)  # the tiny model hears some letters
    for wav, text in zip(wavs, expected, strict=True):
        code, printed, err = run(["speech", "stream", streaming, wav, "--chunk-ms", "30"])
        assert code == 0, err
        assert printed == text + "\n"
        code, printed, _ = run(["speech", "stream", streaming, wav, "--chunk-ms", "7", "--json"])
        pieces = [json.loads(line) for line in printed.splitlines()]
        assert "".join(p["text"] for p in pieces) == text
        times = [p["time"] for p in pieces]
        assert times == sorted(times)
        assert all(0 < t <= soundfile.info(wav).duration + 1e-3 for t in times)


def test_stream_refuses_a_bidirectional_model_naming_what_to_train(trained, corpus):
    out, _ = trained
    wav = sorted(corpus["test"].parent.glob("test-*.wav"))[0]
    code, printed, err = run(["speech", "stream", out, wav])
    assert code == 2
    assert printed == ""
    assert err.splitlines() == [
        f"lstmkit speech stream: error: {out}: expected a model that can stream, got a "
        "bidirectional encoder and features normalised per utterance; train one with lstmkit "
        "speech train --unidirectional --feature-normalize causal"
    ]
