"""Utterances from manifests (TSV, CSV, JSON lines) and folders; fingerprints and splits."""

import json
from pathlib import Path

import pytest

from lstmkit.data.utterances import (
    Utterances,
    load_utterances,
    read_audio_folder,
    read_manifest,
    split_utterances,
)
from lstmkit.errors import UserError


def touch(folder, *names):
    for name in names:
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def numbered(n):
    return Utterances(
        [Path(f"{i}.wav") for i in range(n)],
        [f"t{i}" for i in range(n)],
        [str(i) for i in range(n)],
        ["m.tsv"],
    )


# ---------------------------------------------------------------- TSV


def test_headerless_tsv_path_then_text_blank_lines_skipped(tmp_path):
    touch(tmp_path, "a.wav", "sub/b.flac")
    manifest = tmp_path / "m.tsv"
    manifest.write_text("a.wav\thello world\n\n  sub/b.flac \t yes \n\n")
    utts = read_manifest(manifest)
    assert utts.paths == [tmp_path / "a.wav", tmp_path / "sub" / "b.flac"]
    assert utts.texts == ["hello world", "yes"]
    assert utts.where == [f"{manifest}:1", f"{manifest}:3"]
    assert utts.sources == [str(manifest)]


def test_common_voice_tsv_quotes_kept_literally_and_clips_folder(tmp_path):
    touch(tmp_path, "clips/c1.mp3", "clips/c2.mp3", "clips/c3.mp3")
    sentences = ['"Hello," she said.', 'He said "hi".', 'A 5" pipe']
    header = "client_id\tpath\tsentence_id\tsentence\tup_votes\tdown_votes\tage\tgender\n"
    rows = "".join(
        f"id{i}\tc{i + 1}.mp3\ts{i}\t{sentence}\t2\t0\t\t\n" for i, sentence in enumerate(sentences)
    )
    (tmp_path / "train.tsv").write_text(header + rows)
    utts = read_manifest(tmp_path / "train.tsv")
    assert utts.texts == sentences
    assert utts.paths == [tmp_path / "clips" / f"c{i}.mp3" for i in (1, 2, 3)]
    assert utts.where[0].endswith("train.tsv:2")


def test_a_file_beside_the_manifest_wins_over_clips(tmp_path):
    touch(tmp_path, "a.wav", "clips/a.wav")
    (tmp_path / "m.tsv").write_text("a.wav\thi\n")
    assert read_manifest(tmp_path / "m.tsv").paths == [tmp_path / "a.wav"]


def test_bom_crlf_and_absolute_paths(tmp_path):
    touch(tmp_path, "elsewhere/a.wav")
    manifest = tmp_path / "sub" / "m.tsv"
    manifest.parent.mkdir()
    line = f"{tmp_path / 'elsewhere' / 'a.wav'}\tHi there\r\n"
    manifest.write_bytes(b"\xef\xbb\xbf" + line.encode())
    utts = read_manifest(manifest)
    assert utts.paths == [tmp_path / "elsewhere" / "a.wav"]
    assert utts.texts == ["Hi there"]


def test_suffix_unknown_sniffs_tab_or_comma(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "m.txt").write_text("a.wav\tone, two\n")
    (tmp_path / "m.list").write_text("a.wav,three\n")
    assert read_manifest(tmp_path / "m.txt").texts == ["one, two"]
    assert read_manifest(tmp_path / "m.list").texts == ["three"]


# ---------------------------------------------------------------- CSV


def test_csv_header_quoted_fields_and_multiline_records(tmp_path):
    touch(tmp_path, "a.wav", "b.wav", "c.wav")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        'wav_id,file,speaker,transcript\n1,a.wav,s1,"yes, no"\n'
        '2,b.wav,s1,"He said ""hi""\nthen left"\n3,c.wav,s2,plain\n'
    )
    utts = read_manifest(manifest)
    assert utts.texts == ["yes, no", 'He said "hi"\nthen left', "plain"]
    assert [w.rsplit(":", 1)[1] for w in utts.where] == ["2", "3", "5"]


