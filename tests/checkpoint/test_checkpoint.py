"""Checkpoints: exact resume, tied weights, verification on load, atomic writes, config files."""

import hashlib
import json
import math
import os
import random

import numpy as np
import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

from lstmkit.checkpoint import (
    check_output_dir,
    is_checkpoint,
    load_checkpoint,
    restore_training,
    save_checkpoint,
)
from lstmkit.data.config_file import read_config_file
from lstmkit.errors import UserError
from lstmkit.nn import LSTM

V, E = 11, 8
CONFIG = {"model": {"vocab_size": V, "hidden_size": E}, "data": {}, "training": {"lr": 0.01}}


class _Output(nn.Module):
    # The LSTM returns (output, (h, c)); the next layer of the Sequential takes the output only.
    def forward(self, pair):
        return pair[0]


def _model() -> nn.Sequential:
    model = nn.Sequential(
        nn.Embedding(V, E),
        LSTM(E, E, num_layers=2, dropout=0.2, batch_first=True),
        _Output(),
        nn.Dropout(0.1),
        nn.Linear(E, V),
    )
    model[4].weight = model[0].weight  # the output projection is the embedding
    return model


def _training(make_scheduler):
    model = _model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    return model, optimizer, make_scheduler(optimizer)


def _step(model, optimizer, scheduler) -> None:
    # Draws from every RNG a resumed run must continue: python and numpy pick the batch shape,
    # torch the tokens and the dropout masks.
    batch, length = random.randint(1, 3), int(np.random.randint(2, 5))  # noqa: NPY002
    tokens = torch.randint(V, (batch, length + 1))
    logits = model(tokens[:, :-1])  # (B, T, V)
    loss = F.cross_entropy(logits.reshape(-1, V), tokens[:, 1:].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()


SCHEDULERS = [
    pytest.param(lambda opt: torch.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5), id="StepLR"),
    pytest.param(
        lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 / (1 + s)), id="LambdaLR"
    ),
]


def _trained_run(tmp_path, make_scheduler):
    """A run after 3 steps, saved to tmp_path / "run"; random, numpy and torch seeded."""
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002
    model, optimizer, scheduler = _training(make_scheduler)
    for _ in range(3):
        _step(model, optimizer, scheduler)
    save_checkpoint(
        tmp_path / "run",
        task="lm",
        config=CONFIG,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        training_state={"step": 3, "epoch": 0, "best_loss": math.inf, "position": [0, 17]},
    )
    return model, optimizer, scheduler


def _resumed(tmp_path, make_scheduler, restore_optimizer=True):
    # Fresh objects with other weights and other RNG states, so that only the checkpoint counts.
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)  # noqa: NPY002
    model, optimizer, scheduler = _training(make_scheduler)
    checkpoint = load_checkpoint(tmp_path / "run", task="lm")
    if restore_optimizer:
        restore_training(checkpoint, model, optimizer, scheduler)
    else:
        restore_training(checkpoint, model)
    return checkpoint, model, optimizer, scheduler


@pytest.mark.parametrize("make_scheduler", SCHEDULERS)
def test_resume_continues_bit_identically(tmp_path, make_scheduler):
    model, optimizer, scheduler = _trained_run(tmp_path, make_scheduler)
    for _ in range(3):
        _step(model, optimizer, scheduler)
    checkpoint, model2, optimizer2, scheduler2 = _resumed(tmp_path, make_scheduler)
    for _ in range(3):
        _step(model2, optimizer2, scheduler2)

    for (name, want), got in zip(
        model.state_dict().items(), model2.state_dict().values(), strict=True
    ):
        assert torch.equal(want, got), name
    assert scheduler2.get_last_lr() == scheduler.get_last_lr()
    assert checkpoint.training_state["step"] == 3
    assert checkpoint.training_state["best_loss"] == math.inf
    assert checkpoint.training_state["position"] == [0, 17]
    # Training the restored optimizer must not have changed the loaded checkpoint in memory.
    again = load_checkpoint(tmp_path / "run").training_state["optimizer"]["state"]
    for index, state in checkpoint.training_state["optimizer"]["state"].items():
        assert torch.equal(state["exp_avg"], again[index]["exp_avg"]), index


def test_resume_without_optimizer_state_differs(tmp_path):
    # The exact-resume test can fail: a fresh AdamW (no moments) goes elsewhere.
    make_scheduler = SCHEDULERS[0].values[0]
    model, optimizer, scheduler = _trained_run(tmp_path, make_scheduler)
    _step(model, optimizer, scheduler)
    _, model2, optimizer2, scheduler2 = _resumed(tmp_path, make_scheduler, restore_optimizer=False)
    _step(model2, optimizer2, scheduler2)
    assert not torch.equal(model[0].weight, model2[0].weight)


