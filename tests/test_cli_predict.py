"""`python -m explorer calibrate` and `predict`: JSON shape, the stored profile, one-line errors with exit 2."""

import json

import pytest
from scripted_worker import scripted_calibration

from explorer.cli.main import main

LAYER_KEYS = {"name", "predicted_ms", "bound", "compute_ms", "memory_ms", "overhead_ms"}


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EXPLORER_HOST_LOCK", str(tmp_path / "host.lock"))
    return str(tmp_path / "results.sqlite")


def errors(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_predict_without_a_profile_exits_2_naming_the_calibrate_command(capsys, store):
    assert main(["predict", "--preset", "SM_V2", "--threads", "1", "--store", store]) == 2
    lines = errors(capsys)
    assert len(lines) == 1
    assert "python -m explorer calibrate --backend torch --device cpu --threads 1 --batch 1" in lines[0]
    assert main(["predict", "--preset", "SM_V2", "--backend", "onnxruntime", "--threads", "1", "--store", store]) == 2
    assert "calibrate --backend onnxruntime" in errors(capsys)[0]


def test_calibrate_then_predict(capsys, store, monkeypatch):
    scripted_calibration(monkeypatch, "ok", 8)
    assert main(["calibrate", "--seconds", "10", "--threads", "1", "--json", "--store", store]) == 0
    cal = json.loads(capsys.readouterr().out)
    assert cal["backend"] == "torch" and cal["threads"] == 1 and cal["batch"] == 1
    assert cal["set_aside"]["measured"] == 8 and cal["stored_id"] == 1
    set_aside = sum(g["count"] for g in cal["set_aside"]["groups"])
    assert cal["set_aside"]["fitted"] + set_aside == 8 and cal["fitted_on"] == 8  # every clean one was used
    assert cal["set_aside_line"].startswith(f"measured 8 networks, fitted on {cal['set_aside']['fitted']}")
    assert main(["predict", "--preset", "SM_V2", "--threads", "1", "--json", "--store", store]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predicted_ms"] > 0
    assert "band_pct" in out
    assert out["profile"]["key_hash"] == cal["key_hash"]
    assert out["layers"] and all(LAYER_KEYS <= set(ly) for ly in out["layers"])
    assert set(out["paper_hardware"]) == {"cpu", "gpu"} and "leave-one-out" in out["paper_hardware"]["gpu"]["label"]
    assert {ly["bound"] for ly in out["layers"]} <= {"compute", "memory", "overhead"}
    # another thread count is another profile
    assert main(["predict", "--preset", "SM_V2", "--threads", "2", "--store", store]) == 2
    assert "--threads 2" in errors(capsys)[0]
    assert main(["predict", "--preset", "SM_V2", "--threads", "1", "--store", store]) == 0
    text = capsys.readouterr().out
    assert "stages.0.0.depthwise" in text and "predicted" in text


def test_a_calibration_with_too_few_clean_networks_refuses_and_says_why(capsys, store, monkeypatch):
    scripted_calibration(monkeypatch, "noisy-odd", 4)  # 2 clean of 4: too few for a fit
    assert main(["calibrate", "--seconds", "10", "--threads", "1", "--store", store]) == 2
    (line,) = errors(capsys)
    assert line == (
        "error: calibration refused: only 2 of 4 measured networks were clean (at least 3 are needed for a fit); "
        "most often: samples spread widely; close busy programs, give it more --seconds, and calibrate again"
    )
    assert main(["predict", "--preset", "SM_V2", "--threads", "1", "--store", store]) == 2  # nothing was stored


def test_a_calibration_shorter_than_a_worker_can_run_names_the_minimum(capsys, store):
    assert main(["calibrate", "--seconds", "1", "--threads", "1", "--store", store]) == 2
    assert errors(capsys) == [
        "error: --seconds must be from 10 to 600 (a fresh worker and enough networks for a fit need it), got 1.0"
    ]


@pytest.mark.parametrize("command", ["calibrate", "predict"])
def test_cuda_on_a_host_without_it_exits_2(capsys, store, command):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has CUDA")
    args = [command, "--device", "cuda", "--threads", "1", "--store", store]
    if command == "predict":
        args += ["--preset", "SM_V2"]
    assert main(args) == 2
    lines = errors(capsys)
    assert len(lines) == 1 and "CUDA requested" in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["calibrate", "--seconds", "0"], "--seconds must be"),
        (["calibrate", "--threads", "0"], "--threads must be"),
        (["calibrate", "--batch", "0"], "--batch must be"),
        (["predict", "--preset", "SM_V2", "--batch", "0"], "--batch must be"),
        (["predict", "--preset", "no such net"], "preset"),
    ],
)
def test_bad_arguments_are_one_line_errors(capsys, store, args, message):
    assert main([*args, "--store", store]) == 2
    lines = errors(capsys)
    assert len(lines) == 1 and message in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["calibrate", "--batch", "1024", "--seconds", "10"],
        ["bench", "--preset", "MobileNet V2", "--batch", "1024"],
    ],
)
def test_a_batch_beyond_memory_is_refused_before_any_work(capsys, store, monkeypatch, args):
    """bench and calibrate check the batch against the memory estimate first (a fixed 8 GiB available here)."""
    from explorer.measure import memory, service

    monkeypatch.setattr(memory, "available_bytes", lambda: 8 * 2**30)
    monkeypatch.setattr(service, "WORKER_COMMAND", ("false",))  # a started worker would fail the test loudly
    assert main([*args, "--threads", "1", "--store", store]) == 2
    (line,) = errors(capsys)
    assert "batch 1024 of " in line and "of memory to measure (estimate); the limit here is 6.4 GiB" in line
