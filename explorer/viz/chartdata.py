"""Chart points from the results store: measured latencies, the paper's top-1 for the paper's networks, and
fine-tunes with the dataset they were trained on.

A measured point's top-1 is the paper's (ImageNet100) when the network is one of the paper's presets, else
unknown; it never borrows a fine-tune's accuracy, which was measured on other data with another budget.
Fine-tunes are their own points, keyed by dataset and class count, placed at their network's latency here.
Every latency keeps its p25/p75 and its quality verdict (explorer.measure.quality).
"""

from __future__ import annotations

from ..design.cost import compute_cost
from ..design.presets import all_presets
from ..design.spec import parse_design
from .provenance import PAPER_DATASET, with_quality


class _StoredDesigns:
    """The store's design files, read in one go and parsed on first use."""

    def __init__(self, store):
        self.raw = store.designs()
        self.parsed: dict[str, object] = {}

    def get(self, design_hash: str):
        if design_hash not in self.parsed:
            raw = self.raw.get(design_hash)
            self.parsed[design_hash] = None if raw is None else parse_design(raw)
        return self.parsed[design_hash]


def dataset_of(record: dict, classes: int | None) -> str:
    """'<dataset>, <k> classes' for a fine-tune record. The record's own `dataset_name`/`num_classes` win; older
    records carry only the data summary ('ImageNet layout: 3 classes, …') and the design's class count."""
    classes = record.get("num_classes") or classes
    name = record.get("dataset_name") or str(record.get("dataset") or "unknown data").split(":")[0]
    if classes == 100 and "imagenet" in name.lower():
        return PAPER_DATASET  # the paper's dataset: its accuracies share the paper's axis
    return f"{name}, {classes if classes else '?'} classes"


def _per_image(r: dict) -> dict:
    b = r.get("batch") or 1
    p25, p75 = r.get("p25_ms"), r.get("p75_ms")
    return dict(latency_ms=r["per_image_ms"], p25_ms=p25 / b if p25 else None, p75_ms=p75 / b if p75 else None)


def gather(store, host: str) -> dict[str, list[dict]]:
    """measured (accuracy/latency), flops (FLOPs/latency) and finetune points, all from the store."""
    paper_acc = {d.network_hash(): d.meta["paper"]["accuracy_top1"] for d in all_presets() if "paper" in d.meta}
    latencies = store.latencies(latest_per_setting=True)  # only the rows a chart draws are decoded
    designs = _StoredDesigns(store)
    measured, flops = [], []
    for r in latencies:
        h = r["design_hash"]
        common = with_quality(
            dict(
                name=r["design_name"],
                **_per_image(r),
                backend=r["backend"],
                device=r["device"],
                host=host if r["device"] == "cpu" else r.get("device_name"),
                batch=r["batch"],
                threads=r["threads"],
            ),
            r,
        )
        measured.append({**common, "accuracy": paper_acc.get(h), "accuracy_source": "paper, ImageNet100"})
        design = designs.get(h)
        if design is not None:
            c = compute_cost(design)
            flops.append({**common, "macs": c.macs, "params": c.params})
    finetune, seen = [], set()
    for a in store.accuracies():  # newest first: the newest fine-tune per network and dataset
        design = designs.get(a["design_hash"])
        dataset = dataset_of(a, design.num_classes if design else None)
        if (a["design_hash"], dataset) in seen:
            continue
        seen.add((a["design_hash"], dataset))
        # Its latency: this exact network (its classifier sized for the data) measured here, batch 1; else the
        # same network with another class count (the start of a fine-tune on other data), said so on the point.
        lat = next((r for r in latencies if r["design_hash"] == a["design_hash"] and r["batch"] == 1), None)
        note = None
        if lat is None and design is not None:
            lat = _same_body(design, latencies, designs)
            if lat is not None:
                other = designs.get(lat["design_hash"])
                note = (
                    f"latency measured with {other.num_classes} classes (the same network but its classifier; "
                    f"fine-tuned with {design.num_classes})"
                )
        point = dict(
            name=a["design_name"],
            accuracy=a["top1"],
            dataset=dataset,
            images=a.get("images"),
            minutes=a.get("minutes"),
            img_size=a.get("img_size"),
        )
        point.update(_per_image(lat) if lat else dict(latency_ms=None))
        if note:
            point["latency_note"] = note
        finetune.append(with_quality(point, lat) if lat else point)
    return {"measured": measured, "flops": flops, "finetune": finetune}


def body_hash(design) -> str:
    """The network without its class count: a fine-tune on other data changes only the classifier."""
    return design.with_changes(num_classes=1).network_hash()


def _same_body(design, latencies: list[dict], designs: _StoredDesigns) -> dict | None:
    want = body_hash(design)
    for r in latencies:  # newest first
        if r["batch"] != 1:
            continue
        other = designs.get(r["design_hash"])
        if other is not None and body_hash(other) == want:
            return r
    return None


def datasets(points: dict[str, list[dict]]) -> list[str]:
    """The datasets accuracies are on: the paper's first, then those of fine-tunes, in order of appearance."""
    out = [PAPER_DATASET]
    for p in points.get("finetune", []):
        if p.get("dataset") and p["dataset"] not in out:
            out.append(p["dataset"])
    return out
