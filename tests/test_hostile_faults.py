"""Hostile input and faults, round 2: each class of mistake is exit 2 and one line, and nothing computed is lost.

One test (or one parametrized test) per class: paths under unknown accounts, numbers a run cannot use, training
memory, damaged store rows, a full disk, deep ONNX designs, other processes' temporary files, store paths,
looping links, damaged training state, argparse errors, design-file tricks, the exported .py, and the smaller
cases (special folders, control characters in success lines, one-class datasets, resuming into a new folder).
"""

from __future__ import annotations

import errno
import json
import math
import os
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch
from _imagedata import imagenet_layout, tiny_design_dict

import explorer.safeio
import explorer.train.images
from explorer.cli.main import main
from explorer.design.spec import load_design_text, parse_design
from explorer.errors import DesignError, UserError
from explorer.options import RUN_OPTIONS, options_of
from explorer.safeio import atomic_write, remove_stale_temps
from explorer.store import results as store_module
from explorer.store.results import ResultStore
from explorer.train.config import TrainConfig
from explorer.train.data import check_checkpoint_location, check_dataset_location, detect_dataset

ROOT = Path(__file__).resolve().parent.parent
TINY = parse_design(tiny_design_dict())


def run_cli(args, tmp_path: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXPLORER_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1", **kw.pop("env", {})}
    env.pop("EXPLORER_DEBUG", None)
    streams = {"stdout": kw.pop("stdout", subprocess.PIPE), "stderr": subprocess.PIPE}
    return subprocess.run(
        [sys.executable, "-m", "explorer", *map(str, args)], cwd=ROOT, env=env, text=True, timeout=300, **streams
    )


def one_error(r: subprocess.CompletedProcess, *words: str, code: int = 2) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr and "usage:" not in r.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("faults")
    (d / "tiny.json").write_text(json.dumps(tiny_design_dict()))
    imagenet_layout(d / "images", classes=2, train=4, val=2)
    return {"dir": d, "spec": d / "tiny.json", "data": d / "images"}


# -- 1. paths under an account that does not exist --------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["summary", "--spec", "~nosuchuser/x.json"],
        ["export", "--preset", "SM_V2", "--format", "json", "--out", "~nosuchuser/x.json"],
        ["predict", "--preset", "SM_V2", "--store", "~nosuchuser/r.sqlite", "--threads", "1"],
        ["train", "--preset", "SM_V2", "--data", "~nosuchuser/images", "--no-store"],
    ],
)
def test_paths_under_an_unknown_account_are_one_line(args, tmp_path):
    one_error(run_cli(args, tmp_path), "~nosuchuser")


def test_a_data_folder_under_an_unknown_account_is_one_line(tmp_path):
    r = run_cli(["predict", "--preset", "SM_V2", "--threads", "1"], tmp_path, env={"EXPLORER_DATA_DIR": "~nosuch/x"})
    one_error(r, "EXPLORER_DATA_DIR")


