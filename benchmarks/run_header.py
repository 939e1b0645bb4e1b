"""The first lines of every benchmark's output: when, where, how it was run, and how busy the host was.

A figure without its date, host and command cannot be checked or rerun; one taken on a busy host cannot be
quoted. Benchmarks run as scripts (`python benchmarks/x.py`), which puts this folder on sys.path.
"""

import os
import shlex
import sys
import time

from explorer.measure.hostinfo import host_info

# A 1-minute load average above this share of the cores at the start means other work was running: the run's
# times and rates are then indicative only (ratios measured within the run hold better).
BUSY_LOAD_PER_CORE = 0.25


def command_line() -> str:
    """The command as typed from the checkout's root."""
    script = os.path.relpath(sys.argv[0]) if sys.argv else "?"
    return " ".join(["python", shlex.quote(script), *(shlex.quote(a) for a in sys.argv[1:])])


def load_line(cores: int) -> str:
    one, five, _ = os.getloadavg()
    busy = one > BUSY_LOAD_PER_CORE * cores
    verdict = (
        "BUSY: other work was running, so absolute times are indicative only; rerun on a quiet host to quote them"
        if busy
        else "quiet"
    )
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {cores} logical cores: {verdict}"


def header(title: str) -> str:
    """Title, date, host, versions, command and the host's load, as plain text lines."""
    h = host_info()
    versions = ", ".join(f"{k} {h[k]}" for k in ("explorer", "torch", "onnxruntime", "python") if h.get(k))
    return "\n".join(
        [
            title,
            f"date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
            f"host: {h['cpu']}, {h['physical_cores']} physical / {h['logical_cores']} logical cores, "
            f"GPU: {h['gpu'] or 'none'}; {h['platform']}; {versions}",
            f"command: {command_line()}",
            f"at start: {load_line(h['logical_cores'])}",
        ]
    )


def footer(started: float) -> str:
    h = host_info()
    return f"finished in {time.time() - started:.0f} s; at the end: {load_line(h['logical_cores'])}"
