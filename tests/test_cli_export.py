"""`python -m explorer export`: files written atomically, ONNX verified, and exit 2 with one line for mistakes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from export_helpers import TINY

import explorer.export
import explorer.export.onnx_file
from explorer.cli.main import main
from explorer.design.presets import get_preset
from explorer.export import from_json
from explorer.model.build import build_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


def export(capsys, *args) -> tuple[int, str, str]:
    code = main(["export", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_exports_py_and_json(tmp_path, capsys, spec):
    code, out, err = export(capsys, "--spec", spec, "--format", "py", "--out", tmp_path / "tiny.py")
    assert code == 0 and err == "" and "class Tiny, build_model(); needs only torch" in out
    compile((tmp_path / "tiny.py").read_text(), "tiny.py", "exec")
    code, out, _ = export(capsys, "--preset", "SM_V2", "--format", "json", "--out", tmp_path / "d.json", "--json")
    assert code == 0 and json.loads(out)["design"] == "SM_V2"
    assert from_json((tmp_path / "d.json").read_text()).to_dict() == get_preset("SM_V2").to_dict()


def test_exports_verified_onnx_with_trained_weights(tmp_path, capsys, spec):
    model = build_model(from_json(spec.read_text()))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    torch.save({"design": TINY, "model": model.state_dict(), "epoch": 1}, tmp_path / "ckpt.pt")
    out_path = tmp_path / "tiny.onnx"
    args = ["--spec", spec, "--format", "onnx", "--out", out_path, "--weights", tmp_path / "ckpt.pt"]
    code, out, err = export(capsys, *args, "--json")
    assert code == 0 and err == ""
    report = json.loads(out)["onnx"]
    assert report["verified"] and report["checker_ok"] and report["batch_sizes"] == [1, 3]
    assert report["path"] == str(out_path) and report["size_bytes"] == out_path.stat().st_size
    code, out, _ = export(capsys, *args)
    assert code == 0 and "ONNX Runtime matches PyTorch at batch 1 and 3" in out and "netron.app" in out
    assert "exported in" in out and "verified in" in out
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt", "tiny.json", "tiny.onnx"]


def test_failed_verification_exits_1_and_says_so(tmp_path, capsys, monkeypatch, spec):
    def failing(data, model, input_size):
        message = "ONNX Runtime differs from PyTorch"
        return {"checker_ok": True, "max_abs_diff": 0.5, "batch_sizes": (1, 3), "verified": False, "message": message}

    monkeypatch.setattr(explorer.export.onnx_file, "verify_onnx", failing)
    code, _, err = export(capsys, "--spec", spec, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 1 and "failed verification: ONNX Runtime differs" in one_error_line(err)


def no_slow_export(*args, **kwargs):
    raise AssertionError("the export ran although the output path was unusable")


@pytest.mark.parametrize(
    "out, expected",
    [
        ("missing_dir/m.onnx", "cannot write here"),
        ("/proc/m.onnx", "cannot write here"),
        (".", "is a folder"),
    ],
)
def test_unwritable_output_fails_before_exporting(tmp_path, capsys, monkeypatch, spec, out, expected):
    monkeypatch.setattr(explorer.export, "onnx_bytes", no_slow_export)
    out_path = out if out.startswith("/") else tmp_path / out
    code, _, err = export(capsys, "--spec", spec, "--format", "onnx", "--out", out_path)
    assert code == 2 and expected in one_error_line(err)


def make_checkpoint(path: Path, kind: str) -> None:
    if kind == "shapes":
        other = from_json(json.dumps({**TINY, "stem_channels": 16}))
        torch.save({"model": build_model(other).state_dict()}, path)
    elif kind == "garbage":
        path.write_bytes(b"\x00garbage")


@pytest.mark.parametrize(
    "args, checkpoint, expected",
    [
        (
            ["--format", "onnx"],
            "shapes",
            "does not fit design 'tiny': 11 tensors differ in shape (checkpoint vs design): "
            "stem.conv.weight [16, 3, 3, 3] vs [8, 3, 3, 3]",
        ),
        (["--format", "onnx"], "garbage", "not a PyTorch checkpoint"),
        (["--format", "onnx"], "absent", "no such checkpoint file"),
        (["--format", "py"], "garbage", "--weights is only for --format onnx"),
    ],
)
def test_bad_checkpoints_exit_2_naming_the_problem(tmp_path, capsys, spec, args, checkpoint, expected):
    ckpt = tmp_path / "ckpt.pt"
    make_checkpoint(ckpt, checkpoint)
    out_path = tmp_path / "old.out"
    out_path.write_text("previous export")
    code, _, err = export(capsys, "--spec", spec, *args, "--out", out_path, "--weights", ckpt)
    assert code == 2 and expected in one_error_line(err)
    assert out_path.read_text() == "previous export"  # untouched, and no temporary file left beside it
    assert sorted(os.listdir(tmp_path)) == sorted(["tiny.json", "old.out"] + (["ckpt.pt"] if ckpt.exists() else []))


def test_bad_design_and_bad_opset_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**TINY, "stages": [{"t": 1, "c": 8, "n": 1, "s": 3}]}))
    code, _, err = export(capsys, "--spec", bad, "--format", "py", "--out", tmp_path / "m.py")
    assert code == 2 and "stages[0].s: must be one of 1, 2, got 3" in one_error_line(err)
    code, _, err = export(
        capsys, "--preset", "SM_V2", "--format", "onnx", "--opset", "16", "--out", tmp_path / "m.onnx"
    )
    assert code == 2 and "opset" in one_error_line(err)
    assert os.listdir(tmp_path) == ["bad.json"]


def test_an_export_that_crashes_leaves_no_file(tmp_path, capsys, monkeypatch, spec):
    def crash(*args, **kwargs):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(explorer.export, "onnx_bytes", crash)
    code, _, err = export(capsys, "--spec", spec, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 1 and "exporter crashed" in err
    assert os.listdir(tmp_path) == ["tiny.json"]


def test_module_entry_point_exports_json(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "explorer",
            "export",
            "--preset",
            "SM_V2",
            "--format",
            "json",
            "--out",
            tmp_path / "d.json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and r.stderr == "" and "wrote" in r.stdout
    assert json.loads((tmp_path / "d.json").read_text())["name"] == "SM_V2"


@pytest.mark.parametrize("fmt", ["py", "json", "onnx"])
def test_every_format_is_under_the_cost_cap(tmp_path, capsys, fmt):
    huge = {**TINY, "input_size": 1024, "stages": [{"t": 32, "c": 4096, "n": 32, "s": 1}]}
    spec = tmp_path / "huge.json"
    spec.write_text(json.dumps(huge))
    code, _, err = export(capsys, "--spec", spec, "--format", fmt, "--out", tmp_path / f"m.{fmt}")
    assert code == 2 and "over the cap" in err and "Traceback" not in err
    assert os.listdir(tmp_path) == ["huge.json"]
