"""Small ONNX models for tests, built with onnx.helper, and ways to run them.

`make_model` wraps nodes and initializers into a serialized model and
`run_onnxruntime` executes it, so tests can compare imported graph IR run by
`npuc.reference.graph_interpreter` against ONNX Runtime
(`max_error_against_onnxruntime` does both, through the imported model's
interface so NCHW and NHWC inputs are handled alike).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: dict[str, Sequence[int | str | None]],
    outputs: dict[str, Sequence[int | str | None] | None],
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = 13,
) -> bytes:
    """A serialized float32 ONNX model; `None` output shapes are left to inference."""
    return make_model_proto(nodes, inputs, outputs, initializers, opset).SerializeToString()


def make_model_proto(
    nodes: Sequence[onnx.NodeProto],
    inputs: dict[str, Sequence[int | str | None]],
    outputs: dict[str, Sequence[int | str | None] | None],
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = 13,
) -> onnx.ModelProto:
    """The `ModelProto` that `make_model` serializes."""
    graph = helper.make_graph(
        list(nodes),
        "test_model",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in (initializers or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 21 else 10
    return model


def run_onnxruntime(model: bytes, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The model's outputs computed by onnxruntime on the CPU."""
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def max_error_against_onnxruntime(model: bytes, inputs: dict[str, np.ndarray], passes: str = "") -> float:
    """Import `model` (then run the pass pipeline `passes`, if any), run it in the float
    reference and return the largest absolute difference to onnxruntime over all
    outputs (inf on a shape mismatch)."""
    import npuc
    from npuc.api import run_pipeline
    from npuc.data import model_interface
    from npuc.importers.onnx.importer import import_onnx_bytes

    module = import_onnx_bytes(model, "model.onnx")
    if passes:
        run_pipeline(module, passes)
    interface = model_interface(module)
    ir_inputs = [t.to_ir_layout(array) for t, array in zip(interface.inputs, inputs.values())]
    outputs = npuc.run(module, ir_inputs)
    expected = run_onnxruntime(model, inputs)
    assert len(outputs) == len(expected)
    error = 0.0
    for tensor, ours, theirs in zip(interface.outputs, outputs, expected):
        ours = tensor.to_interface_layout(ours)
        if ours.shape != theirs.shape:
            return float("inf")
        error = max(error, float(np.max(np.abs(ours - theirs), initial=0.0)))
    return error
