"""Hostile input, round 3: one test per class of mistake a probe of the CLI found.

Each mistake is exit 2 and exactly one line on stderr (no traceback, no "internal error"), and no output
ever replaces one of the command's own inputs, a results store or a checkpoint.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import sys
import zlib
from pathlib import Path

import pytest
import torch
from _imagedata import imagenet_layout, tiny_design_dict

from explorer.cli.main import main
from explorer.design.spec import parse_design
from explorer.errors import UserError
from explorer.model.build import build_model
from explorer.paths import user_path
from explorer.search.images import minibatch
from explorer.store.results import ResultStore
from explorer.train.data import detect_dataset
from explorer.train.resume import state_problems

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


# B: user mistakes that ended as internal errors
def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header declares width x height (what Pillow reads before decoding anything)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_naswot_images_are_read_like_every_other_path(tmp_path):
    with pytest.raises(UserError, match="home folder not known here"):
        minibatch("~nosuchuser_explorer/x", 32, 4, seed=0)
    root = imagenet_layout(tmp_path / "ds", classes=2, train=3, val=1)
    _png_header_only(root / "train" / "bomb.png", 20000, 20000)  # over Pillow's own error limit (179 M pixels)
    images, note = minibatch(root, 32, 100, seed=0)
    readable = len(list(root.rglob("*.JPEG"))) - 1  # less the fixture's one corrupt file
    assert readable == 8 and images.shape == (readable, 3, 32, 32)
    assert note.endswith("(2 unreadable skipped)")  # the bomb and the fixture's one corrupt file


def test_a_name_too_long_is_one_line_naming_the_path(tmp_path, capsys):
    long = str(tmp_path / ("a" * 300))
    with pytest.raises(UserError, match="names are at most 255 bytes"):
        user_path(long, "dataset folder")
    with pytest.raises(UserError, match="names are at most 255 bytes"):
        detect_dataset(long)  # the app's Fine-tune page asks the library directly
    line = one_error(capsys, main(["train", "--preset", "SM_V2", "--data", long, "--no-store"]), "at most 255")
    assert len(line) < 300  # the path is shortened, not printed whole
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps(tiny_design_dict()))
    one_error(capsys, main(["export", "--spec", str(spec), "--format", "py", "--out", long]), "at most 255")


def test_an_os_error_about_a_path_is_one_line(monkeypatch, capsys):
    cli_main = sys.modules["explorer.cli.main"]

    def refuse(args):
        raise OSError(36, "File name too long", "x" * 5000)

    monkeypatch.setattr(cli_main, "cmd_presets", refuse)
    line = one_error(capsys, main(["presets"]), "File name too long")
    assert len(line) < 200


@pytest.mark.parametrize("nested", [True, False])
def test_a_state_dict_with_keys_that_are_not_text_is_not_a_checkpoint(tmp_path, capsys, nested):
    bad = {1: torch.ones(2), "stem.conv.weight": torch.ones(2)}
    path = tmp_path / "w.pt"
    torch.save({"model": bad} if nested else bad, path)
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps(tiny_design_dict()))
    code = main(
        ["export", "--spec", str(spec), "--format", "onnx", "--weights", str(path), "--out", str(tmp_path / "x")]
    )
    one_error(capsys, code, "not a checkpoint")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "change, words",
    [
        ({"classes": 5}, "classes must be a list"),
        ({"classes": ["n01", "n01"]}, "classes lists a class twice"),
        ({"step": 10**30}, "step must be from 0"),
        ({"train_size": -1}, "train_size must be from 0"),
    ],
)
def test_damaged_resume_state_is_named(change, words):
    state = {
        "design": tiny_design_dict(),
        "model": {},
        "optimizer": {},
        "scheduler": {"elapsed_s": 1.0},
        "rng": {},
        "history": [],
        "step": 2,
        "epoch": 0,
        "epoch_offset": 0,
        "images_seen": 4,
        "classes": ["n01", "n02"],
        "train_size": 9,
    }
    assert state_problems(state) == []
    problems = state_problems({**state, **change})
    assert len(problems) == 1 and words in problems[0], problems


# C: stored numbers no measurement or fit can produce are damage, skipped and counted
def _profile(tmp_path) -> tuple[dict, dict, tuple[str, ...]]:
    from explorer.predict.features import PARAMETER_NAMES
    from explorer.predict.model import prior_coefficients
    from explorer.predict.profile import profile_key

    key = profile_key("torch", "cpu", 1, 1)
    return (
        key,
        {"key": key, "model": {"coefficients": prior_coefficients(50.0, 10.0, "torch")}, "band_pct": 10.0},
        (PARAMETER_NAMES),
    )


@pytest.mark.parametrize(
    "damage",
    ["inf", "huge", "zero", "tiny", "missing", "band"],
)
def test_implausible_profiles_are_skipped_and_counted(tmp_path, damage):
    from explorer.store.rows import profile_problems

    key, profile, names = _profile(tmp_path)
    assert profile_problems(profile, names) == []
    coefficients = profile["model"]["coefficients"]
    if damage == "inf":
        coefficients["pw.gflop"] = float("inf")
    elif damage == "huge":
        coefficients["pw.gflop"] = 1e308
    elif damage in ("zero", "tiny"):
        coefficients.update(dict.fromkeys(coefficients, 0.0 if damage == "zero" else 1e-300))
    elif damage == "missing":
        del coefficients["pw.gflop"]
    else:
        profile["band_pct"] = 1e308
    assert len(profile_problems(profile, names)) == 1
    store = ResultStore(tmp_path / "s.sqlite")
    _, good, _ = _profile(tmp_path)
    store.add_profile(key, good)
    with sqlite3.connect(store.path) as con:  # as a damaged file holds it: written behind the store's checks
        con.execute("UPDATE profile SET profile_json = ?", (json.dumps(profile),))
    assert store.latest_profile(key, names) is None
    assert store.skipped_rows == 1


def test_an_impossible_latency_median_is_damage():
    from explorer.store.rows import latency_problems

    row = {"backend": "torch", "device": "cpu", "batch": 1, "threads": 1, "input_size": 224, "median_ms": 12.5}
    assert latency_problems(row) == []
    assert len(latency_problems({**row, "median_ms": 1e308})) == 1


# D: a control character inside a user value never splits or forges a line
def test_printable_escapes_every_control_and_format_character():
    from explorer.fmt import printable, shell_word, shown

    assert printable("a\nb\tc\x1b[31md\r\u202ee") == "a\\nb\\tc\\x1b[31md\\r\\u202ee"
    assert shell_word("x y\nz") == "'x y\\nz'"
    assert len(shown("p" * 5000)) <= 120


def test_a_newline_in_a_path_stays_on_one_line(tmp_path, capsys):
    bad = tmp_path / "no\nsuch"
    one_error(capsys, main(["train", "--preset", "SM_V2", "--data", str(bad), "--no-store"]), "no\\nsuch")
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps(tiny_design_dict()))
    out = tmp_path / "new\nline.py"
    assert main(["export", "--spec", str(spec), "--format", "py", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "new\\nline.py" in printed[0], printed
    assert out.exists()
    store = tmp_path / "s\nx.sqlite"
    line = one_error(capsys, main(["predict", "--spec", str(spec), "--store", str(store)]), "does not exist")
    assert f"--store '{tmp_path}/s\\nx.sqlite'" in line


# H: a stored text that a spreadsheet would run as a formula is exported as text
def test_csv_cells_never_start_a_formula(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    store.add_accuracy(TINY.with_changes(name="=HYPERLINK(1)"), {"top1": 50.0, "label": "@SUM(A1)"})
    text = store.to_csv("accuracy")
    assert "'=HYPERLINK(1)" in text and "'@SUM(A1)" in text
    assert ",=" not in text and ",@" not in text
    assert ",50.0," in text  # numbers stay numbers


# E: the right cause: a diverged checkpoint is named as such, by export and by a warm start alike
def test_non_finite_weights_are_named_as_the_cause(tmp_path, capsys):
    from explorer.train.checkpoint import warm_start

    state = build_model(TINY).state_dict()
    state["stem.conv.weight"] = torch.full_like(state["stem.conv.weight"], float("nan"))
    path = tmp_path / "nan.pt"
    torch.save({"model": state}, path)
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps(tiny_design_dict()))
    out = tmp_path / "x.onnx"
    code = main(["export", "--spec", str(spec), "--format", "onnx", "--weights", str(path), "--out", str(out)])
    one_error(capsys, code, "NaN or infinite weights", "stem.conv.weight")
    assert not out.exists()
    with pytest.raises(UserError, match="NaN or infinite weights"):
        warm_start(build_model(TINY), path)


# G: a name that looks blank or like another name is refused; bidirectional controls are refused in notes too
@pytest.mark.parametrize(
    "name", ["SM\u3164", "\u2800", "x\u115f", "SM_V2\uffa0", "\ufe0f", "SM_V2 \ufe0f", " SM_V2", "SM_V2 ", "SM\u00a0V2"]
)
def test_names_that_look_blank_or_like_another_are_refused(name):
    from explorer.errors import DesignError

    with pytest.raises(DesignError, match="name: must not"):
        parse_design({**tiny_design_dict(), "name": name})


def test_visible_names_and_bidi_free_notes_are_kept():
    from explorer.errors import DesignError

    for name in ["\u2764\ufe0f net", "\U0001f9d1\u200d\U0001f4bb", "SM V2"]:
        assert parse_design({**tiny_design_dict(), "name": name}).name == name
    with pytest.raises(DesignError, match="notes: must not hold bidirectional"):
        parse_design({**tiny_design_dict(), "notes": "read \u202eevil"})


def test_a_dataset_without_one_readable_training_image_is_refused_before_training(tmp_path):
    from explorer.train.data import check_readable

    root = imagenet_layout(tmp_path / "ds", classes=2, train=3, val=1)
    info = detect_dataset(root)
    check_readable(info)  # sound data: one decode per split, no complaint
    for path, _ in info.train:
        Path(path).write_bytes(b"not an image")
    with pytest.raises(UserError, match="none of 7 training images tried could be read"):
        check_readable(info)


def test_a_host_lock_under_an_unknown_account_is_a_user_error(monkeypatch):
    from explorer.measure.hostlock import default_lock_path

    monkeypatch.setenv("EXPLORER_HOST_LOCK", "~nosuchuser_explorer/l")
    with pytest.raises(UserError, match="EXPLORER_HOST_LOCK"):
        default_lock_path()


# F: a refusal is our one line, with no library warning printed beside it
def test_refusing_a_pickle_checkpoint_prints_no_torch_warning(tmp_path, recwarn):
    import pickle

    from explorer.model.checkpoint import load_checkpoint

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, path, pickle_protocol=4)
    with pytest.raises(UserError, match="refused"):
        load_checkpoint(path)
    assert [str(w.message) for w in recwarn if "pickle" in str(w.message).lower()] == []
    assert pickle.HIGHEST_PROTOCOL >= 4


def test_more_loader_workers_than_cores_are_lowered_with_one_note():
    from explorer.train.loaders import capped_workers, usable_cores

    cores = usable_cores()
    assert capped_workers(cores) == (cores, None)
    workers, note = capped_workers(cores + 62)
    assert workers == cores and note == f"--workers {cores + 62} lowered to {cores}, the cores this process may use"


def test_weights_whose_outputs_overflow_are_the_users_input(tmp_path, capsys):
    state = {k: (v * 0 + 1e30 if v.is_floating_point() else v) for k, v in build_model(TINY).state_dict().items()}
    path = tmp_path / "huge.pt"
    torch.save({"model": state}, path)
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps(tiny_design_dict()))
    out = tmp_path / "x.onnx"
    code = main(["export", "--spec", str(spec), "--format", "onnx", "--weights", str(path), "--out", str(out)])
    one_error(capsys, code, "not finite", "the weights are broken")
    assert not out.exists()
