"""The NPU form of int8 BATCH_MATMUL of two computed tensors: copies, elementwise and pool commands.

TFLite's kernel (`npuc.reference.int_kernels.batch_matmul`) sums
`(lhs - zp) x (rhs - zp)` over the inner axis K in int32 and rescales the
sum by `lhs scale x rhs scale / output scale`. Neither operand is a
constant, so the MAC array (whose weights are encoded constant streams)
cannot take one; like Vela 5.2 on the Ethos-U55/U65, npuc runs it as:

    copies        the rhs transposed: [.., K, N] -> [.., N, K] (1x1 max pools
                  between strided maps, `npuc.backend.copies`)
    per output row (batch b, row m):
      mul         rhs^T[b] [N, K] x lhs[b, m, :] broadcast over N: the int32 products
      reduce_sum  over K: output row m of batch b, int32, exact
    per batch:
      mul         by TFLite's Q31 output multiplier, rounding `double`,
                  + output zero point, clamped to int8

Every step is exact but the last, whose double rounding is TFLite's
`MultiplyByQuantizedMultiplier` for a multiplier below 1 (npu-legalize
keeps a layer with a larger one on the CPU: TFLite shifts its int32 sum
left first, which may wrap). The transposed rhs, one row's products and the
int32 sums live in the layer's scratch buffer (`scratch_layout`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod

import numpy as np
from xdsl.dialects.builtin import IntegerAttr, IntegerType, StringAttr, i32
from xdsl.ir import Attribute, Operation

from npuc.backend.copies import CopyAxis, copy_commands, permuted_plan
from npuc.backend.softmax import SCRATCH_ALIGNMENT
from npuc.dialects import npu
from npuc.dialects.common import int_array, value_shape
from npuc.dialects.quantized import BatchMatMulOp, quant_type
from npuc.dialects.quantized_type import UniformQuantizedType
from npuc.reference.fixed_point import quantize_multiplier
from npuc.targets import OperatorRule

_INT32 = UniformQuantizedType(IntegerType(32), [1.0], [0])
_INT32_BYTES = 4
_Q31 = 31
_UNIT = (1, 1)


def _aligned(size: int) -> int:
    return -(-size // SCRATCH_ALIGNMENT) * SCRATCH_ALIGNMENT


@dataclass(frozen=True)
class BatchMatmulShape:
    """The shapes of a product: batch axes of the output, of each operand (right-aligned,
    1 where broadcast), and the rows M, inner extent K and columns N."""

    batch: tuple[int, ...]
    lhs_batch: tuple[int, ...]
    rhs_batch: tuple[int, ...]
    rows: int
    inner: int
    columns: int

    @staticmethod
    def of(lhs: Sequence[int], rhs: Sequence[int]) -> BatchMatmulShape:
        """The shape of the product of `lhs` [.., M, K] and `rhs` [.., K, N]."""
        batch = tuple(np.broadcast_shapes(tuple(lhs[:-2]), tuple(rhs[:-2])))

        def aligned(shape: Sequence[int]) -> tuple[int, ...]:
            return (1,) * (len(batch) - len(shape) + 2) + tuple(shape[:-2])

        return BatchMatmulShape(batch, aligned(lhs), aligned(rhs), lhs[-2], lhs[-1], rhs[-1])

    def commands(self) -> int:
        """Hardware commands the product takes, the rhs copies aside: two per output row, one per batch."""
        batches = prod(self.batch)
        return batches * (2 * self.rows + 1)


@dataclass(frozen=True)
class ScratchLayout:
    """Byte offsets in the scratch buffer: the transposed rhs, one row's products, the sums; and its size."""

    transposed: int
    products: int
    sums: int
    size: int


def scratch_layout(shape: BatchMatmulShape) -> ScratchLayout:
    """Where each intermediate of a product of `shape` lives in its scratch."""
    transposed = prod(shape.rhs_batch) * shape.columns * shape.inner
    products = shape.columns * shape.inner * _INT32_BYTES
    sums = prod(shape.batch) * shape.rows * shape.columns * _INT32_BYTES
    return ScratchLayout(0, _aligned(transposed), _aligned(transposed) + _aligned(products),
                         _aligned(transposed) + _aligned(products) + _aligned(sums))  # fmt: skip


def batch_matmul_problem(op: BatchMatMulOp, rule: OperatorRule) -> str | None:
    """Why the NPU's commands cannot compute `op` under `rule`, or None: an output multiplier of 1 or
    more (TFLite shifts the int32 sum left first, which may wrap), or more commands than the rule's
    `max_commands`."""
    (lhs, rhs), ofm = (quant_type(value) for value in op.operands), quant_type(op.results[0])
    assert lhs is not None and rhs is not None and ofm is not None, "verified: per-tensor quantized"
    _, shift = output_rescale(lhs.scale, rhs.scale, ofm.scale)
    if shift > 0:
        return "output scale below lhs scale x rhs scale: TFLite's rescale shifts the int32 sum left first"
    commands = BatchMatmulShape.of(value_shape(op.lhs), value_shape(op.rhs)).commands()
    if rule.max_commands is not None and commands > rule.max_commands:
        return f"a product of {commands} commands exceeds the {rule.max_commands} the target allows"
    return None


def output_rescale(lhs_scale: float, rhs_scale: float, ofm_scale: float) -> tuple[int, int]:
    """TFLite's (Q31 multiplier, left shift) of the sum's rescale: the product of the input scales
    in float32 over the output scale."""
    real = float(np.float32(lhs_scale) * np.float32(rhs_scale)) / float(np.float32(ofm_scale))
    return quantize_multiplier(real)


