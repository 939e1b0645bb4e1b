"""Measurements in a worker process: the `bench` protocol in a fresh interpreter, progress, cancel, errors."""

import time

import pytest
from _lockholder import lock_held_elsewhere

from explorer.errors import UserError
from explorer.measure.hostlock import host_lock
from explorer.measure.process import MeasureProcess, measure_in_worker
from explorer.store.results import ResultStore


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EXPLORER_HOST_LOCK", str(tmp_path / "host.lock"))  # this test's own host lock
    return tmp_path / "data"


def test_a_worker_measures_stores_and_streams_progress(tiny, tmp_path):
    events = []
    store = tmp_path / "store.sqlite"
    out = measure_in_worker(
        tiny, progress=lambda f, m: events.append((f, m)), budget_s=0.2, threads=1, store_path=store, poll_s=0.02
    )
    assert out["design_hash"] == tiny.network_hash() and out["threads"] == 1 and out["median_ms"] > 0
    assert out["quality"]["verdict"] in ("ok", "noisy")
    assert "set-up" in out["protocol"]  # the CLI's own protocol line
    (row,) = ResultStore(store).latencies()
    assert row["id"] == out["stored_id"] and row["median_ms"] == out["median_ms"]
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and events and events[-1] == (1.0, "done")


def test_per_layer_split_comes_back_from_the_worker(tiny):
    out = measure_in_worker(tiny, budget_s=0.1, threads=1, per_layer=True)
    assert out["layers"]["layers"][0]["name"] == "stem" and "whole_ms" in out["layers"]


def test_cancel_ends_the_worker_and_frees_the_host(tiny):
    with MeasureProcess(tiny, budget_s=30, threads=1) as worker:
        while worker.running() and not any(f > 0 for f, _ in worker.progress_events()):
            time.sleep(0.02)  # until the worker holds the lock and is timing
        assert worker.running()
        worker.cancel()
        assert not worker.running()
        with pytest.raises(UserError, match="cancelled"):
            worker.result()
    with host_lock("after the cancel", timeout=0):  # the dead worker's lock is gone: no wait at all
        pass


def test_a_refusal_in_the_worker_is_one_line(tiny):
    with pytest.raises(UserError) as e:
        measure_in_worker(tiny, device="cuda", threads=1)
    assert "CUDA requested" in str(e.value) and "\n" not in str(e.value)


def test_the_worker_waits_for_the_host_lock(tiny):
    messages = []
    with MeasureProcess(tiny, budget_s=0.1, threads=1) as worker:
        with lock_held_elsewhere("someone else", hold_s=120):
            while worker.running() and not messages:
                messages += [m for _, m in worker.progress_events() if m.startswith("waiting")]
                time.sleep(0.02)
            assert "someone else" in messages[0]  # the worker names who it waits for
        out = worker.wait(120)  # the lock is released: the measurement runs
    assert out["median_ms"] > 0 and out["runs"] >= 1
