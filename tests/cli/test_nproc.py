"""``--nproc N`` (a flag or ``nproc`` in --config): N processes under torchrun, whose mistakes
read as one line with exit status 2, and whose output is rank 0's alone."""

import json
import os
import subprocess
import sys

import pytest
import torch

TEXT = "".join(f"the cat sat on the mat number {i % 7}\n" for i in range(40))
TINY = (
    "--tokenizer char --embedding-size 4 --hidden-size 4 --num-layers 1 --bptt 8 --epochs 1 "
    "--no-progress"
).split()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
        reason="torch.distributed without gloo",
    ),
]


def _lstmkit(*argv: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lstmkit", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_nproc_in_a_config_file_is_honoured_and_a_workers_mistake_is_one_line(tmp_path):
    (tmp_path / "text.txt").write_text(TEXT)
    # One row a batch cannot be shared by 2 processes: a mistake only the workers see.
    (tmp_path / "two.yaml").write_text("nproc: 2\nbatch_size: 1\n")
    done = _lstmkit(
        "lm",
        "train",
        "--data",
        "text.txt",
        "--out",
        "run",
        "--config",
        "two.yaml",
        *TINY,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "lstmkit lm train: error: batch: expected at least one row per process (2), got 1 "
        "rows; use a larger batch_size or fewer processes\n"
    )
    assert not (tmp_path / "run").exists()  # nothing left behind


def test_two_processes_train_print_once_and_release_the_folder(tmp_path):
    (tmp_path / "text.txt").write_text(TEXT)
    done = _lstmkit(
        "lm",
        "train",
        "--nproc",
        "2",
        "--data",
        "text.txt",
        "--out",
        "run",
        "--batch-size",
        "4",
        "--json",
        *TINY,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # one JSON document: rank 0's
    assert result["stopped"] == "epochs"
    assert (tmp_path / "run" / "last").is_dir()
    assert not (tmp_path / "run" / "run.lock").exists()
