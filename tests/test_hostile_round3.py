"""Hostile input, round 3: one test per class of mistake a probe of the CLI found.

Each mistake is exit 2 and exactly one line on stderr (no traceback, no "internal error"), and no output
ever replaces one of the command's own inputs, a results store or a checkpoint.
"""

from __future__ import annotations

import json

import pytest
import torch
from _imagedata import tiny_design_dict

from explorer.cli.main import main
from explorer.design.spec import parse_design
from explorer.model.build import build_model
from explorer.store.results import ResultStore

TINY = parse_design(tiny_design_dict())


def one_error(capsys, code: int, *words: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# A: an output never replaces an input of its command, a database or a checkpoint
def test_export_never_replaces_its_own_spec(tmp_path, capsys):
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps(tiny_design_dict()))
    before = spec.read_bytes()
    for fmt in ("py", "json"):
        code = main(["export", "--spec", str(spec), "--format", fmt, "--out", str(spec)])
        one_error(capsys, code, "input of this command")
        assert spec.read_bytes() == before


def test_export_never_replaces_the_weights_it_reads(tmp_path, capsys):
    weights = tmp_path / "w.pt"
    torch.save({"model": build_model(TINY).state_dict()}, weights)
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps(tiny_design_dict()))
    before = weights.read_bytes()
    code = main(["export", "--spec", str(spec), "--format", "onnx", "--weights", str(weights), "--out", str(weights)])
    one_error(capsys, code, "w.pt")
    assert weights.read_bytes() == before


@pytest.mark.parametrize("kind", ["sqlite", "zip-checkpoint", "legacy-checkpoint"])
def test_export_never_replaces_a_database_or_a_checkpoint(tmp_path, capsys, kind):
    target = tmp_path / "precious.bin"
    if kind == "sqlite":
        ResultStore(target).create()
    else:
        torch.save({"x": torch.ones(2)}, target, _use_new_zipfile_serialization=kind == "zip-checkpoint")
    before = target.read_bytes()
    code = main(["export", "--preset", "SM_V2", "--format", "py", "--out", str(target)])
    line = one_error(capsys, code, "precious.bin")
    assert ("SQLite" in line) == (kind == "sqlite")
    assert target.read_bytes() == before
    # an ordinary file (a zip that is no checkpoint, a text file) is still replaced, as --help promises
    other = tmp_path / "old.py"
    other.write_text("old")
    assert main(["export", "--preset", "SM_V2", "--format", "py", "--out", str(other)]) == 0
    assert other.read_text() != "old"
