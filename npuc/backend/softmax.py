"""The NPU form of int8 SOFTMAX: pool and elementwise commands, bit-exact with TFLite.

TFLite's int8 kernel (`npuc.reference.int_softmax`) works per row of the last
axis: the row maximum, exp of the differences through gemmlowp fixed point
(Q5.26 in, Q0.31 out), the sum of the exps in Q12.19, its reciprocal by
Newton-Raphson, then each exp times the reciprocal, shifted into the output.
Like Vela, npuc runs it as a chain of 28 commands an Ethos-U executes:

     1  pool max over the depth            row maximum (int8)
     2  sub x - max, exp lut               exps (int32 Q0.31): the lut holds exp of
                                           every difference -255..0
     3  asr exps by 12                     exps in Q12.19
     4  pool reduce_sum                    sum of exps
     5  clz sum                            headroom + 1
     6  sub 35 - clz                       final right shift (reversed operands)
     7  sub clz - 1                        headroom
     8  shl sum by headroom                half denominator (Q0.31 of sum/2^k, in [1/2, 1))
     9  mul by -32/17, 10 add 48/17        Newton-Raphson start (Q2.29)
 11-25  3 x (mul, sub from 1, mul, shl 2, add)   Newton-Raphson steps
    26  shl by 1                           reciprocal (Q0.31, saturating)
    27  mul exps by reciprocal             (high word, ties up)
    28  asr by the right shift             output, zero point -128, clamped

Steps 8 to 10 replace gemmlowp's `shifted sum - 1` and rounding half sum:
`(((sum << clz) - 2^31) + (2^31 - 1) + 1) / 2` is exactly `sum << (clz - 1)`.
Every `mul` of two Q values is gemmlowp's saturating rounding doubling high
multiply: the exact product with rescale (1, 31) rounded half up, saturated
by the int32 clamp.

Intermediates live in the layer's scratch buffer (`scratch_layout`), which
the planning passes give a memory and an offset like any buffer, live only
while the layer runs (`npu.scratch_memory`, `npu.scratch_offset`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod

import numpy as np
from xdsl.dialects.builtin import IntegerAttr, IntegerType, StringAttr, UnitAttr, i32
from xdsl.ir import Attribute, Operation

from npuc.dialects import npu
from npuc.dialects.common import int_array
from npuc.dialects.quantized_type import UniformQuantizedType
from npuc.reference.int_softmax import ACCUMULATION_INTEGER_BITS, exp_of_differences

SCRATCH_ALIGNMENT = 16
"""Byte alignment of every scratch slot: Ethos-U feature-map base addresses are
16-byte aligned (npu-lower rejects a target that needs more)."""

MAX_DEPTH = 4095
"""Longest row: the int32 sum of up to depth x 2^19 exps (Q12.19) cannot overflow."""

ROW_SLOTS = (
    "max", "sum", "clz", "right_shift", "headroom", "half_denominator", "x_a", "x_b",
    "product", "one_minus", "correction", "correction_x4", "reciprocal",
)  # fmt: skip
"""Scratch slots of one int32 value per row."""
ROW_BY_DEPTH_SLOTS = ("exps", "work")
"""Scratch slots of one int32 value per element: the exps, then their Q12.19 or scaled form."""

_INT32_BYTES = 4
_NEWTON_RAPHSON_STEPS = 3
_FORTY_EIGHT_OVER_SEVENTEEN = 1515870810
_MINUS_THIRTY_TWO_OVER_SEVENTEEN = -1010580540
_ONE_IN_Q2_29 = 1 << 29
_OUTPUT_SHIFT_OFFSET = ACCUMULATION_INTEGER_BITS + 31 - 8
"""Final right shift = this - clz(sum): bits over unit of the reciprocal + 31 - 8 output bits."""
_HIGH_MUL = (1, 31)
"""Rescale of a Q x Q product: its high word (gemmlowp's doubling high multiply)."""
_IDENTITY = (1, 0)


def _align(size: int) -> int:
    return -(-size // SCRATCH_ALIGNMENT) * SCRATCH_ALIGNMENT


def rows_and_depth(shape: Sequence[int]) -> tuple[int, int]:
    """(rows, row length) of a softmax over the last axis of `shape`."""
    return prod(shape[:-1]), shape[-1]


@dataclass(frozen=True)
class ScratchLayout:
    """Byte offsets of the slots in a softmax's scratch buffer.

    `slots` maps each name of `ROW_SLOTS` and `ROW_BY_DEPTH_SLOTS` to its
    offset from the buffer's start; `size` is all slots, each aligned.
    """

    slots: dict[str, int]
    size: int


def scratch_layout(shape: Sequence[int]) -> ScratchLayout:
    """The scratch of an int8 softmax of `shape`: where each intermediate lives.

    The one place that decides it: npuc.backend.planning reserves a `size`-byte
    scratch buffer for the layer and the lowering addresses the slots.
    """
    rows, depth = rows_and_depth(shape)
    offset = 0
    slots: dict[str, int] = {}
    for names, slot_bytes in ((ROW_BY_DEPTH_SLOTS, rows * depth), (ROW_SLOTS, rows)):
        for name in names:
            slots[name] = offset
            offset += _align(slot_bytes * _INT32_BYTES)
    return ScratchLayout(slots, offset)


def exp_table(input_scale: float, beta: float) -> np.ndarray:
    """The exp lut: entry i is TFLite's Q0.31 exp of the difference i - 255 (0 below its range).

    Differences below TFLite's `diff_min` give 0, so they add nothing to the
    sum and come out as -128, as in the reference.
    """
    differences = np.arange(-(npu.LUT_ENTRIES - 1), 1, dtype=np.int64)
    exps, valid = exp_of_differences(differences, input_scale, beta)
    return np.where(valid, exps, 0).astype("<i4")


_WORK_TYPE = UniformQuantizedType(IntegerType(32), [1.0], [0])
_EXP_ZERO_POINT = npu.LUT_ENTRIES // 2 - 1
"""Zero point of the exp command's output stage: difference -255..0 + 127 = lut index - 128."""


class _Commands:
    """Builds the command chain of one softmax layer (see the module docstring)."""

    def __init__(
        self,
        region: str,
        base: int,
        shape: Sequence[int],
        block_of: Callable[[tuple[int, int, int]], tuple[int, int, int]],
        layer: str,
    ):
        """Commands of a softmax of `shape` whose scratch buffer starts at `base` in `region`."""
        self.region, self.base, self.layer, self.block_of = region, base, layer, block_of
        self.rows, self.depth = rows_and_depth(shape)
        self.layout = scratch_layout(shape)
        self.commands: list[Operation] = []

    def rows_fm(self, slot: str, element_type: UniformQuantizedType = _WORK_TYPE) -> npu.FeatureMapAttr:
        """A [1, rows, 1, 1] scratch feature map: one value per row."""
        return npu.FeatureMapAttr.dense(
            self.region, self.base + self.layout.slots[slot], [1, self.rows, 1, 1], element_type
        )

    def full_fm(self, slot: str, element_type: UniformQuantizedType = _WORK_TYPE) -> npu.FeatureMapAttr:
        """A [1, rows, 1, depth] scratch feature map: one value per element."""
        return npu.FeatureMapAttr.dense(
            self.region, self.base + self.layout.slots[slot], [1, self.rows, 1, self.depth], element_type
        )

    def add(
        self,
        op_type: type[npu.ComputeOp],
        properties: dict[str, Attribute],
        act_range: tuple[int, int] | None = None,
    ) -> None:
        """Append a command writing `properties["ofm"]`, clamped to `act_range` (default: its type)."""
        ofm = properties["ofm"]
        assert isinstance(ofm, npu.FeatureMapAttr)
        _, height, width, depth = ofm.shape_values()
        low, high = act_range or (ofm.element_type.qmin, ofm.element_type.qmax)
        properties |= {
            "act_min": IntegerAttr(low, i32),
            "act_max": IntegerAttr(high, i32),
            "block": npu.block_attr(self.block_of((height, width, depth))),
        }
        self.commands.append(npu.build_command(op_type, properties, self.layer))

    def pool(self, kind: str, ifm: npu.FeatureMapAttr, ofm: npu.FeatureMapAttr, kernel: tuple[int, int]) -> None:
        """Append a pool command (unit strides, no padding)."""
        self.add(npu.PoolOp, {
            "kind": StringAttr(kind), "ifm": ifm, "ofm": ofm, "kernel": int_array(kernel),
            "strides": int_array((1, 1)), "padding": int_array((0, 0, 0, 0)),
        })  # fmt: skip

    def elementwise(
        self,
        kind: str,
        ifm: npu.FeatureMapAttr,
        second: npu.FeatureMapAttr | int | None,
        ofm: npu.FeatureMapAttr,
        rescale: tuple[int, int] = _IDENTITY,
        rounding: str = "half_up",
        reversed: bool = False,
        lut: npu.BufferAttr | None = None,
        act_range: tuple[int, int] | None = None,
    ) -> None:
        """Append an integer elementwise command; `second` is an ifm2, a scalar or None (clz)."""
        properties: dict[str, Attribute] = {"kind": StringAttr(kind), "ifm": ifm, "ofm": ofm}
        if isinstance(second, npu.FeatureMapAttr):
            properties["ifm2"] = second
        elif second is not None:
            properties["scalar"] = IntegerAttr(second, i32)
        if reversed:
            properties["reversed"] = UnitAttr()
        properties |= {"rescale": int_array(rescale), "rounding": StringAttr(rounding)}
        if lut is not None:
            properties["lut"] = lut
        self.add(npu.ElementwiseOp, properties, act_range)


def softmax_commands(
    ifm: npu.FeatureMapAttr,
    ofm: npu.FeatureMapAttr,
    scratch: npu.BufferAttr,
    lut: npu.BufferAttr,
    block_of: Callable[[tuple[int, int, int]], tuple[int, int, int]],
    layer: str,
) -> list[Operation]:
    """The 28 commands of an int8 softmax over the last axis of `ifm` (dense) into `ofm`.

    `scratch` holds `scratch_layout(shape).size` bytes reserved for the
    layer; `lut` holds `exp_table` of the layer's input scale and beta;
    `block_of` gives the block of a command from its OFM (height, width, depth).
    """
    shape = ifm.shape_values()
    build = _Commands(scratch.region.data, scratch.offset.data, shape, block_of, layer)
    rows, depth = build.rows, build.depth
    x_type = ifm.element_type

    def view(fm: npu.FeatureMapAttr, view_shape: list[int]) -> npu.FeatureMapAttr:
        return npu.FeatureMapAttr.dense(fm.region.data, fm.offset.data, view_shape, fm.element_type)

    row_max = build.rows_fm("max", x_type)
    build.pool("max", view(ifm, [1, rows, depth, 1]), row_max, (1, depth))
    exp_type = UniformQuantizedType(IntegerType(32), [1.0], [_EXP_ZERO_POINT])
    build.elementwise(
        "sub", view(ifm, [1, rows, 1, depth]), row_max, build.full_fm("exps", exp_type),
        lut=lut, act_range=(-npu.LUT_ENTRIES // 2, npu.LUT_ENTRIES // 2 - 1),
    )  # fmt: skip
    exps, work = build.full_fm("exps"), build.full_fm("work")
    build.elementwise("asr", exps, ACCUMULATION_INTEGER_BITS, work)
    total = build.rows_fm("sum")
    build.pool("reduce_sum", work, total, (1, 1))
    clz, right_shift, headroom = build.rows_fm("clz"), build.rows_fm("right_shift"), build.rows_fm("headroom")
    build.elementwise("clz", total, None, clz)
    build.elementwise("sub", clz, _OUTPUT_SHIFT_OFFSET, right_shift, reversed=True)
    build.elementwise("sub", clz, 1, headroom)
    half_denominator, product = build.rows_fm("half_denominator"), build.rows_fm("product")
    build.elementwise("shl", total, headroom, half_denominator)
    build.elementwise("mul", half_denominator, _MINUS_THIRTY_TWO_OVER_SEVENTEEN, product, _HIGH_MUL)
    x, x_next = build.rows_fm("x_a"), build.rows_fm("x_b")
    build.elementwise("add", product, _FORTY_EIGHT_OVER_SEVENTEEN, x)
    one_minus, correction, correction_x4 = (
        build.rows_fm("one_minus"), build.rows_fm("correction"), build.rows_fm("correction_x4")
    )  # fmt: skip
    for _ in range(_NEWTON_RAPHSON_STEPS):
        build.elementwise("mul", half_denominator, x, product, _HIGH_MUL)
        build.elementwise("sub", product, _ONE_IN_Q2_29, one_minus, reversed=True)
        build.elementwise("mul", x, one_minus, correction, _HIGH_MUL)
        build.elementwise("shl", correction, 2, correction_x4)
        build.elementwise("add", x, correction_x4, x_next)
        x, x_next = x_next, x
    reciprocal = build.rows_fm("reciprocal")
    build.elementwise("shl", x, 1, reciprocal)
    build.elementwise("mul", exps, reciprocal, work, _HIGH_MUL)
    # TFLite rounds this shift half away from zero; the scaled exps are never negative, so rounding half up
    # (which the NPU has, and not the former) gives the same result.
    build.elementwise("asr", work, right_shift, view(ofm, [1, rows, 1, depth]), rounding="half_up")
    return build.commands
