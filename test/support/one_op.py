"""One-op graph modules and one-node ONNX models, for the float reference tests.

`run_op` builds and runs `@main` around a single graph op with
`run_graph`; `run_onnx_node` runs the equivalent ONNX node in onnxruntime.
4-D ONNX tensors are NCHW (OIHW weights); `nhwc` moves them to npuc's layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from onnx import helper
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    ModuleOp,
    TensorType,
    f32,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region, SSAValue

from npuc.data import NCHW_TO_NHWC
from npuc.dialects import graph
from npuc.reference.graph_interpreter import run_graph

from support.onnx_models import make_model, run_onnxruntime

RTOL, ATOL = 1e-4, 1e-5
"""Agreement required with onnxruntime."""


def tensor(shape: Sequence[int]) -> TensorType:
    """An f32 tensor type."""
    return TensorType(f32, list(shape))


def single_op_module(
    make_op: Callable[..., Operation],
    input_shapes: Sequence[Sequence[int]],
    constants: Sequence[np.ndarray] = (),
) -> ModuleOp:
    """`@main(inputs)` returning the results of `make_op(*inputs, *constants)`."""
    block = Block(arg_types=[tensor(shape) for shape in input_shapes])
    values: list[SSAValue] = list(block.args)
    for array in constants:
        array = np.ascontiguousarray(array, dtype=np.float32)
        attr = DenseIntOrFPElementsAttr(tensor(array.shape), BytesAttr(array.tobytes()))
        constant = graph.ConstantOp(attr)
        block.add_op(constant)
        values.append(constant.output)
    op = make_op(*values)
    block.add_op(op)
    block.add_op(ReturnOp(*op.results))
    function_type = ([arg.type for arg in block.args], [result.type for result in op.results])
    module = ModuleOp([FuncOp("main", function_type, Region(block))])
    module.verify()
    return module


def run_op(
    make_op: Callable[..., Operation],
    inputs: Sequence[np.ndarray],
    constants: Sequence[np.ndarray] = (),
) -> list[np.ndarray]:
    """Run a one-op module on `inputs` (IR layout) with the float reference."""
    module = single_op_module(make_op, [x.shape for x in inputs], constants)
    return run_graph(module, list(inputs)).outputs


def run_onnx_node(
    op_type: str,
    inputs: dict[str, np.ndarray],
    initializers: dict[str, np.ndarray] | None = None,
    outputs: int = 1,
    opset: int = 13,
    **attributes,
) -> list[np.ndarray]:
    """Outputs of one ONNX node computed by onnxruntime."""
    initializers = initializers or {}
    node = helper.make_node(
        op_type, [*inputs, *initializers], [f"y{i}" for i in range(outputs)], **attributes
    )
    model = make_model(
        [node],
        {name: array.shape for name, array in inputs.items()},
        {f"y{i}": None for i in range(outputs)},
        initializers,
        opset,
    )
    return run_onnxruntime(model, inputs)


def nhwc(x: np.ndarray) -> np.ndarray:
    """An NCHW array in NHWC layout."""
    return np.ascontiguousarray(x.transpose(NCHW_TO_NHWC))


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """float32 results of the expected shape within RTOL/ATOL of onnxruntime's."""
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


def normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    """float32 samples of N(0, scale^2)."""
    return (scale * rng.normal(size=shape)).astype(np.float32)
