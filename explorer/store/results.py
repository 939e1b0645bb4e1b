"""The results store: latency measurements and accuracies that survive restarts, in one SQLite file.

Every measurement is kept (with its timestamp and raw samples); queries return the newest first. Rows are
keyed by design hash + backend + device + batch + threads + input size. A file that is not ours (damaged,
not SQLite, or another program's database) is refused with a message naming it, and never written to.
Each call opens its own connection, so one store object is safe to share between threads, and SQLite's
file locking (with a busy timeout) makes concurrent processes safe.

The file is created by the first write, never by a read: `predict --store results.sqlit` (a typo) finds no
store rather than making an empty one. The integrity check runs once, when the store is opened, not on every
insert (on a 17 MB store it cost more than the insert itself). Queries filter in SQL and decode only the rows
they return; every decoded row is checked (explorer.store.rows) and a damaged one is skipped and counted.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from ..design.spec import parse_design
from ..errors import DesignError, UserError
from ..paths import default_data_dir, now_iso, user_path
from ..safeio import make_folder, note_input
from .rows import accuracy_problems, latency_problems, profile_problems

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
CSV_EXTRA = {
    "latency": ("quality_verdict", "quality_reasons", "torch_version", "onnxruntime_version", "protocol"),
    "accuracy": ("dataset_name", "num_classes", "dataset"),
}
SETTING = ("design_hash", "backend", "device", "batch", "threads", "input_size")  # one measured setting
FILTERS = {"backend", "device", "batch", "threads", "input_size", "channels_last"}

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


def store_path(path: str | os.PathLike | None) -> Path:
    """The store's file: `path`, or the default when None. An empty or blank path is a mistake, not a wish for
    the default (`--store ""` from a script whose variable was unset)."""
    if path is None:
        return default_store_path()
    if not os.fspath(path).strip():
        raise UserError("the results store path is empty; give a file, or leave --store out for the default store")
    return user_path(path, "results store")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as text: a stored label or name starting like a formula
    (`=HYPERLINK(...)`) gets a leading apostrophe, the usual guard; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _json_object(text) -> dict | None:
    """A stored JSON object, or None when the row is damaged (not text, not JSON, not an object)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _design_problem(raw: dict) -> bool:
    try:
        parse_design(raw)
    except DesignError:
        return True
    return False


def _finite_json(value: dict) -> str:
    """JSON of a record to store: NaN and infinity are refused (they are not JSON, and a NaN median would become
    a search's budget)."""
    try:
        return json.dumps(value, default=str, allow_nan=False)
    except ValueError:
        bad = [k for k, v in value.items() if isinstance(v, float) and not math.isfinite(v)]
        raise ValueError(f"a record to store holds a non-finite number ({', '.join(bad) or 'nested'})") from None


