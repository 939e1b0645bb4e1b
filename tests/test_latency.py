"""The measurement protocol: warm-up excluded, threads applied and restored, samples kept, budget kept."""

import json
import math
import threading
import time

import pytest
import torch
from _lockholder import lock_held_elsewhere

import explorer.model.build
from explorer.design.cost import compute_cost
from explorer.errors import UserError
from explorer.measure import latency, latency_ort
from explorer.measure.hostinfo import physical_cores
from explorer.measure.hostlock import Cancelled, HostBusy, host_lock
from explorer.measure.latency import available_devices, host_info, measure
from explorer.measure.layer_latency import layer_breakdown
from explorer.measure.timing import time_callable

FAST = dict(budget_s=0.1, min_runs=5)


def timing_args(**kw):
    args = dict(device="cpu", threads=1, budget_s=0.1, min_runs=5, warmup=None, deadline=time.monotonic() + 30)
    args.update(kw)
    return args


def test_result_fields_and_samples_kept(tiny):
    r = measure(tiny, **FAST)
    assert r.runs >= len(r.samples_ms) >= 1 and r.block_size >= 1
    assert r.p10_ms <= r.median_ms <= r.p90_ms and r.iqr_ms >= 0
    assert r.median_ms == pytest.approx(sorted(r.samples_ms)[len(r.samples_ms) // 2], rel=0.5)
    assert (r.backend, r.device, r.batch, r.input_size, r.channels_last) == ("torch", "cpu", 1, 32, False)
    assert r.design_hash == tiny.network_hash() and r.versions["torch"] == torch.__version__
    assert r.warmup_runs >= 3 and "warm-up runs excluded" in r.protocol and "inference_mode" in r.protocol
    assert r.device_name and r.timestamp
    d = json.loads(json.dumps(r.to_dict()))
    assert d["samples_ms"] == r.samples_ms and d["median_ms"] == r.median_ms


def test_warmup_runs_are_excluded():
    calls = []

    def fn():  # the first three calls are slow, like ORT's kernel search
        calls.append(1)
        time.sleep(0.2 if len(calls) <= 3 else 0.002)

    out = time_callable(fn, **timing_args(warmup=3))
    assert out["warmup_runs"] == 3
    assert max(out["samples_ms"]) < 100  # not one of the 200 ms calls was timed
    assert len(calls) == 3 + out["runs"]  # every call is either warm-up or timed: none is lost or double-counted


def test_automatic_warmup_lasts_a_share_of_the_budget():
    out = time_callable(lambda: time.sleep(0.001), **timing_args(budget_s=0.5))
    assert out["warmup_runs"] >= 3
    assert out["warmup_s"] >= 0.2 * 0.5  # the warm-up loop runs until 20 % of the budget is spent


def test_thread_count_applied_inside_and_restored(tiny, monkeypatch):
    seen = []
    real_build = explorer.model.build.build_model

    def recording_build(design):
        model = real_build(design)
        model.register_forward_pre_hook(
            lambda m, inp: seen.append((torch.get_num_threads(), torch.is_inference_mode_enabled(), m.training))
        )
        return model

    monkeypatch.setattr(explorer.model.build, "build_model", recording_build)
    prior = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = measure(tiny, threads=3, **FAST)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(prior)
    assert r.threads == 3 and "3 threads" in r.protocol
    assert set(seen) == {(3, True, False)}  # every call: 3 threads, inference mode, eval
    assert len(seen) >= r.runs + r.warmup_runs


def test_threads_restored_after_cancel():
    prior = torch.get_num_threads()
    torch.set_num_threads(1)
    cancel, calls = threading.Event(), []

    def fn():
        calls.append(1)
        time.sleep(0.001)
        if len(calls) == 20:
            cancel.set()

    try:
        with pytest.raises(Cancelled):
            time_callable(fn, **timing_args(threads=2, budget_s=5, cancel=cancel))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(prior)
    assert len(calls) < 200  # stopped soon after the request, long before the 5 s budget


def test_default_threads_are_all_physical_cores(tiny):
    r = measure(tiny, **FAST)
    assert r.threads == physical_cores()
    assert f"all {physical_cores()} physical cores" in r.protocol


class FakeClock:
    """The timer's clock, advanced only by the timed function: exact times, whatever the host's load."""

    def __init__(self):
        self.t = 1024.0  # a power of two: sums of 2**-10 s steps stay exact

    def perf_counter(self) -> float:
        return self.t

    monotonic = perf_counter

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_budget_holds_and_is_never_extended_for_min_runs(monkeypatch):
    from explorer.measure import timing

    clock = FakeClock()
    monkeypatch.setattr(timing, "time", clock)
    step = 2**-10  # about 1 ms per run: blocks of 16 runs (the 15 ms block target), 2**-6 s each
    out = time_callable(lambda: clock.sleep(step), **timing_args(budget_s=0.3, deadline=clock.t + 30))
    # timing ends with the first block that crosses the budget: 20 blocks, 0.3125 s, never more
    assert (out["stopped"], out["block_size"], len(out["samples_ms"]), out["runs"]) == ("budget", 16, 20, 320)
    assert out["timed_s"] == 0.3125 and out["samples_ms"] == [step * 1000] * 20
    # 30 ms runs, a 50 ms budget: two runs fit, and the budget is not stretched to reach min_runs 6 ...
    out = time_callable(lambda: clock.sleep(0.03), **timing_args(budget_s=0.05, min_runs=6, deadline=clock.t + 30))
    assert (out["runs"], out["stopped"], out["block_size"]) == (2, "budget", 1)
    assert out["samples_ms"] == pytest.approx([30.0, 30.0])
    # ... and the verdict says so: too few samples to judge
    assert out["quality"]["verdict"] == "noisy"
    assert any("timed samples" in r for r in out["quality"]["reasons"])


def test_timing_stops_early_once_the_median_is_tight(monkeypatch):
    from explorer.measure import timing

    monkeypatch.setattr(timing.quality, "median_interval", lambda samples, resamples=100: (0.999, 1.001))
    monkeypatch.setattr(timing, "median", lambda values: 1.0)
    out = time_callable(lambda: None, **timing_args(budget_s=10, min_runs=5))
    assert out["stopped"] == "median tight" and out["runs"] >= 5
    assert len(out["samples_ms"]) >= timing.EARLY_STOP_SAMPLES


def test_time_cap_stops_a_long_measurement():
    out = time_callable(
        lambda: time.sleep(0.05), **timing_args(budget_s=30, min_runs=1000, deadline=time.monotonic() + 0.5)
    )
    assert out["stopped"] == "time cap"
    assert len(out["samples_ms"]) < 1000


def test_every_result_carries_a_quality_verdict_and_says_where_the_time_went(tiny):
    r = measure(tiny, **FAST)
    q = r.quality
    assert q["verdict"] in ("ok", "noisy") and isinstance(q["reasons"], list)
    assert (q["verdict"] == "ok") == (q["reasons"] == [])
    assert {"dispersion", "median_ci95_pct", "samples", "threads", "cores", "other_cpu_cores"} <= set(q)
    assert r.to_dict()["quality"] == q
    assert "set-up" in r.protocol and "warm-up" in r.protocol and "budget" in r.protocol
    assert r.total_s >= r.warmup_s + r.timed_s


def test_a_busy_host_makes_the_result_noisy(tiny, monkeypatch):
    from explorer.measure import quality

    def busy(before, after, window_s):  # two other processes' worth of CPU during the timed window
        return {"window_s": window_s, "own_cpu_cores": 1.0, "other_cpu_cores": 1.9, "steal_cores": 0.0}

    monkeypatch.setattr(quality, "load_between", busy)
    r = measure(tiny, threads=2, **FAST)
    assert r.quality["verdict"] == "noisy"
    assert any("other processes used 1.90 of" in why for why in r.quality["reasons"])


def test_progress_reported(tiny):
    seen = []
    measure(tiny, progress=lambda f, m: seen.append((f, m)), **FAST)
    assert all(0.0 <= f <= 1.0 for f, _ in seen)
    assert seen[-1] == (1.0, "done") and any("warming up" in m for _, m in seen)


def test_batch_channels_last_input_size(tiny):
    r = measure(tiny, batch=2, channels_last=True, input_size=48, **FAST)
    assert r.per_image_ms == pytest.approx(r.median_ms / 2)
    assert (r.batch, r.input_size, r.channels_last) == (2, 48, True) and "channels-last" in r.protocol
    assert r.design_hash == tiny.network_hash()


def test_onnxruntime_backend(tiny):
    r = measure(tiny, backend="onnxruntime", threads=1, **FAST)
    assert r.backend == "onnxruntime" and r.runs >= 1 and r.median_ms > 0
    assert "opset 17" in r.protocol and "intra_op_num_threads=1" in r.protocol
    assert r.versions["onnxruntime"]


def test_ort_session_threads_are_set(tiny):
    model = explorer.model.build.build_model(tiny).eval()
    x = latency.example_input(tiny, 1, "cpu", False)
    onnx_bytes, exporter = latency_ort.export_onnx(model, x)
    assert "opset 17" in exporter
    sess = latency_ort.ort_session(onnx_bytes, "cpu", 3)
    assert sess.get_session_options().intra_op_num_threads == 3
    out = latency_ort.ort_runner(sess, x, "cpu")()[0]
    assert torch.allclose(torch.from_numpy(out), model(x), atol=1e-4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this host has a GPU")
def test_cuda_without_gpu_is_a_clear_error(tiny):
    msg = "CUDA requested but torch.cuda.is_available() is False on this host; available devices: cpu"
    for backend in ("torch", "onnxruntime"):
        with pytest.raises(UserError) as e:
            measure(tiny, backend=backend, device="cuda")
        assert str(e.value).startswith(msg)
    with pytest.raises(UserError, match="CUDA requested"):
        layer_breakdown(tiny, device="cuda")


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"batch": 0}, "batch must be"),
        ({"threads": 0}, "threads must be"),
        ({"budget_s": 0}, "budget must be"),
        ({"budget_s": 1000}, "budget must be"),
        ({"min_runs": 0}, "min_runs must be"),
        ({"input_size": 4}, "input_size: must be from 8"),
        ({"backend": "tensorflow"}, "unknown backend"),
        ({"device": "tpu"}, "unknown device"),
        ({"backend": "onnxruntime", "channels_last": True}, "channels-last"),
        ({"batch": 1024, "input_size": 1024}, "needs about .* of memory to measure \\(estimate\\); the limit here is"),
    ],
)
def test_bad_arguments(tiny, kw, match):
    with pytest.raises(UserError, match=match):
        measure(tiny, **kw)


