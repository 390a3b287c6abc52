"""Float reference interpreter of graph IR.

`run_graph` executes `@main` op by op with the numpy kernels of
`npuc.reference.float_kernels`. Inputs are in IR layout (NHWC); their leading
(batch) dimension may be any N even though the IR says 1, so calibration can
run a whole batch at once: every op computes with the actual leading
dimension, and reshapes scale the IR's leading extent by the same factor.

The op-independent machinery (binding arguments, walking a block, decoding
constants, batch-aware reshape) is shared with the quantized interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, Float32Type, ModuleOp, TensorType
from xdsl.ir import Block, Operation, SSAValue
from xdsl.traits import IsTerminator

from npuc.ir import arg_attributes, tensor_name
from npuc.dialects import graph
from npuc.dialects.common import ReshapeBase, TransposeBase, array_values, layer_name
from npuc.errors import InputDataError, ModelVerificationError, UnsupportedOperatorError
from npuc.ir import main_function
from npuc.reference import float_kernels
from npuc.reference.fixed_point import ACTIVATION_BOUNDS

Handler = Callable[[Operation, list[np.ndarray]], np.ndarray]
"""Computes the single result of an op from the arrays of its operands."""


@dataclass
class Execution:
    """What one run of a module produced.

    `values` maps every SSA value of `@main` (arguments included) to its array
    when the run kept them (calibration reads the ranges from it), else is empty.
    """

    outputs: list[np.ndarray]
    values: dict[SSAValue, np.ndarray] = field(default_factory=dict)


def constant_value(attr: DenseIntOrFPElementsAttr) -> np.ndarray:
    """The data of a dense constant as a numpy array of its element type (no copy)."""
    element = attr.type.element_type
    kind = "float" if isinstance(element, Float32Type) else "int"
    dtype = np.dtype(f"{kind}{element.bitwidth}")  # type: ignore[attr-defined]
    return np.frombuffer(attr.data.data, dtype=dtype).reshape(attr.type.get_shape())


def _ir_shape(value: SSAValue) -> tuple[int, ...]:
    assert isinstance(value.type, TensorType)
    return tuple(value.type.get_shape())


def bind_arguments(
    block: Block,
    inputs: Sequence[np.ndarray],
    convert: Callable[[SSAValue, np.ndarray, str], np.ndarray],
    names: Sequence[str],
) -> dict[SSAValue, np.ndarray]:
    """Map the block arguments to the user's arrays after checking count and shape.

    Only the leading (batch) extent may differ from the IR. `convert` turns
    each checked array into the dtype the argument holds (it receives the
    argument, the array and the argument's user-facing name).
    """
    if len(inputs) != len(block.args):
        raise InputDataError(f"the model takes {len(block.args)} input(s), got {len(inputs)}")
    values: dict[SSAValue, np.ndarray] = {}
    for argument, array, name in zip(block.args, inputs, names):
        array = np.asarray(array)
        expected = _ir_shape(argument)
        if array.ndim != len(expected) or array.shape[1:] != expected[1:]:
            raise InputDataError(
                f"input '{name}' has shape {list(array.shape)}, expected {list(expected)} "
                "(in IR layout; the leading batch extent may differ)"
            )
        values[argument] = convert(argument, array, name)
    return values


def run_function(
    module: ModuleOp,
    inputs: Sequence[np.ndarray],
    handlers: dict[type[Operation], Handler],
    convert: Callable[[SSAValue, np.ndarray, str], np.ndarray],
    keep_values: bool,
) -> Execution:
    """Bind the inputs to `@main`'s arguments and interpret its body with `handlers`."""
    func = main_function(module)
    names = [
        tensor_name(attributes, f"argument {index}")
        for index, attributes in enumerate(arg_attributes(func))
    ]
    values = bind_arguments(func.body.block, inputs, convert, names)
    outputs = interpret_block(func.body.block, values, handlers, keep_values)
    return Execution(outputs, values if keep_values else {})


def interpret_block(
    block: Block,
    values: dict[SSAValue, np.ndarray],
    handlers: dict[type[Operation], Handler],
    keep_values: bool = False,
) -> list[np.ndarray]:
    """Run the ops of `block` in order; return the arrays of its terminator's operands.

    `values` holds the block arguments on entry. Without `keep_values` each
    array is dropped after its last use, so memory stays bounded by the live
    values rather than by the whole network.
    """
    last_use = {operand: index for index, op in enumerate(block.ops) for operand in op.operands}
    for index, op in enumerate(block.ops):
        if op.has_trait(IsTerminator):
            return [values[operand] for operand in op.operands]
        handler = handlers.get(type(op))
        if handler is None:
            raise UnsupportedOperatorError(
                "reference interpreter",
                [(layer_name(op), op.name, "no reference implementation")],
            )
        values[op.results[0]] = handler(op, [values[operand] for operand in op.operands])
        if not keep_values:
            for operand in op.operands:
                if last_use[operand] == index:
                    values.pop(operand, None)
    raise ModelVerificationError("the interpreted block has no terminator")


def reshape(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """Reshape to the IR's result shape with its leading extent scaled by the batch."""
    assert isinstance(op, ReshapeBase)
    batch = operands[0].shape[0] // _ir_shape(op.input)[0]
    target = list(_ir_shape(op.output))
    target[0] *= batch
    return operands[0].reshape(target)


def transpose(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """Permute the axes of the actual array (the batch axis keeps its real extent)."""
    assert isinstance(op, TransposeBase)
    return np.ascontiguousarray(operands[0].transpose(array_values(op.perm)))


def constant(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """The data of a constant op."""
    return constant_value(op.properties["value"])  # type: ignore[arg-type]


def _activation(op: Operation, ofm: np.ndarray) -> np.ndarray:
    lower, upper = ACTIVATION_BOUNDS[op.activation.data]  # type: ignore[attr-defined]
    return float_kernels.clamp(ofm, lower, upper)


def _conv2d(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.Conv2dOp)
    return _activation(op, float_kernels.conv2d(*operands, *op.window()))


def _depthwise_conv2d(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.DepthwiseConv2dOp)
    ofm = float_kernels.depthwise_conv2d(*operands, *op.window(), op.depth_multiplier())
    return _activation(op, ofm)


def _fully_connected(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return _activation(op, float_kernels.fully_connected(*operands))


def _add(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return _activation(op, float_kernels.add(*operands))


def _max_pool2d(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.MaxPool2dOp)
    return _activation(op, float_kernels.max_pool2d(operands[0], *op.window()))


def _avg_pool2d(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.AvgPool2dOp)
    return _activation(op, float_kernels.avg_pool2d(operands[0], *op.window()))


def _relu(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return float_kernels.clamp(operands[0], 0.0, None)


def _clip(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.ClipOp)
    return float_kernels.clamp(operands[0], op.min.value.data, op.max.value.data)


GRAPH_HANDLERS: dict[type[Operation], Handler] = {
    graph.ConstantOp: constant,
    graph.Conv2dOp: _conv2d,
    graph.DepthwiseConv2dOp: _depthwise_conv2d,
    graph.FullyConnectedOp: _fully_connected,
    graph.AddOp: _add,
    graph.MaxPool2dOp: _max_pool2d,
    graph.AvgPool2dOp: _avg_pool2d,
    graph.ReshapeOp: reshape,
    graph.TransposeOp: transpose,
    graph.ReluOp: _relu,
    graph.ClipOp: _clip,
}
"""Graph op class -> the function computing its result."""


def _as_float(argument: SSAValue, array: np.ndarray, name: str) -> np.ndarray:
    return array.astype(np.float32, copy=False)


def run_graph(
    module: ModuleOp, inputs: Sequence[np.ndarray], keep_values: bool = False
) -> Execution:
    """Execute graph IR in float32 on NHWC inputs (any batch size N).

    With `keep_values`, the returned `Execution.values` holds the array of
    every value of `@main`, arguments and constants included.
    """
    return run_function(module, inputs, GRAPH_HANDLERS, _as_float, keep_values)