def test_a_confined_app_gives_one_answer_whether_an_account_exists_or_not(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATASET_ROOT", str(tmp_path))
    answers = set()
    for path in ("~nosuchuser/images", "~root/images", "/etc"):
        with pytest.raises(UserError) as e:
            check_dataset_location(path, "0.0.0.0")
        answers.add(str(e.value))
    assert len(answers) == 1, answers


def test_a_refused_warm_start_names_neither_the_data_folder_nor_the_wrong_setting(tmp_path, monkeypatch):
    data_dir = tmp_path / "server-data"
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EXPLORER_DATASET_ROOT", str(tmp_path / "datasets"))
    (tmp_path / "datasets").mkdir()
    answers = set()
    for path in ("/etc/passwd", "~nosuchuser/last.pt", "~root/last.pt"):
        with pytest.raises(UserError) as e:
            check_checkpoint_location(path, "0.0.0.0")
        answers.add(str(e.value))
    (answer,) = answers
    assert str(data_dir) not in answer and "warm-start" in answer
    inside = data_dir / "runs" / "x" / "last.pt"
    assert check_checkpoint_location(inside, "0.0.0.0") == inside  # the explorer's own runs stay allowed


# -- 2. every numeric option has a range a run can use -------------------------------------------------------


def test_every_numeric_option_is_bounded_on_both_sides():
    from explorer.export.onnx_file import OPSET

    declared = [*options_of(TrainConfig), *RUN_OPTIONS, OPSET]
    numeric = [o for o in declared if o.kind in (int, float) and not o.choices and o.flag is not None]
    assert len(numeric) >= 15
    unbounded = [o.name for o in numeric if o.lo is None or o.hi is None]
    assert unbounded == []


@pytest.mark.parametrize("flag", ["--lr", "--weight-decay", "--batch", "--per-class", "--val-per-class"])
def test_training_numbers_that_would_overflow_are_refused_before_torch(flag, files, tmp_path):
    args = ["train", "--spec", files["spec"], "--data", files["data"], "--no-store", flag, "1e300"]
    if flag in ("--batch", "--per-class", "--val-per-class"):
        args[-1] = str(10**30)
    one_error(run_cli(args, tmp_path), flag, "must be")


# -- 3. training memory is bounded, decoded pixels are capped --------------------------------------------------


def test_a_training_step_that_cannot_fit_is_refused_with_the_estimate_and_the_limit(files, tmp_path, monkeypatch):
    from explorer.train import memory
    from explorer.train.loop import fine_tune

    monkeypatch.setattr(memory, "available_bytes", lambda device: 8 << 30)
    sm_v2 = load_design_text((ROOT / "presets" / "sm_v2.json").read_bytes())
    cfg = TrainConfig(design=sm_v2, data=str(files["data"]), img_size=224, batch=1024, out_dir=str(tmp_path / "r"))
    with pytest.raises(UserError, match=r"needs about .* per image\); the limit is 6 GiB") as e:
        fine_tune(cfg)
    assert len(str(e.value).splitlines()) == 1
    assert not (tmp_path / "r").exists()  # refused before anything was created or allocated
    assert 40 << 20 < memory.bytes_per_image(sm_v2, 224) < 80 << 20  # measured: ~55 MB per image


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header declares width x height (the size Pillow reads before decoding anything)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [9000, 13000])  # between the cap and Pillow's warning, and above Pillow's warning
def test_huge_images_are_refused_before_decoding_without_a_pillow_warning(side, tmp_path, recwarn):
    path = tmp_path / "huge.png"
    _png_header_only(path, side, side)
    with pytest.raises(explorer.train.images.UNREADABLE, match="larger than the 50,000,000 pixels decoded at most"):
        explorer.train.images.load_image(str(path), 32, train=False)
    assert [w for w in recwarn if "DecompressionBomb" in type(w.message).__name__] == []


# -- 4. store rows are validated, skipped and counted --------------------------------------------------------


def _latency(median=5.0, **extra) -> dict:
    return {
        "backend": "torch",
        "device": "cpu",
        "batch": 1,
        "threads": 1,
        "input_size": 32,
        "median_ms": median,
        "per_image_ms": median,
        "samples_ms": [median] * 3,
        "quality": {"verdict": "noisy", "reasons": ["samples spread widely"]},
        **extra,
    }


def _raw_rows(path: Path, table: str, blobs: list[str]) -> None:
    con = sqlite3.connect(path)
    for blob in blobs:
        if table == "latency":
            con.execute(
                "INSERT INTO latency (design_hash, design_name, backend, device, batch, threads, input_size, "
                "median_ms, timestamp, result_json, design_json) VALUES (?, 'tiny', 'torch', 'cpu', 1, 1, 32, 1, "
                "'t', ?, ?)",
                (TINY.network_hash(), blob, TINY.to_json()),
            )
        else:
            con.execute(
                "INSERT INTO profile (key_json, timestamp, profile_json) VALUES (?, 't', ?)",
                (json.dumps({"k": 1}, sort_keys=True, separators=(",", ":")), blob),
            )
    con.commit()
    con.close()


DAMAGED_LATENCY = [
    {k: v for k, v in _latency().items() if k != "median_ms"},  # a missing key
    _latency(median="5"),  # a string where a number belongs
    _latency(median=-73.0),
    _latency(quality=["ok"]),  # a list where an object belongs
]


