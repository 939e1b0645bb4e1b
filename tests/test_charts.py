"""Charts: Pareto front, correlation, and figures that always build and always say where numbers come from."""

import json
import math

import pytest

from explorer.design.cost import compute_cost
from explorer.design.presets import all_presets, get_preset
from explorer.viz import charts
from explorer.viz.charts import (
    accuracy_latency_figure,
    flops_latency_figure,
    layer_split_figure,
    paper_points_from_presets,
    pareto_front,
    pearson,
    reference_points_from_paper,
    split_rows,
    with_quality,
)

# ---------- Pareto front ----------


@pytest.mark.parametrize(
    "points, front",
    [
        ([], []),
        ([(2.0, 70.0)], [0]),
        ([(1.0, 70.0), (2.0, 80.0), (3.0, 75.0)], [0, 1]),  # the slow, worse point is dominated
        ([(3.0, 90.0), (1.0, 70.0), (2.0, 80.0)], [1, 2, 0]),  # all on the front, returned by latency
        ([(1.0, 70.0), (1.0, 75.0)], [1]),  # same latency: only the more accurate one
        ([(1.0, 70.0), (2.0, 70.0)], [0]),  # same accuracy: only the faster one
        ([(1.0, 70.0), (1.0, 70.0), (2.0, 60.0)], [0, 1]),  # exact duplicates: neither beats the other
        ([(1.0, 70.0), (float("nan"), 99.0), (None, 99.0), (2.0, 71.0)], [0, 3]),  # missing values ignored
        ([(5.0, 50.0), (4.0, 60.0), (3.0, 70.0)], [2]),  # one point beats everything
    ],
)
def test_pareto_front(points, front):
    assert pareto_front(points) == front


def test_pearson_hand_cases():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)  # sxy = 1, sxx = syy = 2
    assert pearson([1, 2, 3], [5, 5, 5]) is None  # undefined for a constant series
    assert pearson([1], [1]) is None


# ---------- data ----------


def paper_gpu():
    return paper_points_from_presets(all_presets(), "gpu")


def measured(host="ci-host", backend="torch", device="cpu", batch=1, threads=2, names=None):
    out = []
    for d in all_presets():
        if names and d.name not in names:
            continue
        c, p = compute_cost(d), d.meta["paper"]
        lat = c.macs / 2e7 + len(d.stages)
        point = dict(
            name=d.name,
            accuracy=p["accuracy_top1"],
            accuracy_source="paper",
            macs=c.macs,
            params=c.params,
            latency_ms=lat,
            p25_ms=lat - 0.05,
            p75_ms=lat + 0.15,
            backend=backend,
            device=device,
            host=host,
            batch=batch,
            threads=threads,
        )
        out.append(with_quality(point, {"quality": {"verdict": "ok", "reasons": []}}))
    return out


def legend(fig) -> list[str]:
    return [t.name for t in fig.data if t.name and t.showlegend is not False]


def hovers(fig) -> str:
    return "\n".join(h for t in fig.data for h in (t.hovertext or ()))


def subtitle(fig) -> str:
    return fig.layout.title.subtitle.text or ""


def notes(fig) -> str:
    return " ".join(a.text for a in fig.layout.annotations)


# ---------- paper points ----------


def test_paper_points_from_presets():
    pts = paper_gpu()
    by = {p["name"]: p for p in pts}
    assert len(pts) == len(all_presets()) + 1 and "ShuffleNet V2" in by
    assert by["SM_V2"]["accuracy"] == 79.5 and by["SM_V2"]["latency_ms"] == 1.53
    assert by["ShuffleNet V2"]["latency_ms"] == 1.41  # Table 3's value, not Table 2's
    assert {p["series"] for p in pts} == {"paper, GTX 1060"}
    cpu = {p["name"]: p for p in paper_points_from_presets(all_presets(), "cpu")}
    assert cpu["SM_V2"]["latency_ms"] == 10.2 and cpu["SM_V2"]["series"] == "paper, 3.4 GHz CPU"
    with pytest.raises(ValueError):
        paper_points_from_presets(all_presets(), "tpu")


def test_presets_without_paper_numbers_are_skipped():
    edited = get_preset("SM_V2").with_changes(name="mine", meta={})
    assert [p["name"] for p in paper_points_from_presets([edited])] == ["ShuffleNet V2"]


