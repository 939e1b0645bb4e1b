"""How long does each plotly figure take to build? The app rebuilds them on every table edit (budget 150 ms).

Run: python benchmarks/figure_speed.py
Times are the median of repeated builds after one warm-up build (the very first figure of a process also
loads plotly's validators; that one-off cost is printed separately). The chart inputs are the paper's
numbers plus one point per preset with our MACs: the values do not change the build time, the counts do.
"""

import statistics
import time

t0 = time.perf_counter()
import plotly.graph_objects as go  # noqa: E402

from explorer.design.cost import compute_cost  # noqa: E402
from explorer.design.presets import BASELINE_PRESET, all_presets, get_preset  # noqa: E402
from explorer.fmt import text_table  # noqa: E402
from explorer.viz.charts import (  # noqa: E402
    accuracy_latency_figure,
    flops_latency_figure,
    layer_split_figure,
    paper_points_from_presets,
    reference_points_from_paper,
    split_rows,
)
from explorer.viz.diagram import network_figure  # noqa: E402

REPEATS = 15


def median_ms(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> None:
    go.Figure()
    import_ms = (time.perf_counter() - t0) * 1e3
    t = time.perf_counter()
    network_figure(get_preset("SM_V2"))
    first_ms = (time.perf_counter() - t) * 1e3

    presets, baseline = all_presets(), get_preset(BASELINE_PRESET)
    paper = paper_points_from_presets(presets, "gpu")
    ref = reference_points_from_paper("gpu")
    points = []
    for d in presets:
        c = compute_cost(d)
        points.append(
            dict(
                name=d.name,
                accuracy=d.meta["paper"]["accuracy_top1"],
                accuracy_source="paper",
                latency_ms=d.meta["paper"]["cpu_ms"],
                iqr_ms=0.1,
                macs=c.macs,
                params=c.params,
                host="this host",
                backend="torch",
                device="cpu",
                batch=1,
                threads=1,
            )
        )
    acc_ms = median_ms(lambda: accuracy_latency_figure(paper, points, [], ref, show_reference=True))
    flops_ms = median_ms(lambda: flops_latency_figure(points, paper))

    rows = []
    for d in presets:
        cost = compute_cost(d)
        layer_ms = {lc.layer.name: lc.bytes / 1e9 + lc.macs / 1e11 for lc in cost.layers}  # any positive numbers
        diagram = median_ms(lambda d=d: network_figure(d, baseline))
        split = median_ms(lambda cost=cost, layer_ms=layer_ms: layer_split_figure(split_rows(cost, layer_ms)))
        rows.append(
            {
                "preset": d.name,
                "blocks": sum(s.n for s in d.stages),
                "diagram": diagram,
                "split": split,
                "edit": diagram + split + acc_ms + flops_ms,
            }
        )
    print(text_table(rows, list(rows[0]), ["preset", "blocks", "diagram ms", "layer split ms", "all four ms"]))
    print(f"\naccuracy vs latency (8 paper + 7 measured + 9 reference points): {acc_ms:.1f} ms")
    print(f"FLOPs vs latency (7 measured + 8 paper points): {flops_ms:.1f} ms")
    print(f"one-off: importing plotly and explorer {import_ms:.0f} ms, first figure of the process {first_ms:.0f} ms")
    print(
        f"median of {REPEATS} builds each. Target: every figure well under 30 ms; a table edit rebuilds at most "
        "the four (budget 150 ms with everything else)."
    )


if __name__ == "__main__":
    main()