def test_damaged_latency_rows_are_skipped_and_counted(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add_latency(TINY, _latency(4.0))
    blobs = [json.dumps(r) for r in DAMAGED_LATENCY] + ['{"median_ms": NaN}', '{"median_ms": Infinity}']
    _raw_rows(store.path, "latency", blobs)
    rows = store.latencies()
    assert [r["median_ms"] for r in rows] == [4.0]
    assert store.skipped_rows == len(blobs)
    assert store.latest_latency(TINY.network_hash())["median_ms"] == 4.0  # the newest damaged rows are passed over


def _profile(coefficient=0.5) -> dict:
    key = {"backend": "torch", "device": "cpu", "threads": 1, "batch": 1, "host": {"cpu": "x"}, "versions": {}}
    return {"key": key, "model": {"coefficients": {"pw.gflop": coefficient}}, "band_pct": 5.0, "created": "t"}


@pytest.mark.parametrize(
    "damaged",
    [
        {k: v for k, v in _profile().items() if k != "model"},
        {**_profile(), "model": {"coefficients": [1, 2]}},
        {**_profile(), "key": ["torch"]},
        _profile(coefficient=-3.0),
        "[1, 2]",
        '{"key": {}, "model": {"coefficients": {"pw.gflop": NaN}}}',
    ],
)
def test_damaged_profile_rows_are_never_returned(damaged, tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    key = {"k": 1}
    store.add_profile(key, _profile(0.25))
    _raw_rows(store.path, "profile", [damaged if isinstance(damaged, str) else json.dumps(damaged)])
    profile = store.latest_profile(key)
    assert profile["model"]["coefficients"] == {"pw.gflop": 0.25} and store.skipped_rows == 1


def test_a_non_finite_or_negative_record_is_never_written(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for bad in (_latency(float("nan")), _latency(-1.0)):
        with pytest.raises(ValueError):
            store.add_latency(TINY, bad)
    with pytest.raises(ValueError):
        store.add_profile({"k": 1}, _profile(float("inf")))
    assert not store.path.exists()  # nothing was written, so not even the file was created


def test_the_store_checks_integrity_once_and_decodes_only_what_it_returns(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "r.sqlite")
    for i in range(30):
        store.add_latency(TINY, _latency(float(i + 1)))
    checks, decoded = [], []
    real_check, real_decode = ResultStore._check_integrity, store_module._json_object
    monkeypatch.setattr(ResultStore, "_check_integrity", lambda self, con: checks.append(1) or real_check(self, con))
    monkeypatch.setattr(store_module, "_json_object", lambda text: decoded.append(1) or real_decode(text))
    opened = ResultStore(store.path)
    for i in range(5):
        opened.add_latency(TINY, _latency(1.0 + i))
    assert len(checks) == 1  # when opened, not on every insert
    assert opened.latest_latency(TINY.network_hash())["median_ms"] == 5.0 and len(decoded) == 1
    decoded.clear()
    assert len(opened.latencies(latest_per_setting=True)) == 1 and len(decoded) == 1


def test_csv_rows_carry_the_quality_verdict_and_the_dataset(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add_latency(TINY, _latency(1051.0))
    store.add_accuracy(TINY, {"top1": 50.0, "dataset_name": "digits", "num_classes": 10})
    latency = store.to_csv("latency").splitlines()
    accuracy = store.to_csv("accuracy").splitlines()
    assert "quality_verdict" in latency[0] and ",noisy,samples spread widely," in latency[1]
    assert "dataset_name" in accuracy[0] and ",digits,10," in accuracy[1]


# -- 5. a full disk ---------------------------------------------------------------------------------------


def test_a_full_disk_names_the_path_and_the_cause_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(explorer.safeio.os, "fsync", full)
    out = tmp_path / "m.json"
    code = main(["export", "--preset", "SM_V2", "--format", "json", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(out) in err[0] and "No space left on device" in err[0]
    assert os.listdir(tmp_path) == []


def test_a_full_standard_output_is_one_line_and_the_file_is_written(tmp_path):
    out = tmp_path / "m.json"
    with open("/dev/full", "w") as full:
        r = run_cli(["export", "--preset", "SM_V2", "--format", "json", "--out", out], tmp_path, stdout=full)
    one_error(r, "standard output", "No space left on device", code=1)
    assert json.loads(out.read_text())["name"] == "SM_V2"


def test_training_keeps_its_result_when_the_checkpoint_cannot_be_saved(files, tmp_path, monkeypatch):
    import explorer.train.loop as loop

    def full(path, payload):
        raise UserError(f"{path}: cannot write the checkpoint (No space left on device); nothing was written")

    monkeypatch.setattr(loop, "save_checkpoint", full)
    cfg = TrainConfig(
        design=TINY, data=str(files["data"]), img_size=32, batch=4, workers=0, max_steps=1, out_dir=str(tmp_path / "r")
    )
    cfg.store_result = False
    s = loop.fine_tune(cfg)
    assert 0 <= s.top1 <= 100 and s.checkpoint == ""
    assert any("checkpoint not saved" in n and "No space left" in n for n in s.notes)


def test_a_run_without_room_for_its_checkpoint_is_refused_before_training(files, tmp_path, monkeypatch):
    import shutil

    from explorer.train.loop import fine_tune

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10 << 20, 10 << 20, 1 << 20))
    cfg = TrainConfig(design=TINY, data=str(files["data"]), img_size=32, batch=4, workers=0, max_steps=1)
    cfg.out_dir, cfg.store_result = str(tmp_path / "r"), False
    with pytest.raises(UserError, match="free; a checkpoint of this run takes about"):
        fine_tune(cfg)


# -- 6. ONNX verification of deep valid designs; a failed file is never left --------------------------------


def test_a_deep_valid_design_passes_verification(tmp_path):
    from explorer.export import to_onnx

    deep = dict(tiny_design_dict(), input_size=32, stem_channels=8, last_conv=32)
    deep["stages"] = [{"t": 2, "c": c, "n": 32, "s": s} for c, s in ((8, 1), (12, 2), (16, 2), (24, 2))]
    report = to_onnx(parse_design(deep), tmp_path / "deep.onnx")
    assert report.verified, report.message
    assert report.float32_rel_error is not None and report.allowed_rel_diff >= 1e-4


def test_a_file_that_fails_verification_is_never_written(tmp_path, monkeypatch):
    import explorer.export.onnx_file as onnx_file

    monkeypatch.setattr(onnx_file, "allowed_difference", lambda float32_rel, tolerance=0: -1.0)
    report = onnx_file.to_onnx(TINY, tmp_path / "t.onnx")
    assert not report.verified and report.path is None and os.listdir(tmp_path) == []
    code = main(["export", "--preset", "SM_V2", "--format", "onnx", "--out", str(tmp_path / "s.onnx")])
    assert code == 1 and os.listdir(tmp_path) == []


# -- 7. only abandoned temporary files are removed --------------------------------------------------------


def test_a_live_writers_temporary_file_is_kept_and_an_abandoned_one_goes(tmp_path):
    (tmp_path / ".explorer-abandoned0000.tmp").write_bytes(b"left by kill -9")
    with atomic_write(tmp_path / "export.onnx") as sink:
        sink.write(b"half written")
        removed = remove_stale_temps(tmp_path)
        live = [p.name for p in tmp_path.iterdir() if p.name.startswith(".explorer-")]
        assert [p.name for p in removed] == [".explorer-abandoned0000.tmp"] and len(live) == 1
    assert (tmp_path / "export.onnx").read_bytes() == b"half written"


# -- 8. store paths: empty refused, a read never creates a store ------------------------------------------


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_store_path_is_refused(path, tmp_path):
    with pytest.raises(UserError, match="results store path is empty"):
        ResultStore(path)
    one_error(run_cli(["predict", "--preset", "SM_V2", "--threads", "1", "--store", path], tmp_path), "empty")


def test_a_reading_command_never_creates_a_store(tmp_path):
    typo = tmp_path / "results.sqlit"
    one_error(run_cli(["predict", "--preset", "SM_V2", "--threads", "1", "--store", typo], tmp_path), "calibrate")
    assert not typo.exists() and not (tmp_path / "data" / "results.sqlite").exists()
    assert ResultStore(typo).latencies() == [] and not typo.exists()


# -- 9. a self-looping link in a class folder --------------------------------------------------------------


def test_a_looping_link_is_skipped_and_counted(tmp_path):
    root = imagenet_layout(tmp_path / "images", classes=2, train=3, val=1)
    before = len(detect_dataset(root).train)
    class_dir = next((root / "train").iterdir())
    (class_dir / "loop.JPEG").symlink_to(class_dir / "loop.JPEG")
    info = detect_dataset(root)
    assert len(info.train) == before and info.skipped_entries == [str(class_dir / "loop.JPEG")]
    assert any("skipped 1 entry" in n for n in info.notes)


# -- 10. damaged training state ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(files, tmp_path_factory) -> Path:
    from explorer.train.loop import fine_tune

    out = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(design=TINY, data=str(files["data"]), img_size=32, batch=4, workers=0, max_steps=1)
    cfg.out_dir, cfg.store_result, cfg.eval_every_epoch = str(out), False, False
    fine_tune(cfg)
    return out / "last.pt"


def _damage_optimizer(ck: dict) -> None:
    state = ck["optimizer"]["state"]
    assert state, "SGD with momentum keeps a buffer per parameter after one step"
    first = next(iter(state.values()))
    first["momentum_buffer"] = torch.zeros(3, 3, 3)


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda ck: ck.pop("design"), "no design"),
        (lambda ck: ck.pop("rng"), "no rng"),
        (lambda ck: ck["scheduler"].pop("elapsed_s"), "no scheduler.elapsed_s"),
        (lambda ck: ck.update(step="3"), "step must be"),
        (lambda ck: ck.update(rng={"python": 1, "torch": torch.zeros(3)}), "random-number state"),
        (lambda ck: ck["model"].update({"classifier.bias": torch.zeros(7)}), "weights do not fit"),
        (lambda ck: ck.update(loss_log=[["x"]]), "loss_log must be"),
        (lambda ck: ck.update(metrics={"top1": 5.0}), "metrics must be"),
        (lambda ck: _damage_optimizer(ck), "optimizer momentum_buffer of shape"),
    ],
)
def test_damaged_training_state_is_named_in_one_line(damage, expected, checkpoint, files, tmp_path):
    from explorer.train.loop import fine_tune

    ck = torch.load(checkpoint, weights_only=True)
    damage(ck)
    out = tmp_path / "run"
    out.mkdir()
    torch.save(ck, out / "last.pt")
    cfg = TrainConfig(design=TINY, data=str(files["data"]), img_size=32, batch=4, workers=0, max_steps=2)
    cfg.out_dir, cfg.store_result, cfg.resume = str(out), False, True
    with pytest.raises(UserError, match=expected) as e:
        fine_tune(cfg)
    assert len(str(e.value).splitlines()) == 1


def test_resuming_on_another_class_count_says_so(checkpoint, tmp_path):
    from explorer.train.loop import fine_tune

    three = imagenet_layout(tmp_path / "three", classes=3, train=4, val=2)
    cfg = TrainConfig(design=TINY, data=str(three), img_size=32, batch=4, workers=0, max_steps=2)
    cfg.out_dir, cfg.store_result, cfg.resume = str(checkpoint.parent), False, True
    with pytest.raises(UserError, match="dataset of 2 classes, the folder now gives 3"):
        fine_tune(cfg)


# -- 11. argument errors: one short line, no usage block --------------------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "--preset", "SM_V2", "--data", "x", "--lr", "nan"], ["--lr", "finite"]),
        (["bench", "--preset", "SM_V2", "--budget", "nan"], ["--budget", "finite"]),
        (["search", "--preset", "SM_V2", "--budget-ms", "nan"], ["--budget-ms", "finite"]),
        (["search", "--preset", "SM_V2", "--seed", "1e3"], ["--seed must be an integer", "1e3"]),
        (["search", "--preset", "SM_V2", "--objective", "bogus"], ["--objective must be one of", "bogus"]),
        (["presets", "--foo"], ["unrecognized arguments: --foo", "presets --help"]),
        (["bogus"], ["unknown command bogus"]),
    ],
)
def test_argument_errors_are_one_short_line(args, words, tmp_path):
    one_error(run_cli(args, tmp_path), *words)