def test_tied_weight_is_stored_once_and_loaded_tied(tmp_path):
    _trained_run(tmp_path, SCHEDULERS[0].values[0])
    with safetensors.safe_open(tmp_path / "run" / "model.safetensors", "pt") as stored:
        names = set(stored.keys())
    assert "0.weight" in names
    assert "4.weight" not in names
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint.config["tied_weights"] == {"4.weight": "0.weight"}
    assert checkpoint.state_dict["4.weight"] is checkpoint.state_dict["0.weight"]


def test_layout_and_no_pickle(tmp_path):
    _trained_run(tmp_path, SCHEDULERS[0].values[0])
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "manifest.json",
        "model.safetensors",
        "training_state.json",
        "training_state.safetensors",
    ]
    for path in run.rglob("*"):
        assert not path.read_bytes().startswith(b"\x80"), path  # pickle's protocol byte
    config = json.loads((run / "config.json").read_text())
    assert (config["format"], config["format_version"], config["task"]) == (
        "lstmkit-checkpoint",
        1,
        "lm",
    )
    assert config["model"] == CONFIG["model"]
    state = json.loads((run / "training_state.json").read_text())
    assert state["tensors"]["optimizer.state.0.exp_avg"]["shape"] == [V, E]
    assert "rng.torch_cpu" in state["tensors"]


def _tiny(tmp_path, task="lm", **kwargs):
    run = tmp_path / "run"
    save_checkpoint(run, task=task, config=CONFIG, model=nn.Linear(3, 2), **kwargs)
    return run


def _rewrite(run, name, data: bytes) -> None:
    """Replace a file and its manifest entry, as a genuine checkpoint with that content would."""
    (run / name).write_bytes(data)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (run / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["model.safetensors", "training_state.json", "config.json"])
@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_file_is_named(tmp_path, name, damage):
    run = _tiny(tmp_path)
    data = bytearray((run / name).read_bytes())
    if damage == "flip":
        data[-3] ^= 0x01  # near the end: in the tensor data, or inside JSON text
    else:
        del data[len(data) // 2 :]
    (run / name).write_bytes(bytes(data))
    with pytest.raises(
        UserError, match=rf"run/{name}: checksum mismatch \(file altered or truncated\)"
    ):
        load_checkpoint(run)


def test_wrong_task(tmp_path):
    run = _tiny(tmp_path, task="seq2seq")
    with pytest.raises(
        UserError, match=r"config\.json: checkpoint of task 'seq2seq', expected 'lm'"
    ):
        load_checkpoint(run, task="lm")
    assert load_checkpoint(run, task="seq2seq").task == "seq2seq"


def test_newer_format_version_names_file_and_versions(tmp_path):
    run = _tiny(tmp_path)
    config = json.loads((run / "config.json").read_text())
    config.update(format_version=2, lstmkit_version="9.0.0")
    _rewrite(run, "config.json", json.dumps(config).encode())
    with pytest.raises(UserError, match=r"config\.json: expected format_version 1, got 2.*9\.0\.0"):
        load_checkpoint(run)


def test_other_format_is_refused(tmp_path):
    run = _tiny(tmp_path)
    _rewrite(run, "config.json", json.dumps({"format": "other", "format_version": 1}).encode())
    with pytest.raises(UserError, match=r"config\.json: expected format 'lstmkit-checkpoint'"):
        load_checkpoint(run)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("model.safetensors", r"run/model\.safetensors: missing \(listed in manifest\.json\)"),
        ("manifest.json", r"run/manifest\.json: no such file"),
        ("config.json", r"run/config\.json: missing"),
    ],
)
def test_missing_file_is_named(tmp_path, name, message):
    run = _tiny(tmp_path)
    (run / name).unlink()
    with pytest.raises(UserError, match=message):
        load_checkpoint(run)


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(UserError, match=r"nowhere: no such checkpoint directory"):
        load_checkpoint(tmp_path / "nowhere")


def _fail_model_write(monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)


def _fail_rename_in(monkeypatch):
    # The old checkpoint is already renamed aside when the new one fails to take its place.
    real = os.replace

    def rename(src, dst):
        if ".tmp-" in os.fspath(src):
            raise OSError("rename failed")
        real(src, dst)

    monkeypatch.setattr(os, "replace", rename)


@pytest.mark.parametrize("fail", [_fail_model_write, _fail_rename_in])
def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch, fail):
    run = _tiny(tmp_path, training_state={"step": 1})
    fail(monkeypatch)
    with pytest.raises(UserError, match=r"run: cannot save .*(No space left|rename failed)"):
        _tiny(tmp_path, training_state={"step": 2})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no .run.tmp-* or .run.old-*
    assert load_checkpoint(run).training_state["step"] == 1


