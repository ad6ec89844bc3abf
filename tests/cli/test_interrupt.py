"""Ctrl-C on a training command: one line, exit status 130, ``last/`` saved at the step reached,
and ``--resume`` ends where a run that never stopped ends; meanwhile the run folder is locked."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from lstmkit.checkpoint import load_checkpoint
from lstmkit.cli.main import main

TEXT = "".join(f"the cat sat on the mat number {i % 7}\n" for i in range(120))
ARGV = (
    "--tokenizer char --embedding-size 8 --hidden-size 16 --num-layers 1 --batch-size 4 "
    "--bptt 16 --epochs 3 --save-every 10 --log-every 1 --dropout 0.1 --no-progress"
).split()
# The CLI in a child process whose steps each take 50 ms longer (the numbers are unchanged), so
# that the signal lands while it trains (at 20 ms a loaded machine let the child finish first).
SLOW = (
    "import sys, time\n"
    "from lstmkit.train.trainer import Trainer\n"
    "step = Trainer._step\n"
    "Trainer._step = lambda self, batch: (time.sleep(0.05), step(self, batch))[1]\n"
    "from lstmkit.cli.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _wait_for(condition, process, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, f"ended before {what}: {process.stderr.read()}"
        assert time.monotonic() < deadline, f"no {what} within 60 s"
        time.sleep(0.01)


@pytest.mark.slow
def test_ctrl_c_saves_last_says_so_in_one_line_and_resume_ends_alike(tmp_path, capsys):
    data = tmp_path / "text.txt"
    data.write_text(TEXT)
    train = ["lm", "train", "--data", str(data), *ARGV]
    assert main([*train, "--out", str(tmp_path / "whole")]) == 0
    capsys.readouterr()

    part = tmp_path / "part"
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW, *train, "--out", str(part)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: (part / "last").is_dir(), child, "a checkpoint")
        # Another training into the same folder is refused while this one runs.
        assert main([*train, "--out", str(part), "--overwrite"]) == 2
        assert main(["lm", "train", "--resume", str(part), "--no-progress"]) == 2
        busy = capsys.readouterr().err.splitlines()
        assert len(busy) == 2
        for line in busy:
            assert line.startswith(
                f"lstmkit lm train: error: --out {part}: another training is running in it "
                f"(pid {child.pid} on "
            ), line
        os.kill(child.pid, signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 130
    match = re.fullmatch(
        rf"lstmkit lm train: interrupted at step (\d+); saved {part}/last; "
        rf"continue with --resume {part}\n",
        stderr,
    )
    assert match, stderr
    progress = load_checkpoint(part / "last").training_state["progress"]
    assert progress["step"] == int(match[1])
    assert progress["stopped"] == "interrupted"
    whole = load_checkpoint(tmp_path / "whole" / "last").training_state["progress"]
    assert 0 < progress["step"] < whole["step"]
    assert not (part / "run.lock").exists()

    assert main(["lm", "train", "--resume", str(part), "--no-progress"]) == 0
    resumed = load_checkpoint(part / "last").training_state["progress"]
    assert resumed["step"] == whole["step"]
    a = load_file(tmp_path / "whole" / "last" / "model.safetensors")
    b = load_file(part / "last" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ctrl_c_before_training_is_one_line_too(tmp_path, capsys, monkeypatch):
    import lstmkit.data

    def interrupted(**_):
        raise KeyboardInterrupt

    monkeypatch.setattr(lstmkit.data, "load_corpus", interrupted)
    code = main(["lm", "train", "--data", "x.txt", "--out", str(tmp_path / "run")])
    assert code == 130
    assert capsys.readouterr().err == (
        "lstmkit lm train: interrupted before a checkpoint was saved\n"
    )
