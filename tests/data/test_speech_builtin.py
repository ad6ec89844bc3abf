"""The built-in spoken data: texts in the character set, held-out voices, files of other rates
and channels with the SNR they claim, a cache that is reused and never trusted half-built, and
the pocketsphinx-testdata manifest."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from num2words import num2words

from lstmkit.data import speech_builtin, speech_recordings
from lstmkit.data.speech_builtin import (
    MISSING_ESPEAK,
    SPEECH_ACCENTS,
    SPEECH_VARIANTS,
    builtin_speech,
    espeak_available,
)
from lstmkit.data.speech_recordings import pocketsphinx_testdata
from lstmkit.data.speech_texts import SPEECH_BUILTIN, SPEECH_CHARS, speech_texts
from lstmkit.errors import UserError

needs_espeak = pytest.mark.skipif(
    not espeak_available(), reason="needs espeak-ng: apt-get install espeak-ng"
)
DIGITS = "zero one two three four five six seven eight nine".split()
SIZE = (12, 4, 4)


def read_tsv(path: Path, header: bool = False) -> list:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t") if header else csv.reader(f, delimiter="\t")
        return list(reader)


TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
TENS = "twenty thirty forty fifty sixty seventy eighty ninety"


def words_to_number(text: str) -> int:
    """English number words (no hyphens) back to the integer, written out independently."""
    values = {w: i for i, w in enumerate(DIGITS + TEENS.split())}
    values |= {w: 10 * i for i, w in enumerate(TENS.split(), 2)}
    total = current = 0
    for word in text.split():
        if word in values:
            current += values[word]
        elif word == "hundred":
            current *= 100
        elif word == "thousand":
            total, current = total + current * 1000, 0
        else:
            assert word == "and", text
    return total + current


@pytest.mark.parametrize("name", SPEECH_BUILTIN)
def test_texts_have_the_sizes_and_only_the_character_set(name):
    parts = speech_texts(name, size=(60, 7, 9), seed=3)
    assert [len(p) for p in parts] == [60, 7, 9]
    for text in [*parts[0], *parts[1], *parts[2]]:
        assert set(text) <= set(SPEECH_CHARS), text
        assert text, name
        assert text == " ".join(text.split()), repr(text)


def test_digit_strings_say_zero_never_oh_and_have_three_to_seven_digits():
    train, valid, test = speech_texts("digits", size=(300, 10, 10))
    lengths = set()
    for text in train + valid + test:
        assert set(text.split()) <= set(DIGITS), text
        lengths.add(len(text.split()))
    assert lengths == {3, 4, 5, 6, 7}
    assert any("zero" in t.split() for t in train)


def test_numbers_are_said_as_num2words_says_them():
    train, _, test = speech_texts("numbers", size=(300, 0, 50), seed=1)
    values = [words_to_number(t) for t in train + test]
    assert all(0 <= n < 10000 for n in values)
    for text, n in zip(train + test, values, strict=True):
        assert text == num2words(n).replace("-", " ").replace(",", ""), (text, n)
    # the number of digits is uniform, so small numbers are common and zero is there
    assert sum(n < 10 for n in values) > 40
    assert 0 in values


def test_sentences_vary_and_every_test_word_is_heard_in_training():
    train, valid, test = speech_texts("mixed", seed=0)  # the default corpus's texts
    assert len({t for t in train if len(t.split()) >= 5}) > 2500
    vocabulary = {w for t in train for w in t.split()}
    assert 400 < len(vocabulary) < 600
    assert {w for t in valid + test for w in t.split()} <= vocabulary
    assert "'" in "".join(train)


def test_held_out_texts_of_three_words_or_more_are_not_in_training():
    train, valid, test = speech_texts("mixed", size=(3000, 200, 200), seed=2)
    held = {t for t in valid + test if len(t.split()) >= 3}
    assert held
    assert held.isdisjoint(train)


def test_texts_follow_the_seed():
    assert speech_texts("mixed", size=(20, 2, 2), seed=5) == speech_texts(
        "mixed", size=(20, 2, 2), seed=5
    )
    assert speech_texts("mixed", size=(20, 2, 2), seed=5) != speech_texts(
        "mixed", size=(20, 2, 2), seed=6
    )


def test_voice_groups_are_disjoint():
    train, valid, test = (set(SPEECH_VARIANTS[s]) for s in ("train", "valid", "test"))
    assert train.isdisjoint(valid)
    assert train.isdisjoint(test)
    assert valid.isdisjoint(test)
    assert len(train) >= 40
    assert len(test) >= 6
    assert len(set(SPEECH_ACCENTS)) == 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": "words"},
            r"name: expected one of mixed, digits, numbers, sentences, got 'words'",
        ),
        ({"size": (0, 1, 1)}, r"size: expected \(train, valid, test\) .* got \(0, 1, 1\)"),
        ({"size": (5, 1)}, r"size: expected \(train, valid, test\)"),
        ({"size": (5, -1, 1)}, r"size: expected .* non-negative"),
        ({"name": "numbers", "size": (5, 3000, 3000)}, r"valid \+ test at most 5000"),
        ({"seed": "1"}, r"seed: expected an integer, got '1'"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        speech_texts(**kwargs)


def test_missing_espeak_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not espeak_available()
    message = r"synthesised with espeak-ng, which is not installed \(apt-get install espeak-ng\)"
    with pytest.raises(UserError, match=message):
        builtin_speech("digits", size=SIZE, cache=tmp_path)
    assert MISSING_ESPEAK.endswith("(apt-get install espeak-ng)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not espeak_available():
        pytest.skip("needs espeak-ng: apt-get install espeak-ng")
    return builtin_speech("mixed", size=SIZE, seed=0, cache=tmp_path_factory.mktemp("speech"))


@needs_espeak
def test_manifests_hold_the_texts_with_relative_paths(corpus):
    texts = speech_texts("mixed", size=SIZE, seed=0)
    for manifest, expected in zip((corpus.train, corpus.valid, corpus.test), texts, strict=True):
        rows = read_tsv(manifest)
        assert [len(r) for r in rows] == [2] * len(expected)
        assert [text for _, text in rows] == expected
        for path, _ in rows:
            assert not Path(path).is_absolute()
            assert (manifest.parent / path).is_file()
    assert corpus.folder.name.startswith("mixed-")
    assert corpus.train.parent == corpus.folder


@needs_espeak
def test_test_voices_are_held_out_from_training(corpus):
    rows = read_tsv(corpus.metadata, header=True)
    used = {s: {r["voice"] for r in rows if r["split"] == s} for s in ("train", "valid", "test")}
    assert used == {s: set(v) for s, v in corpus.voices.items()}
    assert used["test"].isdisjoint(used["train"])
    assert used["valid"].isdisjoint(used["train"])
    for split, voices in used.items():
        for voice in voices:
            accent, variant = voice.split("+")
            assert accent in SPEECH_ACCENTS, voice
            assert variant in SPEECH_VARIANTS[split], voice


@needs_espeak
def test_files_have_the_recorded_rate_channels_format_and_snr(corpus):
    rows = read_tsv(corpus.metadata, header=True)
    kinds = {(int(r["sample_rate"]), int(r["channels"]), r["format"]) for r in rows}
    assert {(8000, 1, "WAV"), (22050, 1, "WAV"), (44100, 1, "FLAC"), (16000, 2, "WAV")} <= kinds
    assert sum(r["sample_rate"] == "16000" and r["channels"] == "1" for r in rows) > len(rows) / 2
    for r in rows:
        info = soundfile.info(corpus.folder / r["path"])
        recorded = (int(r["sample_rate"]), int(r["channels"]), r["format"], "PCM_16")
        assert (info.samplerate, info.channels, info.format, info.subtype) == recorded
        x = soundfile.read(corpus.folder / r["path"], always_2d=True)[0][:, 0]
        rate, lead, trail = info.samplerate, float(r["lead"]), float(r["trail"])
        assert 0.4 < len(x) / rate - lead - trail < 6, r  # speech of about 1-4 s
        # noise power from the silences (10 ms from their edges), speech power between them
        m, a, b = rate // 100, round(lead * rate), len(x) - round(trail * rate)
        noise = np.mean(np.concatenate([x[m : a - m], x[b + m : -m]]) ** 2)
        snr = 10 * np.log10((np.mean(x[a:b] ** 2) - noise) / noise)
        assert abs(snr - float(r["snr_db"])) < 1.5, (r, snr)
        assert 20 <= float(r["snr_db"]) <= 40


@needs_espeak
def test_the_cache_is_reused_without_calling_espeak(corpus, monkeypatch):
    calls = []
    real_run = subprocess.run

    def run(command, *args, **kwargs):
        calls.append(command)
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(speech_builtin.subprocess, "run", run)
    again = builtin_speech("mixed", size=SIZE, seed=0, cache=corpus.folder.parent)
    assert again == corpus
    assert [c[1:] for c in calls] == [["--version"]]


@needs_espeak
def test_generation_is_deterministic_and_the_seed_matters(tmp_path):
    a = builtin_speech("digits", size=(6, 2, 2), seed=4, cache=tmp_path / "a")
    b = builtin_speech("digits", size=(6, 2, 2), seed=4, cache=tmp_path / "b")
    c = builtin_speech("digits", size=(6, 2, 2), seed=5, cache=tmp_path / "a")
    assert a.metadata.read_text() == b.metadata.read_text() != c.metadata.read_text()
    assert a.voices == b.voices
    assert a.folder.name == b.folder.name != c.folder.name
    for r in read_tsv(a.metadata, header=True):  # espeak-ng 1.51 is deterministic: same bytes
        assert (a.folder / r["path"]).read_bytes() == (b.folder / r["path"]).read_bytes()


@needs_espeak
def test_an_interrupted_generation_is_not_kept(tmp_path, monkeypatch):
    def fail(folder, exe, utterance):
        raise KeyboardInterrupt

    monkeypatch.setattr(speech_builtin, "_synthesise", fail)
    with pytest.raises(KeyboardInterrupt):
        builtin_speech("digits", size=(2, 1, 1), cache=tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    corpus = builtin_speech("digits", size=(2, 1, 1), cache=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [corpus.folder.name]


@needs_espeak
def test_a_failing_espeak_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setitem(SPEECH_VARIANTS, "train", ("no-such-variant",))
    monkeypatch.setattr(speech_builtin, "SPEECH_ACCENTS", ("xx-nonexistent",))
    with pytest.raises(UserError, match=r"espeak-ng -v xx-nonexistent\+no-such-variant failed"):
        builtin_speech("digits", size=(1, 0, 0), cache=tmp_path)


def write_sphinx(root: Path) -> None:
    """A fake pocketsphinx-testdata folder: the two transcription formats, one wav each."""
    files = [("cards", "cards.transcription", "001"), ("librivox", "transcription", "book-0870")]
    for folder, name, ident in files:
        (root / folder).mkdir(parents=True)
        soundfile.write(root / folder / f"{ident}.wav", np.zeros(160), 16000)
        text = "Ten of CLUBS!" if folder == "cards" else "mister dashwood's, leisure"
        (root / folder / name).write_text(f"<s> {text}  </s> ({ident})\n\n")


def test_pocketsphinx_manifest_maps_wavs_to_plain_transcripts(tmp_path):
    write_sphinx(tmp_path / "data")
    manifest = pocketsphinx_testdata(cache=tmp_path / "cache", source=tmp_path / "data")
    assert read_tsv(manifest) == [
        ["cards/001.wav", "ten of clubs"],
        ["librivox/book-0870.wav", "mister dashwood's leisure"],
    ]
    assert (manifest.parent / "librivox/book-0870.wav").read_bytes() == (
        tmp_path / "data/librivox/book-0870.wav"
    ).read_bytes()
    assert pocketsphinx_testdata(cache=tmp_path / "cache", source=tmp_path / "none") is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ten of clubs\n", r"transcription:1: expected '<s> words </s> \(id\)', got 'ten of"),
        ("\n<s> ten </s> (002)\n", r"transcription:2: expected the recording .*002.wav"),
        ("<s> ! </s> (001)\n", r"transcription:1: expected '<s> words </s> \(id\)', got '<s> !"),
        ("<s> ten </s> (../001)\n", r"transcription:1: expected '<s> words </s> \(id\)'"),
    ],
)
def test_pocketsphinx_bad_transcriptions_are_user_errors(tmp_path, line, message):
    write_sphinx(tmp_path / "data")
    (tmp_path / "data/cards/cards.transcription").write_text(line)
    with pytest.raises(UserError, match=message):
        pocketsphinx_testdata(cache=tmp_path / "cache", source=tmp_path / "data")
    assert not (tmp_path / "cache/pocketsphinx-testdata-v1").exists()


@pytest.mark.skipif(
    not (speech_recordings.POCKETSPHINX_DATA / "cards").is_dir(),
    reason="needs Debian's pocketsphinx-testdata: apt-get install pocketsphinx-testdata",
)
def test_pocketsphinx_testdata_of_the_system(tmp_path):
    rows = read_tsv(pocketsphinx_testdata(cache=tmp_path))
    assert len(rows) == 10
    assert rows[0] == ["cards/001.wav", "ten of clubs"]
    assert all(re.fullmatch(r"[a-z' ]+", text) for _, text in rows)
    assert soundfile.info(tmp_path / "pocketsphinx-testdata-v1" / rows[-1][0]).samplerate == 16000