def test_csv_broken_quoting_names_the_line(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "m.csv").write_text('path,text\na.wav,"open "quote\n')
    with pytest.raises(UserError, match=r"m\.csv:2: expected CSV fields, got"):
        read_manifest(tmp_path / "m.csv")


# ---------------------------------------------------------------- JSON lines


def test_nemo_json_lines(tmp_path):
    touch(tmp_path, "a.wav", "b.wav")
    lines = [
        {"audio_filepath": "a.wav", "duration": 1.5, "text": "one"},
        {"audio_filepath": "b.wav", "duration": 2.0, "text": " two "},
    ]
    (tmp_path / "m.json").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    utts = read_manifest(tmp_path / "m.json")
    assert utts.texts == ["one", "two"]
    assert utts.paths == [tmp_path / "a.wav", tmp_path / "b.wav"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"m\.jsonl:2: expected one JSON object a line \(JSON lines\), got"),
        ("[1, 2]", r"m\.jsonl:2: expected a JSON object, got list"),
        (
            '{"file": "a.wav", "words": "x"}',
            r"m\.jsonl:2: expected a path key \(path, audio, .*\) and a text key "
            r"\(sentence, text, .*\), got keys: file, words$",
        ),
        ('{"audio": "a.wav", "text": 3}', r"m\.jsonl:2: expected a string for 'text', got int"),
    ],
    ids=["syntax", "array", "keys", "type"],
)
def test_json_lines_errors_name_file_and_line(tmp_path, line, message):
    touch(tmp_path, "a.wav")
    (tmp_path / "m.jsonl").write_text('{"audio": "a.wav", "text": "ok"}\n' + line + "\n")
    with pytest.raises(UserError, match=message):
        read_manifest(tmp_path / "m.jsonl")


# ---------------------------------------------------------------- errors


def test_header_without_the_needed_columns_lists_found_and_expected(tmp_path):
    (tmp_path / "m.tsv").write_text("client_id\tpath\tsentence_text\nx\ta.wav\thi\n")
    with pytest.raises(UserError) as info:
        read_manifest(tmp_path / "m.tsv")
    assert str(info.value) == (
        f"{tmp_path / 'm.tsv'}:1: expected a header naming a path column (path, audio, file, "
        "filename, audio_filepath, wav) and a text column (sentence, text, transcript, "
        "transcription), or 2 columns (path, text); got 3 columns: client_id, path, sentence_text"
    )


def test_headerless_row_with_other_columns_names_the_line(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "m.tsv").write_text("a.wav\thi\na.wav\thi\textra\n")
    with pytest.raises(UserError) as info:
        read_manifest(tmp_path / "m.tsv")
    assert str(info.value) == (
        f"{tmp_path / 'm.tsv'}:2: expected 2 tab-separated columns (path, text), got 3"
    )


def test_row_with_fewer_columns_than_the_header(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "m.csv").write_text("path,sentence,age\na.wav,hi,20\na.wav,hi\n")
    with pytest.raises(UserError, match=r"m\.csv:3: expected 3 comma-separated columns as the"):
        read_manifest(tmp_path / "m.csv")


def test_missing_audio_names_file_line_and_where_it_looked(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "m.tsv").write_text("a.wav\thi\nx.wav\tho\n")
    with pytest.raises(UserError) as info:
        read_manifest(tmp_path / "m.tsv")
    assert str(info.value) == (
        f"{tmp_path / 'm.tsv'}:2: audio file x.wav not found (looked for {tmp_path / 'x.wav'} "
        f"or {tmp_path / 'clips' / 'x.wav'})"
    )


def test_a_missing_first_row_hints_at_an_unknown_header(tmp_path):
    (tmp_path / "m.tsv").write_text("wav_path\tlabel\n")
    with pytest.raises(UserError, match=r":1: audio file wav_path not found .*\(if the first row"):
        read_manifest(tmp_path / "m.tsv")