# ---------- accuracy vs latency ----------


def test_accuracy_figure_provenance_in_legend_and_hover():
    ft = [dict(name="SM_V2", accuracy=42.0, latency_ms=3.0, images=1000, minutes=5, img_size=128)]
    fig = accuracy_latency_figure(paper_gpu(), measured(), ft)
    names = legend(fig)
    assert "paper, GTX 1060" in names
    assert "measured on ci-host (torch, cpu) · top-1 from the paper" in names  # whose top-1 it is, said
    assert "fine-tuned here on ImageNet100, 100 classes (1,000 images, 5 min, res 128) · latency measured here" in names
    assert not any("ImageNet-1k" in n for n in names)  # the reference layer is off by default
    h = hovers(fig)
    assert "SM_V2_x2nr" in h and "Table 4" in h and "GTX 1060" in h and "p25–p75" in h
    assert "<i>measured on ci-host (torch, cpu) · top-1 from the paper</i>" in h
    assert "the paper's (ImageNet100), not measured here" in h
    assert fig.layout.xaxis.title.text.startswith("latency [ms per image]")
    assert fig.layout.yaxis.title.text == "top-1 accuracy [%]"
    json.loads(fig.to_json())


def test_accuracy_figure_pareto_step_lines():
    fig = accuracy_latency_figure(paper_gpu(), [], [])
    steps = [t for t in fig.data if t.mode == "lines" and t.line.shape == "hv" and t.x[0] is not None]
    assert len(steps) == 1
    pts = [(p["latency_ms"], p["accuracy"]) for p in paper_gpu()]
    assert list(steps[0].x) == [pts[i][0] for i in pareto_front(pts)]
    assert "Pareto front (dashed, per series)" in legend(fig)
    single = accuracy_latency_figure(paper_gpu()[:1], [], [])  # one point per series: no front drawn
    assert not any(t.mode == "lines" and t.x[0] is not None for t in single.data)


def test_reference_layer_only_when_asked():
    ref = reference_points_from_paper("gpu")
    off = accuracy_latency_figure(paper_gpu(), [], [], ref, show_reference=False)
    on = accuracy_latency_figure(paper_gpu(), [], [], ref, show_reference=True)
    assert not any("Table 2" in n for n in legend(off))
    layer = next(t for t in on.data if t.name and "Table 2" in t.name)
    assert "ImageNet-1k" in layer.name and set(layer.marker.symbol) == {"square-open"}
    assert len(layer.x) == 9 and "VGG16" in hovers(on) and "not comparable" in hovers(on)
    assert on.layout.xaxis.type == "log"  # 1.4 ms to 25 ms: a linear axis would crush the small nets
    assert "log scale" in on.layout.xaxis.title.text
    assert "no reference points given" in subtitle(accuracy_latency_figure([], [], [], None, True))


def test_points_without_latency_or_accuracy_are_explained():
    ft = [dict(name="SM_V2", accuracy=40.0, latency_ms=None, images=100, minutes=1, img_size=64)]
    m = measured(names={"SM_V2"})
    m[0]["accuracy"] = None
    fig = accuracy_latency_figure([], m, ft)
    assert "SM_V2 (40.0 %)" in subtitle(fig) and "no ImageNet100 top-1 known" in subtitle(fig)
    assert "No points yet" in notes(fig)


def test_empty_inputs_give_explained_figures():
    for fig in (
        accuracy_latency_figure([], [], []),
        accuracy_latency_figure(None, None, None),
        flops_latency_figure([]),
        layer_split_figure([]),
    ):
        assert fig.layout.annotations and fig.layout.title.text
        json.loads(fig.to_json())


def test_runs_with_different_batch_are_separate_series():
    pts = measured(names={"SM_V2"}) + measured(batch=8, names={"SM_V2"})
    names = legend(accuracy_latency_figure([], pts, []))
    assert "measured on ci-host (torch, cpu), batch 1, 2 threads · top-1 from the paper" in names
    assert "measured on ci-host (torch, cpu), batch 8, 2 threads · top-1 from the paper" in names


# ---------- FLOPs vs latency ----------


