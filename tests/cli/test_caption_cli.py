"""`lstmkit caption train|describe|eval` on a small built-in scenes corpus: the run, its
summary, one caption per image in input order, the n-best JSON, eval's scores against the Python
API's, --print-config replayed, exact --resume, and mistakes named before any work."""

import json
import shutil

import pytest
import torch
import yaml

from lstmkit.caption import Captioner
from lstmkit.checkpoint import load_checkpoint
from lstmkit.cli.main import main
from lstmkit.data.caption_builtin import builtin_caption

TINY = "--hidden-size 16 --embedding-size 8 --dropout 0 --batch-size 8 --lr 0.01 "
TINY += "--warmup-steps 0 --no-progress"


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return builtin_caption("scenes", size=(48, 8, 8), cache=tmp_path_factory.mktemp("cache"))


def data_flags(scenes) -> list:
    return ["--captions", scenes.train, "--images", scenes.folder, "--valid", scenes.valid]


@pytest.fixture(scope="module")
def trained(scenes, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cap"
    argv = ["caption", "train", *data_flags(scenes), *TINY.split(), "--epochs", "2"]
    code = main([str(a) for a in [*argv, "--out", out, "--json"]])
    assert code == 0
    return out


def test_train_writes_a_run_and_prints_its_history(scenes, tmp_path, capsys):
    argv = ["caption", "train", *data_flags(scenes), *TINY.split(), "--epochs", "1"]
    code, printed, err = run([*argv, "--out", tmp_path / "run", "--json"], capsys)
    assert code == 0, err
    result = json.loads(printed)
    assert result["steps"] == 6  # 48 images in batches of 8
    assert set(result["history"][-1]) >= {"loss", "bleu", "cider"}
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    code, table, _ = run([*argv, "--out", tmp_path / "other"], capsys)
    assert code == 0
    assert "valid BLEU-4" in table
    assert "valid CIDEr-D" in table


def test_describe_prints_one_caption_per_image_in_input_order(trained, scenes, capsys):
    images = [scenes.folder / f"test/{i:06d}.png" for i in (3, 0, 5)]
    code, printed, err = run(["caption", "describe", trained, *images], capsys)
    assert code == 0, err
    expected = Captioner.load(trained).describe([str(p) for p in images])
    assert printed.splitlines() == expected


def test_describe_json_gives_the_beam_s_n_best_with_log_probabilities(trained, scenes, capsys):
    images = [scenes.folder / f"test/{i:06d}.png" for i in (1, 2)]
    argv = ["caption", "describe", trained, *images, "--json", "--method", "beam"]
    code, printed, err = run([*argv, "--beam-size", "4", "--n-best", "3"], capsys)
    assert code == 0, err
    lines = [json.loads(line) for line in printed.splitlines()]
    assert [line["image"] for line in lines] == [str(p) for p in images]
    found = Captioner.load(trained).describe_n_best([str(p) for p in images], 4, 3)
    for line, best in zip(lines, found, strict=True):
        assert [b["caption"] for b in line["n_best"]] == [c for c, _ in best]
        scores = [b["log_prob"] for b in line["n_best"]]
        assert scores == sorted(scores, reverse=True)
        assert line["caption"] == line["n_best"][0]["caption"]


def test_eval_scores_as_the_python_api_does(trained, scenes, capsys):
    argv = ["caption", "eval", trained, "--captions", scenes.test, "--images", scenes.folder]
    code, printed, err = run([*argv, "--json"], capsys)
    assert code == 0, err
    result = json.loads(printed)
    expected = Captioner.load(trained).evaluate(scenes.test, scenes.folder)
    for key in ("bleu1", "bleu4", "cider", "rouge_l", "exact", "images"):
        assert result[key] == pytest.approx(expected[key])
    code, table, _ = run(argv, capsys)
    assert all(name in table for name in ("BLEU-4", "CIDEr-D", "ROUGE-L"))


def test_print_config_then_config_replays_the_run(scenes, tmp_path, capsys):
    argv = ["caption", "train", *data_flags(scenes), *TINY.split(), "--epochs", "1"]
    argv += ["--attention", "none", "--seed", "4"]
    code, printed, err = run([*argv, "--out", tmp_path / "never", "--print-config"], capsys)
    assert (code, err) == (0, "")
    settings = yaml.safe_load(printed)
    assert settings["model"]["attention"] == "none"
    assert settings["model"]["gate"] is False  # the gate needs attention
    (tmp_path / "c.yaml").write_text(printed)
    assert run([*argv, "--out", tmp_path / "a"], capsys)[0] == 0
    assert (
        run(["caption", "train", "--config", tmp_path / "c.yaml", "--out", tmp_path / "b"], capsys)[
            0
        ]
        == 0
    )
    a, b = (load_checkpoint(tmp_path / name / "last") for name in "ab")
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)


def test_resume_continues_a_stopped_run_exactly(scenes, tmp_path, capsys):
    argv = ["caption", "train", *data_flags(scenes), *TINY.split(), "--epochs", "2"]
    argv += ["--augment"]
    assert run([*argv, "--out", tmp_path / "whole"], capsys)[0] == 0
    assert run([*argv, "--out", tmp_path / "part", "--max-steps", "8"], capsys)[0] == 0
    code, printed, err = run(["caption", "train", "--resume", tmp_path / "part", "--json"], capsys)
    assert code == 0, err
    assert json.loads(printed)["steps"] == 12
    a, b = (load_checkpoint(tmp_path / name / "last") for name in ("whole", "part"))
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--attention", "luong"], "argument --attention: invalid choice: 'luong'"),
        (["--penalty", "-1"], "argument --penalty: expected a number >= 0, got '-1'"),
        (["--attention", "none", "--gate"], "gate: needs attention='bahdanau'"),
        (["--monitor", "cer"], "argument --monitor: invalid choice: 'cer'"),
    ],
)
def test_bad_options_are_one_line_before_any_work(scenes, tmp_path, capsys, extra, message):
    argv = ["caption", "train", *data_flags(scenes), *TINY.split(), "--out", tmp_path / "new"]
    code, _, err = run([*argv, *extra], capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()


def test_a_missing_image_names_the_captions_line_and_overwrites_nothing(scenes, tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(scenes.folder, folder)
    (folder / "train" / "000002.png").unlink()
    captions = folder / "train.tsv"
    line = next(
        n for n, row in enumerate(captions.read_text().splitlines(), 1) if "000002.png" in row
    )
    argv = ["caption", "train", "--captions", captions, "--images", folder, *TINY.split()]
    code, _, err = run([*argv, "--out", tmp_path / "new"], capsys)
    assert code == 2
    assert f"{captions}:{line}" in err
    assert not (tmp_path / "new").exists()


def test_describe_names_an_unreadable_image_before_loading_the_model(trained, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    code, printed, err = run(["caption", "describe", trained, bad], capsys)
    assert code == 2
    assert printed == ""
    assert str(bad) in err


def test_inspect_asks_a_captioner_for_an_image_in_one_line(trained, capsys):
    # The report itself: tests/caption/test_inspect_caption.py.
    argv = ["inspect", str(trained), "--text", "a", "--out", f"{trained}/r.html"]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert f"--text: {trained} holds an image captioner; give its image with --image FILE" in err
    assert len(err.strip().splitlines()) == 1
