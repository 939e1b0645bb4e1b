"""The design search's Pareto chart: latency on this host against the objective, every point's source named.

Screened designs sit at their predicted latency (the model, corrected by the start's measurement); measured
candidates at their measured median (hollow when the verdict was not ok); the start design and the paper's
presets are drawn for reference, at a measured latency where a trusted one is known and predicted otherwise.
"""

from __future__ import annotations

import plotly.graph_objects as go

from .style import BLACK, BLUE, GREY, ORANGE, VERMILLION, base_layout, show_empty

OBJECTIVE_TITLES = {"params": "parameters", "macs": "MACs", "naswot": "NASWOT score (zero-cost proxy)"}


def _scale(objective: str) -> tuple[float, str]:
    return (1e6, " (millions)") if objective in ("params", "macs") else (1.0, "")


def search_figure(result: dict, references: list[dict] | None = None) -> go.Figure:
    """references: [{"name", "latency_ms", "objective", "source": "measured" | "predicted"}] (the presets)."""
    objective = result["objective"]
    div, unit = _scale(objective)
    front = result.get("front") or []
    measured = [c for c in result["candidates"] + result.get("rejected", []) if c.get("measured_ms") is not None]
    refs = [r for r in references or [] if r.get("latency_ms")]
    kept = sum(1 for c in measured if c.get("within_budget"))
    layout = base_layout(
        "Design search on this host",
        # Two short lines: one long line was cut at the chart's edge on a laptop screen.
        f"Budget {result['budget_ms']:.2f} ms ({result['budget_source']})<br>"
        f"screened {result['screened']:,} designs · measured {len(measured)} · kept {kept}",
        xtitle="latency on this host (ms)",
        ytitle=OBJECTIVE_TITLES[objective] + unit,
        height=560,
    )
    start_ms = result["start"]["measured_ms"] or result["start"]["predicted_ms"]
    traces = [
        *_front_trace(front, div),
        *_measured_traces(measured, div),
        _start_trace(result["start"], start_ms, div),
        *_reference_traces(refs, div),
    ]
    layout["shapes"] = [_budget_line(result["budget_ms"])]
    # The axis fits what can be trusted: one noisy candidate at 500 ms must not flatten the rest.
    trusted_x = [result["budget_ms"], start_ms, *(p["predicted_ms"] for p in front), *(r["latency_ms"] for r in refs)]
    trusted_x += [c["measured_ms"] for c in measured if c.get("within_budget")]
    layout["xaxis"]["range"] = [0, 1.15 * max(trusted_x)]
    if not measured and not front:
        show_empty(layout, "Nothing screened yet")
    return go.Figure(data=traces, layout=layout)


def _front_trace(front: list[dict], div: float) -> list[dict]:
    if not front:
        return []
    return [
        dict(
            type="scatter",
            mode="lines+markers",
            x=[p["predicted_ms"] for p in front],
            y=[p["objective"] / div for p in front],
            name="screened: best predicted at each latency",
            line=dict(color=GREY, dash="dot", width=1.5),
            marker=dict(size=6, color=GREY),
            hovertemplate="predicted %{x:.2f} ms<br>%{y:.3g}<extra>screened (predicted)</extra>",
        )
    ]


def _measured_traces(measured: list[dict], div: float) -> list[dict]:
    """Kept candidates solid, the others (over budget or noisy) hollow."""
    traces = []
    for ok in (True, False):
        group = [c for c in measured if bool(c.get("within_budget")) is ok]
        if not group:
            continue
        traces.append(
            dict(
                type="scatter",
                mode="markers",
                x=[c["measured_ms"] for c in group],
                y=[c["objective"] / div for c in group],
                name="measured within budget" if ok else "measured: over budget or noisy (hollow)",
                marker=dict(
                    size=13,
                    color=BLUE if ok else "white",
                    line=dict(color=BLUE if ok else VERMILLION, width=2),
                    symbol="circle",
                ),
                text=[c["name"] for c in group],
                hovertemplate="%{text}<br>measured %{x:.2f} ms<br>%{y:.3g}<extra></extra>",
            )
        )
    return traces


def _start_trace(start: dict, start_ms: float, div: float) -> dict:
    return dict(
        type="scatter",
        mode="markers+text",
        x=[start_ms],
        y=[start["objective"] / div],
        text=[f"start: {start['name']}"],
        textposition="bottom center",
        name=f"start ({'measured' if start['measured_ms'] else 'predicted'})",
        marker=dict(size=16, symbol="star", color=ORANGE, line=dict(color=BLACK, width=1)),
        hovertemplate="%{text}<br>%{x:.2f} ms<br>%{y:.3g}<extra></extra>",
    )


def _reference_traces(refs: list[dict], div: float) -> list[dict]:
    traces = []
    for source in ("measured", "predicted"):
        group = [r for r in refs if r["source"] == source]
        if group:
            traces.append(
                dict(
                    type="scatter",
                    mode="markers",  # names on hover: seven labels near one latency would pile up
                    x=[r["latency_ms"] for r in group],
                    y=[r["objective"] / div for r in group],
                    text=[r["name"] for r in group],
                    name=f"paper's presets ({source} here)",
                    marker=dict(
                        size=10,
                        symbol="diamond" if source == "measured" else "diamond-open",
                        color=GREY,
                    ),
                    hovertemplate="%{text}<br>%{x:.2f} ms (" + source + ")<br>%{y:.3g}<extra></extra>",
                )
            )
    return traces


def _budget_line(budget_ms: float) -> dict:
    return dict(
        type="line",
        xref="x",
        yref="paper",
        x0=budget_ms,
        x1=budget_ms,
        y0=0,
        y1=1,
        line=dict(color=VERMILLION, dash="dash", width=1.5),
    )
