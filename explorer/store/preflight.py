"""Before a long run: can its results be written at all? And when a write fails anyway, why?

`bench`, `calibrate` and `search` spend seconds to minutes measuring; a store (or output folder) that is
read-only, on a full disk or locked by another program must be found before that work, not after it. And
when storing still fails at the end, the message names the real cause (read-only, disk full, locked), while
the caller still prints the result it computed.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from ..errors import UserError, first_line
from ..safeio import check_writable_folder

MIN_FREE_BYTES = 4 * 2**20  # a latency row with its samples is a few KB; SQLite's journal wants room too
LOCK_CHECK_TIMEOUT_S = 2.0


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _existing_folder(path: Path) -> Path:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_folder_writable(folder: str | os.PathLike, what: str = "output folder") -> None:
    """The folder (or its nearest existing parent) accepts a new file and has room: one-line UserError."""
    folder = Path(folder).expanduser()
    probe = folder if folder.is_dir() else _existing_folder(folder / "x")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{folder}: the {what} is read-only for this user; choose another place")
    check_writable_folder(probe, what)
    free = free_bytes(probe)
    if free is not None and free < MIN_FREE_BYTES:
        raise UserError(f"{folder}: the disk holding the {what} is full ({free // 1024} KiB free)")


def check_store_writable(path: str | os.PathLike) -> None:
    """The results store can take a row now: its folder and file writable, room on the disk, not locked."""
    path = Path(path).expanduser()
    check_folder_writable(path.parent, "results store's folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{path}: the results store is read-only for this user; choose another --store")
    if not path.exists():
        return  # created on first write, in the folder just checked
    try:
        con = sqlite3.connect(path, timeout=LOCK_CHECK_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as e:
        raise UserError(f"{path}: cannot open the results store ({first_line(e)})") from None
    try:
        con.execute("BEGIN IMMEDIATE")  # takes the write lock, as storing a row will
        con.execute("ROLLBACK")
    except sqlite3.OperationalError as e:
        raise UserError(f"{path}: the results store cannot be written now: {_cause(path, e)}") from None
    finally:
        con.close()


def _cause(path: Path, e: BaseException) -> str:
    text = str(e).lower()
    code = getattr(e, "errno", None)
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text or "read-only" in text:
        return "read-only (no write permission, or a read-only file system)"
    if code == errno.ENOSPC or "disk is full" in text or "no space" in text:
        return "the disk is full"
    if "locked" in text or "busy" in text:
        return "locked by another program"
    free = free_bytes(_existing_folder(path))
    if free is not None and free < MIN_FREE_BYTES:
        return "the disk is full"
    if path.exists() and not os.access(path, os.W_OK):
        return "read-only (no write permission)"
    return first_line(e)


def explain_store_failure(path: str | os.PathLike, e: BaseException) -> str:
    """One line for a row that could not be stored at the end: the store, the real cause."""
    return f"{path}: not stored: {_cause(Path(path), e)}"
