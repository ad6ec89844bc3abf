"""Config files read with bounds: size, digits, YAML aliases, keys given twice, special files."""

import json
import os
import time

import pytest

from lstmkit.data.config_file import MAX_BYTES, read_config_file, shown
from lstmkit.errors import UserError


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def billion_laughs(levels: int) -> str:
    """``levels`` lists, each ten aliases of the one before: 10**levels strings expanded."""
    lines = ["lr:", "  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_reads_yaml_toml_and_json(tmp_path):
    expected = {"lr": 0.1, "model": {"hidden_size": 8}}
    assert read_config_file(write(tmp_path, "a.yaml", "lr: 0.1\nmodel: {hidden_size: 8}\n")) == (
        expected
    )
    toml = "lr = 0.1\n[model]\nhidden_size = 8\n"
    assert read_config_file(write(tmp_path, "a.toml", toml)) == expected
    assert read_config_file(write(tmp_path, "a.json", json.dumps(expected))) == expected


def test_an_alias_bomb_is_refused_at_once_without_expanding(tmp_path):
    path = write(tmp_path, "bomb.yaml", billion_laughs(9))
    start = time.perf_counter()
    with pytest.raises(UserError, match=r"bomb\.yaml: its aliases expand to 1,234,567,902 values"):
        read_config_file(path)
    assert time.perf_counter() - start < 2  # expanded, it is 10**9 strings


def test_a_few_aliases_are_fine(tmp_path):
    text = "base: &base {lr: 0.1, epochs: 2}\nrun: *base\nother: [*base, *base]\n"
    data = read_config_file(write(tmp_path, "a.yaml", text))
    assert data["run"] == data["other"][1] == {"lr": 0.1, "epochs": 2}


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("a.yaml", "lr: 0.1\nhidden_size: {}\n", "a.yaml:2:14"),
        ("a.yaml", "hidden_size: {}.5\n", "a.yaml:1:14"),  # a float too
        ("a.toml", "lr = 0.1\nhidden_size = {}\n", "a.toml:2:15"),
        ("a.json", '{{"hidden_size": {}}}', "a.json:1:17"),
    ],
)
def test_a_5000_digit_number_is_one_line_naming_where(tmp_path, name, text, where):
    path = write(tmp_path, name, text.format("9" * 5000))
    with pytest.raises(UserError) as error:
        read_config_file(path)
    assert str(error.value) == f"{tmp_path}/{where}: a number of 5,000 digits; expected at most 100"


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path):
    path = write(tmp_path, "big.yaml", "#" * MAX_BYTES + "\nlr: 0.1\n")
    with pytest.raises(UserError, match=r"big\.yaml: expected at most 1,048,576 bytes, got more"):
        read_config_file(path)


def test_a_fifo_or_a_device_is_never_opened(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    with pytest.raises(UserError, match="expected a regular file, got a special file"):
        read_config_file(fifo)
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(UserError, match="expected a regular file, got a special file"):
        read_config_file(link)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "a.yaml",
            "lr: 0.1\nepochs: 2\nlr: 0.2\n",
            "a.yaml:3:1: 'lr' is given twice (lines 1 and 3)",
        ),
        (
            "a.yaml",
            "optim:\n  lr: 0.1\n  lr: 0.2\n",
            "a.yaml:3:3: 'lr' is given twice (lines 2 and 3)",
        ),
        ("a.toml", "lr = 0.1\nlr = 0.2\n", "a.toml:2:1: 'lr' is given twice (lines 1 and 2)"),
        ("a.json", '{"lr": 0.1, "lr": 0.2}', "a.json: 'lr' is given twice in one object"),
    ],
)
def test_a_key_given_twice_is_refused(tmp_path, name, text, message):
    with pytest.raises(UserError) as error:
        read_config_file(write(tmp_path, name, text))
    assert str(error.value) == f"{tmp_path}/{message}"


def test_deep_nesting_is_one_line(tmp_path):
    with pytest.raises(UserError, match="nested too deeply"):
        read_config_file(write(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000))


def test_shown_cuts_long_values():
    assert shown("abc") == "'abc'"
    cut = shown("x" * 10_000)
    assert len(cut) == 40
    assert cut == "'" + "x" * 38 + "…"
