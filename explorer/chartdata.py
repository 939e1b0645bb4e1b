"""Chart points from the results store: measured latencies joined with the best-known accuracy of each design.

A measured point's accuracy is a quick fine-tune's when one exists for that exact network (same hash), else
the paper's when the network is one of the paper's presets, else unknown (the chart says so, draws nothing).
"""

from __future__ import annotations

from .cost import compute_cost
from .presets import all_presets
from .spec import parse_design

KEY = ("design_hash", "backend", "device", "batch", "threads", "input_size")


def latest_per_setting(latency_rows: list[dict]) -> list[dict]:
    """Newest measurement per design and setting (rows come newest first)."""
    seen, out = set(), []
    for r in latency_rows:
        k = tuple(r.get(f) for f in KEY)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def _macs_params(store, design_hash: str, cache: dict) -> tuple[int, int] | None:
    if design_hash not in cache:
        raw = store.design(design_hash)
        if raw is None:
            cache[design_hash] = None
        else:
            c = compute_cost(parse_design(raw))
            cache[design_hash] = (c.macs, c.params)
    return cache[design_hash]


def gather(store, host: str) -> dict[str, list[dict]]:
    """measured (accuracy/latency), flops (FLOPs/latency) and finetune points, all from the store."""
    paper_acc = {d.network_hash(): d.meta["paper"]["accuracy_top1"] for d in all_presets() if "paper" in d.meta}
    acc_rows = store.accuracies()  # newest first
    finetuned = {}
    for a in acc_rows:
        finetuned.setdefault(a["design_hash"], a)
    latencies = latest_per_setting(store.latencies())
    cache: dict = {}
    measured, flops = [], []
    for r in latencies:
        h = r["design_hash"]
        common = dict(name=r["design_name"], latency_ms=r["per_image_ms"], iqr_ms=r["iqr_ms"] / r["batch"],
                      backend=r["backend"], device=r["device"], host=host if r["device"] == "cpu" else r["device_name"],
                      batch=r["batch"], threads=r["threads"])  # fmt: skip
        if h in finetuned:
            measured.append({**common, "accuracy": finetuned[h]["top1"], "accuracy_source": "quick fine-tune"})
        else:
            measured.append({**common, "accuracy": paper_acc.get(h), "accuracy_source": "paper"})
        mp = _macs_params(store, h, cache)
        if mp:
            flops.append({**common, "macs": mp[0], "params": mp[1]})
    finetune = []
    for h, a in finetuned.items():
        lat = next((r for r in latencies if r["design_hash"] == h and r["batch"] == 1), None)
        finetune.append(dict(name=a["design_name"], accuracy=a["top1"], latency_ms=lat["median_ms"] if lat else None,
                             images=a.get("images"), minutes=a.get("minutes"), img_size=a.get("img_size")))  # fmt: skip
    return {"measured": measured, "flops": flops, "finetune": finetune}
