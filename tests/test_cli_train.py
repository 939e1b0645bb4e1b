"""`python -m explorer train`: JSON summary, one-line errors, and a 2-process torchrun (gloo, CPU) run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _imagedata import imagenet_layout, kaggle_layout, tiny_design_dict

ROOT = Path(__file__).resolve().parent.parent


def run(args, tmp_path, launcher=("-m", "explorer"), timeout=150):
    lock = tmp_path / "host" / "measure.lock"
    env = {**os.environ, "EXPLORER_DATA_DIR": str(tmp_path / "explorer-data"), "EXPLORER_HOST_LOCK": str(lock)}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, *launcher, "train", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "tiny.json"
    path.write_text(json.dumps(tiny_design_dict()))
    return str(path)


def test_json_summary_and_result_in_the_default_store(tmp_path, spec):
    data = kaggle_layout(tmp_path / "kaggle")
    args = ["--spec", spec, "--data", str(data), "--max-steps", "6", "--img-size", "32", "--batch", "8"]
    r = run([*args, "--workers", "1", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {"top1", "top5", "steps", "images_per_s", "checkpoint"} <= set(out) and out["steps"] == 6
    assert Path(out["checkpoint"]).is_file() and out["skipped_images"] == 1
    assert "Kaggle ImageNet100 layout: 4 classes" in r.stderr
    from explorer.store.results import ResultStore

    rows = ResultStore(tmp_path / "explorer-data" / "results.sqlite").accuracies()
    assert [row["steps"] for row in rows] == [6] and rows[0]["label"].startswith("quick fine-tune (49 images")
    again = run([*args, "--max-steps", "8", "--resume"], tmp_path)  # finds the newest run of this design
    assert again.returncode == 0, again.stderr
    assert "resuming from step 6" in again.stderr and "after 8 steps" in again.stdout


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--data", "{tmp}/nothing"], "not a folder"),
        (["--data", "{tmp}", "--batch", "1"], "batch must be at least 2"),
        (["--data", "{tmp}", "--batch", "64"], "only 7 training images"),
        (["--data", "{tmp}", "--resume", "--out", "{tmp}/none"], "nothing to resume"),
        (["--data", "{tmp}", "--init", "{tmp}/missing.pt"], "no such checkpoint file"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, spec, extra, words):
    imagenet_layout(tmp_path, classes=2, train=3, val=1)
    r = run(
        ["--spec", spec, "--max-steps", "1", "--batch", "2", "--no-store", *[a.format(tmp=tmp_path) for a in extra]],
        tmp_path,
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.stderr


def test_bad_design_and_conflicting_budgets_exit_2(tmp_path):
    r = run(["--preset", "no-such-net", "--data", str(tmp_path)], tmp_path)
    assert r.returncode == 2 and "unknown preset" in r.stderr
    r = run(["--preset", "SM_V2", "--data", str(tmp_path), "--epochs", "1", "--minutes", "2"], tmp_path)
    assert r.returncode == 2 and "not allowed with argument" in r.stderr


def test_torchrun_two_processes_gloo_writes_one_checkpoint(tmp_path, spec):
    data = imagenet_layout(tmp_path / "data")
    out = tmp_path / "run"
    launcher = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "explorer")
    args = ["--spec", spec, "--data", str(data), "--max-steps", "4", "--img-size", "32", "--batch", "4"]
    r = run([*args, "--workers", "0", "--out", str(out), "--json", "--no-store"], tmp_path, launcher)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout)  # one JSON object: rank 1 printed nothing
    assert summary["world_size"] == 2 and summary["global_batch"] == 8 and summary["steps"] == 4
    assert summary["val_images"] == 16  # the two shards together cover the split exactly once
    assert sorted(p.name for p in out.iterdir()) == ["last.pt"]
    from explorer.train.checkpoint import load_checkpoint

    ck = load_checkpoint(out / "last.pt")
    assert ck["world_size"] == 2 and ck["step"] == 4 and not any(k.startswith("module.") for k in ck["model"])


def test_train_holds_the_host_lock_and_waits_for_a_measurement(tmp_path, spec):
    """Training beside a measurement would spoil its numbers: the CLI waits for the host, says so, then trains."""
    from explorer.measure.hostlock import host_lock

    data = imagenet_layout(tmp_path / "data", classes=2, train=3, val=1)
    lock = tmp_path / "host" / "measure.lock"
    env = {**os.environ, "EXPLORER_DATA_DIR": str(tmp_path / "explorer-data"), "EXPLORER_HOST_LOCK": str(lock)}
    env["OMP_NUM_THREADS"] = "1"
    args = ["--spec", spec, "--data", str(data), "--max-steps", "1", "--img-size", "32", "--batch", "2", "--no-store"]
    cmd = [sys.executable, "-m", "explorer", "train", *args, "--workers", "0", "--out", str(tmp_path / "run")]
    with host_lock("a measurement in the test", timeout=0, path=lock):
        child = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        first_line = child.stderr.readline()  # blocks until the child says something: it must be the wait
        assert not (tmp_path / "run" / "last.pt").exists()
    rest = child.stderr.read()
    assert child.wait(timeout=150) == 0, rest
    assert first_line.startswith("waiting for another measurement on this host to finish (a measurement in the test")
    assert (tmp_path / "run" / "last.pt").is_file()