def test_save_replaces_previous_checkpoint(tmp_path):
    _tiny(tmp_path, training_state={"step": 1})
    run = _tiny(tmp_path, training_state={"step": 2})
    assert load_checkpoint(run).training_state["step"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.parametrize("inside", ["run", "run/notes.txt"])
def test_save_refuses_to_replace_foreign_files(tmp_path, inside):
    if inside == "run":
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "notes.txt").write_text("mine")
    else:
        _tiny(tmp_path)
        (tmp_path / inside).write_text("mine")
    with pytest.raises(UserError, match=r"run: .*refusing to replace it"):
        _tiny(tmp_path)
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_extra_files_are_written_and_verified(tmp_path):
    run = _tiny(tmp_path, extra_files={"tokenizer/vocab.json": b'["a", "b"]'})
    checkpoint = load_checkpoint(run)
    assert (checkpoint.tokenizer_dir / "vocab.json").read_bytes() == b'["a", "b"]'
    (run / "tokenizer" / "vocab.json").write_bytes(b'["a", "c"]')
    with pytest.raises(UserError, match=r"tokenizer/vocab\.json: checksum mismatch"):
        load_checkpoint(run)


def test_inf_and_nan_survive_json(tmp_path):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)  # best = inf
    run = tmp_path / "run"
    save_checkpoint(
        run,
        task="forecast",
        config={},
        model=model,
        optimizer=optimizer,
        scheduler=plateau,
        training_state={"best": math.nan},
    )
    assert "Infinity" not in (run / "training_state.json").read_text()  # strict JSON
    restored = torch.optim.lr_scheduler.ReduceLROnPlateau(torch.optim.SGD(model.parameters()))
    checkpoint = load_checkpoint(run)
    restore_training(checkpoint, nn.Linear(3, 2), scheduler=restored)
    assert restored.state_dict() == plateau.state_dict()
    assert math.isnan(checkpoint.training_state["best"])


def test_restore_errors_name_the_file(tmp_path):
    checkpoint = load_checkpoint(_tiny(tmp_path))
    optimizer = torch.optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1)
    with pytest.raises(UserError, match=r"training_state\.json: holds no optimizer state"):
        restore_training(checkpoint, nn.Linear(3, 2), optimizer)
    with pytest.raises(UserError, match=r"model\.safetensors: does not fit the model: .*size"):
        restore_training(checkpoint, nn.Linear(4, 2))


def test_is_checkpoint(tmp_path):
    assert not is_checkpoint(tmp_path)
    assert is_checkpoint(_tiny(tmp_path))


def test_check_output_dir(tmp_path):
    fresh = tmp_path / "a" / "b"
    assert check_output_dir(fresh, overwrite=False) == fresh
    assert fresh.is_dir()
    assert check_output_dir(fresh, overwrite=False) == fresh  # empty: fine
    run = _tiny(tmp_path)
    held = r"^out .*run: holds another run \(config\.json\); choose a new folder or pass "
    with pytest.raises(UserError, match=held + r"`overwrite=True`$"):
        check_output_dir(run, overwrite=False)
    (fresh / "data.csv").write_text("1,2\n")
    with pytest.raises(UserError, match=r"^out .*b: is not empty"):
        check_output_dir(fresh, overwrite=False)
    check_output_dir(run, overwrite=True)
    check_output_dir(fresh, overwrite=True)
    assert is_checkpoint(run)  # overwrite deletes nothing itself
    assert (fresh / "data.csv").exists()


def test_read_config_file(tmp_path):
    (tmp_path / "a.yaml").write_text("model:\n  hidden_size: 8\ntraining:\n  lr: 0.1\n")
    (tmp_path / "a.toml").write_text("[model]\nhidden_size = 8\n\n[training]\nlr = 0.1\n")
    want = {"model": {"hidden_size": 8}, "training": {"lr": 0.1}}
    assert read_config_file(tmp_path / "a.yaml") == want
    assert read_config_file(tmp_path / "a.toml") == want


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "model:\n  hidden_size: 8\n  - oops\n", r"bad\.yaml: invalid YAML: .*line 3"),
        ("bad.yml", "model: [1, 2\n", r"bad\.yml: invalid YAML: .*line 2"),
        ("bad.toml", "[model]\nhidden_size = 8\nlr = = 1\n", r"bad\.toml: invalid TOML: .*line 3"),
        ("list.yaml", "- 1\n- 2\n", r"list\.yaml: expected a mapping .*got list"),
        ("empty.yaml", "", r"empty\.yaml: expected a mapping .*got an empty file"),
        ("a.ini", "", r"a\.ini: expected a \.yaml, \.yml, \.toml or \.json file, got '\.ini'"),
    ],
)
def test_bad_config_file_is_named(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(UserError, match=message):
        read_config_file(tmp_path / name)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(UserError, match=r"nope\.yaml: no such file"):
        read_config_file(tmp_path / "nope.yaml")
