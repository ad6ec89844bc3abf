"""Sentence pairs: TSV and line-aligned files, seeded splits, length filters, load_pairs."""

import gzip
from pathlib import Path

import pytest

from lstmkit.data.numbers import numbers_corpus
from lstmkit.data.pair_sources import load_pairs
from lstmkit.data.pairs import (
    Pairs,
    filter_by_length,
    read_parallel,
    read_tsv,
    split_pairs,
)
from lstmkit.errors import UserError

TATOEBA = Path(__file__).resolve().parents[3] / "shared" / "data" / "tatoeba" / "eng-fra.tsv"


def numbered(n, prefix="s"):
    return Pairs([f"{prefix}{i}" for i in range(n)], [f"t{i}" for i in range(n)])


def write_tsv(path, pairs):
    path.write_text("".join(f"{s}\t{t}\tCC-BY 2.0 #{i}\n" for i, (s, t) in enumerate(pairs)))
    return path


# ---------------------------------------------------------------- reading


def test_tsv_columns_one_and_two_others_ignored(tmp_path):
    path = tmp_path / "eng-fra.tsv"
    path.write_text("Go.\tVa !\tCC-BY 2.0 (France)\textra\nHi. \t Salut !\n\n  \n")
    assert read_tsv(path) == Pairs(["Go.", "Hi."], ["Va !", "Salut !"])


def test_tsv_gz_and_crlf(tmp_path):
    path = tmp_path / "p.tsv.gz"
    path.write_bytes(gzip.compress("Run!\tCours\u202f!\r\nWho?\tQui ?\r\n".encode()))
    assert read_tsv(path) == Pairs(["Run!", "Who?"], ["Cours\u202f!", "Qui ?"])


def test_tsv_line_without_tab_names_file_line_and_column(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("Go.\tVa !\nHello there\nHi.\tSalut !\n")
    with pytest.raises(UserError) as info:
        read_tsv(path)
    assert str(info.value) == (
        f"{path}:2:12: expected at least 2 tab-separated columns (source, target), "
        "got 1: 'Hello there'"
    )


def test_tsv_blank_line_inside_is_an_error(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("Go.\tVa !\n\nHi.\tSalut !\n")
    with pytest.raises(UserError, match=r"p\.tsv:2:1: expected at least 2 .* got a blank line$"):
        read_tsv(path)


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("  \tVa !", ":1:1: expected a source sentence in column 1, got '  '"),
        ("Go.\t \tCC-BY", ":1:5: expected a target sentence in column 2, got ' '"),
    ],
    ids=["source", "target"],
)
def test_tsv_whitespace_only_field(tmp_path, line, where):
    path = tmp_path / "p.tsv"
    path.write_text(line + "\n")
    with pytest.raises(UserError) as info:
        read_tsv(path, option="valid")
    assert str(info.value) == f"{path}{where}"


def test_tsv_reuses_the_text_readers_messages(tmp_path):
    with pytest.raises(UserError, match=r"^valid: no such file or folder"):
        read_tsv(tmp_path / "none.tsv", option="valid")
    with pytest.raises(UserError, match=r"^path: no such file or folder"):
        read_tsv(tmp_path / "none.tsv")
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"Go.\tVa !\nHi.\tSalut \xff\n")
    with pytest.raises(UserError, match=r"bad\.tsv:2:11: not UTF-8 \(byte 0xff\)"):
        read_tsv(path)


def test_parallel_files_gz_and_trailing_blank_lines(tmp_path):
    (tmp_path / "a.en").write_text("Hello.\nThanks.\n\n")
    (tmp_path / "a.fr.gz").write_bytes(gzip.compress(b"Bonjour.\nMerci.\n"))
    pairs = read_parallel(tmp_path / "a.en", tmp_path / "a.fr.gz")
    assert pairs == Pairs(["Hello.", "Thanks."], ["Bonjour.", "Merci."])


def test_parallel_line_count_mismatch_names_both_files(tmp_path):
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n")
    (tmp_path / "a.fr").write_text("un\ndeux\n")
    with pytest.raises(UserError) as info:
        read_parallel(tmp_path / "a.en", tmp_path / "a.fr")
    assert str(info.value) == (
        f"src_path {tmp_path / 'a.en'} has 3 lines, tgt_path {tmp_path / 'a.fr'} has 2; "
        "expected the same number"
    )