def test_flops_figure_axes_series_and_r():
    pts = measured() + measured(host="gpu-box", device="cuda", names={"SM_V2", "MobileNet V2"})
    fig = flops_latency_figure(pts, paper_gpu())
    assert fig.layout.xaxis.title.text == "FLOPs (2 × MACs) [M]"
    assert fig.layout.yaxis.title.text == "latency [ms per image]"
    assert "straight line through the origin" in subtitle(fig)
    cpu = next(t for t in fig.data if t.name and t.name.startswith("measured on ci-host (torch, cpu)"))
    own = measured()
    r = pearson([2 * p["macs"] / 1e6 for p in own], [p["latency_ms"] for p in own])
    assert cpu.name.endswith(f"r = {r:.2f}")
    assert list(cpu.x) == pytest.approx([2 * p["macs"] / 1e6 for p in own])
    assert list(cpu.error_y.array) == pytest.approx([0.15] * len(own))  # up to p75
    assert list(cpu.error_y.arrayminus) == pytest.approx([0.05] * len(own))  # down to p25: not median ± IQR / 2
    assert cpu.error_y.symmetric is False
    cuda = next(t for t in fig.data if t.name and t.name.startswith("measured on gpu-box (torch, cuda)"))
    assert "r =" not in cuda.name  # two points: no correlation claimed
    paper = next(t for t in fig.data if t.name and t.name.startswith("paper, GTX 1060"))
    assert "r =" in paper.name
    counted = {d.name: 2 * compute_cost(d).macs / 1e6 for d in all_presets()}
    names = [h.split("</b>")[0].removeprefix("<b>") for h in paper.hovertext]
    assert len(names) == 7 and list(paper.x) == pytest.approx([counted[n] for n in names])
    assert "MACs" in hovers(fig) and "params" in hovers(fig)
    fits = [t for t in fig.data if t.mode == "lines" and t.x[0] == 0]
    assert len(fits) == 3  # one through-origin fit per series


def test_flops_in_giga_when_large():
    pts = [dict(name="big", macs=6_000_000_000, params=1, latency_ms=5.0, host="h", backend="torch", device="cpu")]
    assert flops_latency_figure(pts).layout.xaxis.title.text == "FLOPs (2 × MACs) [G]"


def test_series_colour_is_the_same_in_both_charts():
    pts = measured() + measured(host="other")
    acc = accuracy_latency_figure(paper_gpu(), pts, [])
    fl = flops_latency_figure(pts, paper_gpu())

    def color(fig, prefix):
        return next(t.marker.color for t in fig.data if t.name and t.name.startswith(prefix))

    for prefix in ("measured on ci-host", "measured on other", "paper, GTX 1060"):
        assert color(acc, prefix) == color(fl, prefix)
    assert color(acc, "measured on ci-host") != color(acc, "measured on other")


# ---------- where the time goes ----------


def test_layer_split_without_time():
    rows = split_rows(compute_cost(get_preset("MobileNet V2")))
    assert all(r["time_share"] is None for r in rows)
    fig = layer_split_figure(rows)
    assert [t.name.split(" (")[0] for t in fig.data] == ["share of MACs", "share of bytes moved"]
    assert "No time measured yet" in subtitle(fig)
    for t in fig.data:
        assert sum(t.x) == pytest.approx(100.0)
    assert list(fig.data[0].y) == list(charts.GROUPS)


def test_layer_split_with_time_flags_memory_bound_kinds():
    cost = compute_cost(get_preset("MobileNet V2"))
    # A toy time model where moving bytes dominates: depthwise convs and adds outrun their MAC share.
    layer_ms = {lc.layer.name: lc.bytes / 1e6 + lc.macs / 1e9 for lc in cost.layers}
    fig = layer_split_figure(split_rows(cost, layer_ms), time_label="measured on ci-host (torch, cpu)")
    time = next(t for t in fig.data if t.name.startswith("share of time"))
    assert "ci-host" in time.name and sum(time.x) == pytest.approx(100.0)
    flagged = {a.y: a.text for a in fig.layout.annotations}
    assert "depthwise conv" in flagged and "× its MAC share" in flagged["depthwise conv"]
    assert "residual add" in flagged and "no MACs" in flagged["residual add"]
    assert "pointwise 1×1 conv" not in flagged


