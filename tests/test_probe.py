"""The host-state probe: a shared VM's slow state is seen, waited out before timing, and named in the verdict."""

import json

import pytest

from explorer.measure import probe, quality
from explorer.measure.timing import time_callable


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path))
    return tmp_path


def test_slow_state_is_a_probe_well_above_the_fastest():
    assert probe.slow_state(0.61, 0.37)
    assert not probe.slow_state(0.40, 0.37)
    assert not probe.slow_state(None, 0.37) and not probe.slow_state(0.61, None)


def test_the_reference_is_a_low_percentile_of_the_hosts_own_record(data_dir):
    assert probe.reference_ms(2) is None
    probe.record(2, [0.37] * 30 + [0.61] * 30 + [0.05])  # one absurdly fast probe must not set the bar
    assert probe.reference_ms(2) == pytest.approx(0.37)
    assert probe.reference_ms(1) is None  # per thread count
    probe.record(2, [0.5] * (probe.LOG_KEEP + 10))
    kept = json.loads((data_dir / probe.LOG_NAME).read_text())["2"]
    assert len(kept) == probe.LOG_KEEP and set(kept) == {0.5}


@pytest.mark.parametrize("absurd", [1e-9, 0.0, -3.0, 1e12, True, "0.001", None])
def test_one_impossible_value_in_the_record_is_ignored(data_dir, absurd):
    """One absurd entry (hand-edited, damaged) must not become the bar every later bench waits 15 s for."""
    (data_dir / probe.LOG_NAME).write_text(json.dumps({"2": [absurd, 0.4, 0.41, 0.42]}))
    assert probe.reference_ms(2) == pytest.approx(0.4)
    (data_dir / probe.LOG_NAME).write_text(json.dumps({"2": [absurd]}))
    assert probe.reference_ms(2) is None  # nothing plausible: no reference, no wait
    (data_dir / probe.LOG_NAME).write_text(json.dumps({"2": absurd}))  # not even a list
    assert probe.reference_ms(2) is None


def test_a_damaged_record_is_ignored_and_rewritten(data_dir):
    (data_dir / probe.LOG_NAME).write_text("{not json")
    assert probe.reference_ms(2) is None
    probe.record(2, [0.4, 0.41])
    assert probe.reference_ms(2) == pytest.approx(0.4)


def fake_probe(values):
    calls = []

    def run(threads):
        calls.append(threads)
        return values[min(len(calls) - 1, len(values) - 1)]

    return run, calls


def test_waiting_for_the_fast_state_stops_as_soon_as_it_comes(monkeypatch):
    monkeypatch.setattr(probe.time, "sleep", lambda s: None)
    run, calls = fake_probe([0.6, 0.62, 0.38, 0.6])
    messages = []
    current, _, count = probe.wait_for_fast_state(
        2, 0.37, 60.0, lambda f, m: messages.append(m), lambda: None, probe=run
    )
    assert (current, count, len(calls)) == (0.38, 3, 3)
    assert len(messages) == 2 and all("waiting for the host's fast state" in m for m in messages)


def test_no_waiting_without_a_reference_or_a_wait():
    run, calls = fake_probe([0.6])
    assert probe.wait_for_fast_state(2, None, 60.0, lambda f, m: None, lambda: None, probe=run)[2] == 1
    assert probe.wait_for_fast_state(2, 0.3, 0.0, lambda f, m: None, lambda: None, probe=run)[2] == 1


def timed(monkeypatch, probes, reference=None, wait=5.0):
    monkeypatch.setattr(probe.time, "sleep", lambda s: None)
    run, calls = fake_probe(probes)
    monkeypatch.setattr(probe, "probe_ms", run)
    monkeypatch.setattr(probe, "reference_ms", lambda threads: reference)
    recorded = []
    monkeypatch.setattr(probe, "record", lambda threads, values: recorded.append(values))
    result = time_callable(
        lambda: sum(range(2000)),
        device="cpu",
        threads=1,
        budget_s=0.1,
        min_runs=5,
        warmup=2,
        deadline=float("inf"),
        state_wait_s=wait,
    )
    return result["quality"], calls, recorded


def test_a_measurement_that_ends_in_the_slow_state_is_noisy_and_says_why(monkeypatch):
    q, calls, recorded = timed(monkeypatch, [0.37, 0.62, 0.61], reference=0.37)
    assert len(calls) == 3  # before; after; after again, since one slow probe is not yet a state
    assert q["verdict"] == "noisy"
    assert any("slow state" in r and "1.6x this host's best" in r for r in q["reasons"])
    assert q["probe_ratio"] == pytest.approx(0.61 / 0.37) and recorded == [[0.37, 0.61]]


def test_a_slow_start_is_waited_out_and_the_result_is_clean(monkeypatch):
    q, calls, _ = timed(monkeypatch, [0.62, 0.61, 0.38, 0.38], reference=0.37)
    assert len(calls) == 4  # two slow probes, the fast one the timing starts after, the one after it
    assert q["probe_before_ms"] == 0.38 and q["probes"] == 4
    assert not any("slow state" in r for r in q["reasons"])


def test_without_a_record_the_two_probes_are_compared_with_each_other(monkeypatch):
    q, _, _ = timed(monkeypatch, [0.37, 0.62, 0.62], reference=None)
    assert q["probe_reference"] == "the faster of the two probes"
    assert any("1.7x the other" in r for r in q["reasons"])


def test_no_probe_unless_asked(monkeypatch):
    q, calls, recorded = timed(monkeypatch, [0.6], wait=None)
    assert calls == [] and recorded == [] and "probe_ratio" not in q


def test_a_small_probe_difference_is_not_a_slow_state():
    state = probe.state_figures(0.37, 0.41, 0.37, 0.0, 2)
    verdict = quality.judge([1.0] * 20, threads=1, cores=2, load=None, state=state)
    assert verdict["verdict"] == "ok" and verdict["probe_ratio"] == pytest.approx(0.41 / 0.37)
