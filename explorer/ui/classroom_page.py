"""A guided story for a projector: MobileNet V2 → SM_V2 → measure → remove skips → measure → FLOPs are not time.

Every sentence with a number in it is computed from the presets and from what this host measured. Ratios and
the verdict use only measurements whose quality verdict is ok (explorer.measure.quality): a noisy one is named, with
its reason, and the class is asked to measure again.
"""

from __future__ import annotations

from html import escape

import pandas as pd
import streamlit as st

from ..design.cost import compute_cost
from ..design.plan import residual_adds
from ..design.presets import get_preset
from ..fmt import si
from ..measure.hostinfo import physical_cores
from ..measure.quality import is_trusted, reasons
from ..viz.charts import flops_latency_figure, with_quality
from ..viz.diagram import network_figure
from .measure_panel import cached_host_info, host_line, run_measurement
from .predict_panel import render_flops_gap
from .results_view import store

MV2, SM, X2NR = "MobileNet V2", "SM_V2", "SM_V2_x2nr"
PAPER_RATIOS = {"cpu": {(SM, MV2): 0.70, (X2NR, SM): 1.07}, "gpu": {(SM, MV2): 0.69, (X2NR, SM): 0.96}}
STEPS = 6
DIAGRAMS = {0: (MV2, None), 1: (SM, MV2), 3: (X2NR, SM)}  # step -> (network, compared with)
BIG = "<div style='font-size:1.35rem'>{}</div>"


def _lat(name: str) -> dict | None:
    return st.session_state.get("class_lat", {}).get(name)


def _trusted(name: str) -> dict | None:
    r = _lat(name)
    return r if r and is_trusted(r) else None


def _measure(*names: str) -> None:
    for name in names:
        line = st.empty()  # says what is being measured, and leaves the page when it is done
        line.write(f"Measuring **{name}** on this CPU…")
        r = run_measurement(get_preset(name), "torch", "cpu", 1, physical_cores(), 2.0, per_layer=False)
        line.empty()
        if r is not None:
            st.session_state.setdefault("class_lat", {})[name] = r
        else:
            st.error(st.session_state.get("measure_errors", {}).get(get_preset(name).network_hash(), "failed"))


def _go(step: int) -> None:
    st.session_state.class_step = step


def _costs(*names: str):
    return [compute_cost(get_preset(n)) for n in names]


def x2nr_readings() -> dict:
    """The two readings of x2nr's extra work: the paper's own FLOPs count and this preset's MACs."""
    sm, x2 = get_preset(SM), get_preset(X2NR)
    sm_c, x2_c = _costs(SM, X2NR)
    return {
        "paper": x2.meta["paper"]["flops_m"] / sm.meta["paper"]["flops_m"],
        "paper_flops_m": (sm.meta["paper"]["flops_m"], x2.meta["paper"]["flops_m"]),
        "preset": x2_c.macs / sm_c.macs,
        "preset_macs": (sm_c.macs, x2_c.macs),
    }


READING_SENTENCE = (
    "The preset reads Table 1 with the one rule that reproduces SM_V2's parameters exactly (the last block keeps "
    "its 1×1 conv, here 2048 → 1024); the paper's smaller count implies that conv was dropped, which the "
    "bottleneck table cannot express, so one rule is kept for every variant and both numbers are shown."
)


def _step_texts() -> list[tuple[str, str]]:
    mv2, sm, x2 = (get_preset(n) for n in (MV2, SM, X2NR))
    mv2_c, sm_c, x2_c = _costs(MV2, SM, X2NR)
    return [
        (
            "MobileNet V2, the baseline",
            f"{si(mv2_c.params)} params, {si(mv2_c.macs)} MACs. Inverted residual blocks: expand (1×1), "
            f"depthwise 3×3, project (1×1), with {residual_adds(mv2)} skip connections.",
        ),
        (
            "SM_V2: the paper's simplification",
            f"Fewer repeats, no 96-channel stage, no final 1×1 conv to 1280: {si(sm_c.macs)} MACs, "
            f"{sm_c.macs / mv2_c.macs:.0%} of MobileNet V2's, and {si(sm_c.params)} params.",
        ),
        ("Measure both on this computer", ""),
        (
            "SM_V2_x2nr: remove every skip, double the width",
            f"{residual_adds(sm) - residual_adds(x2)} residual adds removed, channels doubled: {si(x2_c.macs)} MACs. "
            "If FLOPs predicted time, it would be slower by as much as it adds.",
        ),
        ("Measure it", ""),
        ("FLOPs are not time", ""),
    ]