def test_every_command_has_a_description(tmp_path):
    for command, words in (("presets", "the paper's models"), ("summary", "per-layer params")):
        r = run_cli([command, "--help"], tmp_path)
        assert r.returncode == 0 and words in " ".join(r.stdout.split()), r.stdout


def test_a_python_without_the_libraries_says_what_to_run(tmp_path):
    code = "import sys; sys.modules['torch'] = None; from explorer.cli.main import main; sys.exit(main(sys.argv[1:]))"
    out = tmp_path / "m.onnx"
    r = subprocess.run(
        [sys.executable, "-c", code, "export", "--preset", "SM_V2", "--format", "onnx", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    one_error(r, "lacks the module 'torch'", ".venv/bin/python -m explorer")


# -- 12. design files -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"name": "a", "stages": [{"t": 1, "c": 8, "n": 1, "s": 1, "c": 16}]}', ['"c" appears twice']),
        ('{"name": "a", "name": "b", "stages": [{"t": 1, "c": 8, "n": 1, "s": 1}]}', ['"name" appears twice']),
        ('{"name": "a", "stages": [{"t": 1, "c": 8, "n": 1, "s": 1}], "paper": {"x": NaN}}', ["NaN"]),
        ('{"name": "a", "stages": [{"t": 1, "c": 8, "n": 1, "s": 1}], "paper": {"x": [1e999]}}', ["paper.x[0]"]),
        ('{"name": "a", "dropout": -Infinity, "stages": [{"t": 1, "c": 8, "n": 1, "s": 1}]}', ["-Infinity"]),
    ],
)
def test_design_files_refuse_duplicate_keys_and_non_finite_numbers(text, words):
    with pytest.raises(DesignError) as e:
        load_design_text(text, "d.json")
    for word in words:
        assert word in str(e.value)