def test_layer_split_partial_times_and_unknown_kinds():
    rows = [
        dict(name="a", kind="conv", macs_share=0.5, bytes_share=0.2, time_share=0.4),
        dict(name="b", kind="dwconv", macs_share=0.5, bytes_share=0.8, time_share=None),
        dict(name="c", kind="mystery", macs_share=0.0, bytes_share=0.0, time_share=0.6),
    ]
    fig = layer_split_figure(rows)
    assert "1 layers without a time" in subtitle(fig)
    assert list(fig.data[0].y) == ["pointwise 1×1 conv", "depthwise conv", "other (mystery)"]
    assert all(math.isfinite(v) for t in fig.data for v in t.x)


# ---------- quality, spread, axes, labels, datasets (issues 9 and 12) ----------


def noisy(points: list[dict], names: set[str]) -> list[dict]:
    bad = {"quality": {"verdict": "noisy", "reasons": ["other processes used 1.8 cores during the timed window"]}}
    return [with_quality(p, bad) if p["name"] in names else p for p in points]


def test_noisy_points_are_hollow_with_their_reason_and_left_out_of_fronts():
    pts = noisy(measured(), {"SM_V2"})
    fig = accuracy_latency_figure([], pts, [])
    trace = next(t for t in fig.data if t.name and t.name.startswith("measured on ci-host"))
    symbols = dict(zip([p["name"] for p in pts], trace.marker.symbol, strict=True))
    assert symbols["SM_V2"] == "diamond-open" and symbols["MobileNet V2"] == "diamond"
    sm_hover = next(h for h in trace.hovertext if "<b>SM_V2</b>" in h)
    assert "not trusted (noisy): other processes used 1.8 cores" in sm_hover
    front = next(t for t in fig.data if t.mode == "lines" and t.line.shape == "hv")
    sm = next(p for p in pts if p["name"] == "SM_V2")
    assert sm["latency_ms"] not in list(front.x)  # SM_V2 is on the front when trusted, but this one is noisy
    trusted_front = next(
        t for t in accuracy_latency_figure([], measured(), []).data if t.mode == "lines" and t.line.shape == "hv"
    )
    assert sm["latency_ms"] in list(trusted_front.x)
    with_noisy = accuracy_latency_figure([], pts, [], include_untrusted=True)
    front_all = next(t for t in with_noisy.data if t.mode == "lines" and t.line.shape == "hv")
    assert sm["latency_ms"] in list(front_all.x)
    assert any(t.name and t.name.startswith("hollow: noisy or unchecked") for t in fig.data)


def test_noisy_points_are_left_out_of_the_fit_and_r():
    clean = measured()
    fig = flops_latency_figure(noisy(clean, {"SM_V2"}), [])
    cpu = next(t for t in fig.data if t.name and t.name.startswith("measured on ci-host"))
    use = [p for p in clean if p["name"] != "SM_V2"]
    r = pearson([2 * p["macs"] / 1e6 for p in use], [p["latency_ms"] for p in use])
    assert cpu.name.endswith(f"r = {r:.2f}")
    unchecked = with_quality(clean[0], {"median_ms": 1.0})  # a row stored before quality existed
    assert unchecked["verdict"] == "unchecked" and not unchecked["trusted"]


def test_latency_axes_never_go_below_zero():
    tiny = [dict(p, latency_ms=1.0, p25_ms=0.05, p75_ms=1.2) for p in measured(names={"SM_V2"})]
    tiny += [dict(p, latency_ms=3.0, p25_ms=2.9, p75_ms=3.1) for p in measured(names={"MobileNet V2"})]
    acc = accuracy_latency_figure([], tiny, [])
    assert acc.layout.xaxis.type != "log" and acc.layout.xaxis.range[0] >= 0  # padding would have gone below
    fl = flops_latency_figure(tiny)
    assert fl.layout.yaxis.range[0] == 0 and fl.layout.xaxis.range[0] == 0


