"""Download the current design as a standalone .py, as ONNX (verified), as design JSON, and trained weights."""

from __future__ import annotations

import io
import re

import streamlit as st

from ..export import class_name, load_weights, onnx_bytes, to_json, to_python
from ..spec import Design


def _file_stem(design: Design) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", design.name).strip("._") or "design"


def _checkpoint(design: Design) -> str | None:
    """The newest fine-tune checkpoint of this exact network in this session, if any."""
    return st.session_state.get("checkpoints", {}).get(design.network_hash())


def render(design: Design, disabled: bool = False) -> None:
    if disabled:
        st.caption("Fix the table first: exports are of the last valid design, shown greyed above.")
    stem, h = _file_stem(design), design.network_hash()
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Standalone .py", to_python(design), file_name=f"{stem}.py", mime="text/x-python", width="stretch",
        help=f"Class {class_name(design.name)} and build_model(); imports only torch; parameter names match the explorer's",
    )  # fmt: skip
    c2.download_button(
        "Design JSON", to_json(design), file_name=f"{stem}.json", mime="application/json", width="stretch"
    )
    ckpt = _checkpoint(design)
    with c3:
        weights = st.checkbox("with fine-tuned weights", value=bool(ckpt), disabled=not ckpt, key="onnx_weights",
                              help="Available after a fine-tune of this design in this session")  # fmt: skip
        if st.button("Build ONNX", width="stretch", key="onnx_go"):
            with st.spinner("Exporting and verifying with ONNX Runtime…"):
                sd = load_weights(design, ckpt) if weights and ckpt else None
                data, report = onnx_bytes(design, sd)
            st.session_state.setdefault("onnx", {})[h] = (data, report.to_dict(), bool(sd))
    built = st.session_state.get("onnx", {}).get(h)
    if built:
        data, rep, with_weights = built
        ok = "✅ verified" if rep["verified"] else "⚠️ NOT verified"
        st.download_button(f"Download ONNX ({len(data) / 2**20:.1f} MiB)", data, file_name=f"{stem}.onnx",
                           mime="application/octet-stream", key="onnx_dl")  # fmt: skip
        st.caption(
            f"{ok}: {rep['message']} · export {rep['seconds']:.1f} s, verification {rep['verify_seconds']:.1f} s · "
            f"opset {rep['opset']} · {'fine-tuned' if with_weights else 'freshly initialised'} weights · open it in Netron (netron.app)"
        )
    if ckpt:
        import torch

        buf = io.BytesIO()
        torch.save(load_weights(design, ckpt), buf)
        st.download_button("Fine-tuned weights (.pt state dict)", buf.getvalue(), file_name=f"{stem}_weights.pt",
                           help="Loads with strict=True into the standalone .py's build_model()")  # fmt: skip
