"""The measurement service: one job type, one worker, one wire format, one cancel policy, one verdict.

Most tests drive the service with a scripted worker (tests/_fake_worker.py), so every outcome is exact; the
real worker is run where the test is about it (memory, the protocol), and skips, saying why, on a noisy host.
"""

import json
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from tiny_design import TINY

from explorer.cli.main import main
from explorer.design.presets import get_preset
from explorer.design.spec import parse_design
from explorer.errors import UserError
from explorer.measure import service
from explorer.measure.hostlock import Cancelled, host_lock
from explorer.measure.job import PAST_DEADLINE, MeasureJob
from explorer.measure.memory import check_memory, estimate_bytes
from explorer.measure.service import Background, MeasureRun, WorkerFailed
from explorer.measure.target import Target
from explorer.store.results import ResultStore

FAKE = Path(__file__).resolve().parent / "_fake_worker.py"


def fake(mode: str) -> tuple[str, ...]:
    return (sys.executable, str(FAKE), mode)


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "results.sqlite")


def job_of(*designs, **options) -> MeasureJob:
    return MeasureJob(list(designs), Target("torch", "cpu", 1, 1), **options)


def test_results_come_back_in_order_stored_with_what_ran(tiny, store):
    other = get_preset("SM_V2")
    outcomes = list(MeasureRun(job_of(tiny, other, purpose="search"), store=store, command=fake("ok")))
    assert [m.design.name for m in outcomes] == ["tiny", "SM_V2"]
    assert [m.error for m in outcomes] == [None, None]
    rows = store.latencies()
    assert len(rows) == 2 and {r["id"] for r in rows} == {m.stored_id for m in outcomes}
    assert all(r["protocol"] == "fake worker; search" for r in rows)  # the row says who measured it


def test_the_history_check_turns_a_far_result_noisy_and_only_when_asked(tiny, store):
    clean_fast = {
        "backend": "torch",
        "device": "cpu",
        "batch": 1,
        "threads": 1,
        "input_size": 32,
        "median_ms": 1e-6,
        "device_name": "fake CPU",
        "quality": {"verdict": "ok", "reasons": []},
    }
    for _ in range(3):
        store.add_latency(tiny, clean_fast)
    (judged,) = MeasureRun(job_of(tiny), store=store, command=fake("ok"))
    assert judged.result["quality"]["verdict"] == "noisy" and judged.result["quality"]["history"]["earlier"] == 3
    assert "against this host's last 3 clean measurements" in judged.result["quality"]["reasons"][-1]
    (unjudged,) = MeasureRun(job_of(tiny, history=False), store=store, command=fake("ok"))
    assert unjudged.result["quality"]["verdict"] == "ok"
    assert unjudged.result["quality"]["history"] == {"note": "not checked (the job did not ask)"}


def test_exact_accept_and_reject_outcomes(tiny):
    designs = [tiny, get_preset("SM_V2"), get_preset("MobileNet V2")]
    outcomes = list(MeasureRun(job_of(*designs), command=fake("noisy-odd")))
    assert [m.trusted for m in outcomes] == [True, False, True]
    assert [m.result["quality"]["verdict"] for m in outcomes] == ["ok", "noisy", "ok"]


def test_a_refused_design_is_its_own_error_and_the_others_are_measured(tiny):
    outcomes = list(MeasureRun(job_of(tiny, get_preset("SM_V2")), command=fake("error-first")))
    assert [(m.error, m.result is None) for m in outcomes] == [("refused by the fake worker", True), (None, False)]


def test_a_design_the_worker_never_answered_for_is_said_not_dropped(tiny):
    outcomes = list(MeasureRun(job_of(tiny, get_preset("SM_V2")), command=fake("first-only")))
    assert [m.index for m in outcomes] == [0, 1]
    assert outcomes[0].result is not None and outcomes[0].error is None
    assert outcomes[1].error == "not measured: the worker ended without a result for it"