def test_empty_transcript_and_folder_path_name_the_line(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "d").mkdir()
    (tmp_path / "m.tsv").write_text("a.wav\thi\na.wav\t  \n")
    with pytest.raises(UserError, match=r"m\.tsv:2: expected a transcript, got '  '$"):
        read_manifest(tmp_path / "m.tsv")
    (tmp_path / "n.tsv").write_text("d\thi\n")
    with pytest.raises(UserError, match=r"n\.tsv:1: expected an audio file, got a folder: "):
        read_manifest(tmp_path / "n.tsv")


@pytest.mark.parametrize("text", ["", "path\tsentence\n", "\n\n"])
def test_no_rows(tmp_path, text):
    (tmp_path / "m.tsv").write_text(text)
    with pytest.raises(UserError, match=r"m\.tsv: expected at least one utterance, got no rows"):
        read_manifest(tmp_path / "m.tsv")


def test_manifest_size_is_capped_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr("lstmkit.data.utterances.MAX_MANIFEST_BYTES", 10)
    (tmp_path / "m.tsv").write_text("a.wav\thello there\n")
    with pytest.raises(UserError, match=r"m\.tsv: expected at most 10 bytes, got more"):
        read_manifest(tmp_path / "m.tsv")


# ---------------------------------------------------------------- folders and load


def test_audio_folder_recursive_sorted_hidden_skipped(tmp_path):
    touch(tmp_path, "b/2.wav", "b/10.WAV", "a.flac", ".hidden/h.wav", "b/.x.wav", "notes.md")
    for name, text in [("b/2.txt", "two\n"), ("b/10.txt", " ten "), ("a.txt", "a")]:
        (tmp_path / name).write_text(text)
    utts = read_audio_folder(tmp_path)
    assert utts.paths == [tmp_path / "a.flac", tmp_path / "b" / "10.WAV", tmp_path / "b" / "2.wav"]
    assert utts.texts == ["a", "ten", "two"]
    assert utts.where == [str(p) for p in utts.paths]
    assert utts.sources == [str(tmp_path)]


def test_audio_folder_errors(tmp_path):
    touch(tmp_path, "x/a.wav")
    with pytest.raises(UserError, match=r"a\.wav: expected a transcript a\.txt beside it, got"):
        read_audio_folder(tmp_path / "x")
    (tmp_path / "x" / "a.txt").write_text(" \n")
    with pytest.raises(UserError, match=r"a\.txt: expected the words spoken in a\.wav, got none"):
        read_audio_folder(tmp_path / "x")
    touch(tmp_path, "y/readme.txt")
    with pytest.raises(UserError, match=r"y: expected audio files \(\.wav, \.flac, \.ogg, \.mp3\)"):
        read_audio_folder(tmp_path / "y")


def test_load_utterances_picks_by_path(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "a.txt").write_text("folder")
    (tmp_path / "m.tsv").write_text("a.wav\tmanifest\n")
    assert load_utterances(tmp_path).texts == ["folder"]
    assert load_utterances(tmp_path / "m.tsv").texts == ["manifest"]
    with pytest.raises(UserError, match=r"nope\.tsv: no such manifest or folder$"):
        load_utterances(tmp_path / "nope.tsv")


# ---------------------------------------------------------------- Utterances


def test_utterances_slicing_indexing_and_subset():
    utts = numbered(4)
    assert len(utts) == 4
    assert utts[1:3].texts == ["t1", "t2"]
    assert utts[1:3].sources == ["m.tsv"]
    assert utts[-1] == (Path("3.wav"), "t3")
    assert utts.subset([3, 0]).where == ["3", "0"]
    assert list(utts)[:1] == [(Path("0.wav"), "t0")]
    with pytest.raises(UserError, match="expected as many texts and places as paths"):
        Utterances([Path("a")], [], [], [])


