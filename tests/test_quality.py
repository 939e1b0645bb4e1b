"""The quality verdict: simulated load figures and sample sets in, a verdict with its reasons and figures out."""

import pytest

from explorer.measure import quality
from explorer.measure.quality import CpuSnapshot, judge, load_between

STEADY = [10.0, 10.1, 9.9, 10.0, 10.05, 9.95, 10.0, 10.1, 9.9, 10.0] * 3  # IQR ~1 % of the median


def load(other, steal=0.0):
    return {"window_s": 2.0, "own_cpu_cores": 1.9, "other_cpu_cores": other, "steal_cores": steal}


def test_a_quiet_host_with_steady_samples_is_ok():
    q = judge(STEADY, threads=2, cores=2, load=load(0.02))
    assert q["verdict"] == "ok" and q["reasons"] == []
    assert q["dispersion"] < 0.05 and q["median_ci95_pct"] < 1 and q["other_cpu_cores"] == 0.02
    assert q["samples"] == 30 and q["threads"] == 2 and q["cores"] == 2


@pytest.mark.parametrize(
    "threads, cores, other, steal, noisy",
    [
        (2, 2, 0.13, 0.0, True),  # every core is needed: a browser redrawing a progress bar took this much
        (2, 2, 0.08, 0.0, False),  # within the tolerance
        (2, 2, 0.05, 0.2, True),  # VM steal counts as load too
        (1, 2, 1.0, 0.0, False),  # one thread on two cores: a whole spare core for the others
        (1, 2, 1.2, 0.0, True),
        (4, 4, 2.0, 0.0, True),
    ],
)
def test_other_load_is_judged_against_the_cores_the_threads_leave_free(threads, cores, other, steal, noisy):
    q = judge(STEADY, threads=threads, cores=cores, load=load(other, steal))
    assert (q["verdict"] == "noisy") is noisy
    assert any("other processes used" in r for r in q["reasons"]) is noisy
    assert q["tolerated_other_cores"] == pytest.approx(max(0, cores - threads) + quality.SPARE_LOAD_CORES)


def test_wide_spread_and_an_uncertain_median_are_reasons():
    bimodal = [10.0] * 15 + [20.0] * 15
    q = judge(bimodal, threads=1, cores=2, load=load(0.0))
    assert q["verdict"] == "noisy"
    assert any("spread widely" in r for r in q["reasons"])
    assert any("uncertain" in r for r in q["reasons"])
    assert q["dispersion"] == pytest.approx(10 / 15)  # IQR 10 ms around a 15 ms median


def test_too_few_samples_and_oversubscribed_threads_are_reasons():
    q = judge([10.0, 10.0], threads=1, cores=2, load=load(0.0))
    assert q["verdict"] == "noisy" and any("only 2 timed samples" in r for r in q["reasons"])
    q = judge(STEADY, threads=4, cores=2, load=load(0.0))
    assert any("oversubscribed" in r for r in q["reasons"])


def test_unobserved_load_is_said_not_guessed():
    q = judge(STEADY, threads=1, cores=2, load=load(None))
    assert q["verdict"] == "ok" and "not observed" in q["load_note"]


def test_load_between_subtracts_our_own_cpu_time():
    before = CpuSnapshot(busy_s=100.0, steal_s=5.0, own_s=10.0)
    after = CpuSnapshot(busy_s=104.0, steal_s=5.5, own_s=12.0)  # 4 busy core-seconds in 2 s, 2 of them ours
    got = load_between(before, after, 2.0)
    assert got["own_cpu_cores"] == pytest.approx(1.0)
    assert got["steal_cores"] == pytest.approx(0.25)
    assert 0.9 < got["other_cpu_cores"] <= 1.0  # 1 core of others, less the tick-rounding allowance


def test_the_real_snapshot_reads_this_machine():
    snap = quality.cpu_snapshot()
    assert snap.own_s >= 0
    assert snap.busy_s is None or snap.busy_s > 0


def test_the_median_interval_is_deterministic_and_brackets_the_median():
    lo, hi = quality.median_interval(STEADY)
    assert (lo, hi) == quality.median_interval(STEADY)
    assert lo <= 10.0 <= hi


@pytest.mark.parametrize(
    "result, verdict, trusted",
    [
        ({"quality": {"verdict": "ok", "reasons": []}}, "ok", True),
        ({"quality": {"verdict": "noisy", "reasons": ["x"]}}, "noisy", False),
        ({"median_ms": 3.0}, "unchecked", False),  # stored before verdicts existed
        ({"quality": "garbage"}, "unchecked", False),
        (None, "unchecked", False),
    ],
)
def test_verdict_helpers_for_pages_and_charts(result, verdict, trusted):
    assert quality.verdict(result) == verdict
    assert quality.is_trusted(result) is trusted
    assert (quality.warning_line(result or {}) == "") is trusted


def _result(ms, verdict="ok"):
    return {"median_ms": ms, "quality": {"verdict": verdict, "reasons": [] if verdict == "ok" else ["x"]}}


def test_history_turns_a_clean_looking_outlier_noisy():
    earlier = [_result(3.8), _result(3.9), _result(3.7), _result(9.0, "noisy")]  # the noisy one never counts
    judged = quality.consistency(_result(6.5), earlier)
    assert judged["quality"]["verdict"] == "noisy"
    assert judged["quality"]["history"]["reference_ms"] == 3.8 and judged["quality"]["history"]["earlier"] == 3
    assert any("+71 % against this host's last 3 clean measurements" in r for r in judged["quality"]["reasons"])


def test_history_agrees_or_is_too_short_to_judge():
    assert quality.consistency(_result(3.9), [_result(3.8), _result(3.7)])["quality"]["verdict"] == "ok"
    short = quality.consistency(_result(9.9), [_result(3.8), _result(3.7, "noisy")])
    assert short["quality"]["verdict"] == "ok" and "too few" in short["quality"]["history"]["note"]