def _readings() -> None:
    """Both readings of x2nr side by side, big, and the one sentence on which the preset follows."""
    r = x2nr_readings()
    c1, c2 = st.columns(2)
    c1.metric(
        "Paper: x2nr FLOPs vs SM_V2",
        f"{r['paper']:.2f}×",  # the same unit as the preset's ratio beside it
        help=f"The paper's own count: {r['paper_flops_m'][1]:g} M vs {r['paper_flops_m'][0]:g} M FLOPs",
    )
    c2.metric(
        "This preset: x2nr MACs vs SM_V2",
        f"{r['preset']:.2f}×",
        help=f"Counted here: {si(r['preset_macs'][1])} vs {si(r['preset_macs'][0])} MACs",
    )
    st.markdown(BIG.format(READING_SENTENCE), unsafe_allow_html=True)


def untrusted_names(*names: str) -> list[str]:
    return [n for n in names if _lat(n) and not is_trusted(_lat(n))]


def _untrusted_line(*names: str, html: bool = False) -> str:
    """Why a measurement is not used; `html` for the big projector text (an HTML block, where ** stays literal)."""
    bold = (lambda n: f"<b>{escape(n)}</b>") if html else (lambda n: f"**{n}**")
    why = (lambda n: escape("; ".join(reasons(_lat(n))))) if html else (lambda n: "; ".join(reasons(_lat(n))))
    return " ".join(
        f"The measurement of {bold(n)} is not trusted ({why(n)}): measure again with the button below."
        for n in untrusted_names(*names)
    )


def _ratio(a: str, b: str) -> None:
    """The key ratio at projector size: time here, MACs, and the paper's times, as big numbers."""
    la, lb = _trusted(a), _trusted(b)
    if not (la and lb):
        st.markdown(_untrusted_line(a, b) or "Press the button: each takes a few seconds.")
        return
    ca, cb = _costs(a, b)
    p = PAPER_RATIOS["cpu"][(a, b)], PAPER_RATIOS["gpu"][(a, b)]
    c1, c2, c3 = st.columns(3)
    here = f"{la['median_ms']:.2f} ms vs {lb['median_ms']:.2f} ms, median, this CPU"
    c1.metric(f"Time here, {a} / {b}", f"{la['median_ms'] / lb['median_ms']:.2f}×", help=here)
    c2.metric(f"MACs, {a} / {b}", f"{ca.macs / cb.macs:.2f}×")
    # Two short values, never one cut short ("0.69× …") in a third of the page.
    c3.metric("Paper, CPU", f"{p[0]:.2f}×", help=f"On the paper's GPU: {p[1]:.2f}×")
    c3.caption(f"Paper, GPU: {p[1]:.2f}×")


def conclusion() -> str:
    ls, lx = _trusted(SM), _trusted(X2NR)
    if not (_lat(SM) and _lat(X2NR)):
        return "Measure SM_V2 and SM_V2_x2nr first (steps 3 and 5)."
    if not (ls and lx):
        return "No verdict from untrusted numbers. " + _untrusted_line(SM, X2NR, html=True)
    r = x2nr_readings()
    t_r = lx["median_ms"] / ls["median_ms"]
    verdict = "less" if t_r < r["preset"] else "more"
    return (
        f"SM_V2_x2nr does {r['preset']:.2f}× the MACs of SM_V2 here ({r['paper']:.2f}× by the paper's FLOPs) but "
        f"took {t_r:.2f}× the time on this host — {verdict} than its MACs predict. Skip connections re-read feature "
        "maps from memory and depthwise convs do little arithmetic per byte, so time follows memory traffic as much "
        "as FLOPs. On the paper's GPU, x2nr was even faster (0.96×)."
    )


RUNTIMES = {"torch": "PyTorch (eager)", "onnxruntime": "ONNX Runtime"}


