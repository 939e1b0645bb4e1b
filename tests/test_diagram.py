"""The network diagram: one box per block, one arc per residual add, one marker per stride-2 step."""

import json

import pytest
from hypothesis import given
from strategies import designs

from explorer.design.plan import blocks, expand
from explorer.design.presets import all_presets, get_preset
from explorer.design.spec import parse_design
from explorer.viz.diagram import PLOT_WIDTH_PX, STEP_CHAR_PX, TICK_CHAR_PX, network_figure, text_width


def arcs(fig):
    return [s for s in fig.layout.shapes if (s.name or "").startswith("skip ")]


def stride_lines(fig):
    return [s for s in fig.layout.shapes if (s.name or "").startswith("stride ")]


def hover_texts(fig) -> str:
    return "\n".join(t for tr in fig.data for t in (tr.hovertext or ()))


def stride2_steps(design) -> int:
    return sum(1 for ly in expand(design) if ly.stride == 2)  # the stem and each stride-2 depthwise


def check_structure(design):
    fig = network_figure(design)
    plan = blocks(design)
    assert sorted(s.name for s in arcs(fig)) == sorted(f"skip {b.name}" for b in plan if b.skip)
    assert len(stride_lines(fig)) == stride2_steps(design)
    assert sum("↓2" in (a.text or "") for a in fig.layout.annotations) == stride2_steps(design)
    hovers = hover_texts(fig)
    for b in plan:
        assert f"<b>{b.name}</b>" in hovers
    json.loads(fig.to_json())  # what st.plotly_chart sends must serialise
    return fig


@pytest.mark.parametrize("design", all_presets(), ids=lambda d: d.name)
def test_presets(design):
    fig = check_structure(design)
    assert design.name in fig.layout.title.text
    assert "params" in fig.layout.title.text and "MACs" in fig.layout.title.text


def test_mobilenet_v2_counts():
    fig = network_figure(get_preset("MobileNet V2"))
    assert len(arcs(fig)) == 10  # 1 + 2 + 3 + 2 + 2 residual adds in the 17 blocks
    assert len(stride_lines(fig)) == 5  # 224 -> 112 -> 56 -> 28 -> 14 -> 7
    steps = [a.text for a in fig.layout.annotations if "↓2" in a.text]
    assert [t.split("<br>")[1] for t in steps] == ["224→112", "112→56", "56→28", "28→14", "14→7"]
    names = [tr.name for tr in fig.data if tr.name]
    assert "stem, last 1×1 conv (1280), pool + classifier" in names


def test_no_skip_preset_has_no_arcs():
    fig = network_figure(get_preset("SM_V2_x2nr"))
    assert arcs(fig) == []
    assert not any(tr.name == "skip connection (residual add)" for tr in fig.data)


def test_block_hover_has_shapes_params_and_macs():
    hovers = hover_texts(network_figure(get_preset("MobileNet V2")))
    block = next(h for h in hovers.split("\n") if h.startswith("<b>stages.1.0</b>"))
    assert "16 → 96 → 24" in block and "stride 2" in block and "output 56×56" in block
    assert "params" in block and "MACs" in block and "depthwise 3×3" in block


def test_baseline_deltas_in_subtitle():
    fig = network_figure(get_preset("SM_V2"), baseline=get_preset("MobileNet V2"))
    sub = fig.layout.title.subtitle.text
    assert "vs MobileNet V2" in sub and "params −" in sub and "MACs −" in sub
    assert "√" in fig.layout.yaxis.title.text  # the scale is said on the axis


def tiny(**over):
    raw = {
        "name": "tiny",
        "num_classes": 3,
        "input_size": 8,
        "stem_channels": 4,
        "last_conv": 0,
        "stages": [{"t": 1, "c": 4, "n": 2, "s": 1, "skip": True, "kernel": 7}],
    }
    raw.update(over)
    return parse_design(raw)


@pytest.mark.parametrize(
    "design",
    [
        tiny(),  # one stage, t = 1, kernel 7, input 8: skips in both blocks (4 -> 4 channels)
        tiny(stages=[{"t": 1, "c": 8, "n": 1, "s": 2, "skip": False}]),  # no skips at all
        tiny(stages=[{"t": 6, "c": 4, "n": 3, "s": 2}], last_conv=16),
        tiny(input_size=9, stages=[{"t": 2, "c": 4, "n": 1, "s": 2}, {"t": 2, "c": 5, "n": 2, "s": 2, "kernel": 5}]),
    ],
)
def test_edge_designs(design):
    check_structure(design)


def test_many_blocks_keep_tick_labels_per_stage():
    d = tiny(input_size=32, stages=[{"t": 1, "c": 4, "n": 20, "s": 1}, {"t": 2, "c": 8, "n": 20, "s": 2}])
    fig = check_structure(d)
    labelled = [t for t in fig.layout.xaxis.ticktext if t.startswith("t")]
    assert labelled == ["t2<br>c8<br>s2"]  # first blocks only; stage 0's would touch the stem's label
    assert_no_label_collisions(fig)


def label_spans(fig, texts, xs, char_px):
    lo, hi = fig.layout.xaxis.range
    return [
        ((x - lo) / (hi - lo) * PLOT_WIDTH_PX, text_width(t, char_px) / 2) for x, t in zip(xs, texts, strict=True) if t
    ]


def assert_no_label_collisions(fig):
    ticks = label_spans(fig, fig.layout.xaxis.ticktext, fig.layout.xaxis.tickvals, TICK_CHAR_PX)
    steps = [a for a in fig.layout.annotations if "↓2" in a.text]
    step_spans = label_spans(fig, [a.text for a in steps], [a.x for a in steps], STEP_CHAR_PX)
    for spans in (ticks, step_spans):
        spans.sort()
        for (c1, h1), (c2, h2) in zip(spans, spans[1:], strict=False):
            assert c2 - c1 >= h1 + h2, (c1, c2)


@pytest.mark.parametrize("design", all_presets(), ids=lambda d: d.name)
def test_labels_never_collide_on_presets_or_long_networks(design):
    long = design.with_changes(stages=tuple(st.__class__(st.t, st.c, st.n * 3, st.s) for st in design.stages))
    for d in (design, long):
        fig = network_figure(d)
        assert_no_label_collisions(fig)
        steps = [a for a in fig.layout.annotations if "↓2" in a.text]
        assert all(a.hovertext and "→" in a.hovertext for a in steps)  # sizes always in the hover
    assert sum("<br>" in a.text for a in network_figure(design).layout.annotations) >= 4  # presets keep sizes


@given(designs())
def test_random_designs(design):
    check_structure(design)


@pytest.mark.parametrize("design", all_presets(), ids=lambda d: d.name)
def test_no_two_stages_share_a_colour(design):
    fig = network_figure(design)
    stages = [tr for tr in fig.data if (tr.name or "").startswith("stage ")]
    assert len(stages) == len(design.stages)  # MobileNet V2: 7 stages, 7 colours
    assert len({tr.marker.color for tr in stages}) == len(stages)
    assert [tr.name.split(":")[0] for tr in stages] == [f"stage {i + 1}" for i in range(len(stages))]
