"""Crash safety: a SIGKILLed run resumes exactly, a diverging run or a full disk keeps the last
good checkpoint, and loading a checkpoint never unpickles anything."""

import ast
import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import lstmkit
from lstmkit.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from lstmkit.cli.main import main
from lstmkit.errors import UserError
from lstmkit.lm.task import LMTask
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import TrainConfig, Trainer

VOCAB = 7
LM_TEXT = "".join(f"the cat sat on the mat number {i % 7}\n" for i in range(120))
LM_ARGV = (
    "--tokenizer char --embedding-size 8 --hidden-size 16 --num-layers 1 --batch-size 4 "
    "--bptt 16 --epochs 3 --save-every 10 --state-reset 0.3 --no-progress"
).split()
WORDS = "a b c d".split()
SOURCES = [f"{x} {y} {z}" for x in WORDS for y in WORDS for z in WORDS]
S2S_TSV = "".join(f"{s}\t{' '.join(reversed(s.split()))}\tCC-BY 2.0\n" for s in SOURCES)
S2S_ARGV = (
    "--embedding-size 8 --hidden-size 16 --num-layers 1 --dropout 0.1 --attention luong "
    "--batch-size 2 --epochs 3 --save-every 5 --no-progress"
).split()


# --------------------------------------------------------------------- SIGKILL mid-epoch
def _progress(run: Path) -> dict | None:
    """The progress in ``run/last``, or None while there is none (or it is being replaced)."""
    try:
        return json.loads((run / "last" / "training_state.json").read_text())["progress"]
    except (OSError, ValueError, KeyError):
        return None


