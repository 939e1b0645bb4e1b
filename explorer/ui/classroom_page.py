"""A guided story for a projector: MobileNet V2 → SM_V2 → measure → remove skips → measure → FLOPs are not time.

Every sentence with a number in it is computed from the presets and from what this host measured.
"""

from __future__ import annotations

import streamlit as st

from ..charts import flops_latency_figure
from ..cost import compute_cost
from ..diagram import network_figure
from ..fmt import si
from ..latency import physical_cores
from ..presets import get_preset
from .measure_panel import _host, host_line, run_measurement

MV2, SM, X2NR = "MobileNet V2", "SM_V2", "SM_V2_x2nr"
PAPER_RATIOS = {"cpu": {(SM, MV2): 0.70, (X2NR, SM): 1.07}, "gpu": {(SM, MV2): 0.69, (X2NR, SM): 0.96}}
STEPS = 6
DIAGRAMS = {0: (MV2, None), 1: (SM, MV2), 3: (X2NR, SM)}  # step -> (network, compared with)


def _lat(name: str) -> dict | None:
    return st.session_state.get("class_lat", {}).get(name)


def _measure(*names: str) -> None:
    for name in names:
        st.write(f"Measuring **{name}** on this CPU…")
        r = run_measurement(get_preset(name), "torch", "cpu", 1, physical_cores(), 2.0, per_layer=False)
        st.session_state.setdefault("class_lat", {})[name] = r


def _go(step: int) -> None:
    st.session_state.class_step = step


def _costs(*names: str):
    return [compute_cost(get_preset(n)) for n in names]


def _step_texts() -> list[tuple[str, str]]:
    mv2, sm, x2 = _costs(MV2, SM, X2NR)
    adds = lambda c: sum(1 for lc in c.layers if lc.layer.kind == "add")  # noqa: E731
    texts = [
        ("MobileNet V2, the baseline",
         f"{si(mv2.params)} params, {si(mv2.macs)} MACs. Inverted residual blocks: expand (1×1), depthwise 3×3, project (1×1), "
         f"with {adds(mv2)} skip connections."),
        ("SM_V2: the paper's simplification",
         f"Fewer repeats, no 96-channel stage, no final 1×1 conv to 1280: {si(sm.macs)} MACs, "
         f"{sm.macs / mv2.macs:.0%} of MobileNet V2's, and {si(sm.params)} params."),
        ("Measure both on this computer", ""),
        ("SM_V2_x2nr: remove every skip, double the width",
         f"{adds(sm)} residual adds removed, channels doubled: {si(x2.macs)} MACs, {x2.macs / sm.macs:.2f}× SM_V2's. "
         "If FLOPs predicted time, it would be that much slower."),
        ("Measure it", ""),
        ("FLOPs are not time", ""),
    ]  # fmt: skip
    return texts


def _ratio_line(a: str, b: str) -> str:
    la, lb = _lat(a), _lat(b)
    if not (la and lb):
        return ""
    ca, cb = _costs(a, b)
    t = la["median_ms"] / lb["median_ms"]
    p = PAPER_RATIOS["cpu"][(a, b)], PAPER_RATIOS["gpu"][(a, b)]
    return (
        f"**{a} / {b}**: time {t:.2f}× here (paper: {p[0]:.2f}× CPU, {p[1]:.2f}× GPU) — "
        f"MACs {ca.macs / cb.macs:.2f}×. ({la['median_ms']:.2f} ms vs {lb['median_ms']:.2f} ms)"
    )


def _conclusion() -> str:
    ls, lx = _lat(SM), _lat(X2NR)
    if not (ls and lx):
        return "Measure SM_V2 and SM_V2_x2nr first (steps 3 and 5)."
    sm, x2 = _costs(SM, X2NR)
    mac_r, t_r = x2.macs / sm.macs, lx["median_ms"] / ls["median_ms"]
    verdict = "less" if t_r < mac_r else "more"
    return (
        f"SM_V2_x2nr does {mac_r:.2f}× the MACs of SM_V2 but took {t_r:.2f}× the time on this host — {verdict} than "
        "FLOPs predict. Skip connections re-read feature maps from memory and depthwise convs do little arithmetic "
        "per byte, so time follows memory traffic as much as FLOPs. On the paper's GPU, x2nr was even faster (0.96×)."
    )


def render() -> None:
    step = st.session_state.setdefault("class_step", 0)
    st.title("Classroom: FLOPs are not time")
    st.progress((step + 1) / STEPS, text=f"Step {step + 1} of {STEPS}")
    st.caption(host_line(physical_cores()))
    texts = _step_texts()
    for i in range(step + 1):
        title, text = texts[i]
        with st.container(border=True):
            st.subheader(f"{i + 1}. {title}")
            if text:
                st.markdown(f"<div style='font-size:1.35rem'>{text}</div>", unsafe_allow_html=True)
            if i == step and i in DIAGRAMS:  # the picture of the network being introduced, current step only
                name, base = DIAGRAMS[i]
                fig = network_figure(get_preset(name), get_preset(base) if base else None)
                st.plotly_chart(fig, width="stretch", theme=None, key=f"cls_diagram_{i}")
            if i == 2:
                if st.button("Measure MobileNet V2 and SM_V2", type="primary", disabled=step != 2, key="cls_m1"):
                    _measure(MV2, SM)
                st.markdown(_ratio_line(SM, MV2) or "Press the button: each takes a few seconds.")
            if i == 4:
                if st.button("Measure SM_V2_x2nr", type="primary", disabled=step != 4, key="cls_m2"):
                    _measure(X2NR)
                st.markdown(_ratio_line(X2NR, SM) or "Press the button.")
            if i == 5:
                st.markdown(f"<div style='font-size:1.35rem'>{_conclusion()}</div>", unsafe_allow_html=True)
                pts = []
                for name in (MV2, SM, X2NR):
                    r, c = _lat(name), compute_cost(get_preset(name))
                    if r:
                        pts.append(dict(name=name, macs=c.macs, params=c.params, latency_ms=r["median_ms"], iqr_ms=r["iqr_ms"],
                                        backend="torch", device="cpu", host=_host()["cpu"], batch=1, threads=r["threads"]))  # fmt: skip
                st.plotly_chart(flops_latency_figure(pts), width="stretch", theme=None, key="cls_chart")
    c1, c2, _ = st.columns([1, 1, 4])
    c1.button("← Back", on_click=_go, args=(max(step - 1, 0),), disabled=step == 0, key="cls_back")
    if step < STEPS - 1:
        c2.button("Next →", on_click=_go, args=(step + 1,), type="primary", key="cls_next")
    else:
        c2.button("Start over", on_click=_go, args=(0,), key="cls_restart")
