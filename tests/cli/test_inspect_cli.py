"""`lstmkit inspect`: reports for each kind of model, the keywords memory search, bad input."""

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmkit.checkpoint import save_checkpoint
from lstmkit.cli.main import main
from lstmkit.data.keywords import CUISINES, VOCAB
from lstmkit.forecast import Forecaster
from lstmkit.lm import LanguageModel
from lstmkit.models import LMConfig, LSTMLanguageModel, Seq2SeqConfig, build_seq2seq
from lstmkit.seq2seq import Seq2Seq
from lstmkit.tokenizers import train_tokenizer

TEXT = "the cat sat on the mat\n" * 5


@pytest.fixture(autouse=True)
def report_module(monkeypatch):
    """The real report writer; a stand-in only where it is not there yet."""
    if importlib.util.find_spec("lstmkit.inspect.report") is not None:
        return
    fake = types.ModuleType("lstmkit.inspect.report")

    def write_report(trace, out):
        json.dumps(trace, default=lambda a: a.tolist())
        Path(out).write_text("<html></html>")
        return [Path(out)]

    fake.write_report = write_report
    monkeypatch.setitem(sys.modules, "lstmkit.inspect.report", fake)


def small_lm(tokenizer_text: str) -> LanguageModel:
    lm = LanguageModel("word", batch_size=2, bptt=8)
    lm.tokenizer_ = train_tokenizer("word", tokenizer_text)
    config = LMConfig(
        vocab_size=lm.tokenizer_.vocab_size, embedding_size=6, hidden_size=8, num_layers=1
    )
    lm.model_ = LSTMLanguageModel(config).eval()
    return lm


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspect")
    small_lm(TEXT).save(root / "lm")
    # A keywords run records its data source, as `lm train --data keywords` does.
    kw = small_lm(" ".join(VOCAB))
    config = {
        "model": kw.model_.config.to_dict(),
        "data": {
            "batch_size": 2,
            "bptt": 8,
            "sources": {"data": "keywords", "seed": 0, "builtin": "keywords"},
        },
        "tokenizer": {"kind": "word", "vocab_size": None},
    }
    files = {f"tokenizer/{n}": d for n, d in kw.tokenizer_.files().items()}
    save_checkpoint(
        root / "kw" / "best", task="lm", config=config, model=kw.model_, extra_files=files
    )
    s2s = Seq2Seq(
        "word",
        "word",
        model={"embedding_size": 6, "hidden_size": 8, "num_layers": 1, "attention": "bahdanau"},
    )
    s2s.src_tokenizer_ = train_tokenizer("word", "one two three\n")
    s2s.tgt_tokenizer_ = train_tokenizer("word", "a b c\n")
    s2s.model_ = build_seq2seq(Seq2SeqConfig(**s2s.model_config_)).eval()
    s2s.length_ratio_ = 1.0
    s2s.save(root / "s2s")
    t = pd.date_range("2000-01-01", periods=60, freq="MS")
    df = pd.DataFrame({"month": t, "y": 10 + np.sin(np.arange(60) * np.pi / 6)})
    df.to_csv(root / "series.csv", index=False)
    Forecaster(
        horizon=3,
        model={"hidden_size": 8, "num_layers": 1},
        batch_size=8,
        batches_per_epoch=2,
        train={"epochs": 1},
    ).fit(df, progress=False).save(root / "fc")
    return root