def test_parallel_whitespace_only_line_names_file_and_line(tmp_path):
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n")
    (tmp_path / "a.fr").write_text("un\n \t\ntrois\n")
    with pytest.raises(UserError) as info:
        read_parallel(tmp_path / "a.en", tmp_path / "a.fr")
    assert str(info.value) == (
        f"{tmp_path / 'a.fr'}:2:1: expected a sentence on every line, got a blank line"
    )


@pytest.mark.skipif(not TATOEBA.exists(), reason=f"shared data not here: {TATOEBA} is absent")
def test_real_tatoeba_file():
    pairs = read_tsv(TATOEBA)
    assert len(pairs) == 5000
    assert (pairs.src[0], pairs.tgt[0]) == ("Go.", "Va !")
    assert not any("Attribution" in t for t in pairs.tgt)
    # The file gives many sentences several translations; none may cross the split.
    assert len(set(pairs.src)) < 4000
    train, _, test = split_pairs(pairs)
    assert set(train.src).isdisjoint(test.src)


# ---------------------------------------------------------------- splitting and filtering


def test_split_is_seeded_shuffled_and_partitions():
    pairs = numbered(200)
    train, valid, test = split_pairs(pairs, valid_fraction=0.1, test_fraction=0.05, seed=7)
    assert (len(train), len(valid), len(test)) == (170, 20, 10)
    assert split_pairs(pairs, 0.1, 0.05, seed=7) == (train, valid, test)
    assert split_pairs(pairs, 0.1, 0.05, seed=8)[2] != test
    assert sorted(train.src + valid.src + test.src) == sorted(pairs.src)
    # Not a block at the end: the test pairs come from all over the input.
    positions = [int(s[1:]) for s in test.src]
    assert min(positions) < 100 < max(positions)
    assert all(t == "t" + s[1:] for s, t in train)  # pairs stay together


def test_split_keeps_repeated_pairs_once_and_a_source_in_one_part():
    pairs = Pairs(["a", "b", "a", "c", "a"] * 20, ["x", "y", "x", "z", "w"] * 20)
    for seed in range(5):
        train, valid, test = split_pairs(pairs, 0.25, 0.25, seed=seed)
        assert [len(set(part.src)) for part in (train, valid, test)] == [1, 1, 1]
        assert sorted([*train, *valid, *test]) == [("a", "w"), ("a", "x"), ("b", "y"), ("c", "z")]
        assert set(train.src).isdisjoint(test.src)
        assert set(train.src).isdisjoint(valid.src)
        assert set(valid.src).isdisjoint(test.src)


def test_split_minimum_sizes_and_errors():
    train, valid, test = split_pairs(numbered(3), 0.01, 0.01)
    assert (len(train), len(valid), len(test)) == (1, 1, 1)
    assert len(split_pairs(numbered(3), 0.0, 0.01)[1]) == 0
    with pytest.raises(UserError, match=r"expected at least 3 distinct source sentences .* got 2"):
        split_pairs(numbered(2))
    with pytest.raises(UserError, match=r"valid_fraction: expected a number in \[0, 1\), got 1"):
        split_pairs(numbered(10), valid_fraction=1)


def test_filter_by_length_counts_what_it_drops():
    pairs = Pairs(["a", "a b c", "a b", "a b c d"], ["x y", "x", "x y z", "x"])
    kept, dropped = filter_by_length(pairs, max_src_len=3, max_tgt_len=2)
    assert kept == Pairs(["a", "a b c"], ["x y", "x"])
    assert dropped == 2
    kept, dropped = filter_by_length(pairs, None, 1, count=len)  # characters
    assert (kept.src, dropped) == (["a b c", "a b c d"], 2)
    with pytest.raises(UserError, match="max_src_len: expected a positive integer or None, got 0"):
        filter_by_length(pairs, 0, None)


# ---------------------------------------------------------------- load_pairs


def test_load_tsv_split_and_respec(tmp_path):
    path = write_tsv(tmp_path / "p.tsv", numbered(40))
    corpus = load_pairs(path, valid_fraction=0.1, test_fraction=0.1, seed=2)
    assert (corpus.train, corpus.valid, corpus.test) == split_pairs(numbered(40), 0.1, 0.1, 2)
    assert corpus.builtin is None
    again = load_pairs(**corpus.spec())
    assert again.fingerprint() == corpus.fingerprint()
    assert again.test == corpus.test
    assert load_pairs(path, seed=3).fingerprint() != corpus.fingerprint()


