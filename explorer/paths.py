"""Where the explorer keeps its local state, and the timestamp written beside every record.

Kept apart from the results store: the host lock, checkpoints and latency records need these two helpers and
nothing of the store itself.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def default_data_dir() -> Path:
    """$EXPLORER_DATA_DIR, else $XDG_DATA_HOME/cnn-explorer, else ~/.local/share/cnn-explorer."""
    env = os.environ.get("EXPLORER_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "cnn-explorer"


def now_iso() -> str:
    """Local time with its UTC offset, so records from different hosts sort and read correctly."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