def _train_lm_failing(tmp_path, capsys) -> str:
    """`lstmkit lm train` into tmp_path/run, expected to fail with one line: that line."""
    (tmp_path / "text.txt").write_text(LM_TEXT)
    code = main(
        [
            "lm",
            "train",
            "--data",
            str(tmp_path / "text.txt"),
            "--out",
            str(tmp_path / "run"),
            *LM_ARGV,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    return err


def _kill_mid_epoch(argv: list[str], run: Path) -> dict:
    """Starts the CLI, SIGKILLs it as soon as ``last/`` holds a mid-epoch checkpoint; returns
    that checkpoint's progress."""
    # The same thread count as the runs it is compared with: a matrix product split over two
    # threads may round differently from one (it does on AMD Zen 4 with torch 2.13).
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmkit", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while (p := _progress(run)) is None or p["batch"] == 0:
            assert proc.poll() is None, f"ended before a mid-epoch save: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no mid-epoch checkpoint within 30 s"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    # Usually ``p`` itself; a later save if the run got further before the signal landed.
    progress = load_checkpoint(run / "last").training_state["progress"]
    assert progress["step"] >= p["step"]
    assert progress["stopped"] == ""
    return progress


@pytest.mark.slow
@pytest.mark.parametrize("task", ["lm", "seq2seq"])
def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_weights(tmp_path, task):
    data = tmp_path / "data.txt"
    data.write_text(LM_TEXT if task == "lm" else S2S_TSV)
    argv = [task, "train", "--data", str(data), *(LM_ARGV if task == "lm" else S2S_ARGV)]
    assert main([*argv, "--out", str(tmp_path / "whole")]) == 0
    whole = load_checkpoint(tmp_path / "whole" / "last").training_state["progress"]

    killed = _kill_mid_epoch([*argv, "--out", str(tmp_path / "part")], tmp_path / "part")
    assert killed["step"] < whole["step"]
    assert main([task, "train", "--resume", str(tmp_path / "part"), "--no-progress"]) == 0

    resumed = load_checkpoint(tmp_path / "part" / "last").training_state["progress"]
    assert resumed["step"] == whole["step"]
    a = load_file(tmp_path / "whole" / "last" / "model.safetensors")
    b = load_file(tmp_path / "part" / "last" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_save_every_saves_last_mid_epoch_only(tmp_path):
    saved = []
    trainer = _trainer(tmp_path / "run", save_every=4)
    real = trainer.save
    trainer.save = lambda name: saved.append((name, trainer.state.step)) or real(name)
    trainer.fit()
    # 6 batches an epoch: mid-epoch at steps 4, 8; the epoch ends (6, 12) save after validating.
    assert [s for s in saved if s[0] == "last"] == [
        ("last", 4),
        ("last", 6),
        ("last", 8),
        ("last", 12),
        ("last", 12),
    ]


def test_save_every_must_be_positive():
    with pytest.raises(UserError, match="save_every: expected a positive integer, got 0"):
        TrainConfig(save_every=0)


# --------------------------------------------------------------------- a diverging loss
class ToyTask:
    """6 windows of truncated BPTT over 2 fixed streams; ``poison(loss, call)`` may spoil one."""

    task = "lm"

    def __init__(self, poison=None):
        self.streams = torch.randint(0, VOCAB, (2, 31), generator=torch.Generator().manual_seed(1))
        self.poison, self.calls = poison, 0

    def num_batches(self):
        return 6

    def batches(self, epoch, start):
        for k in range(start, 6):
            yield self.streams[:, 5 * k : 5 * k + 5], self.streams[:, 5 * k + 1 : 5 * k + 6]

    def train_loss(self, model, batch, carry):
        x, y = batch
        logits, state = model(x, carry)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        self.calls += 1
        return (self.poison(loss, self.calls) if self.poison else loss), y.numel(), state

    def evaluate(self, model):
        logits, _ = model(self.streams[:, :-1])
        return {
            "loss": F.cross_entropy(
                logits.reshape(-1, VOCAB), self.streams[:, 1:].reshape(-1)
            ).item()
        }

    def run_config(self):
        return {"model": {"vocab_size": VOCAB}}

    def files(self):
        return {}


def _trainer(out, poison=None, **config) -> Trainer:
    torch.manual_seed(0)
    model = LSTMLanguageModel(LMConfig(vocab_size=VOCAB, embedding_size=4, hidden_size=6))
    config = {"epochs": 2, "log_every": 1} | config
    return Trainer(
        model, ToyTask(poison), OptimConfig(lr=0.01), TrainConfig(**config), out, progress=False
    )


def _last_weights_are_finite(run: Path) -> dict:
    checkpoint = load_checkpoint(run / "last")
    assert all(torch.isfinite(t).all() for t in checkpoint.state_dict.values())
    return checkpoint.training_state["progress"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_one_non_finite_loss_is_skipped_and_the_run_goes_on(tmp_path, bad):
    trainer = _trainer(
        tmp_path / "run", lambda loss, call: loss * bad if call == 10 else loss, save_every=3
    )
    progress = trainer.fit()
    assert progress.stopped == "epochs"
    assert progress.skipped == 1
    assert _last_weights_are_finite(tmp_path / "run")["step"] == progress.step


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_loss_that_stays_non_finite_names_the_step_and_keeps_last(tmp_path, bad):
    trainer = _trainer(
        tmp_path / "run",
        lambda loss, call: loss * bad if call >= 10 else loss,
        save_every=3,
        epochs=10,
    )
    with pytest.raises(
        UserError,
        match=r"loss was not finite in 10 steps in a row, up to step 19; "
        r".*run/last",
    ):
        trainer.fit()
    # The skipped steps 10 to 18 count but leave the weights as step 9 left them.
    assert _last_weights_are_finite(tmp_path / "run")["step"] == 18


def test_a_nan_gradient_with_a_finite_loss_is_skipped(tmp_path):
    # The loss is finite but its gradient is NaN: Adam would make every weight NaN.
    def nan_gradient(loss, call):
        if call == 12:
            loss.register_hook(lambda grad: grad * math.nan)
        return loss

    progress = _trainer(tmp_path / "run", nan_gradient, clip=0).fit()
    assert progress.skipped == 1
    assert _last_weights_are_finite(tmp_path / "run")["step"] == progress.step


def test_the_cli_reports_a_diverging_run_in_one_line(tmp_path, capsys, monkeypatch):
    real = LMTask.train_loss
    calls = []

    def diverging(self, model, batch, carry):
        loss, tokens, state = real(self, model, batch, carry)
        calls.append(1)
        return (loss * math.nan if len(calls) >= 25 else loss), tokens, state

    monkeypatch.setattr(LMTask, "train_loss", diverging)
    err = _train_lm_failing(tmp_path, capsys)
    assert (
        "lstmkit lm train: error: training diverged: the loss was not finite in 10 steps in a "
        "row, up to step 34" in err
    )
    assert "Traceback" not in err
    assert _last_weights_are_finite(tmp_path / "run")["step"] == 30


# --------------------------------------------------------------------------- a full disk
def _disk_full_from(monkeypatch, nth: int) -> None:
    """safetensors' writer fails with ENOSPC from the ``nth`` model file of a ``last/`` on."""
    real, seen = safetensors.torch.save_file, []

    def save_file(tensors, path, *args, **kwargs):
        if ".last.tmp-" in path and path.endswith("model.safetensors"):
            seen.append(path)
            if len(seen) >= nth:
                Path(path).write_bytes(b"half a file")
                raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(tensors, path, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)


def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so(tmp_path, monkeypatch):
    _disk_full_from(monkeypatch, 2)
    trainer = _trainer(tmp_path / "run")
    with pytest.raises(UserError) as caught:
        trainer.fit()
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'run' / 'last'}: cannot save the checkpoint: ")
    assert (
        "the disk is full (No space left on device); the previous checkpoint is intact" in message
    )
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "run" / "last").training_state["progress"]["step"] == 6
    assert not [
        p.name for p in (tmp_path / "run").iterdir() if ".tmp-" in p.name or ".old-" in p.name
    ]


def test_a_full_disk_on_the_first_save_says_nothing_was_written(tmp_path, monkeypatch):
    _disk_full_from(monkeypatch, 1)
    with pytest.raises(UserError, match=r"run/last: .*the disk is full .*; nothing was written"):
        _trainer(tmp_path / "run").fit()
    assert not (tmp_path / "run" / "last").exists()


def test_the_cli_reports_a_full_disk_in_one_line(tmp_path, capsys, monkeypatch):
    _disk_full_from(monkeypatch, 3)
    err = _train_lm_failing(tmp_path, capsys)
    assert "run/last: cannot save the checkpoint: the disk is full" in err
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "run" / "last").training_state["progress"]["step"] == 20


# --------------------------------------------------------------------------- safe loading
def _tiny(run: Path, task: str = "lm") -> Path:
    return save_checkpoint(run, task=task, config={"model": {}}, model=torch.nn.Linear(3, 2))


def _rewrite(run: Path, name: str, data: bytes) -> None:
    """Replaces a file and its manifest entry, as a checkpoint written with it would hold."""
    import hashlib

    (run / name).write_bytes(data)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (run / "manifest.json").write_text(json.dumps(manifest))


def test_a_truncated_tensor_file_with_a_matching_manifest_is_named(tmp_path):
    # Past the checksum (the manifest agrees): safetensors' own reader must refuse it cleanly.
    run = _tiny(tmp_path / "run")
    data = (run / "model.safetensors").read_bytes()
    _rewrite(run, "model.safetensors", data[: len(data) - 5])
    with pytest.raises(UserError, match=r"run/model\.safetensors: cannot read tensors"):
        load_checkpoint(run)


def test_a_checkpoint_of_another_task_is_refused_by_the_cli(tmp_path, capsys):
    run = _tiny(tmp_path / "run", task="forecast")
    assert main(["lm", "train", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'config.json'}: checkpoint of task 'forecast', expected 'lm'" in err


_UNSAFE_MODULES = {
    "pickle",
    "_pickle",
    "cPickle",
    "cloudpickle",
    "dill",
    "joblib",
    "shelve",
    "marshal",
}


def _unsafe_calls(source: str, filename: str) -> list[str]:
    """Imports of pickling modules, ``torch.load`` without ``weights_only=True``, and
    ``allow_pickle=True``, each as ``file:line``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            names = []
        if _UNSAFE_MODULES & set(names):
            found.append(f"{filename}:{node.lineno}: import of {names}")
        if isinstance(node, ast.Call):
            keywords = {k.arg: k.value for k in node.keywords}
            func = ast.unparse(node.func)
            safe = (
                isinstance(keywords.get("weights_only"), ast.Constant)
                and keywords["weights_only"].value is True
            )
            if func.endswith("torch.load") and not safe:
                found.append(f"{filename}:{node.lineno}: {func} without weights_only=True")
            pickle = keywords.get("allow_pickle")
            if isinstance(pickle, ast.Constant) and pickle.value is True:
                found.append(f"{filename}:{node.lineno}: allow_pickle=True")
    return found


def test_the_checker_finds_pickle_and_unsafe_torch_load():
    source = "import pickle\nimport torch\ntorch.load(p)\nnp.load(p, allow_pickle=True)\n"
    assert len(_unsafe_calls(source, "x.py")) == 3
    assert _unsafe_calls("torch.load(p, weights_only=True)\n", "x.py") == []


def test_the_package_never_unpickles():
    package = Path(lstmkit.__file__).parent
    found = [
        hit
        for path in sorted(package.rglob("*.py"))
        for hit in _unsafe_calls(path.read_text(encoding="utf-8"), str(path))
    ]
    assert found == []


# ------------------------------------------------------------ a save killed between renames
_KILLED_SAVE = """
import os, sys, torch
from lstmkit.checkpoint import save_checkpoint
run, real = sys.argv[1], os.replace
save_checkpoint(run, task="lm", config={}, model=torch.nn.Linear(3, 2), training_state={"step": 1})

def replace(src, dst):
    if ".tmp-" in os.fspath(src):  # the old checkpoint is aside, the new one not yet in place
        os._exit(9)
    real(src, dst)

os.replace = replace
save_checkpoint(run, task="lm", config={}, model=torch.nn.Linear(3, 2), training_state={"step": 2})
"""


@pytest.mark.parametrize("how", ["resolve", "load"])
def test_a_save_killed_between_its_renames_leaves_the_last_good_checkpoint(tmp_path, how):
    run = tmp_path / "run"
    # The same thread count as the runs it is compared with: a matrix product split over two
    # threads may round differently from one (it does on AMD Zen 4 with torch 2.13).
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_SAVE, str(run / "last")], env=env, check=False
    )
    assert done.returncode == 9
    assert not (run / "last").exists()  # the window this test is about
    if how == "resolve":
        assert resolve_checkpoint(run, prefer=("last",)) == run / "last"
    assert load_checkpoint(run / "last").training_state["step"] == 1
    assert not list(run.glob(".last.old-*"))


def test_the_next_save_removes_what_a_killed_save_left(tmp_path):
    run = tmp_path / "run"
    # The same thread count as the runs it is compared with: a matrix product split over two
    # threads may round differently from one (it does on AMD Zen 4 with torch 2.13).
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(run / "last")], env=env, check=False)
    assert sorted(p.name[:9] for p in run.iterdir()) == [".last.old", ".last.tmp"]
    (run / ".last.tmp-1").mkdir()  # pid 1 runs: a save in progress elsewhere is left alone
    save_checkpoint(run / "last", task="lm", config={}, model=torch.nn.Linear(3, 2))
    assert sorted(p.name for p in run.iterdir()) == [".last.tmp-1", "last"]
