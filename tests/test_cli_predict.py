"""`python -m explorer calibrate` and `predict`: JSON shape, the stored profile, one-line errors with exit 2."""

import json

import pytest

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


def test_calibrate_then_predict(capsys, store):
    assert main(["calibrate", "--seconds", "1", "--threads", "1", "--json", "--store", store]) == 0
    cal = json.loads(capsys.readouterr().out)
    assert cal["backend"] == "torch" and cal["threads"] == 1 and cal["batch"] == 1
    assert cal["fitted_on"] >= 1 and cal["stored_id"] >= 1
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
