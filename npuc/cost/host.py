"""What a CPU operation costs the host: an estimate from the target's `[host_cpu]` rates.

An `npu.cpu_op` holds the `quantized` op(s) the host runs. Each is priced
with the rate of its kind (`HostCpu.rate`): per multiply-accumulate for
weighted layers (output positions x weight elements; input positions for a
transposed convolution, which scatters every input over the kernel) and per
window tap of a pool, per input element for a reduction, per output element
otherwise. Host cycles become cycles of the NPU clock the timeline counts in
(`Target.host_clock_hz`), at least one: no CPU operation is free, so no
total leaves CPU work out. The figure is an estimate: the rates are (see
the target file's comments).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil, prod

from xdsl.ir import Operation, SSAValue

from npuc.dialects.common import value_shape
from npuc.dialects.npu import CpuOp, YieldOp
from npuc.dialects.quantized import ConstantOp
from npuc.dialects.window_layers import (
    Pool2dBase,
    TransposeConv2dBase,
    WeightedLayerBase,
)
from npuc.errors import ModelVerificationError
from npuc.targets import Target


def _elements(values: Sequence[SSAValue]) -> int:
    return sum(prod(value_shape(value)) for value in values)


def _positions(value: SSAValue) -> int:
    """Elements of an NHWC (or [batch, channels]) tensor over its channels: the positions a weight set visits."""
    shape = value_shape(value)
    return prod(shape[:-1])


def host_macs(op: Operation) -> int:
    """Multiply-accumulates (window taps for a pool) the host does for a weighted layer or pool.

    Raises `ModelVerificationError` for any other op: its rate must count elements.
    """
    if isinstance(op, WeightedLayerBase):
        positions = _positions(op.ifm if isinstance(op, TransposeConv2dBase) else op.ofm)
        return positions * prod(value_shape(op.weights))
    if isinstance(op, Pool2dBase):
        return prod(value_shape(op.ofm)) * op.window().elements
    raise ModelVerificationError(f"'{op.name}' has no multiply-accumulates: price it per element")


def _units(op: Operation, unit: str) -> int:
    if unit == "mac":
        return host_macs(op)
    if unit == "input_element":
        return _elements([operand for operand in op.operands if not isinstance(operand.owner, ConstantOp)])
    return _elements(list(op.results))


def host_cycles(op: CpuOp, target: Target) -> int:
    """The estimated time of `op` on `target`'s host CPU, in cycles of the NPU clock (at least 1)."""
    cycles = 0.0
    for inner in op.body.block.ops:
        if isinstance(inner, (ConstantOp, YieldOp)):
            continue
        rate = target.host_cpu.rate(inner.name.split(".", 1)[-1])
        cycles += _units(inner, rate.unit) * rate.cycles
    return max(1, ceil(cycles * target.clock_hz / target.host_clock_hz))
