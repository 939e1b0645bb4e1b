"""`python -m explorer bench`: JSON output, storage, one-line errors with exit status 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_design import TINY

from explorer.cli.main import main
from explorer.design.presets import preset_names
from explorer.store.results import ResultStore

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ("median_ms", "iqr_ms", "runs", "backend", "device", "threads", "batch")


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "tiny.json"
    p.write_text(json.dumps(TINY))
    return str(p)


def run_json(capsys, *args):
    assert main(["bench", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_promised_keys_and_is_stored(capsys, spec, data_dir):
    out = run_json(capsys, "--spec", spec, "--budget", "0.1", "--threads", "1", "--batch", "2")
    assert all(k in out for k in REQUIRED)
    assert (out["backend"], out["device"], out["threads"], out["batch"]) == ("torch", "cpu", 1, 2)
    assert out["runs"] >= len(out["samples_ms"]) >= 1
    rows = ResultStore(data_dir / "results.sqlite").latencies()
    assert len(rows) == 1 and rows[0]["median_ms"] == out["median_ms"]
    assert out["stored"] == str(data_dir / "results.sqlite")


def test_no_store_and_explicit_store(capsys, spec, data_dir, tmp_path):
    run_json(capsys, "--spec", spec, "--budget", "0.05", "--no-store", "--threads", "1")
    assert not (data_dir / "results.sqlite").exists()
    run_json(capsys, "--spec", spec, "--budget", "0.05", "--store", str(tmp_path / "mine.sqlite"), "--threads", "1")
    assert len(ResultStore(tmp_path / "mine.sqlite").latencies()) == 1


def test_onnxruntime_and_text_output(capsys, spec):
    out = run_json(capsys, "--spec", spec, "--backend", "onnxruntime", "--budget", "0.05", "--threads", "1")
    assert out["backend"] == "onnxruntime" and out["runs"] >= 1
    assert main(["bench", "--spec", spec, "--budget", "0.05", "--input-size", "40", "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "ms median" in text and "40x40" in text and "protocol:" in text and "stored as #" in text


def test_layers(capsys, spec):
    assert main(["bench", "--spec", spec, "--budget", "0.05", "--layers", "--no-store", "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "stages.0.1.add" in text and "time share" in text and "tolerance" in text
    out = run_json(capsys, "--spec", spec, "--budget", "0.05", "--layers", "--no-store", "--threads", "1")
    assert out["layers"]["layers"][0]["name"] == "stem" and "within_tolerance" in out["layers"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch", "0"], "error: --batch must be at least 1, got 0"),
        (["--threads", "0"], "error: --threads must be at least 1, got 0"),
        (
            ["--input-size", "16"],
            "error: input_size: must be at least the total stride 32 of the stem and stages, got 16",
        ),
        (["--budget", "0"], "error: --budget must be a positive number of seconds, got 0.0"),
        (
            ["--backend", "onnxruntime", "--layers"],
            "error: --layers times torch eager layers; use it with --backend torch",
        ),
        (["--backend", "onnxruntime", "--channels-last"], "error: --channels-last is a torch memory format"),
    ],
)
def test_bad_values_exit_2_with_one_line(capsys, args, message):
    assert main(["bench", "--preset", "SM_V2", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_damaged_store_fails_before_measuring(capsys, spec, tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database")
    assert main(["bench", "--spec", spec, "--store", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and err.count("\n") == 1
    assert bad.read_text() == "not a database"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this host has a GPU")
def test_cuda_without_gpu_exits_2_in_a_real_process(tmp_path):
    env = {"PATH": "", "EXPLORER_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    p = subprocess.run(
        [sys.executable, "-m", "explorer", "bench", "--preset", "SM_V2", "--device", "cuda"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 2
    assert p.stderr == (
        "error: CUDA requested but torch.cuda.is_available() is False on this host; available devices: cpu\n"
    )


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_on_both_cpu_backends(capsys, preset, backend):
    out = run_json(capsys, "--preset", preset, "--backend", backend, "--budget", "0.05", "--no-store", "--threads", "1")
    assert out["median_ms"] > 0 and out["runs"] >= 1 and out["input_size"] == 224
    assert out["quality"]["verdict"] in ("ok", "noisy") and out["stopped"] in ("budget", "median tight")


def worker_with(monkeypatch, mode: str) -> None:
    """bench's measurements run in tests/_worker_with.py: the real worker with a known host load."""
    from explorer.measure import service

    monkeypatch.setattr(service, "WORKER_COMMAND", (sys.executable, str(ROOT / "tests" / "_worker_with.py"), mode))


def test_a_noisy_result_is_kept_stored_and_flagged_on_stderr(capsys, spec, data_dir, monkeypatch):
    worker_with(monkeypatch, "busy")
    assert main(["bench", "--spec", spec, "--budget", "0.1", "--threads", "1", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["quality"]["verdict"] == "noisy" and out["quality"]["other_cpu_cores"] == 1.5
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "other processes used 1.70 of" in warnings[0]
    (row,) = ResultStore(data_dir / "results.sqlite").latencies()
    assert row["quality"]["verdict"] == "noisy" and row["median_ms"] == out["median_ms"]


def test_a_quiet_result_prints_no_warning(capsys, spec, monkeypatch):
    worker_with(monkeypatch, "quiet")  # judge the load alone
    assert main(["bench", "--spec", spec, "--budget", "0.2", "--threads", "1", "--no-store"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err and "quality ok" in captured.out


def test_progress_json_lines_for_the_app_worker(capsys, spec):
    assert main(["bench", "--spec", spec, "--budget", "0.05", "--threads", "1", "--no-store", "--progress-json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert events[-1] == {"progress": 1.0, "message": "done"}
    fractions = [e["progress"] for e in events]
    assert fractions == sorted(fractions) and any("warming up" in e["message"] for e in events)


def test_a_result_far_from_this_host_s_history_of_the_network_is_flagged(capsys, spec, data_dir):
    import sqlite3

    for _ in range(3):  # earlier measurements of the same network and settings ...
        assert main(["bench", "--spec", spec, "--budget", "0.05", "--threads", "1", "--json"]) == 0
    capsys.readouterr()
    store = ResultStore(data_dir / "results.sqlite")
    con = sqlite3.connect(store.path)
    for r in store.latencies():  # ... rewritten as clean and 1000x slower
        r.update(median_ms=r["median_ms"] * 1000, quality={"verdict": "ok", "reasons": []})
        con.execute("UPDATE latency SET result_json = ? WHERE id = ?", (json.dumps(r), r["id"]))
    con.commit()
    con.close()
    assert main(["bench", "--spec", spec, "--budget", "0.05", "--threads", "1", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["quality"]["verdict"] == "noisy" and out["quality"]["history"]["earlier"] == 3
    assert "against this host's last 3 clean measurements" in captured.err
