"""Design -> ONNX, then verified: onnx.checker, and ONNX Runtime against PyTorch at batch 1 and 3.

Exporter: torch.onnx's TorchScript-based exporter (`dynamo=False`). With torch 2.13 it exports MobileNet V2
in about 0.5 s at opset 17. The dynamo exporter took ~10 s for the same model and emitted opset 18 (its
conversion down to 17 failed), too slow for a download button; the legacy one is deprecated but supported.
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import asdict, dataclass, replace

from ..design.spec import Design
from ..errors import first_line
from ..options import Option
from .weights import atomic_output, check_state_dict

EXPORTER = "torch.onnx, TorchScript exporter (dynamo=False)"
DEFAULT_OPSET = 17  # the oldest opset every supported runtime reads; also what ONNX Runtime timing exports
OPSET = Option(
    "opset",
    int,
    DEFAULT_OPSET,
    lo=DEFAULT_OPSET,
    hi=20,
    metavar="N",
    help="ONNX opset version",
)
OPSETS = range(int(OPSET.lo), int(OPSET.hi) + 1)
# Relative to the largest logit: float32 kernels of two runtimes agree to ~1e-6 of the output scale on a
# well-conditioned network. A deep one rounds more on its way (each layer adds float32 error), so the allowed
# difference is also at least FLOAT32_SLACK x PyTorch's own float32 error against the exact (float64) answer:
# two float32 implementations that differ only in summation order may each be that far from it, in opposite ways.
TOLERANCE = 1e-4
FLOAT32_SLACK = 10.0
# Below this output scale a comparison proves little (fresh weights give logits of ~1e-8, where any graph
# "matches" in absolute terms), so the graph is checked again with deterministic random weights and BN statistics.
MEANINGFUL_SCALE = 1e-2
BATCH_SIZES = (1, 3)  # 3 proves the batch dimension really is dynamic (the export traced batch 1)
INPUT_NAME, OUTPUT_NAME = "input", "logits"


@dataclass(frozen=True)
class OnnxReport:
    path: str | None  # None when only bytes were produced
    opset: int
    seconds: float  # the export itself
    verify_seconds: float
    size_bytes: int
    checker_ok: bool | None  # None: verification not run
    max_abs_diff: float | None
    batch_sizes: tuple[int, ...]  # batch sizes compared under ONNX Runtime
    verified: bool  # checker passed and every batch size matched within the allowed difference (see TOLERANCE)
    message: str
    exporter: str = EXPORTER
    max_rel_diff: float | None = None  # max abs diff / largest PyTorch logit (of the file's own weights)
    randomized_rel_diff: float | None = None  # the same for the graph with random weights, when it was needed
    float32_rel_error: float | None = None  # PyTorch float32 against float64: the rounding the depth brings
    allowed_rel_diff: float | None = None  # max(TOLERANCE, FLOAT32_SLACK x float32_rel_error)
    weights_broken: bool = False  # PyTorch itself gave NaN or inf: the weights are at fault, not the export

    def to_dict(self) -> dict:
        return asdict(self)


def prepare_model(design: Design, state_dict: dict | None = None):
    """The design's model in eval mode, with `state_dict` loaded strictly when given."""
    from ..model.build import build_model

    model = build_model(design)
    if state_dict is not None:
        check_state_dict(design, state_dict)  # a one-line UserError naming tensors, not torch's traceback
        model.load_state_dict(state_dict, strict=True)
    return model.eval()


def _images(batch: int, size: int):
    import torch

    g = torch.Generator().manual_seed(batch)  # fixed, and leaves the global RNG alone
    return torch.randn(batch, 3, size, size, generator=g)