def inspect(*args, capsys) -> tuple[int, str, str]:
    code = main(["inspect", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_language_model_report(models, tmp_path, capsys):
    out = tmp_path / "report.html"
    code, text, err = inspect(
        models / "lm", "--text", "the cat sat on a mat", "--out", out, "--json", capsys=capsys
    )
    assert code == 0, err
    result = json.loads(text)
    assert result["kind"] == "lm"
    assert result["files"][0] == str(out)
    assert out.exists()
    assert all(Path(f).exists() for f in result["files"])
    assert result["memory"] == []
    assert "mapped to <unk>: 'a'" in result["notices"][0]
    assert "lstmkit inspect: note: text: mapped to <unk>: 'a'" in err
    code, _, err = inspect(models / "lm", "--text", "the cat", "--out", out, capsys=capsys)
    assert code == 2
    assert f"--out {out}: already exists; choose a new name or pass --overwrite" in err
    text_file = tmp_path / "input.txt"
    text_file.write_text("the mat sat\n")
    code, text, err = inspect(
        models / "lm", "--text-file", text_file, "--out", out, "--overwrite", capsys=capsys
    )
    assert code == 0, err
    assert "wrote " + str(out) in text


def test_keywords_model_adds_the_memory_search(models, tmp_path, capsys):
    out = tmp_path / "kw.html"
    words = "my friend eats samosa . his favourite"
    code, text, err = inspect(
        models / "kw", "--text", words, "--out", out, "--label", "INDIAN", "--json", capsys=capsys
    )
    assert code == 0, err
    result = json.loads(text)
    assert [m["label"] for m in result["memory"]] == ["INDIAN"] * 3
    assert all(m["panel"] == "lstm" and m["layer"] == 0 for m in result["memory"])
    assert result["findings"][0].startswith(f"Unit {result['memory'][0]['unit']} of layer 0")
    code, text, err = inspect(
        models / "kw", "--text", words, "--out", tmp_path / "all.html", "--json", capsys=capsys
    )
    assert code == 0, err
    labels = [m["label"] for m in json.loads(text)["memory"]]  # each cuisine's best unit
    assert sorted(labels) == sorted(CUISINES)
    code, _, err = inspect(
        models / "kw",
        "--text",
        "my friend",
        "--out",
        tmp_path / "x.html",
        "--label",
        "indian",
        capsys=capsys,
    )
    assert code == 2
    assert "--label: expected one of INDIAN, ITALIAN" in err


def test_seq2seq_and_forecaster_reports(models, tmp_path, capsys):
    code, text, err = inspect(
        models / "s2s",
        "--text",
        "one two three",
        "--out",
        tmp_path / "s2s.html",
        "--json",
        capsys=capsys,
    )
    assert code == 0, err
    assert json.loads(text)["kind"] == "seq2seq"
    code, text, err = inspect(
        models / "fc",
        "--csv",
        models / "series.csv",
        "--out",
        tmp_path / "fc.html",
        "--json",
        capsys=capsys,
    )
    assert code == 0, err
    result = json.loads(text)
    assert result["kind"] == "forecast"
    assert all(Path(f).exists() for f in result["files"])


# fmt: off
MISTAKES = [
    ("missing", ["--text", "the"], "missing: no such checkpoint directory"),
    ("series.csv", ["--text", "the"], "series.csv: expected a checkpoint or a run folder, "
                                       "got a file"),
    ("lm", ["--csv", "{root}/series.csv"], "--csv: {root}/lm holds a language model; give "
                                            "text with --text or --text-file"),
    ("fc", ["--text", "the"], "--text: {root}/fc holds a forecaster; give its series' "
                               "history with --csv FILE"),
    ("s2s", ["--csv", "{root}/series.csv"], "--csv: {root}/s2s holds a seq2seq model"),
    ("lm", ["--text", "  "], "--text: expected some text, got none"),
    ("lm", [], "--text, --text-file, --csv, --audio or --image: expected one of them, got none"),
    ("lm", ["--text", "a", "--csv", "b.csv"], "expected one of them, got --text and --csv"),
    ("lm", ["--text", "the", "--label", "INDIAN"], "--label: only a language model trained "
                                                    "on the built-in keywords corpus"),
    ("lm", ["--text-file", "{root}/nope.txt"], "--text-file"),
]
# fmt: on


@pytest.mark.parametrize(("model", "args", "message"), MISTAKES)
def test_mistakes_are_named(models, tmp_path, capsys, model, args, message):
    root = str(models)
    args = [a.format(root=root) for a in args]
    out = tmp_path / "r.html"
    code, _, err = inspect(models / model, *args, "--out", out, capsys=capsys)
    assert code == 2
    assert message.format(root=root) in err
    assert not out.exists()


def test_out_is_required(models, capsys):
    code, _, err = inspect(models / "lm", "--text", "the", capsys=capsys)
    assert code == 2
    assert "--out: expected the report's file name" in err
