"""The run folder's lock (one training at a time in a folder) and the writable-folder check.

A lock held "by another process" is made with ``fcntl.flock`` on a second open file of the lock
file: flock locks belong to the open file, so it conflicts as another process's lock would.
"""

import fcntl
import json
import os
import socket
import subprocess
import sys
import warnings

import pytest
import torch

from lstmkit.errors import Notice, UserError
from lstmkit.train import lock as lock_module
from lstmkit.train.lock import LOCK_FILE, RunLock, check_unlocked, check_writable


def _held_elsewhere(folder, record: dict) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, json.dumps(record).encode())
    return fd


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_folder_another_training_holds_is_refused_naming_it(tmp_path):
    fd = _held_elsewhere(tmp_path / "run", {"pid": 777, "host": "box", "started": "noon"})
    try:
        with pytest.raises(UserError) as refused, RunLock(tmp_path / "run"):
            pass
        with pytest.raises(UserError, match="another training is running in it"):
            check_unlocked(tmp_path / "run")
    finally:
        os.close(fd)
    assert str(refused.value) == (
        f"out {tmp_path / 'run'}: another training is running in it (pid 777 on box since "
        "noon); wait for it to end, or choose another folder"
    )
    with pytest.warns(Notice, match="took over the lock"), RunLock(tmp_path / "run"):
        pass  # its holder ended: free


def test_the_lock_records_this_process_and_is_removed_at_the_end(tmp_path):
    with RunLock(tmp_path / "new" / "run"):  # created with its parents
        record = json.loads((tmp_path / "new" / "run" / LOCK_FILE).read_text())
        assert record["pid"] == os.getpid()
        assert record["host"] == socket.gethostname()
        probe = os.open(tmp_path / "new" / "run" / LOCK_FILE, os.O_RDONLY)
        with pytest.raises(BlockingIOError):  # an OS lock, not only a file
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(probe)
    assert not (tmp_path / "new" / "run" / LOCK_FILE).exists()


def test_a_stale_lock_is_taken_over_with_a_notice(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    pid = _dead_pid()
    (run / LOCK_FILE).write_text(json.dumps({"pid": pid, "host": "old-box"}))
    with warnings.catch_warnings(record=True) as caught, RunLock(run):
        warnings.simplefilter("always")
        assert json.loads((run / LOCK_FILE).read_text())["pid"] == os.getpid()
    notices = [str(w.message) for w in caught if w.category is Notice]
    assert notices == [
        f"out {run}: took over the lock of a training that ended without removing it "
        f"(pid {pid} on old-box)"
    ]


def test_a_process_may_lock_a_folder_it_holds_and_releases_it_last(tmp_path):
    with RunLock(tmp_path):
        with RunLock(tmp_path):
            pass
        assert (tmp_path / LOCK_FILE).exists()
        check_unlocked(tmp_path)  # its own lock is no conflict
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_second_process_is_refused_while_the_first_holds_the_folder(tmp_path):
    code = (
        "import sys, time\n"
        "from lstmkit.train.lock import RunLock\n"
        "with RunLock(sys.argv[1]):\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(UserError, match=rf"\(pid {holder.pid} on "), RunLock(tmp_path):
            pass
    finally:
        holder.communicate("")
    assert holder.returncode == 0
    with RunLock(tmp_path):  # released when the holder ended
        pass


def test_only_rank_0_locks(tmp_path, monkeypatch):
    fd = _held_elsewhere(tmp_path, {"pid": 1})
    monkeypatch.setenv("RANK", "1")
    try:
        with RunLock(tmp_path):  # the other ranks write nothing into the folder
            pass
    finally:
        os.close(fd)


def test_training_holds_the_lock_and_leaves_none(tmp_path):
    from lstmkit.lm import LanguageModel

    text = "".join(f"the cat sat on the mat {i % 5}\n" for i in range(40))
    lm = LanguageModel(
        tokenizer="char",
        batch_size=2,
        bptt=8,
        model={"embedding_size": 4, "hidden_size": 4},
        train={"epochs": 1},
    )
    fd = _held_elsewhere(tmp_path / "busy", {"pid": 5, "host": "h"})
    try:
        with pytest.raises(UserError, match="another training is running in it"):
            lm.fit(text, out=tmp_path / "busy", progress=False)
    finally:
        os.close(fd)
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == [LOCK_FILE]
    torch.manual_seed(0)
    lm.fit(text, out=tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "last").is_dir()
    assert not (tmp_path / "run" / LOCK_FILE).exists()


# --------------------------------------------------------------------- a writable folder
def test_out_must_be_a_folder_not_a_file_or_under_one(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match=r"afile: expected a folder, got a file$"):
        check_writable(tmp_path / "afile")
    with pytest.raises(
        UserError, match=rf"run: expected a folder, got a path under the file {tmp_path}/afile$"
    ):
        check_writable(tmp_path / "afile" / "deeper" / "run")
    assert check_writable(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert not (tmp_path / "new").exists()  # a check creates nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a folder without w")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(UserError, match=r"cannot create files there \(in .*ro\)"):
        check_writable(tmp_path / "ro" / "run")


def test_a_folder_without_write_permission_is_refused_even_for_root(tmp_path, monkeypatch):
    # The tests may run as root, for whom os.access says yes to a folder chmod 0o555: the
    # answer of an unprivileged user is simulated.
    (tmp_path / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if str(p).endswith("ro") else real(p, mode)
    )
    with pytest.raises(
        UserError, match=rf"out {tmp_path}/ro/run: cannot create files there \(in {tmp_path}/ro\)"
    ):
        check_writable(tmp_path / "ro" / "run")


def test_a_read_only_file_system_is_named(tmp_path, monkeypatch):
    real = os.statvfs

    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(
        lock_module.os, "statvfs", lambda p: ReadOnly() if str(p) == str(tmp_path) else real(p)
    )
    with pytest.raises(UserError, match=rf"{tmp_path} is on a read-only file system"):
        check_writable(tmp_path / "run")