def model_to_onnx(model, example, opset: int = DEFAULT_OPSET, dynamic_batch: bool = True) -> bytes:
    """ONNX bytes of an eval-mode model, input `input`, output `logits` (also used to time ONNX Runtime)."""
    import torch

    buf = io.BytesIO()
    axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice is not the user's concern
        torch.onnx.export(
            model,
            (example,),
            buf,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    return buf.getvalue()


def onnx_bytes(
    design: Design, state_dict: dict | None = None, opset: int = DEFAULT_OPSET, verify: bool = True
) -> tuple[bytes, OnnxReport]:
    """The .onnx file's bytes and a report; the UI's download button uses these directly."""
    OPSET.check(opset)
    model = prepare_model(design, state_dict)
    start = time.perf_counter()
    data = model_to_onnx(model, _images(1, design.input_size), opset)
    report = OnnxReport(None, opset, time.perf_counter() - start, 0.0, len(data), None, None, (), False, "not verified")
    if verify:
        report = replace(report, **verify_onnx(data, model, design.input_size))
    return data, report


def randomized_copy(model, seed: int = 0):
    """A copy of `model` with deterministic random weights and BatchNorm statistics, so that every layer moves
    the logits by a meaningful amount (a check with fresh weights, whose logits are ~1e-8, proves nothing)."""
    import copy

    import torch

    probe = copy.deepcopy(model).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in probe.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                # gains below 1 keep a deep residual stack well-conditioned: with gains up to 1.5, 128 blocks
                # amplify float32 rounding until PyTorch itself is 28 % off the float64 answer
                module.weight.copy_(0.2 + 0.3 * torch.rand(n, generator=g))
                module.bias.copy_(0.2 * torch.randn(n, generator=g))
                module.running_mean.copy_(0.2 * torch.randn(n, generator=g))
                module.running_var.copy_(0.5 + torch.rand(n, generator=g))
            elif isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=g))
    return probe


def _compare(session, model, input_size: int, batch_sizes) -> tuple[float, float, float, float]:
    """(max abs diff, max rel diff, output scale, PyTorch float32's own relative error against float64) over the
    batch sizes; ValueError for a shape or finiteness problem, whose message is the report's."""
    import copy

    import numpy as np
    import torch

    exact = copy.deepcopy(model).double()
    worst_abs, scale, float32_abs = 0.0, 0.0, 0.0
    for batch in batch_sizes:
        x = _images(batch, input_size)
        with torch.no_grad():
            expected = model(x).numpy()
            reference = exact(x.double()).numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
        if got.shape != expected.shape:
            raise ValueError(
                f"ONNX Runtime gave shape {list(got.shape)} at batch {batch}, PyTorch {list(expected.shape)}"
            )
        if not np.isfinite(expected).all():
            raise BrokenWeights(
                f"PyTorch's own outputs are not finite (NaN or inf) at batch {batch}: the weights are broken"
            )
        if not np.isfinite(got).all():
            raise ValueError(f"ONNX Runtime's outputs are not finite (NaN or inf) at batch {batch}")
        worst_abs = max(worst_abs, float(np.max(np.abs(got - expected))))
        float32_abs = max(float32_abs, float(np.max(np.abs(expected - reference))))
        scale = max(scale, float(np.max(np.abs(expected))))
    rel = worst_abs / scale if scale > 0 else (0.0 if worst_abs == 0 else float("inf"))
    float32_rel = float32_abs / scale if scale > 0 else 0.0
    return worst_abs, rel, scale, float32_rel


def allowed_difference(float32_rel: float, tolerance: float = TOLERANCE) -> float:
    """The relative difference two float32 runtimes may show on a network whose float32 answer is float32_rel
    off the exact one (see FLOAT32_SLACK)."""
    return max(tolerance, FLOAT32_SLACK * float32_rel)


