"""The CLI: tables and JSON for good input, exit 2 and one line per problem for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_presets_table_lists_every_model_with_paper_numbers():
    r = run_cli("presets")
    assert r.returncode == 0, r.stderr
    for name in ["MobileNet V1", "MobileNet V2", "SM_V2", "SM_V2_2_2", "SM_V2_3_2", "SM_V2_2_1.5", "SM_V2_x2nr"]:
        assert name in r.stdout
    assert "2,351,972" in r.stdout and "1,538,372" in r.stdout


def test_summary_json_has_integer_totals_and_layers():
    r = run_cli("summary", "--preset", "SM_V2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["params"] == 1_538_372 and isinstance(out["macs"], int)
    assert sum(layer["macs"] for layer in out["layers"]) == out["macs"]
    assert out["layers"][0]["name"] == "stem"


def test_summary_table_states_the_convention(tmp_path):
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps({"name": "tiny", "input_size": 32, "stages": [{"t": 2, "c": 8, "n": 2, "s": 2}]}))
    r = run_cli("summary", "--spec", str(spec))
    assert r.returncode == 0, r.stderr
    assert "stages.0.1.add" in r.stdout and "FLOPs" in r.stdout and "2 x MACs" in r.stdout


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{oops", "not valid JSON"),
        ('{"stages": [{"t": 1, "c": 16, "n": 1, "s": 3}]}', "stages[0].s: must be one of 1, 2, got 3"),
        ('{"stages": [{"t": 32, "c": 4096, "n": 32, "s": 1}]}', "over the cap"),
        ("[]", "must be a JSON object"),
    ],
)
def test_bad_spec_files_exit_2_with_one_line(tmp_path, content, expected):
    spec = tmp_path / "bad.json"
    spec.write_text(content)
    r = run_cli("summary", "--spec", str(spec))
    assert r.returncode == 2
    assert expected in r.stderr and "Traceback" not in r.stderr
    assert all(line.startswith("error: ") for line in r.stderr.strip().splitlines())


@pytest.mark.parametrize(
    "args, expected",
    [
        (["summary", "--preset", "ResNet"], "unknown preset 'ResNet'; available: MobileNet V1"),
        (["summary", "--spec", "/nonexistent/d.json"], "no such design file"),
        (["summary"], "one of the arguments --preset --spec is required"),
        (["nope"], "unknown command nope; choose one of: presets, summary, bench"),
    ],
)
def test_bad_arguments_exit_2(args, expected):
    r = run_cli(*args)
    assert r.returncode == 2 and expected in r.stderr and "Traceback" not in r.stderr


def test_summary_does_not_import_heavy_libraries():
    code = (
        "import sys; from explorer.cli.main import main; main(['summary', '--preset', 'SM_V2', '--json']); "
        "heavy = [m for m in ('torch', 'onnx', 'onnxruntime', 'streamlit') if m in sys.modules]; "
        "sys.stderr.write(repr(heavy))"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.stderr.strip() == "[]"


def test_a_closed_pipe_is_not_an_internal_error():
    """`explorer summary ... | head -1`: the reader leaves early; no traceback, no 'internal error'."""
    import subprocess
    import sys

    cmd = f"{sys.executable} -m explorer summary --preset 'MobileNet V2' | head -1"
    p = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd], capture_output=True, text=True, timeout=120)
    assert p.stdout.startswith("MobileNet V2") and p.stdout.count("\n") == 1
    assert "internal error" not in p.stderr and "Traceback" not in p.stderr


def test_usage_names_the_command_as_typed(monkeypatch):
    from explorer.cli.main import program_name

    monkeypatch.setattr("sys.argv", ["/venv/bin/explorer", "summary"])
    assert program_name() == "explorer"
    monkeypatch.setattr("sys.argv", ["/repo/explorer/__main__.py", "summary"])
    assert program_name() == "python -m explorer"
