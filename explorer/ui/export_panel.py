"""Download the current design as a standalone .py, as ONNX (verified), as design JSON, and trained weights."""

from __future__ import annotations

import io
import os
import re

import streamlit as st

from ..design.spec import Design
from ..export import class_name, load_weights, onnx_bytes, to_json, to_python


def file_stem(design: Design) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", design.name).strip("._") or "design"


def _checkpoint(design: Design) -> str | None:
    """The newest fine-tune checkpoint of this exact network in this session, if any."""
    return st.session_state.get("checkpoints", {}).get(design.network_hash())


@st.cache_data(max_entries=4, show_spinner=False)
def weights_bytes(design_json: str, checkpoint: str, mtime_ns: int) -> bytes:
    """The checkpoint's state dict as a .pt file. Cached per file version: reading and re-saving a checkpoint
    on every rerun of the page made each widget click wait for torch."""
    import torch

    from ..design.spec import load_design_text

    buf = io.BytesIO()
    torch.save(load_weights(load_design_text(design_json, origin="session"), checkpoint), buf)
    return buf.getvalue()


def render(design: Design, blocked: str | None = None) -> None:
    """`blocked` is why nothing may be exported now (an invalid table, a design over the cost cap)."""
    if blocked:
        st.caption(blocked)
    off = bool(blocked)
    stem, h = file_stem(design), design.network_hash()
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Standalone .py",
        to_python(design),
        file_name=f"{stem}.py",
        mime="text/x-python",
        width="stretch",
        disabled=off,
        help=blocked
        or f"Class {class_name(design.name)} and build_model(); imports only torch; "
        "run it to print params and MACs and run one forward pass",
    )
    c2.download_button(
        "Design JSON",
        to_json(design),
        file_name=f"{stem}.json",
        mime="application/json",
        width="stretch",
        disabled=off,
        help=blocked,
    )
    ckpt = _checkpoint(design)
    with c3:
        weights = st.checkbox(
            "with fine-tuned weights",
            value=bool(ckpt),
            disabled=not ckpt,
            # One box per network and checkpoint: a box drawn unticked (and disabled) before the fine-tune must
            # not keep that state once this network has weights.
            key=f"onnx_weights::{h}::{ckpt or ''}",
            help="Available after a fine-tune of this design in this session",
        )
        if st.button("Build ONNX", width="stretch", key="onnx_go", disabled=off, help=blocked):
            with st.spinner("Exporting and verifying with ONNX Runtime…"):
                sd = load_weights(design, ckpt) if weights and ckpt else None
                data, report = onnx_bytes(design, sd)
            st.session_state.setdefault("onnx", {})[h] = (data, report.to_dict(), bool(sd))
    built = st.session_state.get("onnx", {}).get(h)
    if built and not off:
        data, rep, with_weights = built
        ok = "✅ verified" if rep["verified"] else "⚠️ NOT verified"
        st.download_button(
            f"Download ONNX ({len(data) / 2**20:.1f} MiB)",
            data,
            file_name=f"{stem}.onnx",
            mime="application/octet-stream",
            key="onnx_dl",
        )
        st.caption(
            f"{ok}: {rep['message']} · export {rep['seconds']:.1f} s, verification {rep['verify_seconds']:.1f} s · "
            f"opset {rep['opset']} · {'fine-tuned' if with_weights else 'freshly initialised'} weights · "
            "open it in Netron (netron.app)"
        )
    if ckpt and not off:
        data = weights_bytes(design.to_json(), ckpt, os.stat(ckpt).st_mtime_ns)
        st.download_button(
            "Fine-tuned weights (.pt state dict)",
            data,
            file_name=f"{stem}_weights.pt",
            help="A plain state dict: `model.load_state_dict(torch.load(path))` on the standalone .py's "
            "build_model(), or `python <design>.py <path>`",
        )