class ResultStore:
    def __init__(self, path: str | Path | None = None):
        self.path = store_path(path)
        self.skipped_rows = 0  # damaged rows skipped by this object's queries so far, so pages can say so
        note_input(self.path)  # an output of the same command must never replace the store
        with self._connect() as con:  # refuse a foreign or damaged file now, not after a long measurement
            if con is not None:
                self._check_integrity(con)

    def create(self) -> ResultStore:
        """Create the file with its tables now (writes do it themselves; this is for tools and tests)."""
        with self._connect(write=True):
            pass
        return self

    @property
    def exists(self) -> bool:
        """Whether the file is there (a store is created by its first write)."""
        return os.path.lexists(self.path)

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
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection | None]:
        """A connection, or None for a read of a store that does not exist yet (reads never create it)."""
        self._check_file_type()
        if write:
            make_folder(self.path.parent, "results folder")
        elif not self.exists:
            yield None
            return
        mode = "rwc" if write else "rw"  # "rw": SQLite itself refuses to create the file on a read
        try:
            con = sqlite3.connect(
                f"file:{quote(str(self.path.absolute()))}?mode={mode}",
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
            )
        except sqlite3.Error as e:
            if not write and not self.exists:  # removed between the check and the open
                yield None
                return
            raise UserError(f"{self.path}: cannot open the results store ({e})") from None
        try:
            if not self._check_or_create(con, write):
                yield None  # an empty file (being created by another process): nothing to read yet
                return
            con.row_factory = sqlite3.Row
            yield con
        except sqlite3.DatabaseError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise UserError(f"{self.path}: results store busy for over {BUSY_TIMEOUT_S:.0f} s ({e})") from None
            raise self._refuse(f"not a readable results store ({e})") from None
        finally:
            con.close()

    def _check_or_create(self, con: sqlite3.Connection, write: bool) -> bool:
        """Whether the store has its tables (created now for a write); a foreign or newer file is refused."""
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and not write:
            return False
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
        return True

    def _insert(self, table: str, values: dict) -> int:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._connect(write=True) as con:  # checked once, when the store was opened
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
        problems = latency_problems(r)
        if problems:  # what a query would skip is never written
            raise ValueError(f"latency result not stored: {'; '.join(problems)}")
        row = {k: r.get(k) for k in LATENCY_COLUMNS}
        row.update(design_hash=design.network_hash(), design_name=design.name)
        row["channels_last"] = int(bool(r.get("channels_last")))
        row["result_json"] = _finite_json(r)
        row["design_json"] = design.to_json()
        return self._insert("latency", row)

    def add_accuracy(self, design, record: dict) -> int:
        """Store one accuracy: top1 (percent) required; top5, images, minutes, img_size, steps, checkpoint, label."""
        r = dict(record)
        if not isinstance(r.get("top1"), (int, float)) or isinstance(r.get("top1"), bool):
            raise ValueError("accuracy record needs a numeric 'top1'")
        r.setdefault("timestamp", now_iso())
        problems = accuracy_problems(r)
        if problems:
            raise ValueError(f"accuracy record not stored: {'; '.join(problems)}")
        row = {k: r.get(k) for k in ACCURACY_COLUMNS}
        row["checkpoint"] = str(row["checkpoint"]) if row["checkpoint"] is not None else None
        row.update(design_hash=design.network_hash(), design_name=design.name)
        row["record_json"] = _finite_json(r)
        row["design_json"] = design.to_json()
        return self._insert("accuracy", row)

    # -- reading ---------------------------------------------------------------------------------------
    def latencies(
        self,
        design_hash: str | None = None,
        *,
        limit: int | None = None,
        latest_per_setting: bool = False,
        **key,
    ) -> list[dict]:
        """Measurements, newest first; filter by design_hash and any of backend, device, batch, threads,
        input_size, channels_last. Each dict is the stored result (samples included) plus id, design_name,
        design_hash. `limit`: at most that many (damaged rows skipped do not count); `latest_per_setting`: only
        the newest row of each design and setting (SETTING). Only the rows returned are decoded."""
        return self._select("latency", "result_json", design_hash, key, latency_problems, limit, latest_per_setting)

    def latest_latency(self, design_hash: str, **key) -> dict | None:
        rows = self.latencies(design_hash, limit=1, **key)
        return rows[0] if rows else None

    def accuracies(self, design_hash: str | None = None, limit: int | None = None) -> list[dict]:
        return self._select("accuracy", "record_json", design_hash, {}, accuracy_problems, limit)

    def design(self, design_hash: str) -> dict | None:
        """The stored design file of a hash (from its newest row of either kind), for charts of old results."""
        return self.designs(design_hash).get(design_hash)

    def designs(self, design_hash: str | None = None) -> dict[str, dict]:
        """{hash: design file} for every stored network (or one), each from its newest row, a latency row first;
        one query per table, so a chart of thousands of results does not open a connection per design."""
        out: dict[str, dict] = {}
        with self._connect() as con:
            if con is None:
                return out
            for table in KINDS:
                where, params = ("WHERE design_hash = ?", (design_hash,)) if design_hash is not None else ("", ())
                newest = f"SELECT max(id) FROM {table} {where} GROUP BY design_hash"
                sql = f"SELECT design_hash, design_json FROM {table} WHERE id IN ({newest})"
                for h, text in con.execute(sql, params):
                    if h in out:
                        continue
                    design = _json_object(text)
                    if design is None or _design_problem(design):  # a damaged design never reaches a chart
                        self.skipped_rows += 1
                        continue
                    out[h] = design
        return out

    def _select(
        self,
        table: str,
        blob: str,
        design_hash: str | None,
        key: dict,
        problems,
        limit: int | None = None,
        latest_per_setting: bool = False,
    ) -> list[dict]:
        unknown = set(key) - FILTERS
        if unknown:
            raise TypeError(f"unknown filter(s): {', '.join(sorted(unknown))}")
        where = {k: v for k, v in key.items() if v is not None}
        if "channels_last" in where:
            where["channels_last"] = int(bool(where["channels_last"]))
        if design_hash is not None:
            where["design_hash"] = design_hash
        condition = " AND ".join(f"{k} = ?" for k in where) or "1"
        sql = f"SELECT id, design_hash, design_name, {blob} FROM {table} WHERE {condition}"
        params = tuple(where.values())
        if latest_per_setting:
            newest = f"SELECT max(id) FROM {table} WHERE {condition} GROUP BY {', '.join(SETTING)}"
            sql += f" AND id IN ({newest})"
            params += params
        sql += " ORDER BY id DESC"
        out: list[dict] = []
        with self._connect() as con:
            if con is None:
                return out
            for row in con.execute(sql, params):  # rows stream from SQLite: only what is returned is decoded
                d = _json_object(row[blob])
                if d is None or problems(d):  # one damaged row must not hide all the others
                    self.skipped_rows += 1
                    continue
                d.update(id=row["id"], design_hash=row["design_hash"], design_name=row["design_name"])
                out.append(d)
                if limit is not None and len(out) >= limit:
                    break
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
            versions = r.get("versions") if isinstance(r.get("versions"), dict) else {}
            quality = r.get("quality") or {}
            extra = {
                "torch_version": versions.get("torch"),
                "onnxruntime_version": versions.get("onnxruntime"),
                # the verdict travels with the number: a noisy 1,051 ms must not read like a good one
                "quality_verdict": quality.get("verdict") if quality.get("verdict") in ("ok", "noisy") else "unchecked",
                "quality_reasons": "; ".join(quality.get("reasons") or []),
            }
            w.writerow({k: spreadsheet_safe(v) for k, v in ({**r, **extra} if kind == "latency" else r).items()})
        return buf.getvalue()

    # -- latency-model profiles (explorer.predict) ----------------------------------------------------------
    # One row per calibration, keyed by the canonical JSON of its key (host fingerprint, backend, device,
    # threads, batch, library versions). The table is created on first use, so a store written before profiles
    # existed still opens and keeps its schema version.
    _PROFILE_TABLE = (
        "CREATE TABLE IF NOT EXISTS profile (id INTEGER PRIMARY KEY AUTOINCREMENT, key_json TEXT NOT NULL, "
        "timestamp TEXT NOT NULL, profile_json TEXT NOT NULL)"
    )

    # the newest row of a key is found through the index, not by sorting every profile of the store
    _PROFILE_INDEX = "CREATE INDEX IF NOT EXISTS profile_key ON profile (key_json, id)"

    @staticmethod
    def _profile_key_json(key: dict) -> str:
        if not isinstance(key, dict) or not key:
            raise ValueError("a profile key must be a non-empty dict")
        return json.dumps(key, sort_keys=True, separators=(",", ":"))

    def add_profile(self, key: dict, profile: dict) -> int:
        """Store one calibration profile under `key`; returns its row id."""
        key_json = self._profile_key_json(key)
        problems = profile_problems(profile)
        if problems:
            raise ValueError(f"latency profile not stored: {'; '.join(problems)}")
        try:
            blob = json.dumps(profile, sort_keys=True, allow_nan=False)
        except ValueError:
            raise ValueError("latency profile not stored: it holds a non-finite number") from None
        with self._connect(write=True) as con:
            con.execute(self._PROFILE_TABLE)
            con.execute(self._PROFILE_INDEX)
            cur = con.execute(
                "INSERT INTO profile (key_json, timestamp, profile_json) VALUES (?, ?, ?)", (key_json, now_iso(), blob)
            )
            return int(cur.lastrowid)

    def latest_profile(self, key: dict, coefficients: tuple[str, ...] = ()) -> dict | None:
        """The newest usable profile stored under exactly `key`, or None (also for a store without profiles).
        Rows are read newest first, one at a time: a damaged row (one lacking any of `coefficients`, the names
        the reader's model needs, included) is skipped and counted, never returned."""
        key_json = self._profile_key_json(key)
        with self._connect() as con:
            if con is None:
                return None
            if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'profile'").fetchone():
                return None
            sql = "SELECT id, profile_json FROM profile WHERE key_json = ? ORDER BY id DESC"
            for row in con.execute(sql, (key_json,)):  # streamed: usually only the newest row is fetched
                profile = _json_object(row["profile_json"])
                if profile is None or profile_problems(profile, coefficients):
                    self.skipped_rows += 1
                    continue
                profile["stored_id"] = row["id"]
                return profile
        return None