def test_point_labels_never_overlap_in_a_crowded_chart():
    from explorer.viz.labels import ASSUMED_PLOT_WIDTH_PX, boxes_overlap, label_box, to_pixels

    crowd = measured() + measured(backend="onnxruntime") + measured(host="other")
    for fig in (accuracy_latency_figure(paper_gpu(), crowd, []), flops_latency_figure(crowd, paper_gpu())):
        lay = fig.layout
        log_x = lay.xaxis.type == "log"
        plot_h = lay.height - lay.margin.t - lay.margin.b
        boxes, drawn = [], 0
        for t in fig.data:
            if t.mode != "markers+text":
                continue
            xs = to_pixels(list(t.x), *lay.xaxis.range, ASSUMED_PLOT_WIDTH_PX, log_x)
            ys = to_pixels(list(t.y), *lay.yaxis.range, plot_h)
            for x, y, text, pos in zip(xs, ys, t.text, t.textposition, strict=True):
                if text:
                    boxes.append(label_box(x, y, text, pos))
                    drawn += 1
        assert drawn >= 6  # the rest keep their name in the hover
        assert not any(boxes_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_accuracies_on_other_data_never_share_the_papers_axis():
    three = dict(name="tiny", accuracy=33.3, latency_ms=2.0, dataset="ImageNet layout, 3 classes", images=30)
    hundred = dict(name="SM_V2", accuracy=41.0, latency_ms=4.0, dataset="ImageNet100, 100 classes", images=9000)
    paper_chart = accuracy_latency_figure(paper_gpu(), measured(), [three, hundred])
    assert "tiny" not in hovers(paper_chart) and "41.0 %" in hovers(paper_chart)
    assert "ImageNet100" in paper_chart.layout.title.text
    own = accuracy_latency_figure(paper_gpu(), measured(), [three, hundred], dataset="ImageNet layout, 3 classes")
    assert "33.3 %" in hovers(own) and "paper" not in " ".join(legend(own))
    assert "3 classes" in own.layout.title.text


def test_gather_from_a_store_keeps_spread_quality_and_dataset(tmp_path):
    from explorer.store.results import ResultStore
    from explorer.viz.chartdata import datasets, gather

    s = ResultStore(tmp_path / "r.sqlite")
    sm, mv2 = get_preset("SM_V2"), get_preset("MobileNet V2")
    base = dict(backend="torch", device="cpu", batch=2, threads=2, input_size=224, runs=20, device_name="cpu")
    noisy_quality = {"verdict": "noisy", "reasons": ["IQR is 40 % of the median"]}
    s.add_latency(
        sm,
        base | dict(median_ms=8.0, iqr_ms=1.0, p25_ms=7.5, p75_ms=8.5, per_image_ms=4.0) | {"quality": noisy_quality},
    )
    s.add_latency(mv2, base | dict(median_ms=12.0, iqr_ms=0.4, per_image_ms=6.0))  # an old row: no quality
    tiny = sm.with_changes(name="SM_V2 (3 classes)", num_classes=3)
    ok = {"quality": {"verdict": "ok", "reasons": []}}
    s.add_latency(tiny, base | dict(batch=1, median_ms=3.9, iqr_ms=0.1, p25_ms=3.8, p75_ms=4.0, per_image_ms=3.9) | ok)
    s.add_accuracy(tiny, {"top1": 33.3, "dataset": "ImageNet layout: 3 classes, 30 train / 6 val images"})
    pts = gather(s, "ci-host")
    by = {p["name"]: p for p in pts["measured"]}
    assert by["SM_V2"]["p25_ms"] == 3.75 and by["SM_V2"]["p75_ms"] == 4.25  # per image (batch 2)
    assert by["SM_V2"]["verdict"] == "noisy" and not by["SM_V2"]["trusted"]
    assert by["MobileNet V2"]["verdict"] == "unchecked" and by["MobileNet V2"]["p25_ms"] is None
    assert by["SM_V2"]["accuracy"] == 79.5 and by["SM_V2 (3 classes)"]["accuracy"] is None  # no borrowed top-1
    (ft,) = pts["finetune"]
    assert ft["dataset"] == "ImageNet layout, 3 classes" and ft["latency_ms"] == 3.9 and ft["trusted"]
    assert datasets(pts) == ["ImageNet100, 100 classes", "ImageNet layout, 3 classes"]


def test_a_noisy_outlier_never_sets_the_axes():
    pts = measured(names={"SM_V2", "MobileNet V2"})
    outlier = with_quality(
        {**pts[0], "latency_ms": 330.0, "p25_ms": 250.0, "p75_ms": 900.0},
        {"quality": {"verdict": "noisy", "reasons": ["other processes used 1.44 of 2 cores"]}},
    )
    trusted_max = max(p["p75_ms"] for p in pts)
    fig = flops_latency_figure([*pts, outlier])
    assert fig.layout.yaxis.range[1] < 2 * trusted_max  # the hollow point is off the axes, the rest readable
    assert flops_latency_figure([*pts, outlier], include_untrusted=True).layout.yaxis.range[1] > 900
    acc = accuracy_latency_figure([], [*pts, outlier], [])
    assert acc.layout.xaxis.type != "log" and acc.layout.xaxis.range[1] < 2 * trusted_max


# ---------- roofline: what the model says, never contradicting itself ----------


def _fitted_like_prediction():
    """Coefficients whose rates exceed the host's measured GEMM and add roofs, as fitted profiles often do."""
    from explorer.predict import predict
    from explorer.predict.model import prior_coefficients
    from explorer.predict.profile import profile_key

    coefficients = prior_coefficients(400.0, 60.0, "torch")
    profile = {"key": profile_key("torch", "cpu", 2, 1), "model": {"coefficients": coefficients}}
    return predict(get_preset("MobileNet V2"), profile)


def test_roofline_points_sit_under_the_roofs_drawn_and_are_coloured_by_their_bound():
    from explorer.viz.roofline import BOUND_COLOURS, roofline_figure

    pred = _fitted_like_prediction()
    measured_roofs = {"peak_gflops": 50.0, "bandwidth_gbs": 10.0}  # slower than the model's own rates
    fig = roofline_figure(pred, measured_roofs)
    (roof,) = [t for t in fig.data if t.mode == "lines"]
    bw, peak = roof.y[0] / roof.x[0], roof.y[1]
    dots = [t for t in fig.data if t.mode == "markers"]
    assert sum(len(t.x) for t in dots) == sum(1 for ly in pred["layers"] if ly["flops"])
    by_name = {ly["name"]: ly for ly in pred["layers"]}
    for trace in dots:
        bound = trace.name.split("-bound")[0]
        assert trace.marker.color == BOUND_COLOURS[bound]
        for x, y, text in zip(trace.x, trace.y, trace.text, strict=True):
            assert y <= min(peak, bw * x) * 1.0001  # never above a roof
            layer = by_name[text.split(" (")[0]]
            assert layer["bound"] == bound
            assert y == pytest.approx(layer["flops"] / layer["predicted_ms"] / 1e6)  # attained = FLOPs / time
    sub = fig.layout.title.subtitle.text
    assert "count no FLOPs" in sub and "do no counted" not in sub
    assert "50 GFLOP/s (large GEMM)" in sub  # the measured roofs are named, not drawn as the model's


# ---------- search chart ----------


def test_search_subtitle_is_two_short_lines_that_count_what_was_measured():
    from explorer.viz.search_chart import search_figure

    result = {
        "objective": "params",
        "budget_ms": 6.0,
        "budget_source": "the start design's own latency on this host",
        "screened": 1200,
        "start": {"name": "SM_V2", "measured_ms": None, "predicted_ms": 6.0, "objective": 1.5e6},
        "front": [],
        "candidates": [{"name": "a", "measured_ms": 5.0, "objective": 2e6, "within_budget": True}],
        "rejected": [{"name": "b", "measured_ms": 5.5, "objective": 2.1e6, "within_budget": False}],
    }
    sub = search_figure(result).layout.title.subtitle.text
    first, second = sub.split("<br>")
    assert len(first) <= 90 and second == "screened 1,200 designs · measured 2 · kept 1"


# ---------- FLOPs: one definition on one axis; nothing silently off the chart; labels clear of error bars ----------


def test_paper_points_sit_at_the_flops_this_tool_counts_with_their_own_count_in_the_hover():
    fig = flops_latency_figure([], paper_gpu())
    paper = next(t for t in fig.data if t.name and t.name.startswith("paper, GTX 1060"))
    sm = get_preset("SM_V2")
    i = list(paper.hovertext).index(next(h for h in paper.hovertext if h.startswith("<b>SM_V2</b>")))
    assert paper.x[i] == pytest.approx(2 * compute_cost(sm).macs / 1e6)  # 328 M, not the paper's 155 M
    assert f"the paper's own count: {sm.meta['paper']['flops_m']:g} M" in paper.hovertext[i]
    assert "Not drawn (no network to count FLOPs from): ShuffleNet V2" in subtitle(fig)


def test_a_noisy_point_beyond_the_axis_is_drawn_at_its_edge_pointing_to_its_value():
    pts = measured(names={"SM_V2", "MobileNet V2"})
    outlier = with_quality(
        {**pts[0], "name": "outlier", "latency_ms": 330.0, "p25_ms": 250.0, "p75_ms": 900.0},
        {"quality": {"verdict": "noisy", "reasons": ["other processes used 1.44 of 2 cores"]}},
    )
    fig = flops_latency_figure([*pts, outlier])
    top = fig.layout.yaxis.range[1]
    trace = next(t for t in fig.data if t.hovertext and any("<b>outlier</b>" in h for h in t.hovertext))
    i = next(k for k, h in enumerate(trace.hovertext) if "<b>outlier</b>" in h)
    assert trace.y[i] <= top and trace.y[i] > 0.9 * top  # on the chart, at its top edge
    assert trace.marker.symbol[i] == "arrow-up-open" and "beyond the axis (y = 330)" in trace.hovertext[i]
    assert trace.text[i] in ("", "outlier (330 ↑)")  # when labelled, the label says where it really is


def test_a_point_at_the_edge_is_named_with_its_real_value():
    from explorer.viz.scatter_series import clamp_to_axes

    layout = {"xaxis": {"range": [0.0, 2.0]}, "yaxis": {"range": [0.0, 10.0]}}  # log x: 1 to 100
    pts = [
        {"name": "inside", "x": 50.0, "y": 5.0, "hover": ""},
        {"name": "far right", "x": 1120.0, "y": 5.0, "hover": ""},
        {"name": "too high", "x": 50.0, "y": 33.0, "hover": ""},
    ]
    out = clamp_to_axes(pts, layout, log_x=True)
    assert [p["name"] for p in out] == ["inside", "far right (1,120 →)", "too high (33 ↑)"]
    assert [p.get("clipped") for p in out] == [None, "right", "up"]


def test_labels_are_never_placed_on_an_error_bar():
    from explorer.viz.labels import label_box

    pts = measured(names={"SM_V2", "MobileNet V2", "SM_V2_x2nr"})
    pts = [{**p, "p25_ms": p["latency_ms"] - 3.0, "p75_ms": p["latency_ms"] + 3.0} for p in pts]  # tall bars
    fig = flops_latency_figure(pts)
    trace = next(t for t in fig.data if t.name and t.name.startswith("measured on"))
    labelled = [pos for pos, text in zip(trace.textposition, trace.text, strict=True) if text]
    assert labelled and all(
        pos in ("middle right", "middle left") or "right" in pos or "left" in pos for pos in labelled
    )
    assert label_box(0, 0, "x", "middle right")[0] > 0  # beside the marker, clear of a vertical bar


def test_a_fine_tune_on_other_data_is_placed_at_its_networks_measured_latency(tmp_path):
    """SM_V2 measured with 100 classes, fine-tuned on 10-class data: the point is drawn, and says whose latency."""
    from explorer.store.results import ResultStore
    from explorer.viz.chartdata import gather

    s = ResultStore(tmp_path / "r.sqlite")
    sm = get_preset("SM_V2")
    ok = {"quality": {"verdict": "ok", "reasons": []}}
    row = dict(backend="torch", device="cpu", batch=1, threads=2, input_size=224, runs=20, device_name="cpu")
    s.add_latency(sm, row | dict(median_ms=6.5, iqr_ms=0.1, p25_ms=6.4, p75_ms=6.6, per_image_ms=6.5) | ok)
    digits = sm.with_changes(num_classes=10)
    s.add_accuracy(digits, {"top1": 91.0, "dataset": "digits: 10 classes", "dataset_name": "digits", "num_classes": 10})
    (ft,) = gather(s, "ci-host")["finetune"]
    assert ft["latency_ms"] == 6.5 and ft["trusted"]
    assert ft["latency_note"].startswith("latency measured with 100 classes")
    fig = accuracy_latency_figure([], [], [ft], dataset="digits, 10 classes")
    assert "latency measured with 100 classes" in hovers(fig)
    assert "no latency measured yet" not in subtitle(fig)