@pytest.mark.parametrize("char", ["\u200b", "\u200e", "\u2066", "\U000e0041", "\u2028", "\u2029", "\ufeff", "\u00ad"])
def test_names_refuse_invisible_and_format_characters(char):
    with pytest.raises(DesignError, match="^name: must not hold"):
        parse_design({**tiny_design_dict(), "name": f"SM_V2{char}"})


# -- 13. the exported .py ---------------------------------------------------------------------------------


def test_the_exported_py_has_help_one_line_errors_and_takes_another_class_count(tmp_path):
    from explorer.export import to_python
    from explorer.model.build import build_model

    path = tmp_path / "model.py"
    path.write_text(to_python(TINY), encoding="utf-8")
    run = lambda *a: subprocess.run([sys.executable, str(path), *a], capture_output=True, text=True, timeout=120)  # noqa: E731
    helped = run("--help")
    assert helped.returncode == 0 and "weights" in helped.stdout and "usage:" in helped.stdout
    for bad in (["--bogus"], [str(tmp_path / "missing.pt")], ["/etc/hostname"]):
        r = run(*bad)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    torch.save({"model": build_model(TINY.with_changes(num_classes=3)).state_dict(), "step": 1}, tmp_path / "ft.pt")
    r = run(str(tmp_path / "ft.pt"))
    assert r.returncode == 0 and "3 classes" in r.stdout and "output (1, 3)" in r.stdout, r.stderr


