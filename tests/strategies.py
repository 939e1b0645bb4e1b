"""Hypothesis strategies for random valid designs, small enough to build and run quickly."""

from hypothesis import strategies as st

from explorer.design.spec import Design, parse_design


@st.composite
def stage_dicts(draw, max_c: int = 24):
    return {
        "t": draw(st.integers(1, 6)),
        "c": draw(st.integers(1, max_c)),
        "n": draw(st.integers(1, 3)),
        "s": draw(st.sampled_from([1, 2])),
        "skip": draw(st.booleans()),
        "out_act": draw(st.sampled_from(["linear", "relu6"])),
        "kernel": draw(st.sampled_from([3, 5, 7])),
    }


@st.composite
def designs(draw, max_stages: int = 4, max_c: int = 24) -> Design:
    stages = draw(st.lists(stage_dicts(max_c), min_size=1, max_size=max_stages))
    total_stride = max(8, 2 * 2 ** sum(s["s"] == 2 for s in stages))  # input_size >= 8 and >= the stride
    return parse_design(
        {
            "name": "random",
            "num_classes": draw(st.integers(1, 20)),
            "input_size": draw(st.integers(total_stride, max(total_stride, 48))),  # odd sizes included
            "stem_channels": draw(st.integers(1, 16)),
            "last_conv": draw(st.sampled_from([0, 0, 8, 33])),
            "dropout": draw(st.sampled_from([0.0, 0.2])),
            "stages": stages,
        }
    )
