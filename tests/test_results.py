"""The results store: round trips, newest first, refusal of damaged or foreign files, concurrency, CSV."""

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tiny_design import TINY

from explorer.design.spec import parse_design
from explorer.errors import UserError
from explorer.store.results import ResultStore, default_store_path

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def design():
    return parse_design(TINY)


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "r.sqlite").create()


def latency(backend="torch", median=1.5, **kw):
    r = {
        "median_ms": median,
        "iqr_ms": 0.1,
        "p10_ms": 1.4,
        "p90_ms": 1.7,
        "runs": 3,
        "per_image_ms": median,
        "samples_ms": [1.4, median, 1.7],
        "backend": backend,
        "device": "cpu",
        "device_name": "Test CPU",
        "threads": 2,
        "batch": 1,
        "input_size": 32,
        "channels_last": False,
        "versions": {"torch": "2.13.0", "onnxruntime": "1.32.0"},
        "protocol": "test protocol",
    }
    r.update(kw)
    return r


def test_default_path_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "d"))
    assert default_store_path() == tmp_path / "d" / "results.sqlite"
    assert ResultStore().path == tmp_path / "d" / "results.sqlite"
    assert not (tmp_path / "d" / "results.sqlite").exists()  # a read or an open never creates the store


def test_latency_round_trip_newest_first_and_filters(store, design, tmp_path):
    other = parse_design({**TINY, "stem_channels": 4})
    first = store.add_latency(design, latency(median=1.0))
    second = store.add_latency(design, latency(median=2.0, backend="onnxruntime"))
    third = store.add_latency(design, latency(median=3.0))
    store.add_latency(other, latency(median=9.0))
    rows = store.latencies(design.network_hash())
    assert [r["id"] for r in rows] == [third, second, first]
    assert rows[0]["samples_ms"] == [1.4, 3.0, 1.7] and rows[0]["design_name"] == "tiny"
    assert rows[0]["versions"]["torch"] == "2.13.0" and rows[0]["timestamp"]
    torch_rows = store.latencies(design.network_hash(), backend="torch", threads=2, batch=1, input_size=32)
    assert [r["median_ms"] for r in torch_rows] == [3.0, 1.0]
    assert store.latencies(design.network_hash(), threads=4) == []
    assert store.latest_latency(design.network_hash(), backend="onnxruntime")["median_ms"] == 2.0
    assert len(store.latencies()) == 4
    assert ResultStore(tmp_path / "r.sqlite").latencies(other.network_hash())[0]["median_ms"] == 9.0  # persisted
    assert store.design(design.network_hash())["stem_channels"] == 8
    with pytest.raises(TypeError):
        store.latencies(colour="red")


def test_accuracy_round_trip(store, design):
    rec = {
        "top1": 61.5,
        "top5": 85.0,
        "images": 1000,
        "minutes": 3.5,
        "img_size": 128,
        "steps": 200,
        "checkpoint": "/tmp/c.pt",
        "label": "quick fine-tune",
        "extra": {"lr": 0.1},
    }
    store.add_accuracy(design, rec)
    store.add_accuracy(design, {"top1": 70.0})
    rows = store.accuracies(design.network_hash())
    assert [r["top1"] for r in rows] == [70.0, 61.5]
    assert rows[1]["extra"] == {"lr": 0.1} and rows[1]["label"] == "quick fine-tune"
    assert store.accuracies("0" * 16) == []
    with pytest.raises(ValueError):
        store.add_accuracy(design, {"top5": 1.0})


def test_csv_export(store, design):
    store.add_latency(design, latency(median=1.25))
    store.add_accuracy(design, {"top1": 50.0, "label": "a, b"})
    rows = list(csv.DictReader(io.StringIO(store.to_csv("latency"))))
    assert len(rows) == 1
    assert rows[0]["median_ms"] == "1.25" and rows[0]["torch_version"] == "2.13.0"
    assert "samples_ms" not in rows[0]
    acc = list(csv.DictReader(io.StringIO(store.to_csv("accuracy"))))
    assert acc[0]["label"] == "a, b" and acc[0]["design_name"] == "tiny"
    with pytest.raises(UserError, match="unknown results kind"):
        store.to_csv("speed")


