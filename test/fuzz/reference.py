"""The frameworks' own runtimes as the judges of a model file: does onnxruntime or LiteRT refuse it?

A model the framework itself refuses is invalid, and npuc must refuse it too
(`case.MUST_REJECT`). These run in a grandchild of the fuzz runner: a
runtime that crashes on the input refuses it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fuzz.drive import MAX_INPUT_ELEMENTS

SINGLE_THREAD = 1
"""Threads a runtime may use: the runner's workers already fill the machine's cores."""

ONNX_INPUT_TYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}  # fmt: skip
"""onnxruntime's input type names and the numpy types of their zero inputs."""


def onnxruntime_refuses(path: Path) -> bool:
    """Whether onnxruntime refuses to load the ONNX model at `path` (external data beside it) or to run it.

    It runs on zero inputs (a symbolic dimension taken as 1) when every input
    has a type `ONNX_INPUT_TYPES` knows and a shape `_buildable` accepts.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = SINGLE_THREAD
    options.inter_op_num_threads = SINGLE_THREAD
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        inputs = session.get_inputs()
        shapes = [[dim if isinstance(dim, int) else 1 for dim in value.shape] for value in inputs]
        if all(value.type in ONNX_INPUT_TYPES for value in inputs) and all(map(_buildable, shapes)):
            session.run(None, {value.name: np.zeros(shape, ONNX_INPUT_TYPES[value.type])
                               for value, shape in zip(inputs, shapes)})
    except Exception:  # noqa: BLE001 - any refusal counts: onnxruntime raises several kinds
        return True
    return False


def _buildable(shape: list[int]) -> bool:
    """Whether the judge builds a zero input of `shape`: the driver's limit (`drive.MAX_INPUT_ELEMENTS`)."""
    return all(dim >= 0 for dim in shape) and bool(np.prod(shape, dtype=np.float64) <= MAX_INPUT_ELEMENTS)


def litert_refuses(model: bytes) -> bool:
    """Whether LiteRT (reference kernels) refuses to load, prepare or run `model` on zero inputs."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        interpreter = Interpreter(
            model_content=model,
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
            num_threads=SINGLE_THREAD,
        )
        interpreter.allocate_tensors()
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
    except Exception:  # noqa: BLE001 - any refusal counts: LiteRT raises several kinds
        return True
    return False
