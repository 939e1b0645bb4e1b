"""The host lock: one measurement at a time, across threads and processes; waits visibly or says "host busy"."""

import os
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest
from _lockholder import lock_held_elsewhere

from explorer.errors import UserError
from explorer.measure.hostlock import Cancelled, HostBusy, host_lock

ROOT = Path(__file__).resolve().parent.parent


def overlaps(intervals):
    intervals = sorted(intervals)
    return any(b_start < a_end for (_, a_end), (b_start, _) in pairwise(intervals))


def test_two_threads_serialize():
    holders, most, guard = [0], [0], threading.Lock()

    def hold():
        with host_lock("thread test", timeout=10):
            with guard:
                holders[0] += 1
                most[0] = max(most[0], holders[0])
            time.sleep(0.05)  # give another thread the chance to (wrongly) enter
            with guard:
                holders[0] -= 1

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1 and holders[0] == 0


CHILD = """
import sys, time
from explorer.measure.hostlock import host_lock
with host_lock("process test", timeout=20, path=sys.argv[1]):
    start = time.time()
    time.sleep(0.4)
    print(start, time.time())
    if len(sys.argv) > 2:
        with open(sys.argv[2], "a") as log:
            log.write("child releases\\n")
"""


def test_two_processes_serialize(tmp_path):
    lock = tmp_path / "measure.lock"
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    spans = [tuple(float(v) for v in out.split()) for out in outs]
    assert not overlaps(spans)


def test_process_and_thread_in_parent_serialize(tmp_path):
    """A process holding the lock blocks this process too (the file lock, not only the thread lock)."""
    lock, log = tmp_path / "measure.lock", tmp_path / "events.log"
    args = [sys.executable, "-c", CHILD, str(lock), str(log)]
    child = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)  # wait until the child holds it
    assert child.poll() is None, "the child ended before it held the lock"
    with host_lock("parent", timeout=20, path=lock):
        seen_when_acquired = log.read_text() if log.exists() else ""
    child.communicate(timeout=60)
    assert seen_when_acquired == "child releases\n"  # the parent got the lock only after the child let go


def test_busy_host_without_waiting_says_so_and_who(tmp_path):
    with lock_held_elsewhere("SM_V2, torch cpu, batch 1"):
        with pytest.raises(HostBusy, match=r"host busy: .*SM_V2, torch cpu, batch 1, pid \d+"):
            with host_lock("second", timeout=0):
                pass


def test_waiting_request_is_told_then_proceeds():
    events, messages = [], []
    held, release = threading.Event(), threading.Event()

    def first():
        with host_lock("first", timeout=5):
            held.set()
            release.wait(10)
            events.append("first releases")

    t = threading.Thread(target=first)
    t.start()
    held.wait(5)

    def told(message):
        messages.append(message)
        release.set()  # the holder lets go only once the waiting request was told it waits

    with host_lock("second", timeout=10, on_wait=told):
        events.append("second holds")
    t.join()
    assert events == ["first releases", "second holds"]
    assert len(messages) == 1 and messages[0].startswith("waiting for another measurement")


def test_timeout_and_cancel_while_waiting():
    with lock_held_elsewhere("first"):
        messages = []
        with pytest.raises(HostBusy, match="host busy"):
            with host_lock("second", timeout=0.3, on_wait=messages.append):
                pytest.fail("acquired a held lock")
        assert len(messages) == 1  # it waited (and said so) before giving up
        cancel = threading.Event()
        with pytest.raises(Cancelled):
            with host_lock("third", timeout=60, cancel=cancel, on_wait=lambda message: cancel.set()):
                pytest.fail("acquired a held lock")


def test_lock_file_symlink_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    lock = tmp_path / "measure.lock"
    lock.symlink_to(target)
    with pytest.raises(UserError, match="symbolic link"):
        with host_lock("attack", timeout=0, path=lock):
            pytest.fail("opened a symlinked lock")
    assert target.read_text() == "keep me"


def test_lock_file_fifo_is_refused_without_blocking(tmp_path):
    lock = tmp_path / "measure.lock"
    os.mkfifo(lock)
    with pytest.raises(UserError, match="regular file"):
        with host_lock("fifo", timeout=0, path=lock):
            pytest.fail("opened a FIFO lock")


def test_released_after_an_error_and_holder_line_cleared(data_dir):
    with pytest.raises(RuntimeError):
        with host_lock("failing", timeout=1) as path:
            assert "failing" in path.read_text()
            raise RuntimeError("the measurement failed")
    assert path == data_dir.parent / "host" / "measure.lock"
    assert path.read_text() == ""
    with host_lock("next", timeout=0):
        pass


def test_one_lock_per_host_whatever_the_data_folder(tmp_path, monkeypatch):
    """Two data folders (or a relative EXPLORER_DATA_DIR) share the host's one lock file."""
    from explorer.measure.hostlock import default_lock_path

    monkeypatch.delenv("EXPLORER_HOST_LOCK")
    paths = set()
    for data in (tmp_path / "a", tmp_path / "b", Path("relative-data")):
        monkeypatch.setenv("EXPLORER_DATA_DIR", str(data))
        paths.add(default_lock_path())
    assert paths == {Path("/tmp/explorer-measure.lock")}


def test_another_user_s_lock_file_is_locked_read_only(tmp_path):
    """A lock file this user cannot write (another user's, in a shared folder) still serializes."""
    lock = tmp_path / "shared.lock"
    lock.write_text("")
    lock.chmod(0o444)
    if os.access(lock, os.W_OK):
        pytest.skip("running as a user who can write any file (root): a read-only lock cannot be made here")
    script = (
        "import sys\nfrom explorer.measure.hostlock import HostBusy, host_lock\n"
        "try:\n    with host_lock('second', timeout=0, path=sys.argv[1]):\n        print('free')\n"
        "except HostBusy:\n    print('busy')\n"
    )
    with host_lock("reader", timeout=0, path=lock):  # held through a read-only descriptor
        other = subprocess.run([sys.executable, "-c", script, str(lock)], capture_output=True, text=True, timeout=60)
    assert other.stdout.strip() == "busy", other.stderr
