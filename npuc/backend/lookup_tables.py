"""Int8 activations as 256-entry lookup tables: the NPU form of every table-able activation.

An int8 activation whose output depends on its input value alone (sigmoid,
tanh, hard swish, hard sigmoid, GELU, leaky ReLU, PReLU with one slope,
reciprocal square root)
takes at most 256 output values. npuc evaluates the op's own integer
reference (`npuc.reference.int_handlers`) on every int8 input and stores the
results as the table of one elementwise command (`npu.elementwise` with a
`lut`): bit-exact with the reference by construction, one mechanism for
every such op. The command adds the scalar 0 with rescale 1 to the raw IFM
and looks the result up (Vela's form: an ADD with a TABLE_LOOKUP
activation); its OFM is described with the IFM's zero point so that the
table index is the stored input value itself.
"""

from __future__ import annotations

from math import ceil, prod

import numpy as np
from xdsl.ir import Operation, SSAValue

from npuc.dialects import npu
from npuc.dialects.common import constant_value, value_shape
from npuc.dialects.quantized import (
    ConstantOp,
    GeluOp,
    HardSigmoidOp,
    HardSwishOp,
    LeakyReluOp,
    LogisticOp,
    PReluOp,
    RsqrtOp,
    TanhOp,
)

LOOKUP_TABLE_OPS = (LogisticOp, TanhOp, HardSwishOp, HardSigmoidOp, GeluOp, LeakyReluOp, PReluOp, RsqrtOp)
"""Quantized ops that run on the NPU as one elementwise command with a lookup table."""

INT8_INPUTS = np.arange(-(npu.LUT_ENTRIES // 2), npu.LUT_ENTRIES // 2, dtype=np.int8)
"""Every int8 value, in table order (entry i is the output for input i - 128)."""


def _constant(value: SSAValue) -> np.ndarray | None:
    owner = value.owner
    return constant_value(owner.value) if isinstance(owner, ConstantOp) else None


def table_problem(op: Operation) -> str | None:
    """Why `op` cannot be one table of its int8 input, or None.

    Every operand but the input must be a constant with one value (a PReLU
    slope per channel would need a table per channel).
    """
    for index, operand in enumerate(op.operands[1:], start=1):
        values = _constant(operand)
        if values is None:
            return f"operand {index} is not a constant"
        if values.size and np.any(values != values.flat[0]):
            return (
                f"its {values.size} slopes differ: one 256-entry table holds one function "
                "(Vela's per-channel form, a maximum of two multiplications, rounds each separately)"
            )
    return None


def activation_table(op: Operation) -> np.ndarray:
    """The 256 int8 outputs of `op` for inputs -128..127, by its integer reference.

    The input is every int8 value repeated over as many samples of the op's
    input shape as it takes to hold all 256; the constant operands keep
    their values, so the reference computes exactly what the layer does.
    """
    # The interpreter's handlers: compiling loads them only to make a table.
    from npuc.reference.int_handlers import QUANTIZED_HANDLERS

    shape = value_shape(op.operands[0])
    elements = prod(shape)
    samples = ceil(INT8_INPUTS.size / elements)
    source = np.resize(INT8_INPUTS, samples * elements).reshape(samples * shape[0], *shape[1:]) if shape else INT8_INPUTS
    constants = [_constant(operand) for operand in op.operands[1:]]
    operands = [source] + [value for value in constants if value is not None]
    assert len(operands) == len(op.operands), "table_problem admits constant operands only"
    result = QUANTIZED_HANDLERS[type(op)](op, operands)
    return np.asarray(result).reshape(-1)[: INT8_INPUTS.size].astype(np.int8)
