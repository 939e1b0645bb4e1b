"""Page cost against the size of the results store: the Charts and Design pages with 50 and with 5,000 stored
measurements (goal: at most 1.5x the cost at 50).

Run: python benchmarks/store_scale.py [--small 50] [--large 5000] [--reruns 10] [--out docs/store_scale.md]

Each store holds latency rows as a long search leaves them: many designs (SM_V2 with other widths), a few rows
each, every row with its timed samples, plus one latency profile. A page's cost is AppTest's time for one
rerun of the whole app script on that page (the server's work; the browser's is the same at both sizes): the
first visit (the store opened and read with nothing cached, as after a new measurement) and the median of reruns
after a click.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
GOAL = 1.5
LEFT = """
What is left (Charts at 5,000 rows): the FLOPs chart then holds 1,000 designs (about 460 KB of figure JSON, each
point with its provenance in the hover), and Streamlit validates and serialises a figure on every run (the rerun's
extra ~15 ms). The first visit reads the store once (the newest row per setting, chosen in SQL; every design file
in one query per table) and builds both figures, placing a label for each point; both are cached per version of
the store (explorer.ui.charts_page).
"""
SAMPLES_PER_ROW = 60
ROWS_PER_DESIGN = 5


def _rows(n: int) -> list[tuple[object, dict]]:
    """n (design, latency result) pairs: n / ROWS_PER_DESIGN designs, each measured a few times."""
    from explorer.design.presets import get_preset

    sm = get_preset("SM_V2")
    rng = random.Random(0)
    out = []
    for i in range(n):
        k = i // ROWS_PER_DESIGN
        stages = list(sm.stages)
        stages[2] = stages[2].__class__(stages[2].t, 8 + 8 * (k % 64), stages[2].n, stages[2].s)
        stages[3] = stages[3].__class__(stages[3].t, 16 + 8 * (k // 64), stages[3].n, stages[3].s)
        design = sm.with_changes(name=f"search candidate {k}", stages=tuple(stages))
        ms = 5.0 + 0.01 * k + rng.random()
        samples = [ms * (1 + 0.02 * rng.random()) for _ in range(SAMPLES_PER_ROW)]
        result = {
            "backend": "torch",
            "device": "cpu",
            "batch": 1,
            "threads": 2,
            "input_size": 224,
            "median_ms": ms,
            "p25_ms": ms * 0.99,
            "p75_ms": ms * 1.02,
            "iqr_ms": ms * 0.03,
            "per_image_ms": ms,
            "runs": SAMPLES_PER_ROW,
            "samples_ms": samples,
            "quality": {"verdict": "ok" if rng.random() < 0.8 else "noisy", "reasons": []},
        }
        out.append((design, result))
    return out


def make_store(path: Path, n: int) -> None:
    """The store written the way the app writes it (ResultStore.add_latency), in one transaction."""
    from explorer.measure.hostinfo import physical_cores
    from explorer.predict.model import prior_coefficients
    from explorer.predict.profile import profile_key
    from explorer.store.results import ResultStore

    store = ResultStore(path)
    key = profile_key("torch", "cpu", physical_cores(), 1)
    store.add_profile(key, {"key": key, "model": {"coefficients": prior_coefficients(50.0, 10.0, "torch")}})
    pending: list[tuple[str, dict]] = []
    store._insert = lambda table, values: pending.append((table, values)) or 0  # collect, then write at once
    for design, result in _rows(n):
        store.add_latency(design, result)
    with sqlite3.connect(path) as con:
        for table, values in pending:
            cols, marks = ", ".join(values), ", ".join("?" for _ in values)
            con.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))


def time_page(data_dir: Path, page: str | None, reruns: int) -> tuple[float, float]:
    """(first visit ms, median rerun ms) of one page in a fresh session."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["EXPLORER_DATA_DIR"] = str(data_dir)
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    st.cache_data.clear()  # the first visit reads the store: nothing of it is cached yet
    st.cache_resource.clear()
    if page:
        t0 = time.perf_counter()
        at.switch_page(f"explorer/ui/pages/{page}.py").run()
        first = time.perf_counter() - t0
    else:
        first = None
    times = []
    for i in range(reruns):
        if page == "charts":
            at.toggle(key="chart_noisy").set_value(i % 2 == 0)
        else:  # the Design page: the baseline changes, every number is recomputed
            at.selectbox(key="baseline").set_value("MobileNet V1" if i % 2 == 0 else "MobileNet V2")
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    if first is None:  # the Design page is the first page: time a fresh session's first run
        st.cache_data.clear()
        st.cache_resource.clear()
        at2 = AppTest.from_file(APP, default_timeout=300)
        t0 = time.perf_counter()
        at2.run()
        first = time.perf_counter() - t0
    return first * 1e3, statistics.median(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=50)
    ap.add_argument("--large", type=int, default=5000)
    ap.add_argument("--reruns", type=int, default=10)
    ap.add_argument("--out", help="also write the report to this Markdown file")
    ap.add_argument("--note", default="", help="a line about the host's state, written into the report")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="store_scale_"))
    results = {}
    for n in (args.small, args.large):
        data_dir = tmp / f"rows_{n}"
        data_dir.mkdir()
        t0 = time.perf_counter()
        make_store(data_dir / "results.sqlite", n)
        size_mb = (data_dir / "results.sqlite").stat().st_size / 1e6
        print(f"store of {n} rows: {size_mb:.1f} MB, written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        results[n] = {"size_mb": size_mb}
        for page in ("design", "charts"):
            time_page(data_dir, None if page == "design" else page, 2)  # warm-up: imports, caches of code
            results[n][page] = time_page(data_dir, None if page == "design" else page, args.reruns)
    small, large = results[args.small], results[args.large]
    lines = [
        "# Page cost against the size of the results store",
        "",
        f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} CPUs): "
        f"`python benchmarks/store_scale.py --small {args.small} --large {args.large} --reruns {args.reruns}`.",
        *([f"Host: {args.note}"] if args.note else []),
        "",
        f"Stores: {args.small} rows ({small['size_mb']:.1f} MB) and {args.large} rows ({large['size_mb']:.1f} MB), "
        f"{ROWS_PER_DESIGN} rows per design, {SAMPLES_PER_ROW} samples per row. Times: AppTest, one rerun of the "
        "app script on the page (ms).",
        "",
        f"| page | first visit, {args.small} | first visit, {args.large} | rerun, {args.small} | "
        f"rerun, {args.large} | rerun ratio (goal <= {GOAL}x) |",
        "|---|---|---|---|---|---|",
    ]
    for page in ("design", "charts"):
        (f_s, r_s), (f_l, r_l) = small[page], large[page]
        ratio = r_l / r_s
        lines.append(
            f"| {page.title()} | {f_s:.0f} | {f_l:.0f} | {r_s:.0f} | {r_l:.0f} | {ratio:.2f}x "
            f"({'met' if ratio <= GOAL else 'NOT met'}) |"
        )
    report = "\n".join(lines) + "\n" + LEFT
    print(report)
    print(json.dumps(results), file=sys.stderr)
    if args.out:
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
