"""A host lock held by another thread, for tests of waiting, timing out and cancelling."""

import threading
from contextlib import contextmanager

from explorer.measure.hostlock import host_lock


@contextmanager
def lock_held_elsewhere(what: str = "someone else", hold_s: float = 10.0):
    """Another thread takes the host lock and keeps it for hold_s seconds or until the block ends."""
    held, release = threading.Event(), threading.Event()

    def hold():
        with host_lock(what, timeout=5):
            held.set()
            release.wait(hold_s)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    try:
        yield
    finally:
        release.set()
        t.join()
