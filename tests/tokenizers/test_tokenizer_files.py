"""Saving and loading tokenizers: same encodings after a round trip, errors naming the file."""

import hashlib
import json
import re

import pytest

from lstmkit.errors import UserError
from lstmkit.tokenizers import KINDS, load_tokenizer, train_tokenizer

TEXT = "the cat sat on the mat\nthe dog ate the cat's hat\nünïcode stays\n" * 2
PROBE = "the mat ate the dog\nthe zebra ж\n"


def _train(kind):
    options = {"vocab_size": 40} if kind in ("bpe", "unigram") else {}
    return train_tokenizer(kind, TEXT, **options)


def _write_config(directory, config):
    directory.mkdir(exist_ok=True)
    (directory / "tokenizer.json").write_text(json.dumps(config), encoding="utf-8")
    return directory / "tokenizer.json"


@pytest.mark.parametrize("kind", KINDS)
def test_save_then_load_encodes_identically(kind, tmp_path):
    tok = _train(kind)
    tok.save(tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    assert type(loaded) is type(tok)
    assert loaded.kind == kind
    assert loaded.vocabulary == tok.vocabulary
    assert loaded.encode_with_unknowns(PROBE) == tok.encode_with_unknowns(PROBE)
    assert loaded.decode(tok.encode(PROBE)) == tok.decode(tok.encode(PROBE))
    config = json.loads((tmp_path / "tok" / "tokenizer.json").read_text(encoding="utf-8"))
    assert config["kind"] == kind
    assert config["format_version"] == 1


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_sentencepiece_model_is_saved_as_its_protobuf_bytes(kind, tmp_path):
    tok = _train(kind)
    tok.save(tmp_path)
    assert (tmp_path / "tokenizer.model").read_bytes() == tok.model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer.json", "tokenizer.model"]


def test_char_vocabulary_is_readable_json(tmp_path):
    _train("char").save(tmp_path)
    config = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    assert config["tokens"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert "\n" in config["tokens"]
    assert "ü" in config["tokens"]


def test_missing_directory_names_the_file(tmp_path):
    path = tmp_path / "nowhere" / "tokenizer.json"
    with pytest.raises(UserError, match=re.escape(f"{path}: expected a saved tokenizer")):
        load_tokenizer(tmp_path / "nowhere")


def test_corrupted_json_names_file_line_and_column(tmp_path):
    (tmp_path / "tokenizer.json").write_text('{"kind": "char",\n "tokens": [', encoding="utf-8")
    with pytest.raises(UserError, match=re.escape(f"{tmp_path / 'tokenizer.json'}:2:")):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([1, 2], "expected a JSON object, got list"),
        ({"kind": "char", "tokens": []}, "format_version: expected 1, got None"),
        ({"format_version": 2, "kind": "char"}, "format_version: expected 1, got 2"),
        (
            {"format_version": 1, "kind": "morse"},
            "kind: expected one of char, word, bpe, unigram, got 'morse'",
        ),
        ({"format_version": 1, "kind": ["char"]}, "kind: expected one of"),
        ({"format_version": 1, "kind": "char"}, "tokens: expected a list of strings, got None"),
        (
            {"format_version": 1, "kind": "char", "tokens": ["<pad>", "<unk>", "<bos>", "a"]},
            "tokens: expected the special tokens ['<pad>', '<unk>', '<bos>', '<eos>'] first",
        ),
        (
            {
                "format_version": 1,
                "kind": "char",
                "tokens": ["<pad>", "<unk>", "<bos>", "<eos>", "ab"],
            },
            "tokens: expected single characters, got 'ab'",
        ),
        (
            {
                "format_version": 1,
                "kind": "word",
                "tokens": ["<pad>", "<unk>", "<bos>", "<eos>", "x", "x"],
            },
            "tokens: expected each token once, got 'x' more than once",
        ),
        ({"format_version": 1, "kind": "bpe"}, "model_file: expected a file name, got None"),
        (
            {"format_version": 1, "kind": "bpe", "model_file": "../elsewhere.model"},
            "model_file: expected a file name, got '../elsewhere.model'",
        ),
    ],
)
def test_malformed_config_names_the_file_and_the_key(config, message, tmp_path):
    path = _write_config(tmp_path, config)
    with pytest.raises(UserError, match=re.escape(f"{path}: {message}")):
        load_tokenizer(tmp_path)


def test_missing_sentencepiece_model_names_the_model_file(tmp_path):
    _train("bpe").save(tmp_path)
    (tmp_path / "tokenizer.model").unlink()
    model = tmp_path / "tokenizer.model"
    with pytest.raises(UserError, match=re.escape(f"{model}: expected the SentencePiece model")):
        load_tokenizer(tmp_path)


def test_changed_sentencepiece_model_is_caught_by_its_digest(tmp_path):
    _train("unigram").save(tmp_path)
    model = tmp_path / "tokenizer.model"
    model.write_bytes(model.read_bytes()[:-10])
    with pytest.raises(UserError, match=re.escape(f"{model}: expected the model whose sha256")):
        load_tokenizer(tmp_path)


def test_unparsable_sentencepiece_model_names_the_model_file(tmp_path):
    _train("bpe").save(tmp_path)
    model = tmp_path / "tokenizer.model"
    model.write_bytes(b"\xff" * 64)
    config = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    config["model_sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    _write_config(tmp_path, config)
    with pytest.raises(UserError, match=re.escape(f"{model}: expected a SentencePiece model")):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_files_are_what_save_writes(kind, tmp_path):
    tok = _train(kind)
    tok.save(tmp_path)
    files = tok.files()
    assert list(files)[-1] == "tokenizer.json"
    assert files == {p.name: p.read_bytes() for p in tmp_path.iterdir()}
