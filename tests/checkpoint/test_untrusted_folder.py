"""Loading a run folder that someone else wrote: each crafted or damaged folder is refused with a
UserError naming the file, quickly and without a large allocation, and nothing outside the
folder is read (issue 23, section 2)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from lstmkit.checkpoint import load_checkpoint
from lstmkit.data import Pairs
from lstmkit.errors import UserError
from lstmkit.forecast import Forecaster
from lstmkit.lm import LanguageModel
from lstmkit.seq2seq import Seq2Seq
from lstmkit.tokenizers import load_tokenizer, train_tokenizer

TEXT = "the cat sat on the mat\n" * 20


def remanifest(folder: Path) -> None:
    """The manifest an attacker would write: the folder's regular files as they now are."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.name == "manifest.json" or path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        files[path.relative_to(folder).as_posix()] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    (folder / "manifest.json").write_text(json.dumps({"files": files}))


def edit_config(folder: Path, edit) -> Path:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    remanifest(folder)
    return folder


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("runs")
    lm = LanguageModel("char", model={"hidden_size": 4, "embedding_size": 4, "num_layers": 1})
    lm.set_params(batch_size=2, bptt=8, train={"epochs": 1})
    lm.fit(TEXT, out=root / "lm-run", progress=False).save(root / "lm")
    src = [f"{a} {b}" for a in "abc" for b in "abc"] * 3
    pairs = Pairs(src, [" ".join(reversed(s.split())) for s in src])
    s2s = Seq2Seq(model={"hidden_size": 4, "embedding_size": 4, "num_layers": 1})
    s2s.set_params(train={"epochs": 1})
    s2s.fit(pairs, progress=False).save(root / "s2s")
    return root


@pytest.fixture
def copy_of(saved, tmp_path):
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(saved / name, target, symlinks=True)
        return target

    return copy


# ------------------------------------------------------------------ sizes against the weights
SUBPROCESS = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from lstmkit.errors import UserError
from lstmkit.lm import LanguageModel
start = time.monotonic()
try:
    LanguageModel.load(sys.argv[1])
