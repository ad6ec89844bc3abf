"""The character-level tasks of ``benchmarks/seq2seq_char_tasks.py``: right answers, checked by
an independent computation, and held-out pairs that never occur in training."""

from __future__ import annotations

import datetime
import importlib.util
import re
import string
import sys
from pathlib import Path

import pytest

from lstmkit.data import read_tsv
from lstmkit.tokenizers import train_tokenizer

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the benchmark imports its sibling _common
spec = importlib.util.spec_from_file_location(
    "seq2seq_char_tasks", BENCHMARKS / "seq2seq_char_tasks.py"
)
tasks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tasks)

SIZES = {"train": 2000, "valid": 200, "test": 300}

UNITS = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
TENS = {
    w: 10 * n
    for n, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}


def words_to_number(text: str) -> int:
    """English number words (below a million) read left to right: a textbook parser."""
    total, current = 0, 0
    for word in re.split(r"[ -]", text):
        if word in UNITS or word in TENS:
            current += UNITS.get(word, TENS.get(word, 0))
        elif word == "hundred":
            current *= 100
        elif word == "thousand":
            total, current = total + current * 1000, 0
        else:
            assert word == "and", word
    return total + current


def inflection_rule(stem: str, tag: str) -> str:
    """The suffix rules of the benchmark's docstring, written as regular-expression rewrites."""
    front = re.search("[aeiou]", stem).group() in "ei"
    rules = {
        "PL": [("([aeiou])$", r"\1n"), ("s$", "ses"), ("$", "en" if front else "on")],
        "PST": [("([aeiou])$", r"\1d"), ("([kg])$", r"\1\1it"), ("$", "et")],
        "DIM": [("[aeiou]?$", "ili" if front else "ulu")],
    }
    for pattern, replacement in rules[tag]:
        if re.search(pattern, stem):
            return re.sub(pattern, replacement, stem, count=1)
    raise AssertionError(stem)


def check_pair(task: str, src: str, tgt: str) -> None:
    if task == "reverse":
        assert tgt == src[::-1]
    elif task == "caesar":
        letters = string.ascii_lowercase
        assert tgt == src.translate(str.maketrans(letters, letters[3:] + letters[:3]))
    elif task == "dedup":
        assert set(src) <= set("abcdefghij")
        assert tgt == "".join(dict.fromkeys(src))
    elif task == "sort":
        assert tgt == "".join(sorted(src))
    elif task == "date":
        assert tgt == datetime.datetime.strptime(src, "%d %B %Y").strftime("%Y-%m-%d")
    elif task == "numbers":
        assert int(tgt) == words_to_number(src)
        assert str(int(tgt)) == tgt
    else:
        stem, tag = src.split(" ")
        assert tgt == inflection_rule(stem, tag)


@pytest.mark.parametrize("task", list(tasks.TASKS))
def test_pairs_are_right_and_held_out(task):
    parts = tasks.make_pairs(task, SIZES, seed=3)
    assert {k: len(v) for k, v in parts.items()} == SIZES
    for src, tgt in (pair for pairs in parts.values() for pair in pairs):
        check_pair(task, src, tgt)
    sources = {part: {s for s, _ in pairs} for part, pairs in parts.items()}
    assert len(sources["train"]) == SIZES["train"]  # no source twice
    assert not sources["train"] & sources["valid"]
    assert not sources["train"] & sources["test"]
    assert not sources["valid"] & sources["test"]
    lengths = [len(s) for s, _ in parts["train"]]
    low, high = (3, 54) if task == "numbers" else (5, 25)  # "one" … "seventy-seven thousand …"
    assert min(lengths) >= low
    assert max(lengths) <= high


def test_seeds_repeat_and_differ():
    assert tasks.make_pairs("sort", SIZES, 1) == tasks.make_pairs("sort", SIZES, 1)
    assert tasks.make_pairs("sort", SIZES, 1) != tasks.make_pairs("sort", SIZES, 2)


@pytest.mark.parametrize(
    ("stem", "tag", "word"),
    [
        ("tilum", "PL", "tilumen"),
        ("tasa", "PL", "tasan"),
        ("bekos", "PL", "bekoses"),
        ("dobak", "PST", "dobakkit"),
        ("mire", "PST", "mired"),
        ("lumat", "PST", "lumatet"),
        ("kelo", "DIM", "kelili"),
        ("ravut", "DIM", "ravutulu"),
    ],
)
def test_inflection_examples(stem, tag, word):
    assert tasks.inflected(stem, tag) == word


def test_symbols_style_reads_symbol_by_symbol(tmp_path):
    assert tasks.symbols("ab c") == "a b _ c"
    paths = tasks.write_task(tmp_path, "caesar", 0, "symbols", {"train": 50, "valid": 5, "test": 5})
    plain = tasks.make_pairs("caesar", {"train": 50, "valid": 5, "test": 5}, 0)
    pairs = read_tsv(paths["train"])
    word = train_tokenizer("word", list(pairs.src))
    for line, (src, _) in zip(pairs.src, plain["train"], strict=True):
        assert len(word.encode(line)) == len(src)
        assert word.decode(word.encode(line)).replace(" ", "").replace("_", " ") == src
    assert len(read_tsv(paths["test"])) == 5


def test_command_is_the_defaults_with_a_budget(tmp_path):
    paths = {part: tmp_path / f"{part}.tsv" for part in ("train", "valid", "test")}
    command = tasks.train_command(paths, "plain", 5.0, tmp_path / "run")
    flags = [arg for arg in command if arg.startswith("--")]
    assert flags == [
        "--data",
        "--valid",
        "--test",
        "--tokenizer",
        "--max-time",
        "--out",
        "--json",
        "--no-progress",
    ]
    assert "--tokenizer" not in tasks.train_command(paths, "symbols", 5.0, tmp_path / "run")