def _offset(fm: npu.FeatureMapAttr, index: Sequence[int]) -> int:
    """Byte offset in `fm` of the element at leading `index` (further axes at 0)."""
    return fm.offset.data + sum(i * stride for i, stride in zip(index, fm.stride_values()))


def batch_matmul_commands(
    lhs: npu.FeatureMapAttr,
    rhs: npu.FeatureMapAttr,
    ofm: npu.FeatureMapAttr,
    scratch: npu.BufferAttr,
    copy: Callable[[npu.FeatureMapAttr, npu.FeatureMapAttr], Operation],
    block_of: Callable[[npu.FeatureMapAttr], tuple[int, int, int]],
    layer: str,
) -> list[Operation]:
    """The commands of an int8 product of `lhs` [.., M, K] and `rhs` [.., K, N] into `ofm` [.., M, N]
    (see the module docstring), in `scratch` (`scratch_layout(...).size` bytes); `copy` builds the
    command copying one feature map into another."""
    shape = BatchMatmulShape.of(lhs.shape_values(), rhs.shape_values())
    layout = scratch_layout(shape)
    region, base = scratch.region.data, scratch.offset.data
    rows, inner, columns = shape.rows, shape.inner, shape.columns
    commands: list[Operation] = []

    transposed_shape = (*shape.rhs_batch, columns, inner)
    transposed = npu.FeatureMapAttr.dense(region, base + layout.transposed, transposed_shape, rhs.element_type)
    rhs_strides = rhs.stride_values()
    rhs_leading = len(rhs_strides) - 2
    source_steps = (0,) * (len(shape.batch) - rhs_leading) + rhs_strides[:rhs_leading] + (rhs_strides[-1], rhs_strides[-2])
    axes = [CopyAxis(extent, step, stride) for extent, step, stride in
            zip(transposed_shape, source_steps, transposed.stride_values())]  # fmt: skip
    plan = permuted_plan(axes, rhs.offset.data, transposed.offset.data, rhs.element_type.bits // 8)
    commands += [copy(source, dest) for source, dest in copy_commands(plan, rhs, transposed)]

    def command(op_type: type[npu.ComputeOp], properties: dict[str, Attribute], out: npu.FeatureMapAttr) -> None:
        element = out.element_type
        properties |= {
            "ofm": out, "act_min": IntegerAttr(element.qmin, i32), "act_max": IntegerAttr(element.qmax, i32),
            "block": npu.block_attr(block_of(out)),
        }  # fmt: skip
        commands.append(npu.build_command(op_type, properties, layer))

    def integer(kind: str, rescale: tuple[int, int], rounding: str) -> dict[str, Attribute]:
        return {"kind": StringAttr(kind), "rescale": int_array(rescale), "rounding": StringAttr(rounding)}

    products = npu.FeatureMapAttr.dense(region, base + layout.products, [1, 1, columns, inner], _INT32)
    multiplier, shift = output_rescale(lhs.element_type.scale, rhs.element_type.scale, ofm.element_type.scale)
    assert shift <= 0, "npu-legalize keeps a product with a multiplier of 1 or more on the CPU"
    lhs_leading = len(lhs.shape_values()) - 2
    element = lhs.stride_values()[-1]
    for flat, index in enumerate(np.ndindex(*shape.batch)):
        lhs_index = tuple(i if extent > 1 else 0 for i, extent in zip(index, shape.lhs_batch))[len(index) - lhs_leading :]
        rhs_index = tuple(i if extent > 1 else 0 for i, extent in zip(index, shape.rhs_batch))
        rhs_t = npu.FeatureMapAttr.dense(region, _offset(transposed, rhs_index), [1, 1, columns, inner], rhs.element_type)
        sums = base + layout.sums + flat * rows * columns * _INT32_BYTES
        for row in range(rows):
            lhs_row = npu.FeatureMapAttr(lhs.region.data, _offset(lhs, (*lhs_index, row)), [1, 1, 1, inner],
                                         [inner * element] * 3 + [element], lhs.element_type)  # fmt: skip
            command(npu.ElementwiseOp, {"ifm": rhs_t, "ifm2": lhs_row} | integer("mul", (1, 0), "half_up"), products)
            row_sums = npu.FeatureMapAttr.dense(region, sums + row * columns * _INT32_BYTES, [1, 1, columns, 1], _INT32)
            command(npu.PoolOp, {
                "kind": StringAttr("reduce_sum"), "ifm": products, "kernel": int_array(_UNIT),
                "strides": int_array(_UNIT), "padding": int_array((0, 0, 0, 0)),
            }, row_sums)  # fmt: skip
        batch_sums = npu.FeatureMapAttr.dense(region, sums, [1, 1, rows, columns], _INT32)
        row_stride, column_stride = ofm.stride_values()[-2:]
        out = npu.FeatureMapAttr(ofm.region.data, _offset(ofm, index), [1, 1, rows, columns],
                                 [rows * row_stride] * 2 + [row_stride, column_stride], ofm.element_type)  # fmt: skip
        command(npu.ElementwiseOp, {"ifm": batch_sums, "scalar": IntegerAttr(multiplier, i32)}
                | integer("mul", (1, _Q31 - shift), "double"), out)  # fmt: skip
    return commands