@pytest.mark.parametrize("content", [b"this is not a database\n" * 50, b"SQLite format 3\x00" + b"\xff" * 200])
def test_corrupt_file_is_refused_and_untouched(tmp_path, content):
    path = tmp_path / "results.sqlite"
    path.write_bytes(content)
    with pytest.raises(UserError) as e:
        ResultStore(path)
    msg = str(e.value)
    assert str(path) in msg and "left untouched" in msg and "\n" not in msg
    assert path.read_bytes() == content


def test_foreign_sqlite_is_refused_and_untouched(tmp_path, design):
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE invoices (id INTEGER, total REAL)")
    con.execute("INSERT INTO invoices VALUES (1, 9.5)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(UserError, match="another program"):
        ResultStore(path)
    assert path.read_bytes() == before


def test_newer_schema_and_folder_are_refused(tmp_path, store):
    con = sqlite3.connect(store.path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(UserError, match="newer version"):
        ResultStore(store.path)
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(UserError, match="is a folder"):
        ResultStore(tmp_path / "dir.sqlite")


def test_concurrent_threads(store, design):
    def add(i):
        for j in range(10):
            store.add_latency(design, latency(median=float(i * 100 + j)))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.latencies()) == 40


WRITER = """
import sys
from explorer.store.results import ResultStore
from explorer.design.spec import parse_design
d = parse_design({"stages": [{"t": 1, "c": 8, "n": 1, "s": 1}], "input_size": 32})
s = ResultStore(sys.argv[1])
for i in range(15):
    s.add_latency(d, {"backend": "torch", "device": "cpu", "batch": 1, "threads": 1, "input_size": 32,
                      "median_ms": float(i)})
"""


def test_concurrent_processes_on_a_new_file(tmp_path):
    path = tmp_path / "new" / "results.sqlite"  # both processes race to create the schema
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert len(ResultStore(path).latencies()) == 45


def _store_with_rows(path, design, n=300) -> bytes:
    store = ResultStore(path)
    for i in range(n):
        store.add_accuracy(design, {"top1": float(i % 100), "label": "x" * 200})
    return path.read_bytes()


def test_store_with_its_tail_cut_off_is_refused_and_never_written(tmp_path, design):
    path = tmp_path / "r.sqlite"
    full = _store_with_rows(path, design)
    path.write_bytes(full[: len(full) * 2 // 3])
    cut = path.read_bytes()
    with pytest.raises(UserError, match=r"(damaged|malformed).*move it away"):
        ResultStore(path).add_accuracy(design, {"top1": 1.0})
    assert path.read_bytes() == cut


@pytest.mark.parametrize("value", ["one", "", "1.5"])
def test_non_integer_schema_version_is_a_clear_refusal(tmp_path, store, value):
    con = sqlite3.connect(store.path)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))
    con.commit()
    con.close()
    with pytest.raises(UserError, match="damaged schema_version"):
        ResultStore(store.path)


def test_rows_with_bad_json_are_skipped_and_counted(store, design):
    for top1 in (1.0, 2.0, 3.0):
        store.add_accuracy(design, {"top1": top1})
    store.add_latency(
        design, {"backend": "torch", "device": "cpu", "batch": 1, "threads": 1, "input_size": 32, "median_ms": 1.0}
    )
    con = sqlite3.connect(store.path)
    con.execute("UPDATE accuracy SET record_json = '{not json' WHERE top1 = 2.0")
    con.execute("UPDATE accuracy SET record_json = '[1, 2]' WHERE top1 = 3.0")
    con.execute("UPDATE latency SET design_json = '{broken'")
    con.commit()
    con.close()
    rows = store.accuracies()
    assert [r["top1"] for r in rows] == [1.0] and store.skipped_rows == 2
    assert store.design(design.network_hash()) == json.loads(design.to_json())  # from the intact accuracy row
    assert store.skipped_rows == 2 + 1  # the latency row's broken design was passed over, and counted
    assert "1.0" in store.to_csv("accuracy")
    assert store.skipped_rows == 3 + 2  # counted across this object's queries: to_csv read the two again
    fresh = ResultStore(store.path)
    fresh.latencies()
    assert fresh.skipped_rows == 0  # the latency row's own JSON is intact


def test_store_that_is_a_link_or_a_fifo_is_refused(tmp_path, store):
    link = tmp_path / "link.sqlite"
    link.symlink_to(store.path)
    with pytest.raises(UserError, match="symbolic link"):
        ResultStore(link)
    fifo = tmp_path / "fifo.sqlite"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        ResultStore(fifo)
