"""`lstmkit seq2seq train|eval|translate`: results, file and stdin, and bad input."""

import io
import json

import pytest

from lstmkit.cli.main import main
from lstmkit.seq2seq import Seq2Seq

WORDS = "a b c d".split()
SOURCES = [f"{x} {y} {z}" for x in WORDS for y in WORDS for z in WORDS]
TSV = "".join(f"{s}\t{' '.join(reversed(s.split()))}\tCC-BY 2.0\n" for s in SOURCES)
TINY = (
    "--embedding-size 16 --hidden-size 32 --num-layers 1 --dropout 0 --attention luong "
    "--batch-size 16 --lr 0.02 --epochs 15 --no-progress"
).split()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("s2s")
    (folder / "pairs.tsv").write_text(TSV)
    argv = [
        "seq2seq",
        "train",
        "--data",
        str(folder / "pairs.tsv"),
        "--out",
        str(folder / "run"),
        *TINY,
    ]
    assert main(argv) == 0
    return folder / "run"


def test_train_reports_test_scores_as_json(tmp_path, capsys):
    (tmp_path / "p.tsv").write_text(TSV)
    argv = [
        "seq2seq",
        "train",
        "--data",
        str(tmp_path / "p.tsv"),
        "--out",
        str(tmp_path / "r"),
        *TINY,
        "--epochs",
        "1",
        "--json",
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["epochs"] == 1
    assert 0 <= result["test"]["bleu"] <= 100
    assert (tmp_path / "r" / "best" / "tokenizer" / "src").is_dir()


def test_translate_a_file_keeps_one_line_per_line(run_dir, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("a b c\n\nd d a\n")
    assert main(["seq2seq", "translate", str(run_dir), str(tmp_path / "in.txt")]) == 0
    assert capsys.readouterr().out == "c b a\n\na d d\n"


def test_translate_stdin_n_best_json(run_dir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("b c d\n"))
    assert main(["seq2seq", "translate", str(run_dir), "--json", "--n-best", "2"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    result = json.loads(line)
    assert result["source"] == "b c d"
    assert result["translations"][0]["translation"] == "d c b"
    assert len(result["translations"]) == 2


def test_eval_with_src_and_ref_files(run_dir, tmp_path, capsys):
    (tmp_path / "s").write_text("a b c\nc c d\n")
    (tmp_path / "r").write_text("c b a\nd c c\n")
    argv = [
        "seq2seq",
        "eval",
        str(run_dir),
        "--src",
        str(tmp_path / "s"),
        "--ref",
        str(tmp_path / "r"),
        "--json",
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    expected = Seq2Seq.load(run_dir).evaluate(["a b c", "c c d"], ["c b a", "d c c"])
    assert result["exact"] == expected["exact"] == 100.0
    assert result["by_length"]["1-5"]["sentences"] == 2


# fmt: off
MISTAKES = [
    (["train", "--src", "{tmp}/s3", "--tgt", "{tmp}/t2", "--out", "{tmp}/o"],
     "has 3 lines"),
    (["train", "--data", "numbers-es", "--out", "{tmp}/o"], "numbers-es"),
    (["train", "--src", "{tmp}/s3", "--out", "{tmp}/o"], "--src and --tgt: expected both"),
    (["translate", "{lm}", "{tmp}/s3"], "checkpoint of task 'lm', expected 'seq2seq'"),
    (["translate", "{run}", "{tmp}/s3", "--method", "greedy", "--n-best", "2"],
     "--n-best: needs --method beam"),
    (["eval", "{run}"], "--data, or --src with --ref"),
]
# fmt: on


@pytest.mark.parametrize(("argv", "message"), MISTAKES)
def test_bad_input_exits_2(run_dir, tmp_path, capsys, argv, message):
    (tmp_path / "s3").write_text("a\nb\nc\n")
    (tmp_path / "t2").write_text("a\nb\n")
    (tmp_path / "lm.txt").write_text("the cat sat on the mat\n" * 30)
    lm = tmp_path / "lm"
    lm_argv = [
        "lm",
        "train",
        "--data",
        str(tmp_path / "lm.txt"),
        "--out",
        str(lm),
        "--tokenizer",
        "char",
        "--hidden-size",
        "8",
        "--embedding-size",
        "4",
        "--epochs",
        "1",
        "--bptt",
        "8",
        "--batch-size",
        "2",
        "--no-progress",
    ]
    assert main(lm_argv) == 0
    capsys.readouterr()
    fill = {"tmp": tmp_path, "run": run_dir, "lm": lm}
    assert main(["seq2seq", *(a.format(**fill) for a in argv)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_builtin_task_brings_its_settings_and_flags_override_them(tmp_path):
    from lstmkit.checkpoint import load_checkpoint

    argv = [
        "seq2seq",
        "train",
        "--data",
        "numbers-de",
        "--out",
        str(tmp_path / "r"),
        "--hidden-size",
        "16",
        "--max-steps",
        "2",
        "--no-progress",
    ]
    assert main(argv) == 0
    config = load_checkpoint(tmp_path / "r" / "last").config
    assert config["estimator"]["tgt_tokenizer"] == "char"  # the preset
    assert config["model"]["attention"] == "luong"
    assert config["model"]["hidden_size"] == 16  # the flag
    assert config["training"]["monitor"] == "exact"