def test_fingerprint_is_of_the_manifests_bytes_as_read(tmp_path):
    touch(tmp_path, "a.wav", "b.wav")
    manifest = tmp_path / "m.tsv"
    manifest.write_text("a.wav\thi\nb.wav\tho\n")
    first = read_manifest(manifest)
    assert first.fingerprint() == read_manifest(manifest).fingerprint()
    assert first[:1].fingerprint() == first.subset([1]).fingerprint() == first.fingerprint()
    by_hand = Utterances(first.paths, first.texts, first.where, first.sources)
    assert by_hand.fingerprint() == first.fingerprint()  # hashed from the file when asked
    assert len(first.fingerprint()) == 64
    manifest.write_text("a.wav\thi\nb.wav\tho!\n")
    assert read_manifest(manifest).fingerprint() != first.fingerprint()
    assert by_hand.fingerprint() != first.fingerprint()


def test_fingerprint_of_a_folder_follows_transcripts_and_audio_sizes(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "a.txt").write_text("hi")
    before = read_audio_folder(tmp_path).fingerprint()
    (tmp_path / "other.md").write_text("unrelated")
    assert read_audio_folder(tmp_path).fingerprint() == before
    (tmp_path / "a.txt").write_text("ho")
    changed = read_audio_folder(tmp_path).fingerprint()
    assert changed != before
    (tmp_path / "a.wav").write_bytes(b"\0\0")
    assert read_audio_folder(tmp_path).fingerprint() not in (before, changed)


def test_fingerprint_of_a_source_that_is_gone(tmp_path):
    utts = Utterances([], [], [], [str(tmp_path / "gone.tsv")])
    with pytest.raises(UserError, match=r"gone\.tsv: no such file or folder"):
        utts.fingerprint()


# ---------------------------------------------------------------- split


def test_split_counts_and_covers_every_utterance_once():
    utts = numbered(20)
    train, valid, test = split_utterances(utts, valid_fraction=0.1, test_fraction=0.15, seed=3)
    assert (len(train), len(valid), len(test)) == (15, 2, 3)  # round(2.0), round(3.0)
    assert sorted(train.where + valid.where + test.where, key=int) == utts.where
    for part in (train, valid, test):
        assert [int(w) for w in part.where] == sorted(int(w) for w in part.where)  # input order
        assert part.texts == [f"t{w}" for w in part.where]


def test_split_is_seeded():
    utts = numbered(30)
    assert split_utterances(utts, seed=1)[1].where == split_utterances(utts, seed=1)[1].where
    valids = {tuple(split_utterances(utts, 0.2, seed=s)[1].where) for s in range(5)}
    assert len(valids) > 1


def test_split_gives_each_part_one_from_three_utterances():
    train, valid, test = split_utterances(numbered(3), 0.05, 0.05)
    assert (len(train), len(valid), len(test)) == (1, 1, 1)
    train, valid, test = split_utterances(numbered(2), 0.05, 0.0)
    assert (len(train), len(valid), len(test)) == (2, 0, 0)


@pytest.mark.parametrize(
    ("n", "kwargs", "message"),
    [
        (10, {"valid_fraction": 1.0}, r"^valid_fraction: expected a number in \[0, 1\), got 1\.0$"),
        (10, {"test_fraction": -0.1}, r"^test_fraction: expected a number in \[0, 1\)"),
        (10, {"valid_fraction": 0.5, "test_fraction": 0.5}, r"^valid_fraction \+ test_fraction"),
        (
            1,
            {"valid_fraction": 0.6},
            r"^utterances too few to split: expected at least 2 .* got 1$",
        ),
        (0, {}, r"^utterances too few to split: expected at least 1 .* got 0$"),
    ],
)
def test_split_errors(n, kwargs, message):
    with pytest.raises(UserError, match=message):
        split_utterances(numbered(n), **kwargs)
