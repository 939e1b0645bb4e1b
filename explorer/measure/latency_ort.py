"""The ONNX Runtime backend: export with torch.onnx, one InferenceSession per measurement.

ORT's threads are a per-session setting (intra_op_num_threads): torch.set_num_threads does not reach them,
so they are set on the session, and nothing needs restoring afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import UserError, first_line


def export_onnx(model, x) -> tuple[bytes, str]:
    """ONNX bytes of an eval model (static shapes: the batch being timed) and which exporter made them."""
    from ..export.onnx_file import DEFAULT_OPSET, EXPORTER, model_to_onnx

    try:
        return model_to_onnx(model, x, DEFAULT_OPSET, dynamic_batch=False), f"{EXPORTER}, opset {DEFAULT_OPSET}"
    except Exception as e:  # an exporter failure is reported as one line, not a traceback
        raise UserError(f"ONNX export failed: {type(e).__name__}: {first_line(e)}") from None


def ort_session(onnx_bytes: bytes, device: str, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads  # ORT's own pool: torch.set_num_threads does not reach it
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if device == "cuda":
        avail = ort.get_available_providers()
        if "CUDAExecutionProvider" not in avail:
            raise UserError(
                f"onnxruntime has no CUDAExecutionProvider here (available: {', '.join(avail)}); "
                "install onnxruntime-gpu"
            )
        sess = ort.InferenceSession(onnx_bytes, opts, providers=["CUDAExecutionProvider"])
        if sess.get_providers()[0] != "CUDAExecutionProvider":  # ORT falls back to CPU silently
            raise UserError("onnxruntime could not start its CUDAExecutionProvider (CUDA/cuDNN libraries missing?)")
        return sess
    return ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])


def ort_runner(sess, x, device: str) -> Callable[[], object]:
    import onnxruntime as ort

    name = sess.get_inputs()[0].name
    x_np = x.detach().cpu().numpy()
    if device != "cuda":
        feeds = {name: x_np}
        return lambda: sess.run(None, feeds)
    # On the GPU, keep input and output on the device (I/O binding): the timed region is the network, not
    # host<->device copies. run_with_iobinding synchronizes the device before returning.
    binding = sess.io_binding()
    binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(x_np, "cuda", 0))
    binding.bind_output(sess.get_outputs()[0].name, "cuda")
    return lambda: sess.run_with_iobinding(binding)


def measure_ort(model, x, device: str, threads: int, timing: dict, report: Callable) -> tuple[dict, str]:
    """Export the eval model, open a session, and time InferenceSession runs with timing.time_callable."""
    import onnxruntime as ort

    from .timing import time_callable

    report(0.05, "exporting to ONNX")
    onnx_bytes, exporter = export_onnx(model.cpu(), x)
    report(0.1, "creating the ONNX Runtime session")
    sess = ort_session(onnx_bytes, device, threads)
    provider = sess.get_providers()[0]
    how = (
        f"onnxruntime {ort.__version__} {provider}, model from the {exporter}, all graph optimizations, "
        f"intra_op_num_threads={threads} (a per-session setting), inter_op 1, sequential; "
        f"{'run_with_iobinding, tensors on the GPU' if device == 'cuda' else 'InferenceSession.run, numpy in/out'}"
    )
    return time_callable(ort_runner(sess, x, device), **timing), how
