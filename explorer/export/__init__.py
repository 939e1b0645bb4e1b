"""Export a design: a standalone .py file, an ONNX file, or the design JSON. The public API, in one place.

- `to_python(design) -> str`: readable PyTorch source that needs only torch (explorer.export.python_file).
- `onnx_bytes(design, state_dict=None) -> (bytes, OnnxReport)`, `to_onnx(design, path, ...) -> OnnxReport`:
  ONNX, verified with onnx.checker and ONNX Runtime (explorer.export.onnx_file).
- `to_json(design) -> str`, `from_json(text) -> Design`: the design file, round-tripping exactly.
- `load_weights(design, checkpoint_path) -> state_dict`: a checkpoint, checked against the design.

Nothing heavy is imported here: torch and onnx load only when an export that needs them runs.
"""

from __future__ import annotations

from ..design.spec import Design, load_design_text
from .onnx_file import DEFAULT_OPSET, OPSET, FailedVerification, OnnxReport, onnx_bytes, to_onnx, verify_onnx
from .python_file import class_name, to_python
from .weights import atomic_output, check_state_dict, load_weights

__all__ = [
    "OnnxReport",
    "atomic_output",
    "check_state_dict",
    "class_name",
    "from_json",
    "load_weights",
    "onnx_bytes",
    "to_json",
    "to_onnx",
    "DEFAULT_OPSET",
    "OPSET",
    "FailedVerification",
    "to_python",
    "verify_onnx",
]


def to_json(design: Design) -> str:
    """The design file's text (name, network and metadata), as `from_json` reads it back."""
    return design.to_json()


def from_json(text: str | bytes) -> Design:
    """Parse and validate a design file's text; raises DesignError naming each problem."""
    return load_design_text(text, origin="design JSON")
