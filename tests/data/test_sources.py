"""load_corpus: one --data source split, --train/--valid/--test files, built-in names."""

import pytest

from lstmkit.data import keywords_corpus, load_corpus, read_eval_text, split_text
from lstmkit.errors import UserError


def lines(n, word="line"):
    return "".join(f"{word} {i}\n" for i in range(n))


def test_one_source_is_split_on_lines_and_recorded(tmp_path):
    (tmp_path / "c.txt").write_text(lines(100))
    corpus = load_corpus(tmp_path / "c.txt", valid_fraction=0.1, test_fraction=0.2)
    assert (corpus.train, corpus.valid, corpus.test) == split_text(lines(100), 0.1, 0.2)
    assert len(corpus.test.splitlines()) == 20
    assert corpus.spec()["data"] == str(tmp_path / "c.txt")
    assert load_corpus(**corpus.spec()).fingerprint() == corpus.fingerprint()


def test_train_valid_test_files(tmp_path):
    for name, n in (("tr", 30), ("va", 5), ("te", 4)):
        (tmp_path / name).write_text(lines(n, name))
    corpus = load_corpus(train=tmp_path / "tr", valid=tmp_path / "va", test=tmp_path / "te")
    assert corpus.train == lines(30, "tr")
    assert corpus.valid == lines(5, "va")
    assert corpus.test == lines(4, "te")


def test_train_alone_gives_up_its_last_lines_for_validation(tmp_path):
    (tmp_path / "tr").write_text(lines(40))
    corpus = load_corpus(train=tmp_path / "tr", valid_fraction=0.1)
    assert corpus.valid == "line 36\nline 37\nline 38\nline 39\n"
    assert corpus.train + corpus.valid == lines(40)
    assert corpus.test == ""


def test_builtin_name_and_a_file_of_that_name(tmp_path, monkeypatch):
    corpus = load_corpus("keywords", seed=3)
    assert corpus.builtin == "keywords"
    assert corpus.train == keywords_corpus(5000, 500, 500, seed=3)[0]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keywords").write_text(lines(50))
    assert load_corpus("keywords").builtin is None  # the user's file wins


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"^data: expected a file, .*, or `train=FILE`; got neither$"),
        ({"data": "keywords", "train": "x"}, "^data and train: expected one of them"),
        ({"data": "keywords", "valid": "x"}, "^valid/test: go with `train`; `data` is split"),
        ({"train": "no/such/file"}, "^train: no such file"),
        ({"data": "nowhere.txt"}, "^data: no such file"),
    ],
)
def test_bad_sources_are_named(kwargs, message):
    with pytest.raises(UserError, match=message):
        load_corpus(**kwargs)


def test_a_text_too_short_to_split_names_the_option(tmp_path):
    (tmp_path / "one.txt").write_text("just one line\n")
    with pytest.raises(UserError, match=r"^train .*one.txt: text too short"):
        load_corpus(train=tmp_path / "one.txt")


def test_eval_text_of_a_file_and_of_a_builtin_split(tmp_path):
    (tmp_path / "e.txt").write_text("some words\n")
    assert read_eval_text(tmp_path / "e.txt") == ("some words\n", str(tmp_path / "e.txt"))
    text, name = read_eval_text("keywords", "valid")
    assert text == keywords_corpus(1, 500, 1)[1]
    assert name == "keywords (valid)"
    with pytest.raises(UserError, match=r"^split: only for a built-in"):
        read_eval_text(tmp_path / "e.txt", "test")
    with pytest.raises(UserError, match=r"^split: expected train, valid or test, got 'dev'$"):
        read_eval_text("keywords", "dev")
    with pytest.raises(UserError, match=r"^data: no such file or folder"):
        read_eval_text(tmp_path / "missing.txt")
