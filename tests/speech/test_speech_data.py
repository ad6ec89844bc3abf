"""What a speech run reads: manifests split by fraction, given validation and test sets, folders,
and the built-in corpora by name."""

import functools

import pytest

import lstmkit.speech.data as speech_data
from lstmkit.data import speech_builtin
from lstmkit.errors import UserError
from lstmkit.speech.data import SpeechData, is_builtin, load_speech


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tones):
    folder = tmp_path_factory.mktemp("data")
    write_corpus = tones.write_corpus
    return {
        "all": write_corpus(folder, 20, seed=5, name="all.tsv"),
        "valid": write_corpus(folder, 3, seed=6, name="valid.tsv"),
        "test": write_corpus(folder, 2, seed=7, name="test.tsv"),
    }


def lines(manifest):
    """(audio path, text) per line of a ``path<TAB>text`` manifest, in file order."""
    rows = [line.split("\t") for line in manifest.read_text().splitlines()]
    return [(str(manifest.parent / path), text) for path, text in rows]


def pairs(utterances):
    return [(str(p), t) for p, t in utterances]


def test_fractions_split_a_manifest_into_disjoint_parts_in_file_order(corpus):
    data = load_speech(corpus["all"], valid_fraction=0.1, test_fraction=0.2, seed=3)
    assert isinstance(data, SpeechData)
    assert (len(data.train), len(data.valid), len(data.test)) == (14, 2, 4)
    everything = lines(corpus["all"])
    parts = [pairs(data.train), pairs(data.valid), pairs(data.test)]
    assert sorted(row for part in parts for row in part) == sorted(everything)  # each once
    for part in parts:  # in the manifest's order
        assert part == [row for row in everything if row in part]
    assert data.train.where[0].startswith(f"{corpus['all']}:")
    assert data.spec == {
        "data": str(corpus["all"]),
        "valid": None,
        "test": None,
        "seed": 3,
        "valid_fraction": 0.1,
        "test_fraction": 0.2,
    }


def test_the_split_is_fixed_by_the_seed(corpus):
    def split(seed):
        data = load_speech(corpus["all"], valid_fraction=0.2, test_fraction=0.2, seed=seed)
        return pairs(data.valid) + pairs(data.test)

    assert split(0) == split(0)
    assert split(0) != split(1)


def test_the_default_shares_leave_one_for_validation_and_one_for_testing(corpus):
    data = load_speech(corpus["all"])  # 5% of 20 rounds to 1
    assert (len(data.train), len(data.valid), len(data.test)) == (18, 1, 1)


def test_a_given_validation_set_is_used_and_nothing_is_split_off_for_it(corpus):
    data = load_speech(corpus["all"], valid=corpus["valid"], test_fraction=0.25)
    assert pairs(data.valid) == lines(corpus["valid"])
    assert (len(data.train), len(data.test)) == (15, 5)
    assert sorted(pairs(data.train) + pairs(data.test)) == sorted(lines(corpus["all"]))
    assert data.spec["valid"] == str(corpus["valid"])


def test_given_validation_and_test_sets_leave_every_utterance_for_training(corpus):
    data = load_speech(corpus["all"], valid=corpus["valid"], test=corpus["test"])
    assert pairs(data.train) == lines(corpus["all"])
    assert pairs(data.test) == lines(corpus["test"])


def test_a_folder_of_audio_with_transcripts(tmp_path, tones):
    manifest = tones.write_corpus(tmp_path, 4, seed=8)
    for path, text in lines(manifest):
        (tmp_path / path).with_suffix(".txt").write_text(text + "\n")
    manifest.unlink()
    data = load_speech(tmp_path, valid_fraction=0.25, test_fraction=0.0)
    assert (len(data.train), len(data.valid), len(data.test)) == (3, 1, 0)
    assert sorted(pairs(data.train) + pairs(data.valid)) == sorted(lines_of(tmp_path))


def lines_of(folder):
    return [(str(p), p.with_suffix(".txt").read_text().strip()) for p in folder.glob("*.wav")]


def test_the_fingerprint_is_the_training_manifest_s_and_changes_with_it(corpus, tmp_path):
    a = load_speech(corpus["all"], seed=0)
    b = load_speech(corpus["all"], seed=1)  # other parts of the same manifest
    assert a.fingerprint() == b.fingerprint()
    edited = tmp_path / "all.tsv"
    edited.write_text(corpus["all"].read_text().replace("\t", "\t ", 1))
    for path, _ in lines(corpus["all"]):
        (tmp_path / path.rsplit("/", 1)[1]).symlink_to(path)
    assert load_speech(edited).fingerprint() != a.fingerprint()


def test_too_few_utterances_to_split_off_validation_ones(tmp_path, tones):
    manifest = tones.write_corpus(tmp_path, 2, seed=9)
    with pytest.raises(UserError, match=r"expected enough utterances .*\(2 found\); give `valid`"):
        load_speech(manifest)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"valid_fraction": 1.5}, r"^valid_fraction: expected a number in \[0, 1\), got 1.5"),
        ({"test_fraction": -0.1}, r"^test_fraction: expected a number in \[0, 1\), got -0.1"),
        (
            {"valid_fraction": 0.5, "test_fraction": 0.5},
            r"^valid_fraction \+ test_fraction: expected less than 1",
        ),
    ],
)
def test_bad_fractions_are_named(corpus, options, message):
    with pytest.raises(UserError, match=message):
        load_speech(corpus["all"], **options)


def test_a_missing_manifest_is_named(tmp_path):
    with pytest.raises(UserError, match=r"missing.tsv: no such manifest or folder"):
        load_speech(tmp_path / "missing.tsv")


def test_a_name_is_a_built_in_corpus_unless_such_a_file_exists(tmp_path, monkeypatch):
    assert is_builtin(None)
    assert is_builtin("digits")
    assert not is_builtin("dijits")
    assert not is_builtin(tmp_path / "train.tsv")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").mkdir()
    assert not is_builtin("digits")  # the folder named so is meant


def test_a_built_in_corpus_brings_its_own_splits():
    with pytest.raises(UserError, match=r"^valid, test: a built-in corpus brings its own splits"):
        load_speech("digits", valid="v.tsv")


@pytest.mark.skipif(not speech_builtin.espeak_available(), reason=speech_builtin.MISSING_ESPEAK)
def test_a_built_in_name_reads_its_synthesised_splits(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path / "cache"))
    tiny = functools.partial(speech_builtin.builtin_speech, size=(12, 4, 4))
    monkeypatch.setattr(speech_data, "builtin_speech", tiny)
    data = load_speech("digits")
    assert (len(data.train), len(data.valid), len(data.test)) == (12, 4, 4)
    texts = speech_builtin.speech_texts("digits", size=(12, 4, 4))
    assert (data.train.texts, data.valid.texts, data.test.texts) == texts
    assert all(p.is_file() and (tmp_path / "cache") in p.parents for p in data.train.paths)
    assert data.spec["data"] == "digits"
