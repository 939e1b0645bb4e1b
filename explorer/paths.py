"""Where the explorer keeps its local state, how a typed path is read, and the timestamp beside every record.

Kept apart from the results store: the host lock, checkpoints and latency records need these helpers and
nothing of the store itself.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .errors import UserError
from .fmt import shown

NAME_MAX = 255  # bytes in one file or folder name, on every file system Linux mounts for data
PATH_MAX = 4095  # bytes in a whole path the kernel accepts


def user_path(path: str | os.PathLike, what: str = "path") -> Path:
    """`path` as a Path with a leading `~` or `~user` expanded, the one way every typed path is read.

    A home folder that cannot be found (`~nosuchuser/x`, or `~` without $HOME) is a UserError naming the path,
    never Python's RuntimeError, and the message is the same whatever the reason, so it does not tell
    whether an account exists.
    """
    p = Path(path)
    check_lengths(p, what)
    if not p.parts or not p.parts[0].startswith("~"):
        return p
    try:
        return p.expanduser()
    except RuntimeError:  # pathlib: "Could not determine home directory"
        raise UserError(
            f"{os.fspath(path)}: the {what} starts with {p.parts[0]!r}, a home folder not known here; "
            "give the full path"
        ) from None


def check_lengths(path: Path, what: str = "path") -> None:
    """UserError naming the path (shortened) when a name in it, or the whole, is longer than the file system
    takes: the answer the kernel would give as ENAMETOOLONG, said before any file is touched."""
    whole = len(os.fsencode(path))
    if whole > PATH_MAX:
        raise UserError(f"{shown(path)}: the {what} is {whole:,} bytes long; paths are at most {PATH_MAX:,} bytes")
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    if longest > NAME_MAX:
        raise UserError(
            f"{shown(path)}: a name in the {what} is {longest:,} bytes long; names are at most {NAME_MAX} bytes"
        )


def default_data_dir() -> Path:
    """$EXPLORER_DATA_DIR, else $XDG_DATA_HOME/cnn-explorer, else ~/.local/share/cnn-explorer."""
    env = os.environ.get("EXPLORER_DATA_DIR")
    if env and env.strip():
        return user_path(env, "data folder (EXPLORER_DATA_DIR)")
    if env is not None:  # set but blank: a mistake, not a wish for the current folder
        raise UserError("EXPLORER_DATA_DIR is set but empty; unset it or give a folder")
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg and xdg.strip():
        return user_path(xdg, "data folder (XDG_DATA_HOME)") / "cnn-explorer"
    try:
        home = Path.home()
    except RuntimeError:
        raise UserError("no home folder is known for this account; set EXPLORER_DATA_DIR to a folder") from None
    return home / ".local" / "share" / "cnn-explorer"


def now_iso() -> str:
    """Local time with its UTC offset, so records from different hosts sort and read correctly."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
