"""The NPU form of int8 SQUARED_DIFFERENCE: seven integer elementwise commands, bit-exact with TFLite.

TFLite's kernel (`npuc.reference.int_elementwise.squared_difference`)
centres each input, shifts it left by 7 and rescales it to the common scale
2 x max(input scales) with `MultiplyByQuantizedMultiplierSmallerThanOneExp`;
it squares the difference in int32 and rescales the square to the output
the same way. Like Vela, npuc runs it as integer elementwise commands:

    1, 3  mul x - zp by 2^7          the shifted input (int32)
    2, 4  mul by the input multiplier    its rescale: rounding `double`
    5     sub                        the difference (int32)
    6     mul difference by itself   the square (int32; at most 2^30)
    7     mul by the output multiplier   rounding `double`, + output zero point, clamped

A multiplication by a Q31 multiplier m with right shift 31 + n and rounding
`double` is TFLite's doubling high multiply followed by its rounding
divide by 2^n (the NPU's DBL rounding), so each rescale rounds as TFLite's
does. Intermediates live in the layer's scratch buffer (three slots of one
int32 per output element), as a softmax's do.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod

import numpy as np
from xdsl.dialects.builtin import IntegerAttr, IntegerType, StringAttr, i32
from xdsl.ir import Attribute, Operation

from npuc.backend.softmax import SCRATCH_ALIGNMENT
from npuc.dialects import npu
from npuc.dialects.common import int_array
from npuc.dialects.quantized_type import UniformQuantizedType
from npuc.reference.fixed_point import quantize_multiplier_smaller_than_one_exp
from npuc.reference.int_elementwise import (
    SQUARED_DIFFERENCE_LEFT_SHIFT,
    squared_difference_output_multiplier,
)

SLOTS = 3
"""Scratch slots, each one int32 per output element."""

_INT32 = UniformQuantizedType(IntegerType(32), [1.0], [0])
_Q31 = 31


def _slot_bytes(elements: int) -> int:
    return -(-elements * 4 // SCRATCH_ALIGNMENT) * SCRATCH_ALIGNMENT


def scratch_size(ofm_shape: tuple[int, ...] | list[int]) -> int:
    """Bytes of scratch the commands of a squared difference with this output shape use."""
    return SLOTS * _slot_bytes(prod(ofm_shape))


def input_rescales(a_scale: float, b_scale: float) -> list[tuple[int, int]]:
    """(Q31 multiplier, right shift) of each input's rescale to 2 x max(scales), TFLite's."""
    twice_max = 2.0 * max(_float32(a_scale), _float32(b_scale))
    return [_rescale(_float32(scale) / twice_max) for scale in (a_scale, b_scale)]


def output_rescale(a_scale: float, b_scale: float, ofm_scale: float) -> tuple[int, int]:
    """(Q31 multiplier, right shift) of the square's rescale to the output, TFLite's."""
    return _rescale(squared_difference_output_multiplier(a_scale, b_scale, ofm_scale))


def _float32(value: float) -> float:
    return float(np.float32(value))


def _rescale(real: float) -> tuple[int, int]:
    multiplier, shift = quantize_multiplier_smaller_than_one_exp(real)
    return multiplier, _Q31 - shift


def squared_difference_commands(
    ifm: npu.FeatureMapAttr,
    ifm2: npu.FeatureMapAttr,
    ofm: npu.FeatureMapAttr,
    scratch: npu.BufferAttr,
    block_of: Callable[[npu.FeatureMapAttr], tuple[int, int, int]],
    layer: str,
) -> list[Operation]:
    """The seven commands of an int8 squared difference of `ifm` and `ifm2` (of the OFM's rank,
    either broadcast to it) into `ofm`, with `scratch_size` bytes of `scratch`."""
    region, base = scratch.region.data, scratch.offset.data
    slot = _slot_bytes(prod(ofm.shape_values()))

    def work(index: int, fm: npu.FeatureMapAttr) -> npu.FeatureMapAttr:
        return npu.FeatureMapAttr.dense(region, base + index * slot, fm.shape_values(), _INT32)

    def command(kind: str, first: npu.FeatureMapAttr, second: npu.FeatureMapAttr | int,
                out: npu.FeatureMapAttr, rescale: tuple[int, int] = (1, 0), rounding: str = "half_up") -> Operation:  # fmt: skip
        properties: dict[str, Attribute] = {"kind": StringAttr(kind), "ifm": first, "ofm": out}
        if isinstance(second, npu.FeatureMapAttr):
            properties["ifm2"] = second
        else:
            properties["scalar"] = IntegerAttr(second, i32)
        element = out.element_type
        properties |= {
            "rescale": int_array(rescale), "rounding": StringAttr(rounding),
            "act_min": IntegerAttr(element.qmin, i32), "act_max": IntegerAttr(element.qmax, i32),
            "block": npu.block_attr(block_of(out)),
        }  # fmt: skip
        return npu.build_command(npu.ElementwiseOp, properties, layer)

    rescales = input_rescales(ifm.element_type.scale, ifm2.element_type.scale)
    commands: list[Operation] = []
    scaled = []
    for index, (source, (multiplier, shift)) in enumerate(zip((ifm, ifm2), rescales)):
        shifted, result = work(0, source), work(index + 1, source)
        commands.append(command("mul", source, 1 << SQUARED_DIFFERENCE_LEFT_SHIFT, shifted))
        commands.append(command("mul", shifted, multiplier, result, (1, shift), "double"))
        scaled.append(result)
    difference, square = work(0, ofm), work(1, ofm)
    commands.append(command("sub", scaled[0], scaled[1], difference))
    commands.append(command("mul", difference, difference, square))
    multiplier, shift = output_rescale(ifm.element_type.scale, ifm2.element_type.scale, ofm.element_type.scale)
    commands.append(command("mul", square, multiplier, ofm, (1, shift), "double"))
    return commands
