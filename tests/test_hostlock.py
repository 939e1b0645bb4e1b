"""The host lock: one measurement at a time, across threads and processes; waits visibly or says "host busy"."""

import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest
from _lockholder import lock_held_elsewhere

from explorer.hostlock import Cancelled, HostBusy, host_lock

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def overlaps(intervals):
    intervals = sorted(intervals)
    return any(b_start < a_end for (_, a_end), (b_start, _) in pairwise(intervals))


def test_two_threads_serialize():
    spans = []

    def hold():
        with host_lock("thread test", timeout=10):
            start = time.monotonic()
            time.sleep(0.15)
            spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(spans) == 3
    assert not overlaps(spans)


CHILD = """
import sys, time
from explorer.hostlock import host_lock
with host_lock("process test", timeout=20, path=sys.argv[1]):
    start = time.time()
    time.sleep(0.4)
    print(start, time.time())
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
    lock = tmp_path / "measure.lock"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)  # wait until the child holds it
    with host_lock("parent", timeout=20, path=lock):
        got = time.time()
    start, end = (float(v) for v in child.communicate(timeout=60)[0].split())
    assert got >= end - 0.01


def test_busy_host_without_waiting_says_so_and_who(tmp_path):
    with lock_held_elsewhere("SM_V2, torch cpu, batch 1"):
        with pytest.raises(HostBusy, match=r"host busy: .*SM_V2, torch cpu, batch 1, pid \d+"):
            with host_lock("second", timeout=0):
                pass


def test_waiting_request_is_told_then_proceeds():
    messages = []
    with lock_held_elsewhere("first", hold_s=0.3):
        start = time.monotonic()
        with host_lock("second", timeout=10, on_wait=messages.append):
            waited = time.monotonic() - start
    assert waited >= 0.2
    assert len(messages) == 1 and messages[0].startswith("waiting for another measurement")


def test_timeout_and_cancel_while_waiting():
    with lock_held_elsewhere("first"):
        start = time.monotonic()
        with pytest.raises(HostBusy, match="host busy"):
            with host_lock("second", timeout=0.3):
                pass
        assert 0.25 <= time.monotonic() - start < 3
        cancel = threading.Event()
        threading.Timer(0.2, cancel.set).start()
        with pytest.raises(Cancelled):
            with host_lock("third", timeout=10, cancel=cancel):
                pass


def test_released_after_an_error_and_holder_line_cleared(data_dir):
    with pytest.raises(RuntimeError):
        with host_lock("failing", timeout=1) as path:
            assert "failing" in path.read_text()
            raise RuntimeError("the measurement failed")
    assert path == data_dir / "measure.lock"
    assert path.read_text() == ""
    with host_lock("next", timeout=0):
        pass
