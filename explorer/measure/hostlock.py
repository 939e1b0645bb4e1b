"""One measurement at a time per host: two measurements running together would corrupt each other's numbers.

The lock is a file lock (fcntl.flock on one file per host, /tmp/explorer-measure.lock), which serializes
processes (two browser sessions of the app, a CLI run beside the app, two data folders, two users' apps),
plus an in-process threading lock, which serializes the threads of one process (Streamlit runs each session
in a thread). The file is created readable and writable by every user, so another user's process can lock it
too; a user who cannot write it still locks it through a read-only descriptor (flock needs no write access).
EXPLORER_HOST_LOCK names another file (tests, or containers that share one host through a mount). The holder
writes what it measures into the lock file, so a waiting request can say who it waits for. The OS drops a
flock when its holder dies, so a crashed measurement never leaves the host locked.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError
from ..paths import user_path
from ..safeio import read_file

try:
    import fcntl
except ImportError:  # Windows: only the in-process lock applies
    fcntl = None

DEFAULT_TIMEOUT_S = 300.0
POLL_S = 0.05
WAIT_MESSAGE = "waiting for another measurement on this host to finish"

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


class HostBusy(UserError):
    """Another measurement holds the host and the caller chose not to wait (longer)."""


class Cancelled(UserError):
    """The caller set its cancel event (the UI's Stop button) while waiting or measuring."""


HOST_LOCK_NAME = "explorer-measure.lock"
HOST_LOCK_ENV = "EXPLORER_HOST_LOCK"


def default_lock_path() -> Path:
    """One path per host, whoever runs the explorer and whatever its data folder."""
    override = os.environ.get(HOST_LOCK_ENV, "").strip()
    if override:
        return user_path(override, f"host lock file ({HOST_LOCK_ENV})").absolute()
    tmp = Path("/tmp")
    if not tmp.is_dir():  # not a Unix-like host: the system's temporary folder
        import tempfile

        tmp = Path(tempfile.gettempdir())
    return tmp / HOST_LOCK_NAME


def _thread_lock(path: Path) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(str(path), threading.Lock())


def _holder(path: Path) -> str:
    try:
        text = read_file(path, "host lock file", 4096, follow_symlinks=False).decode(errors="replace").strip()
    except (OSError, UserError):
        return ""
    return text.splitlines()[0][:200] if text else ""


def _busy(path: Path, waited: float, holder: str) -> HostBusy:
    who = f" ({holder})" if holder else ""
    after = f" after waiting {waited:.0f} s" if waited >= 1 else ""
    return HostBusy(f"host busy: another measurement is running{who}{after}; try again when it ends")


@contextmanager
def host_lock(
    what: str = "measurement",
    timeout: float = DEFAULT_TIMEOUT_S,
    on_wait: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    path: str | Path | None = None,
) -> Iterator[Path]:
    """Hold the host for one measurement.

    timeout: seconds to wait for a busy host; 0 raises HostBusy at once. on_wait(message) is called once when
    the host is busy and the caller starts waiting (for the UI's "waiting..." line). When `cancel` is set while
    waiting, raises Cancelled.
    """
    path = Path(path) if path else default_lock_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{path.parent}: cannot create the folder for the host lock ({e.strerror or e})") from None
    deadline = time.monotonic() + max(0.0, timeout)
    start = time.monotonic()
    told = False

    def wait_step() -> None:
        nonlocal told
        if cancel is not None and cancel.is_set():
            raise Cancelled("measurement cancelled while waiting for the host")
        if time.monotonic() >= deadline:
            raise _busy(path, time.monotonic() - start, _holder(path))
        if not told and on_wait is not None:
            holder = _holder(path)
            on_wait(f"{WAIT_MESSAGE} ({holder})" if holder else WAIT_MESSAGE + "…")
        told = True
        time.sleep(POLL_S)

    tlock = _thread_lock(path)
    while not tlock.acquire(timeout=POLL_S):
        wait_step()
    fd = None
    locked = False
    try:
        fd, writable = _open_lock(path)
        while fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                wait_step()
        locked = True
        if writable:
            _write_holder(fd, what)
        yield path
    finally:
        if fd is not None:
            if locked and writable:
                try:
                    os.ftruncate(fd, 0)  # no stale "who holds it" line once released
                except OSError:
                    pass
            os.close(fd)  # closing the descriptor releases the flock
        tlock.release()


def _open_lock(path: Path) -> tuple[int, bool]:
    """The lock file's descriptor (a regular file, never through a link) and whether it can be written."""
    # O_NOFOLLOW: a lock file planted as a link must not let the holder line truncate its target.
    base = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    writable = True
    try:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | base, 0o666)
        except PermissionError:  # another user's lock file in a shared folder: lock it read-only
            fd, writable = os.open(path, os.O_RDONLY | base), False
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(f"{path}: the host lock is a symbolic link; refused (move it away)") from None
        raise UserError(f"{path}: cannot open the host lock file ({e.strerror or e})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UserError(f"{path}: the host lock must be a regular file; move it away")
    if writable and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != 0o666:
        try:
            os.fchmod(fd, 0o666)  # the umask took write access away: other users must be able to lock it too
        except OSError:
            pass
    return fd, writable


def _write_holder(fd: int, what: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    line = f"{what}, pid {os.getpid()}, since {stamp}\n"
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, line.encode(errors="replace"), 0)
    except OSError:
        pass  # the holder line is a courtesy; the lock itself is what matters
