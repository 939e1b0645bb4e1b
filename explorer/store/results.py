"""The results store: latency measurements and accuracies that survive restarts, in one SQLite file.

Every measurement is kept (with its timestamp and raw samples); queries return the newest first. Rows are
keyed by design hash + backend + device + batch + threads + input size. A file that is not ours (damaged,
not SQLite, or another program's database) is refused with a message naming it, and never written to.
Each call opens its own connection, so one store object is safe to share between threads, and SQLite's
file locking (with a busy timeout) makes concurrent processes safe.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError
from ..paths import default_data_dir, now_iso

APP_ID = "cnn-explorer-results"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0
KINDS = ("latency", "accuracy")

LATENCY_COLUMNS = (
    "design_hash",
    "design_name",
    "backend",
    "device",
    "batch",
    "threads",
    "input_size",
    "channels_last",
    "median_ms",
    "iqr_ms",
    "p10_ms",
    "p90_ms",
    "runs",
    "per_image_ms",
    "device_name",
    "timestamp",
)
ACCURACY_COLUMNS = (
    "design_hash",
    "design_name",
    "top1",
    "top5",
    "images",
    "minutes",
    "img_size",
    "steps",
    "checkpoint",
    "label",
    "timestamp",
)
CSV_EXTRA = {"latency": ("torch_version", "onnxruntime_version", "protocol"), "accuracy": ()}

SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('app', '{APP_ID}'), ('schema_version', '{SCHEMA_VERSION}');
CREATE TABLE latency (
    id INTEGER PRIMARY KEY AUTOINCREMENT, design_hash TEXT NOT NULL, design_name TEXT, backend TEXT NOT NULL,
    device TEXT NOT NULL, batch INTEGER NOT NULL, threads INTEGER NOT NULL, input_size INTEGER NOT NULL,
    channels_last INTEGER NOT NULL DEFAULT 0, median_ms REAL NOT NULL, iqr_ms REAL, p10_ms REAL, p90_ms REAL,
    runs INTEGER, per_image_ms REAL, device_name TEXT, timestamp TEXT NOT NULL,
    result_json TEXT NOT NULL, design_json TEXT NOT NULL
);
CREATE INDEX latency_key ON latency (design_hash, backend, device, batch, threads, input_size);
CREATE TABLE accuracy (
    id INTEGER PRIMARY KEY AUTOINCREMENT, design_hash TEXT NOT NULL, design_name TEXT, top1 REAL NOT NULL,
    top5 REAL, images INTEGER, minutes REAL, img_size INTEGER, steps INTEGER, checkpoint TEXT, label TEXT,
    timestamp TEXT NOT NULL, record_json TEXT NOT NULL, design_json TEXT NOT NULL
);
CREATE INDEX accuracy_key ON accuracy (design_hash);
"""


def default_store_path() -> Path:
    return default_data_dir() / "results.sqlite"