except UserError as error:
    print(f"{time.monotonic() - start:.2f}", error)
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_layers": 1_000_000}, "model.num_layers: expected at most"),
        ({"hidden_size": 1_000_000_000}, "model: sizes that cannot be built"),
        ({"hidden_size": 100_000, "embedding_size": 100_000}, "the config makes"),
    ],
)
def test_huge_sizes_are_refused_fast_within_3_gib(copy_of, change, message):
    folder = edit_config(copy_of("lm"), lambda c: c["model"].update(change))
    out = subprocess.run(
        [sys.executable, "-c", SUBPROCESS, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seconds, _, error = out.stdout.strip().partition(" ")
    assert message in error
    assert "config.json" in error
    assert float(seconds) < 10


def test_sizes_other_than_the_weights_are_refused(copy_of):
    folder = edit_config(copy_of("s2s"), lambda c: c["model"].update(hidden_size=6))
    with pytest.raises(UserError, match=r"config.json: model: the config makes .* of shape"):
        Seq2Seq.load(folder)


def test_more_layers_in_the_estimators_settings_are_refused_on_resume(copy_of):
    folder = copy_of("lm-run") / "last"
    edit_config(folder, lambda c: c["estimator"]["model"].update(num_layers=100_000))
    start = time.monotonic()
    with pytest.raises(UserError, match=r"model: expected a network of the tensors stored"):
        LanguageModel("char").fit(TEXT, resume=folder, progress=False)
    assert time.monotonic() - start < 10


# ------------------------------------------------------------------ only regular files inside
def test_config_linked_to_dev_zero_is_refused_unread(copy_of):
    folder = copy_of("lm")
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to("/dev/zero")
    with pytest.raises(UserError, match=r"config.json: links outside the folder .*/dev/zero"):
        load_checkpoint(folder)


def test_a_fifo_is_refused_without_opening_it(copy_of):
    folder = copy_of("lm")
    (folder / "config.json").unlink()
    os.mkfifo(folder / "config.json")  # opening it for reading would block forever
    with pytest.raises(UserError, match=r"config.json: expected a regular file, got a FIFO"):
        LanguageModel.load(folder)


@pytest.mark.parametrize("name", ["tokenizer", "tokenizer/tokenizer.json", "model.safetensors"])
def test_links_leading_outside_are_refused(copy_of, tmp_path, name):
    folder = copy_of("lm")
    outside = tmp_path / "outside"
    shutil.move(folder / name, outside)
    (folder / name).symlink_to(outside)
    remanifest(folder)
    with pytest.raises(UserError, match=rf"{name}: links outside the folder"):
        LanguageModel.load(folder)


def test_links_inside_the_folder_are_followed(copy_of):
    folder = copy_of("lm")
    shutil.move(folder / "tokenizer", folder / "vocabulary")
    (folder / "tokenizer").symlink_to("vocabulary")
    remanifest(folder)
    assert LanguageModel.load(folder).predict_next("the c", 1)


def test_a_run_folders_checkpoint_linked_outside_is_refused(copy_of, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best").symlink_to(copy_of("lm"))
    with pytest.raises(UserError, match=r"run/best: links outside the folder"):
        LanguageModel.load(run)


def test_tokenizer_json_linked_to_passwd_is_not_read(tmp_path):
    train_tokenizer("char", "abc").save(tmp_path / "tok")
    (tmp_path / "tok" / "tokenizer.json").unlink()
    (tmp_path / "tok" / "tokenizer.json").symlink_to("/etc/passwd")
    with pytest.raises(UserError, match=r"tokenizer.json: links outside .*/etc/passwd"):
        load_tokenizer(tmp_path / "tok")


def test_a_json_file_over_the_limit_is_refused_before_reading(tmp_path):
    folder = tmp_path / "tok"
    folder.mkdir()
    with open(folder / "tokenizer.json", "wb") as file:
        file.truncate(65 << 20)  # sparse: no disk, and never read
    with pytest.raises(UserError, match=r"expected at most 67,108,864 bytes, got 68,157,440"):
        load_tokenizer(folder)


# ------------------------------------------------------------------ damaged weights, vocabulary
def test_all_nan_weights_are_refused_at_load(copy_of):
    folder = copy_of("lm")
    tensors = load_file(folder / "model.safetensors")
    nan = {k: torch.full_like(t, float("nan")) for k, t in tensors.items()}
    save_file(nan, folder / "model.safetensors")
    remanifest(folder)
    with pytest.raises(UserError, match=r"model.safetensors: .* holds NaN or infinite values"):
        LanguageModel.load(folder)


def test_a_vocabulary_smaller_than_the_weights_is_refused_at_load(copy_of):
    folder = copy_of("s2s")
    path = folder / "tokenizer" / "tgt" / "tokenizer.json"
    tokens = json.loads(path.read_text())["tokens"]
    path.write_text(json.dumps({"format_version": 1, "kind": "word", "tokens": tokens[:-2]}))
    remanifest(folder)
    size = len(tokens)
    with pytest.raises(
        UserError, match=rf"tgt: expected a vocabulary of {size} tokens .*got {size - 2}"
    ):
        Seq2Seq.load(folder)


# ------------------------------------------------------------------ configs of the wrong layout
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["model"].update(hidden_size="4"), r"model.hidden_size: expected a positive"),
        (lambda c: c["model"].update(colour=1), r"model.colour: expected one of the LMConfig"),
        (lambda c: c.update(model=[1, 2]), r"model: expected a JSON object, got list"),
        (lambda c: c.update(data=None), r"data: expected a JSON object, got NoneType"),
        (lambda c: c.update(extra={}), r"extra: expected one of the keys of a lm run"),
        (lambda c: c["estimator"].update(state_reset="x"), r"config.json: "),
        (lambda c: c.update(task="forecast"), r"checkpoint of task 'forecast', expected 'lm'"),
    ],
)
def test_a_config_of_the_wrong_layout_is_one_user_error(copy_of, edit, message):
    folder = edit_config(copy_of("lm"), edit)
    with pytest.raises(UserError, match=message):
        LanguageModel.load(folder)


def test_a_task_changed_is_refused_by_the_other_tasks_estimator(copy_of):
    folder = edit_config(copy_of("lm"), lambda c: c.update(task="forecast"))
    with pytest.raises(UserError, match=r"config.json: tokenizer: expected one of the keys of a f"):
        Forecaster.load(folder)
    folder = edit_config(copy_of("s2s"), lambda c: c.update(task="lm"))
    with pytest.raises(UserError, match=r"config.json: model.src_vocab_size: expected one of"):
        LanguageModel.load(folder)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": ' + "[" * 200_000 + "]" * 200_000 + "}", "nested too deeply"),
        ('{"a": ' + "7" * 5000 + "}", "Exceeds the limit"),
        ("\xff", "not UTF-8"),
    ],
)
def test_unparseable_config_json_is_one_user_error(copy_of, text, message):
    folder = copy_of("lm")
    (folder / "config.json").write_bytes(text.encode("latin-1"))
    remanifest(folder)
    with pytest.raises(UserError, match=rf"config.json: (invalid JSON: )?{message}"):
        LanguageModel.load(folder)
