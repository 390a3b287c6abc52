"""The interpreter core both reference interpreters share.

Binding arguments to a batch of inputs, walking a block op by op with a table
of handlers (one per op class), checking every result against its IR shape,
and the handlers that do not depend on the dialect: constants, and batch-aware
reshape and transpose. `graph_interpreter` and `quantized_interpreter` add
their handler tables on top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.traits import IsTerminator

from npuc.dialects.common import (
    ConstantBase,
    ReshapeBase,
    TransposeBase,
    array_values,
    constant_value,
    layer_name,
    value_shape,
)
from npuc.errors import (
    InputDataError,
    MemoryLimitError,
    ModelVerificationError,
    UnsupportedOperatorError,
)
from npuc.ir import arg_attributes, main_function, tensor_name
from npuc.reference.batching import (
    batch_size,
    batch_views,
    check_result,
    check_result_memory,
    merge_batch,
)

Handler = Callable[[Operation, list[np.ndarray]], np.ndarray | list[np.ndarray]]
"""Computes the results of an op from the arrays of its operands.

A handler returns the array of a single-result op, and a list with one array
per result for an op with several results (split).
"""


@dataclass
class Execution:
    """What one run of a module produced.

    `values` maps every SSA value of `@main` (arguments included) to its array
    when the run kept them (calibration reads the ranges from it), else is empty.
    """

    outputs: list[np.ndarray]
    values: dict[SSAValue, np.ndarray] = field(default_factory=dict)


def bind_arguments(
    block: Block,
    inputs: Sequence[np.ndarray],
    convert: Callable[[SSAValue, np.ndarray, str], np.ndarray],
    names: Sequence[str],
) -> dict[SSAValue, np.ndarray]:
    """Map the block arguments to the user's arrays after checking count and shape.

    Only the leading (batch) extent may differ from the IR: it must be the
    same multiple of the IR's for every input. `convert` turns each checked
    array into the dtype the argument holds (it receives the argument, the
    array and the argument's user-facing name).
    """
    if len(inputs) != len(block.args):
        raise InputDataError(f"the model takes {len(block.args)} input(s), got {len(inputs)}")
    values: dict[SSAValue, np.ndarray] = {}
    batches: set[int] = set()
    for argument, array, name in zip(block.args, inputs, names):
        array = np.asarray(array)
        expected = value_shape(argument)
        if (
            array.ndim != len(expected)
            or array.shape[1:] != expected[1:]
            or (expected and expected[0] and array.shape[0] % expected[0])
        ):
            raise InputDataError(
                f"input '{name}' has shape {list(array.shape)}, expected {list(expected)} "
                "(in IR layout; the leading extent may be a multiple of the IR's for a batch)"
            )
        batches.add(1 if not expected or not expected[0] else array.shape[0] // expected[0])
        values[argument] = convert(argument, array, name)
    if len(batches) > 1:
        raise InputDataError(f"the inputs hold different batch sizes {sorted(batches)}")
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

    `values` holds the block arguments on entry. Every result is checked
    against its IR shape (scaled by the batch size). Without `keep_values`
    each array is dropped after its last use, so memory stays bounded by the
    live values rather than by the whole network.
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
        if any(operand not in values for operand in op.operands):
            raise ModelVerificationError(
                f"reference interpreter: layer '{layer_name(op)}' ({op.name}) uses a value defined after it"
            )
        operands = [values[operand] for operand in op.operands]
        batch = batch_size(op, operands)
        check_result_memory(op, batch)
        try:
            produced = handler(op, operands)
        except MemoryLimitError as error:  # a kernel's intermediate: the op is named here
            raise MemoryLimitError(f"reference interpreter: layer '{layer_name(op)}' ({op.name}): {error}") from None
        arrays = produced if len(op.results) != 1 else [produced]
        for result, array in zip(op.results, arrays, strict=True):
            check_result(op, result, array, batch)
            values[result] = array
        if not keep_values:
            for operand in op.operands:
                if last_use[operand] == index:
                    values.pop(operand, None)
    raise ModelVerificationError("the interpreted block has no terminator")


def reshape(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """Reshape to the IR's result shape with its leading extent scaled by the batch."""
    assert isinstance(op, ReshapeBase)
    return merge_batch(op, batch_views(op, operands)[0].reshape(-1, *value_shape(op.output)))


def transpose(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """Permute the axes of every sample (a permutation may move the IR's axis 0)."""
    assert isinstance(op, TransposeBase)
    perm = [0, *(axis + 1 for axis in array_values(op.perm))]
    return merge_batch(op, np.ascontiguousarray(batch_views(op, operands)[0].transpose(perm)))


def constant(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """The data of a constant op."""
    assert isinstance(op, ConstantBase)
    return constant_value(op.value)
