"""The bad-input sweep's cases for runs and files: locks, --out, interrupted runs (issue 23,
section 4).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from bad_input_case import Case

# A lock file as a training running elsewhere leaves it: fixed, so that the message is too.
OWNER = {"pid": 4242, "host": "trainer-7", "started": "2025-01-01 12:00:00"}
OWNER_TEXT = "pid 4242 on trainer-7 since 2025-01-01 12:00:00"
_HELD: list[int] = []  # lock files this test process holds for a case (one at a time)


def _hold_lock(run: str):
    """A case's setup: ``run``/run.lock locked by this process (a different open file than the
    command's, so it conflicts as another process's lock would), with :data:`OWNER` in it."""

    def setup(ws: Path) -> None:
        while _HELD:  # the previous case's copy of the workspace is gone
            os.close(_HELD.pop())
        fd = os.open(ws / run / "run.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, json.dumps(OWNER).encode())
        _HELD.append(fd)

    return setup


BUSY = f"another training is running in it ({OWNER_TEXT})"

CASES: list[Case] = [
    Case(
        "runs-out-under-a-file",
        "--out under a file",
        "lm train --data {ws}/text.txt --out {ws}/afile/run",
        "--out <tmp>/afile/run: expected a folder, got a path under the file <tmp>/afile",
        option="--out",
        file="afile",
    ),
    Case(
        "runs-seq2seq-out-under-a-file",
        "seq2seq train: --out under a file",
        "seq2seq train --data {ws}/pairs.tsv --out {ws}/afile/run",
        "--out <tmp>/afile/run: expected a folder, got a path under the file <tmp>/afile",
        option="--out",
        file="afile",
    ),
    Case(
        "runs-forecast-out-under-a-file",
        "forecast train: --out under a file",
        "forecast train --csv {ws}/sales.csv --horizon 3 --out {ws}/afile/run",
        "--out <tmp>/afile/run: expected a folder, got a path under the file <tmp>/afile",
        option="--out",
        file="afile",
    ),
    Case(
        "runs-experiment-out-a-file",
        "experiment: --out a file",
        "experiment adding --steps 1 --out {ws}/afile",
        "--out <tmp>/afile: expected a folder, got a file",
        option="--out",
        file="afile",
    ),
    Case(
        "runs-experiment-out-under-a-file",
        "experiment: --out under a file",
        "experiment adding --steps 1 --out {ws}/afile/run",
        "--out <tmp>/afile/run: expected a folder, got a path under the file <tmp>/afile",
        option="--out",
        file="afile",
    ),
    Case(
        "runs-resume-locked",
        "--resume a run another training is running in",
        "lm train --resume {ws}/lm --no-progress",
        f"--out <tmp>/lm: {BUSY}",
        option="--out",
        file="lm",
        setup=_hold_lock("lm"),
    ),
    Case(
        "runs-overwrite-locked",
        "--overwrite a run folder another training is running in",
        "lm train --data {ws}/text.txt --out {ws}/lm --overwrite",
        f"--out <tmp>/lm: {BUSY}",
        option="--out",
        file="lm",
        setup=_hold_lock("lm"),
    ),
    Case(
        "runs-seq2seq-resume-locked",
        "seq2seq: --resume a run another training is running in",
        "seq2seq train --resume {ws}/s2s",
        f"--out <tmp>/s2s: {BUSY}",
        option="--out",
        file="s2s",
        setup=_hold_lock("s2s"),
    ),
    Case(
        "runs-forecast-resume-locked",
        "forecast: --resume a run another training is running in",
        "forecast train --resume {ws}/fc",
        f"--out <tmp>/fc: {BUSY}",
        option="--out",
        file="fc",
        setup=_hold_lock("fc"),
    ),
    Case(
        "runs-experiment-locked",
        "experiment: --out a folder another training is running in",
        "experiment adding --steps 1 --out {ws}/previous",
        f"--out <tmp>/previous: {BUSY}",
        option="--out",
        file="previous",
        setup=_hold_lock("previous"),
    ),
    Case(
        "runs-nproc-missing-data",
        "--nproc 2 with a missing data file: refused before torchrun starts",
        "lm train --nproc 2 --data {ws}/missing.txt --out {ws}/new",
        "--data: no such file or folder: <tmp>/missing.txt",
        option="--data",
        file="missing.txt",
    ),
    Case(
        "runs-nproc-out-holds-a-run",
        "--nproc 2 into a folder holding another run",
        "seq2seq train --nproc 2 --data {ws}/pairs.tsv --out {ws}/lm",
        "--out <tmp>/lm: is not empty",
        option="--out",
        file="lm",
    ),
    Case(
        "runs-nproc-config-missing-data",
        "nproc: 2 in --config, with a missing data file",
        "lm train --config {ws}/nproc.yaml --data {ws}/missing.txt --out {ws}/new",
        "--data: no such file or folder: <tmp>/missing.txt",
        option="--data",
        file="missing.txt",
    ),
    Case(
        "lm-train-batch-larger-than-data",
        "more streams than tokens: found after --out was checked; the new --out is removed",
        "lm train --data {ws}/four-lines.txt --out {ws}/new",
        "--batch-size 32 is larger than the data",
        option="--batch-size",
    ),
]


def prepare(ws: Path) -> None:
    """Adds what these cases need to the sweep's workspace (after its tiny runs are trained)."""
    (ws / "afile").write_text("a plain file, not a folder\n")
    (ws / "nproc.yaml").write_text("nproc: 2\n")
    (ws / "four-lines.txt").write_text("a b c\nd e f\ng h\nx y\n")