def test_load_tsv_with_valid_and_test_files(tmp_path):
    data = write_tsv(tmp_path / "train.tsv", numbered(30))
    valid = write_tsv(tmp_path / "valid.tsv", numbered(3, "v"))
    corpus = load_pairs(data, valid=valid)
    assert corpus.valid == numbered(3, "v")
    assert len(corpus.train) + len(corpus.test) == 30  # only the test part was split off
    assert len(corpus.test) == 2
    test = write_tsv(tmp_path / "test.tsv", numbered(4, "e"))
    corpus = load_pairs(data, valid=valid, test=test)
    assert (corpus.train, corpus.test) == (numbered(30), numbered(4, "e"))
    assert load_pairs(**corpus.spec()).test == corpus.test


def test_load_src_tgt_files_with_held_out_pairs(tmp_path):
    for name, lines in (("tr.en", "a\nb\nc\nd\n"), ("tr.fr", "w\nx\ny\nz\n")):
        (tmp_path / name).write_text(lines)
    (tmp_path / "va.en").write_text("e\n")
    (tmp_path / "va.fr").write_text("v\n")
    corpus = load_pairs(
        src=tmp_path / "tr.en",
        tgt=tmp_path / "tr.fr",
        valid=(tmp_path / "va.en", tmp_path / "va.fr"),
        test_fraction=0.0,
    )
    assert corpus.train == Pairs(["a", "b", "c", "d"], ["w", "x", "y", "z"])
    assert corpus.valid == Pairs(["e"], ["v"])
    assert len(corpus.test) == 0
    assert corpus.spec()["valid"] == [str(tmp_path / "va.en"), str(tmp_path / "va.fr")]
    assert load_pairs(**corpus.spec()) == corpus
    (tmp_path / "va.fr").write_text("v\nextra\n")
    with pytest.raises(UserError, match=r"^valid .*va\.en has 1 lines, valid .*va\.fr has 2"):
        load_pairs(**corpus.spec())


def test_load_builtin_and_a_file_of_that_name(tmp_path, monkeypatch):
    corpus = load_pairs("numbers-fr", seed=1)
    assert corpus.builtin == "numbers-fr"
    assert corpus.test == numbers_corpus("numbers-fr", seed=1)[2]
    assert "builtin" not in corpus.spec()
    assert load_pairs(**corpus.spec()).fingerprint() == corpus.fingerprint()
    monkeypatch.chdir(tmp_path)
    write_tsv(tmp_path / "numbers-fr", numbered(20))
    assert load_pairs("numbers-fr").builtin is None  # the user's file wins


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {},
            r"^data: expected a TSV file or a built-in task \(numbers-fr, numbers-de\), or "
            "`src=FILE, tgt=FILE`; got neither$",
        ),
        ({"data": "x", "src": "y"}, "^data and src/tgt: expected one of them, got both$"),
        ({"src": "y"}, "^src and tgt: expected both, got `src` without `tgt`$"),
        (
            {"data": "numbers-es"},
            r"^data: no such file or folder: numbers-es \(built-in tasks: numbers-fr, ",
        ),
        ({"data": "numbers-fr", "test": "t.tsv"}, "^valid/test: expected none with built-in"),
        ({"data": "numbers-fr", "valid": ("a", "b")}, "^valid: expected one TSV file with `data`"),
        ({"src": "a", "tgt": "b", "test": "t.tsv"}, r"^test: expected two files \(source, "),
    ],
)
def test_bad_sources_are_named(kwargs, message):
    with pytest.raises(UserError, match=message):
        load_pairs(**kwargs)


def test_too_few_pairs_to_split_names_the_option(tmp_path):
    path = write_tsv(tmp_path / "one.tsv", numbered(1))
    with pytest.raises(UserError, match=r"^data .*one\.tsv: pairs too few to split"):
        load_pairs(path)


def test_part_names_missing_pairs(tmp_path):
    path = write_tsv(tmp_path / "p.tsv", numbered(10))
    corpus = load_pairs(path, test_fraction=0.0)
    assert corpus.part("valid") == corpus.valid
    with pytest.raises(UserError, match=r"^name test: the data has no test pairs$"):
        corpus.part("test")
    with pytest.raises(UserError, match=r"^name: expected train, valid or test, got 'dev'$"):
        corpus.part("dev")