def test_input_below_the_total_stride_is_refused():
    from explorer.design.presets import get_preset

    with pytest.raises(UserError, match="input_size: must be at least the total stride 32"):
        measure(get_preset("SM_V2"), input_size=16)


def test_measure_holds_the_host_lock(tiny):
    with host_lock("someone else", timeout=1):
        with pytest.raises(HostBusy, match="someone else"):
            measure(tiny, lock_timeout=0, **FAST)
    messages = []
    with lock_held_elsewhere(hold_s=0.3):
        r = measure(tiny, progress=lambda f, m: messages.append(m), **FAST)
    assert messages[0].startswith("waiting for another measurement") and r.runs >= 1


def test_measure_module_uses_the_same_protocol():
    seen = []
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    net.register_forward_pre_hook(lambda m, inp: seen.append((inp[0].shape, torch.is_inference_mode_enabled())))
    net.train()
    r = latency.measure_module(net, "plain conv", input_size=20, batch=2, threads=1, **FAST)
    assert r.design_name == "plain conv" and r.design_hash == "" and r.runs >= 1 and r.input_size == 20
    assert set(seen) == {(torch.Size([2, 3, 20, 20]), True)} and not net.training


def test_host_info():
    info = host_info()
    assert "cpu" in available_devices() and info["devices"] == available_devices()
    assert 1 <= info["physical_cores"] <= info["logical_cores"]
    assert info["cpu"] and info["torch"] == torch.__version__ and info["onnxruntime"]


