"""Small ONNX models for tests, built with onnx.helper, and ways to run them.

`make_model` wraps nodes and initializers into a serialized model and
`run_onnxruntime` executes it, so tests can compare imported graph IR run by
`npuc.reference.graph_interpreter` against ONNX Runtime.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from npuc.data import NCHW_TO_NHWC


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: dict[str, Sequence[int | str | None]],
    outputs: dict[str, Sequence[int | str | None] | None],
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = 13,
) -> bytes:
    """A serialized float32 ONNX model; `None` output shapes are left to inference."""
    graph = helper.make_graph(
        list(nodes),
        "test_model",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in (initializers or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def run_onnxruntime(model: bytes, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The model's outputs computed by onnxruntime on the CPU."""
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def to_ir_layout(array: np.ndarray) -> np.ndarray:
    """NCHW -> NHWC for a 4-D array; other ranks are unchanged."""
    return array.transpose(NCHW_TO_NHWC) if array.ndim == 4 else array
