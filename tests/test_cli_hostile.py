"""Every command on special files (/dev/zero, a FIFO, a folder, links), under a memory limit and a timeout.

A command must answer exit 2 and one `error:` line naming the file, quickly and in little memory: never
read /dev/zero until memory runs out, never hang on a FIFO, never replace a device or a linked file.
"""

import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from _imagedata import imagenet_layout, tiny_design_dict

ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 2 << 30  # address space: enough for torch and ONNX Runtime, far below "read /dev/zero"
TIMEOUT_S = 120  # a hang on a FIFO ends here (the command itself answers in seconds)


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_limited(args, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXPLORER_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    env.pop("EXPLORER_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "explorer", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_limit_memory,
    )


def assert_refused(r: subprocess.CompletedProcess, *words: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """The special files, made once: a FIFO (with no writer: opening it for reading blocks), a folder, a
    symbolic link to /dev/zero, and a good design, dataset and output folder for the other arguments."""
    d = tmp_path_factory.mktemp("special")
    os.mkfifo(d / "fifo")
    (d / "folder").mkdir()
    (d / "zero-link").symlink_to("/dev/zero")
    (d / "good.json").write_text(json.dumps(tiny_design_dict()))
    imagenet_layout(d / "images", classes=2, train=3, val=1)
    return {
        "/dev/zero": "/dev/zero",
        "fifo": d / "fifo",
        "folder": d / "folder",
        "link": d / "zero-link",
        "spec": d / "good.json",
        "images": d / "images",
    }


WHY = {"/dev/zero": "a device", "fifo": "FIFO", "folder": "a folder", "link": "a device"}
DESIGN_COMMANDS = [
    ["summary"],
    ["bench", "--budget", "0.2"],
    ["export", "--format", "py", "--out", "{out}/m.py"],
    ["export", "--format", "onnx", "--out", "{out}/m.onnx"],
    ["train", "--data", "{images}", "--max-steps", "1", "--no-store"],
]


@pytest.mark.parametrize("special", list(WHY))
@pytest.mark.parametrize("command", DESIGN_COMMANDS, ids=lambda c: " ".join(c[:3]))
def test_every_command_refuses_a_special_design_file(tmp_path, files, command, special):
    args = [a.format(out=tmp_path, images=files["images"]) for a in command]
    r = run_limited([*args, "--spec", files[special]], tmp_path)
    assert_refused(r, str(files[special]), WHY[special])
    assert not list(tmp_path.glob("m.*"))  # nothing written


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder", "link"])
def test_checkpoint_arguments_refuse_special_files(tmp_path, files, special):
    r = run_limited(
        [
            "export",
            "--spec",
            files["spec"],
            "--format",
            "onnx",
            "--weights",
            files[special],
            "--out",
            tmp_path / "m.onnx",
        ],
        tmp_path,
    )
    assert_refused(r, str(files[special]))
    r = run_limited(
        [
            "train",
            "--spec",
            files["spec"],
            "--data",
            files["images"],
            "--max-steps",
            "1",
            "--batch",
            "2",
            "--no-store",
            "--init",
            files[special],
            "--out",
            tmp_path / "run",
        ],
        tmp_path,
    )
    assert_refused(r, str(files[special]))
    assert not (tmp_path / "run" / "last.pt").exists()


@pytest.mark.parametrize("target", ["fifo", "link", "folder", "/dev/null"])
def test_export_never_replaces_a_special_output(tmp_path, files, target):
    path = files[target] if target != "/dev/null" else Path("/dev/null")
    before = os.lstat(path)
    r = run_limited(["export", "--spec", files["spec"], "--format", "json", "--out", path], tmp_path)
    assert_refused(r, str(path))
    after = os.lstat(path)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino


def test_export_trailing_slash_and_a_250_character_name(tmp_path, files):
    r = run_limited(["export", "--spec", files["spec"], "--format", "json", "--out", f"{tmp_path}/d.json/"], tmp_path)
    assert_refused(r, "ends with '/'")
    long_name = tmp_path / ("d" * 245 + ".json")
    r = run_limited(["export", "--spec", files["spec"], "--format", "json", "--out", long_name], tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(long_name.read_text())["name"] == "tiny"
    assert sorted(os.listdir(tmp_path)) == [long_name.name]  # no temporary file left


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "link"])
def test_store_arguments_refuse_special_files(tmp_path, files, special):
    r = run_limited(["bench", "--spec", files["spec"], "--budget", "0.2", "--store", files[special]], tmp_path)
    assert_refused(r, str(files[special]))
    r = run_limited(
        [
            "train",
            "--spec",
            files["spec"],
            "--data",
            files["images"],
            "--max-steps",
            "1",
            "--batch",
            "2",
            "--store",
            files[special],
            "--out",
            tmp_path / "run",
        ],
        tmp_path,
    )
    assert_refused(r, str(files[special]))


@pytest.mark.parametrize(
    "data_dir, out, words",
    [
        ("file", None, "cannot"),  # EXPLORER_DATA_DIR pointing at a file: no run folder, no store, no lock
        (None, "/proc/explorer-run", "cannot"),
        (None, "fifo", "not a folder"),
    ],
)
def test_train_checks_its_outputs_before_the_first_step(tmp_path, files, data_dir, out, words):
    env_dir = tmp_path / "data-file"
    env_dir.write_text("not a folder")
    args = ["train", "--spec", files["spec"], "--data", files["images"], "--max-steps", "1", "--batch", "2"]
    if out:
        args += ["--out", files.get(out, out)]
    env = {**os.environ, "EXPLORER_DATA_DIR": str(env_dir if data_dir else tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "explorer", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_limit_memory,
    )
    assert_refused(r, words)
    assert "step 1" not in r.stderr  # refused before training, not after
    assert env_dir.read_text() == "not a folder"


@pytest.mark.parametrize("option", ["--lr", "--weight-decay", "--minutes", "--warmup", "--label-smoothing"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_by_the_parser(tmp_path, files, option, value):
    r = run_limited(["train", "--spec", files["spec"], "--data", files["images"], f"{option}={value}"], tmp_path)
    assert r.returncode == 2 and "must be a finite number" in r.stderr and "Traceback" not in r.stderr


def test_empty_preset_and_unicode_under_an_ascii_locale(tmp_path, files):
    for command in (["summary"], ["export", "--format", "json", "--out", tmp_path / "x.json"]):
        assert_refused(run_limited([*command, "--preset", ""], tmp_path), "--preset")
    spec = tmp_path / "unicode.json"
    spec.write_text(json.dumps({**tiny_design_dict(), "name": "réseau 网络 🚀"}), encoding="utf-8")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0"}
    r = subprocess.run(
        [sys.executable, "-m", "explorer", "summary", "--spec", str(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert r.returncode == 0, r.stderr
    assert "r\\xe9seau \\u7f51\\u7edc \\U0001f680" in r.stdout


def test_control_characters_in_unknown_keys_are_printed_escaped(tmp_path):
    spec = tmp_path / "keys.json"
    spec.write_text(json.dumps({**tiny_design_dict(), "evil\x1b[2Jkey": 1}))
    r = run_limited(["summary", "--spec", spec], tmp_path)
    assert_refused(r, "unknown key")
    assert "\x1b" not in r.stderr and "\\u001b[2Jkey" in r.stderr