def test_layer_breakdown_matches_cost_model(tiny):
    bd = layer_breakdown(tiny, threads=1, budget_s=0.4)
    names = [r["name"] for r in bd.layers]
    assert names == [r["name"] for r in compute_cost(tiny).rows()]
    assert sum(n.endswith(".add") for n in names) == 3
    for share in ("time_share", "macs_share", "bytes_share"):
        assert math.isclose(sum(r[share] for r in bd.layers), 1.0, abs_tol=1e-9)
    # an add is its block's time beyond the convs less a block's call overhead: tiny, possibly 0 at this size
    assert all(r["time_ms"] > 0 for r in bd.layers if r["kind"] != "add") and bd.runs >= 5
    assert all(r["time_ms"] >= 0 for r in bd.layers)
    assert bd.layers_total_ms == pytest.approx(sum(r["time_ms"] for r in bd.layers))
    assert bd.within_tolerance == (abs(bd.difference_pct) <= bd.tolerance_pct)
    assert len(set(names)) == len(names)  # each layer timed once, none missing (the cost model's list)
    kinds = {k["kind"]: k for k in bd.by_kind()}
    assert set(kinds) == {"conv", "dwconv", "add", "pool", "linear"}
    assert kinds["add"]["macs_share"] == 0 and kinds["add"]["bytes_share"] > 0
    assert json.loads(json.dumps(bd.to_dict()))["layers"][0]["name"] == "stem"


def test_allocator_is_fixed_and_reported(tiny, monkeypatch):
    import platform

    from explorer.measure import allocator

    r = measure(tiny, **FAST)
    assert r.allocator and r.allocator in r.protocol
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert r.allocator.startswith("glibc malloc with mmap_threshold 256 MiB")
    monkeypatch.setenv("EXPLORER_SYSTEM_MALLOC", "1")
    assert allocator._apply().startswith("system malloc defaults")