def skip_cost_rows(store) -> list[dict]:
    """What SM_V2's skips cost on this host, per runtime: SM_V2 against the same network without skips, from
    the newest trusted measurements of both with the same settings (CPU, batch 1, same threads)."""
    sm = get_preset(SM)
    plain = sm.with_skips(False)
    rows = []
    for backend, runtime in RUNTIMES.items():
        found = None
        with_skips = [r for r in store.latencies(sm.network_hash(), backend=backend, device="cpu", batch=1)]
        without = [r for r in store.latencies(plain.network_hash(), backend=backend, device="cpu", batch=1)]
        for a in (r for r in with_skips if is_trusted(r) and r["input_size"] == sm.input_size):
            b = next((r for r in without if is_trusted(r) and r["threads"] == a["threads"]), None)
            if b is not None:
                found = (a, b)
                break
        if found is None:
            rows.append({"runtime": runtime, "with skips": "—", "without": "—", "the 3 skips cost": "not measured"})
            continue
        a, b = found
        cost = a["median_ms"] - b["median_ms"]
        rows.append(
            {
                "runtime": f"{runtime}, {a['threads']} threads",
                "with skips": f"{a['median_ms']:.2f} ms",
                "without": f"{b['median_ms']:.2f} ms",
                "the 3 skips cost": f"{cost:+.2f} ms ({cost / b['median_ms']:+.1%})",
            }
        )
    return rows


def _skip_costs() -> None:
    """The paper's GPU claim is about one runtime: here is what a skip costs on this host's runtimes."""
    st.markdown("**What SM_V2's skip connections cost on this host's runtimes**")
    s = store()
    rows = skip_cost_rows(s) if s else []
    if not rows:
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(
        "Trusted measurements only (CPU, batch 1, same threads for both). The paper's claim that removing skips "
        "speeds a network up was measured on its GPU with its framework: whether a skip costs time depends on "
        "the runtime, which may fuse the add into the convolution before it. To fill a row, measure SM_V2 and "
        "SM_V2 with the Skip connections switch off on the Design page's Latency tab, with that backend."
    )


def _chart_points() -> list[dict]:
    pts = []
    for name in (MV2, SM, X2NR):
        r, c = _lat(name), compute_cost(get_preset(name))
        if r:
            setting = dict(backend="torch", device="cpu", host=cached_host_info()["cpu"], batch=1, threads=r["threads"])
            spread = dict(latency_ms=r["median_ms"], p25_ms=r.get("p25_ms"), p75_ms=r.get("p75_ms"))
            point = dict(name=name, macs=c.macs, params=c.params, **spread, **setting)
            pts.append(with_quality(point, r))
    return pts


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
                st.markdown(BIG.format(text), unsafe_allow_html=True)
            if i == 3:
                _readings()
            if i == step and i in DIAGRAMS:  # the picture of the network being introduced, current step only
                name, base = DIAGRAMS[i]
                fig = network_figure(get_preset(name), get_preset(base) if base else None)
                st.plotly_chart(fig, width="stretch", theme=None, key=f"cls_diagram_{i}")
            # Measuring stays possible at every later step: "measure again" always has a button to press.
            if i == 2:
                if st.button("Measure MobileNet V2 and SM_V2", type="primary", key="cls_m1"):
                    _measure(MV2, SM)
                _ratio(SM, MV2)
            if i == 4:
                if st.button("Measure SM_V2_x2nr", type="primary", key="cls_m2"):
                    _measure(X2NR)
                _ratio(X2NR, SM)
            if i == 5:
                st.markdown(BIG.format(conclusion()), unsafe_allow_html=True)
                again = untrusted_names(SM, X2NR)
                if again and st.button(f"Measure {' and '.join(again)} again", type="primary", key="cls_again"):
                    _measure(*again)
                    st.rerun()
                _skip_costs()
                render_flops_gap(get_preset(SM), get_preset(X2NR))
                st.plotly_chart(flops_latency_figure(_chart_points()), width="stretch", theme=None, key="cls_chart")
    c1, c2, _ = st.columns([1, 1, 4])
    c1.button("← Back", on_click=_go, args=(max(step - 1, 0),), disabled=step == 0, key="cls_back")
    if step < STEPS - 1:
        c2.button("Next →", on_click=_go, args=(step + 1,), type="primary", key="cls_next")
    else:
        c2.button("Start over", on_click=_go, args=(0,), key="cls_restart")
