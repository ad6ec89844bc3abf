"""`lstmkit export`: a run folder to an ONNX folder, and bad inputs (exit 2, one line, nothing
overwritten)."""

import json
import sys

import pytest

from lstmkit.cli.main import main
from lstmkit.lm import LanguageModel

TEXT = "the cat sat on the mat\n" * 20


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    LanguageModel(
        "char",
        model={"embedding_size": 8, "hidden_size": 16, "num_layers": 1},
        batch_size=2,
        bptt=8,
        train={"epochs": 1},
    ).fit(TEXT, valid=TEXT[:100], out=out, progress=False)
    return out


def test_export_writes_the_folder_and_reports_json(run_dir, tmp_path, capsys):
    out = tmp_path / "onnx"
    assert (
        main(
            [
                "export",
                str(run_dir),
                "--format",
                "onnx",
                "--out",
                str(out),
                "--opset",
                "18",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["kind"] == "lm"
    assert result["opset"] == 18
    assert result["graphs"] == {"step": "lm_step.onnx", "sequence": "lm_sequence.onnx"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["opset"] == 18
    assert sorted(p.name for p in out.iterdir()) == [
        "lm_sequence.onnx",
        "lm_step.onnx",
        "manifest.json",
        "tokenizer",
    ]


def test_table_output_and_overwrite(run_dir, tmp_path, capsys):
    out = tmp_path / "onnx"
    out.mkdir()
    (out / "old.txt").write_text("old")
    assert main(["export", str(run_dir), "--out", str(out), "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert f"exported lm model {run_dir}" in text
    assert "lm_step.onnx" in text
    assert not (out / "old.txt").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{missing}", "--out", "{out}"], "nope: no such checkpoint directory"),
        (
            ["{notckpt}", "--out", "{out}"],
            "expected a checkpoint or a run folder (with best/ or last/)",
        ),
        (["{run}", "--out", "{existing}"], "already exists and is not empty"),
        (
            ["{run}", "--format", "tflite", "--out", "{out}"],
            "--format: expected one of onnx, got 'tflite'",
        ),
        (["{run}"], "--out: expected the folder"),
        (["{run}", "--out", "{out}", "--opset", "9"], "--opset: expected an integer from 14"),
        (["{run}", "--out", "{afile}"], "expected a folder, got a file"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_overwrites_nothing(
    run_dir, tmp_path, capsys, argv, message
):
    (tmp_path / "notckpt").mkdir()
    (tmp_path / "notckpt" / "x.txt").write_text("x")
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    (tmp_path / "afile").write_text("a file")
    names = {
        "missing": tmp_path / "nope",
        "notckpt": tmp_path / "notckpt",
        "run": run_dir,
        "out": tmp_path / "out",
        "existing": existing,
        "afile": tmp_path / "afile",
    }
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["export", *(a.format(**names) for a in argv)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("lstmkit export: error: ")
    assert message in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (existing / "keep.txt").read_text() == "mine"
    assert (tmp_path / "afile").read_text() == "a file"


def test_missing_onnx_names_the_extra_to_install(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    assert main(["export", str(run_dir), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'lstmkit[export]'" in err
    assert not (tmp_path / "out").exists()