def _json_object(text) -> dict | None:
    """A stored JSON object, or None when the row is damaged (not text, not JSON, not an object)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class ResultStore:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path).expanduser() if path else default_store_path()
        self.skipped_rows = 0  # damaged rows skipped by this object's queries so far, so pages can say so
        with self._connect() as con:  # refuse a foreign or damaged file now, not after a long measurement
            self._check_integrity(con)

    # -- connection and schema -------------------------------------------------------------------------
    def _refuse(self, why: str) -> UserError:
        return UserError(f"{self.path}: {why}; it was left untouched — move it away or choose another store path")

    def _check_file_type(self) -> None:
        """Only a regular file or a new path: never a link (SQLite would follow it), a device or a FIFO."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as e:
            raise UserError(f"{self.path}: cannot open the results store ({e.strerror or e})") from None
        if stat.S_ISDIR(st.st_mode):
            raise self._refuse("is a folder, not a results store file")
        if stat.S_ISLNK(st.st_mode):
            raise self._refuse("is a symbolic link; the store must be a regular file (give its real path)")
        if not stat.S_ISREG(st.st_mode):
            raise self._refuse("is not a regular file (a device, FIFO or socket)")

    def _check_integrity(self, con: sqlite3.Connection) -> None:
        try:
            verdict = [r[0] for r in con.execute("PRAGMA quick_check(5)").fetchall()]
        except sqlite3.DatabaseError as e:
            verdict = [str(e)]
        if verdict != ["ok"]:
            raise self._refuse(f"is damaged (SQLite integrity check: {verdict[0]})")

    @contextmanager
    def _connect(self):
        self._check_file_type()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"{self.path.parent}: cannot create the results folder ({e.strerror or e})") from None
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise UserError(f"{self.path}: cannot open the results store ({e})") from None
        try:
            self._check_or_create(con)
            con.row_factory = sqlite3.Row
            yield con
        except sqlite3.DatabaseError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise UserError(f"{self.path}: results store busy for over {BUSY_TIMEOUT_S:.0f} s ({e})") from None
            raise self._refuse(f"not a readable results store ({e})") from None
        finally:
            con.close()

    def _check_or_create(self, con: sqlite3.Connection) -> None:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            con.execute("BEGIN IMMEDIATE")  # another process may be creating it at this very moment
            try:
                if not con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    for stmt in SCHEMA.split(";"):
                        if stmt.strip():
                            con.execute(stmt)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables:
            raise self._refuse("is an SQLite database of another program (no cnn-explorer tables)")
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("app") != APP_ID:
            raise self._refuse("is an SQLite database of another program (no cnn-explorer tables)")
        try:
            version = int(meta.get("schema_version", "0"))
        except (TypeError, ValueError):
            raise self._refuse(f"has a damaged schema_version ({str(meta.get('schema_version'))[:40]!r})") from None
        if version > SCHEMA_VERSION:
            raise self._refuse(f"was written by a newer version of the explorer (schema {version})")
        if not {"latency", "accuracy"} <= tables:
            raise self._refuse("is a results store with missing tables (damaged)")

    def _insert(self, table: str, values: dict) -> int:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._connect() as con:
            self._check_integrity(con)  # damage found later than the open must not be written over either
            cur = con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
            return int(cur.lastrowid)

    # -- writing ---------------------------------------------------------------------------------------
    def add_latency(self, design, result) -> int:
        """Store one measurement (a LatencyResult or its to_dict()); returns its row id."""
        r = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        missing = [k for k in ("backend", "device", "batch", "threads", "input_size", "median_ms") if k not in r]
        if missing:
            raise ValueError(f"latency result lacks {', '.join(missing)}")
        r.setdefault("timestamp", now_iso())
        row = {k: r.get(k) for k in LATENCY_COLUMNS}
        row.update(design_hash=design.network_hash(), design_name=design.name)
        row["channels_last"] = int(bool(r.get("channels_last")))
        row["result_json"] = json.dumps(r)
        row["design_json"] = design.to_json()
        return self._insert("latency", row)

    def add_accuracy(self, design, record: dict) -> int:
        """Store one accuracy: top1 (percent) required; top5, images, minutes, img_size, steps, checkpoint, label."""
        r = dict(record)
        if not isinstance(r.get("top1"), (int, float)) or isinstance(r.get("top1"), bool):
            raise ValueError("accuracy record needs a numeric 'top1'")
        r.setdefault("timestamp", now_iso())
        row = {k: r.get(k) for k in ACCURACY_COLUMNS}
        row["checkpoint"] = str(row["checkpoint"]) if row["checkpoint"] is not None else None
        row.update(design_hash=design.network_hash(), design_name=design.name)
        row["record_json"] = json.dumps(r, default=str)
        row["design_json"] = design.to_json()
        return self._insert("accuracy", row)

    # -- reading ---------------------------------------------------------------------------------------
    def latencies(self, design_hash: str | None = None, **key) -> list[dict]:
        """All measurements, newest first; filter by design_hash and any of backend, device, batch, threads,
        input_size, channels_last. Each dict is the stored result (samples included) plus id, design_name,
        design_hash."""
        return self._select("latency", "result_json", design_hash, key)

    def latest_latency(self, design_hash: str, **key) -> dict | None:
        rows = self.latencies(design_hash, **key)
        return rows[0] if rows else None

    def accuracies(self, design_hash: str | None = None) -> list[dict]:
        return self._select("accuracy", "record_json", design_hash, {})

    def design(self, design_hash: str) -> dict | None:
        """The stored design file of a hash (from its newest row of either kind), for charts of old results."""
        with self._connect() as con:
            for table in KINDS:
                sql = f"SELECT design_json FROM {table} WHERE design_hash = ? ORDER BY id DESC LIMIT 1"
                row = con.execute(sql, (design_hash,)).fetchone()
                design = _json_object(row[0]) if row else None
                if design is not None:
                    return design
        return None

    def _select(self, table: str, blob: str, design_hash: str | None, key: dict) -> list[dict]:
        allowed = {"backend", "device", "batch", "threads", "input_size", "channels_last"}
        unknown = set(key) - allowed
        if unknown:
            raise TypeError(f"unknown filter(s): {', '.join(sorted(unknown))}")
        where = {k: v for k, v in key.items() if v is not None}
        if "channels_last" in where:
            where["channels_last"] = int(bool(where["channels_last"]))
        if design_hash is not None:
            where["design_hash"] = design_hash
        sql = f"SELECT id, design_hash, design_name, {blob} FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
        sql += " ORDER BY id DESC"
        with self._connect() as con:
            rows = con.execute(sql, tuple(where.values())).fetchall()
        out = []
        skipped = 0
        for row in rows:
            d = _json_object(row[blob])
            if d is None:  # one damaged row must not hide all the others
                skipped += 1
                continue
            d.update(id=row["id"], design_hash=row["design_hash"], design_name=row["design_name"])
            out.append(d)
        self.skipped_rows += skipped
        return out

    def to_csv(self, kind: str = "latency") -> str:
        """Every row of one kind ("latency" or "accuracy"), newest first, raw samples left out."""
        if kind not in KINDS:
            raise UserError(f"unknown results kind {kind!r}; choose one of: {', '.join(KINDS)}")
        rows = self.latencies() if kind == "latency" else self.accuracies()
        cols = ("id",) + (LATENCY_COLUMNS if kind == "latency" else ACCURACY_COLUMNS) + CSV_EXTRA[kind]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            versions = r.get("versions") or {}
            w.writerow(
                {**r, "torch_version": versions.get("torch"), "onnxruntime_version": versions.get("onnxruntime")}
            )
        return buf.getvalue()

    # -- latency-model profiles (explorer.predict) ----------------------------------------------------------
    # One row per calibration, keyed by the canonical JSON of its key (host fingerprint, backend, device,
    # threads, batch, library versions). The table is created on first use, so a store written before profiles
    # existed still opens and keeps its schema version.
    _PROFILE_TABLE = (
        "CREATE TABLE IF NOT EXISTS profile (id INTEGER PRIMARY KEY AUTOINCREMENT, key_json TEXT NOT NULL, "
        "timestamp TEXT NOT NULL, profile_json TEXT NOT NULL)"
    )

    @staticmethod
    def _profile_key_json(key: dict) -> str:
        if not isinstance(key, dict) or not key:
            raise ValueError("a profile key must be a non-empty dict")
        return json.dumps(key, sort_keys=True, separators=(",", ":"))

    def add_profile(self, key: dict, profile: dict) -> int:
        """Store one calibration profile under `key`; returns its row id."""
        key_json = self._profile_key_json(key)
        blob = json.dumps(profile, sort_keys=True)
        with self._connect() as con:
            self._check_integrity(con)
            con.execute(self._PROFILE_TABLE)
            cur = con.execute(
                "INSERT INTO profile (key_json, timestamp, profile_json) VALUES (?, ?, ?)", (key_json, now_iso(), blob)
            )
            return int(cur.lastrowid)

    def latest_profile(self, key: dict) -> dict | None:
        """The newest profile stored under exactly `key`, or None (also for a store without profiles)."""
        key_json = self._profile_key_json(key)
        with self._connect() as con:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'profile'").fetchone():
                return None
            rows = con.execute(
                "SELECT id, profile_json FROM profile WHERE key_json = ? ORDER BY id DESC", (key_json,)
            ).fetchall()
        for row in rows:  # a damaged row is skipped, never returned
            profile = _json_object(row["profile_json"])
            if profile is not None:
                profile["stored_id"] = row["id"]
                return profile
        return None