def _session(data: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


class BrokenWeights(ValueError):
    """PyTorch's own outputs are not finite: the weights (finite but huge, or NaN) cannot be exported usefully."""


def verify_onnx(data: bytes, model, input_size: int, batch_sizes=BATCH_SIZES, tolerance: float = TOLERANCE) -> dict:
    """Check ONNX bytes against a PyTorch model; returns OnnxReport's verification fields.

    Both runtimes' outputs must be finite and agree within `tolerance` relative to the largest logit. When
    the model's logits are too small for that to mean anything (fresh weights), the same design is exported
    again with random weights and BN statistics and compared too: that is what checks the graph."""
    import onnx

    start = time.perf_counter()
    result = {
        "checker_ok": False,
        "max_abs_diff": None,
        "max_rel_diff": None,
        "randomized_rel_diff": None,
        "batch_sizes": (),
        "verified": False,
    }

    def done(message: str) -> dict:
        return {**result, "message": message, "verify_seconds": time.perf_counter() - start}

    try:
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # a malformed file raises parser errors, not only ValidationError
        return done(f"onnx.checker failed: {first_line(e)}")
    result["checker_ok"] = True
    names = ([i.name for i in proto.graph.input], [o.name for o in proto.graph.output])
    if names != ([INPUT_NAME], [OUTPUT_NAME]):
        return done(f"graph inputs/outputs are {names}, expected ['{INPUT_NAME}'] -> ['{OUTPUT_NAME}']")
    sizes = " and ".join(str(b) for b in batch_sizes)
    try:
        worst, rel, scale, float32_rel = _compare(_session(data), model, input_size, batch_sizes)
    except BrokenWeights as e:
        return {**done(str(e)), "weights_broken": True}
    except ValueError as e:
        return done(str(e))
    except Exception as e:
        return done(f"ONNX Runtime could not run the model: {first_line(e)}")
    allowed = allowed_difference(float32_rel, tolerance)
    result.update(
        max_abs_diff=worst,
        max_rel_diff=rel,
        batch_sizes=tuple(batch_sizes),
        float32_rel_error=float32_rel,
        allowed_rel_diff=allowed,
    )
    if not rel <= allowed:  # also catches NaN
        return done(
            f"ONNX Runtime differs from PyTorch: max relative diff {rel:.2e} > {allowed:.1e} allowed "
            f"(max abs diff {worst:.2e}, largest logit {scale:.2e}; batch {sizes})"
        )
    extra = ""
    if scale < MEANINGFUL_SCALE:
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), DEFAULT_OPSET)
        probe = randomized_copy(model)
        try:
            probe_data = model_to_onnx(probe, _images(1, input_size), opset)
            _, probe_rel, _, probe_float32_rel = _compare(_session(probe_data), probe, input_size, batch_sizes)
        except ValueError as e:
            return done(f"with random weights: {e}")
        except Exception as e:
            return done(f"ONNX Runtime could not run the model with random weights: {first_line(e)}")
        result["randomized_rel_diff"] = probe_rel
        probe_allowed = allowed_difference(probe_float32_rel, tolerance)
        if not probe_rel <= probe_allowed:
            return done(
                f"the exported graph differs from PyTorch with random weights: max relative diff {probe_rel:.2e} "
                f"> {probe_allowed:.1e} allowed (batch {sizes})"
            )
        extra = (
            f"; its logits are tiny ({scale:.0e}), "
            f"so the graph was also checked with random weights (rel {probe_rel:.1e})"
        )
    result["verified"] = True
    return done(
        f"onnx.checker passed; ONNX Runtime matches PyTorch at batch {sizes} "
        f"(max relative diff {rel:.1e} <= {allowed:.1e}, max abs diff {worst:.1e}){extra}"
    )


def to_onnx(
    design: Design, path, state_dict: dict | None = None, opset: int = DEFAULT_OPSET, verify: bool = True
) -> OnnxReport:
    """Export to `path` (atomically; an unwritable path fails before the export) and verify. A file that fails
    verification is not written (a failed export leaves nothing behind): its report has path None and says why."""
    try:
        with atomic_output(path) as sink:
            data, report = onnx_bytes(design, state_dict, opset, verify)
            if verify and not report.verified:
                raise FailedVerification(report)
            sink.write(data)
    except FailedVerification as failed:
        return failed.report
    return replace(report, path=str(path))


class FailedVerification(Exception):
    """Raised inside an atomic write so that the unverified file is never put in place; carries the report."""

    def __init__(self, report: OnnxReport):
        self.report = report
        super().__init__(report.message)