# -- 14. the smaller ones ---------------------------------------------------------------------------------


def test_a_folder_that_takes_no_files_is_said_plainly(tmp_path, files):
    line = one_error(run_cli(["export", "--preset", "SM_V2", "--format", "json", "--out", "/proc/version"], tmp_path))
    assert "No such file" not in line and "takes no new files" in line
    args = ["train", "--spec", files["spec"], "--data", files["data"], "--out", "/proc/explorer-run", "--no-store"]
    line = one_error(run_cli([*args, "--batch", "4", "--img-size", "32"], tmp_path))
    assert "No such file" not in line and "takes no new files" in line


def test_control_characters_in_a_success_line_are_escaped(tmp_path):
    out = tmp_path / "a\x1b[31mb\rc.json"
    r = run_cli(["export", "--preset", "SM_V2", "--format", "json", "--out", out], tmp_path)
    assert r.returncode == 0 and out.exists()
    assert "\x1b" not in r.stdout and "\r" not in r.stdout and "\\x1b[31mb\\rc.json" in r.stdout


def test_a_one_class_dataset_is_refused(tmp_path):
    root = imagenet_layout(tmp_path / "one", classes=1, train=4, val=2)
    with pytest.raises(UserError, match="only one class with images.*at least 2 classes"):
        detect_dataset(root)


def test_resume_into_a_new_folder_creates_nothing(files, tmp_path):
    new = tmp_path / "new-run"
    args = ["train", "--spec", files["spec"], "--data", files["data"], "--resume", "--out", new, "--no-store"]
    args += ["--batch", "4", "--img-size", "32"]
    one_error(run_cli(args, tmp_path), "nothing to resume")
    assert not new.exists()


def test_option_bounds_are_explained_by_their_own_reason():
    (minutes,) = [o for o in options_of(TrainConfig) if o.name == "minutes"]
    assert minutes.message(-1.0, "--minutes") == "--minutes must be a positive number, got -1.0"
    assert minutes.message(1e9, "--minutes") == "--minutes must be at most 525600 (a year), got 1000000000.0"
    from explorer.export.onnx_file import OPSET

    assert OPSET.message(21, OPSET.cli_flag) == "--opset must be from 17 to 20, got 21"
    assert math.isfinite(minutes.hi)


def test_a_damaged_stored_design_is_skipped_and_counted(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add_latency(TINY, _latency(4.0))
    con = sqlite3.connect(store.path)
    con.execute("UPDATE latency SET design_json = ?", (json.dumps({**tiny_design_dict(), "input_size": -1}),))
    con.commit()
    con.close()
    assert store.design(TINY.network_hash()) is None and store.skipped_rows == 1


def test_an_empty_weights_path_is_refused(tmp_path):
    args = ["export", "--preset", "SM_V2", "--format", "onnx", "--out", tmp_path / "m.onnx", "--weights", " "]
    one_error(run_cli(args, tmp_path), "--weights")