def test_the_real_worker_says_which_designs_the_deadline_left_unmeasured(tiny):
    job = job_of(tiny, get_preset("SM_V2"), budget_s=0.2, wait_for_fast_state=False, stop_at=time.time())
    outcomes = list(MeasureRun(job))
    assert [m.index for m in outcomes] == [0, 1]
    assert outcomes[0].result is not None  # the first design always runs: a job never measures nothing
    assert outcomes[1].error == PAST_DEADLINE and outcomes[1].result is None


@pytest.mark.parametrize(
    "mode, message",
    [
        ("die", "the measurement worker failed (exit status 3): boom: the fake worker crashed"),
        ("garbage", "the measurement worker printed something that is not a result: 'this is not an event'"),
        ("kill", "the measurement worker was killed (SIGKILL) before it finished"),
    ],
)
def test_a_worker_that_dies_prints_garbage_or_is_killed_is_one_clear_line(tiny, mode, message):
    with pytest.raises(WorkerFailed) as e:
        list(MeasureRun(job_of(tiny), command=fake(mode)))
    assert str(e.value) == message


@pytest.mark.parametrize("purpose, said", [("app", "measurement cancelled"), ("search", "search cancelled")])
def test_cancel_escalates_to_sigkill_and_names_the_job(tiny, purpose, said):
    bg = Background(MeasureRun(job_of(tiny, purpose=purpose), command=fake("hang"))).start()
    while not bg.progress_events():  # the worker is up and has spoken
        time.sleep(0.02)
    bg.cancel()
    assert not bg.running()
    assert bg.run.worker.proc.returncode == -signal.SIGKILL  # it ignored SIGTERM: the grace ran out
    assert isinstance(bg.error, Cancelled) and str(bg.error) == said


def test_a_job_reports_every_problem_at_once(tiny):
    with pytest.raises(UserError) as e:
        job_of(tiny, budget_s=0.0, retries=9).check()
    lines = str(e.value).splitlines()
    assert len(lines) == 2 and lines[0].startswith("the budget must be") and lines[1].startswith("retries must be")
    with pytest.raises(UserError, match="torch backend"):
        MeasureJob([tiny], Target("onnxruntime", "cpu", 1, 1), per_layer=True).check()


def test_a_batch_beyond_memory_is_refused_with_the_estimate_and_the_limit():
    design = get_preset("MobileNet V2")
    need = estimate_bytes(design, 1024, "torch")
    with pytest.raises(UserError) as e:
        check_memory(design, 1024, "torch", limit=need - 1)
    line = str(e.value)
    assert "batch 1024 of MobileNet V2 at 224 px needs about" in line and "the limit here is" in line
    assert check_memory(design, 1024, "torch", limit=need) == need
    assert estimate_bytes(design, 64, "onnxruntime") > estimate_bytes(design, 64, "torch")


def test_the_memory_estimate_is_within_1_5x_of_a_worker_s_real_peak():
    """The worker reports its ru_maxrss; two designs large enough that activations dominate."""
    sm = parse_design({**get_preset("SM_V2").to_dict(), "input_size": 128})
    mb = parse_design({**get_preset("MobileNet V2").to_dict(), "input_size": 160})
    for design, batch in ((sm, 64), (mb, 16)):
        job = MeasureJob([design], Target("torch", "cpu", 1, batch), budget_s=0.05, min_runs=1, history=False)
        (m,) = MeasureRun(job)
        memory = m.result["memory"]
        ratio = memory["estimate_bytes"] / memory["peak_rss_bytes"]
        assert 1 / 1.5 <= ratio <= 1.5, (design.name, batch, memory)


def test_a_worker_s_peak_is_its_own_not_its_parent_s(tiny):
    """Linux keeps ru_maxrss across exec: a worker started by a large process (a test run, the app's server)
    would report the parent's size as its own peak."""
    ballast = bytearray(b"\x01") * (1200 * 2**20)  # 1.2 GiB, every page touched, in this (the parent) process
    (m,) = MeasureRun(job_of(tiny, budget_s=0.05, min_runs=1, history=False))
    assert len(ballast) and m.result["memory"]["peak_rss_bytes"] < 1000 * 2**20


def test_the_real_worker_records_the_protocol_and_options_that_ran(tiny, store):
    job = job_of(tiny, budget_s=0.2, wait_for_fast_state=False, retries=1, purpose="calibration", history=False)
    (m,) = MeasureRun(job, store=store)
    r = m.result
    assert r["measured_by"] == {
        "purpose": "calibration",
        "wait_for_fast_state": False,
        "history": False,
        "retries": 1,
        "tries": m.tries,
    }
    assert "measurement service for calibration: a fresh worker process; no fast-state wait" in r["protocol"]
    (row,) = store.latencies()
    assert row["protocol"] == r["protocol"] and row["id"] == m.stored_id
    if r["quality"]["verdict"] != "ok":
        pytest.skip(f"host noisy, the verdict cannot be checked as ok: {'; '.join(r['quality']['reasons'])}")
    assert m.tries == 1 and r["median_ms"] > 0


def test_a_store_that_fails_at_the_end_keeps_the_result_and_names_the_cause(tiny, store, monkeypatch, capsys):
    def full(*_args, **_kw):
        raise UserError(f"{store.path}: not a readable results store (database or disk is full)")

    monkeypatch.setattr(ResultStore, "add_latency", full)
    (m,) = MeasureRun(job_of(tiny), store=store, command=fake("ok"))
    assert m.result["median_ms"] > 0 and m.stored_id is None
    assert m.store_error == f"{store.path}: not stored: the disk is full"
    monkeypatch.setattr(service, "WORKER_COMMAND", fake("ok"))
    spec = store.path.parent / "tiny.json"
    spec.write_text(json.dumps(TINY))
    assert main(["bench", "--spec", str(spec), "--threads", "1", "--store", str(store.path), "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["median_ms"] > 0  # the result is printed all the same
    assert captured.err.strip().splitlines() == [f"error: {store.path}: not stored: the disk is full"]


def test_a_locked_store_is_refused_before_any_work(tiny, store, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(service, "WORKER_COMMAND", fake("die"))  # would fail loudly if it were started
    spec = tmp_path / "tiny.json"
    spec.write_text(json.dumps(TINY))
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert main(["bench", "--spec", str(spec), "--threads", "1", "--store", str(store.path)]) == 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert err.strip() == f"error: {store.path}: the results store cannot be written now: locked by another program"


def test_without_a_terminal_waiting_for_the_host_is_said_once_on_stderr(tmp_path):
    import os
    import subprocess

    spec = tmp_path / "tiny.json"
    spec.write_text(json.dumps(TINY))
    lock = tmp_path / "host.lock"
    env = {**os.environ, "EXPLORER_HOST_LOCK": str(lock), "EXPLORER_DATA_DIR": str(tmp_path / "d")}
    cmd = [sys.executable, "-m", "explorer", "bench", "--spec", str(spec), "--threads", "1", "--budget", "0.05"]
    with host_lock("a measurement in the test", timeout=0, path=lock):
        child = subprocess.Popen([*cmd, "--no-store"], env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
        first = child.stderr.readline().decode()  # blocks until the child says something: it must be the wait
    out, rest = child.communicate(timeout=120)
    assert child.returncode == 0, rest
    assert first.startswith("waiting for another measurement on this host to finish (a measurement in the test")
    assert "waiting for another" not in rest.decode()  # once


def test_a_cancelled_calibration_ends_its_worker_and_says_calibration(monkeypatch):
    from explorer.predict.calibrate import calibrate

    monkeypatch.setattr(service, "WORKER_COMMAND", fake("hang"))  # a worker that would never finish
    cancel = __import__("threading").Event()
    started = []

    def progress(fraction, message):
        if message.endswith("fake: starting"):  # the worker is up: now the user presses Cancel
            started.append(message)
            cancel.set()

    with pytest.raises(Cancelled, match="^calibration cancelled$"):
        calibrate("torch", "cpu", threads=1, seconds=10, progress=progress, cancel=cancel)
    assert len(started) == 1
