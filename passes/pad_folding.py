"""Folding an explicit spatial pad into the padding of the conv or pool after it, in any dialect.

The rules shared by `graph-fuse-pad` and `quantized-fuse-pad` (each decides
which consumers absorb which pad value): a module of its own, so that the
quantized pass does not load the float dialect.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Operation
from xdsl.pattern_rewriter import PatternRewriter

from npuc.dialects.common import array_property, array_values, int_array
from npuc.dialects.movement import PadBase
from npuc.dialects.window_layers import Pool2dBase

Padding = tuple[int, int, int, int]


def spatial_padding(pad: PadBase) -> Padding | None:
    """[top, left, bottom, right] of a constant pad of an NHWC map's H and W only, else None."""
    paddings = array_values(pad.paddings)
    if pad.mode.data != "constant" or len(paddings) != 8 or any(paddings[i] for i in (0, 1, 6, 7)):
        return None
    return paddings[2], paddings[4], paddings[3], paddings[5]


def keeps_a_real_element(pool: Pool2dBase, padding: Padding) -> bool:
    """Whether every window of `pool` still covers an unpadded element with `padding` added."""
    kernel_h, kernel_w = array_values(pool.kernel)
    total = [a + b for a, b in zip(array_values(pool.padding), padding)]
    return max(total[0], total[2]) < kernel_h and max(total[1], total[3]) < kernel_w


def fold_pad(pad: PadBase, rewriter: PatternRewriter, absorbs: Callable[[Operation, Padding], bool]) -> None:
    """Make every consumer that `absorbs` a constant spatial pad read the pad's input instead."""
    padding = spatial_padding(pad)
    if padding is None:
        return
    for use in list(pad.output.uses):
        consumer = use.operation
        if use.index != 0 or not absorbs(consumer, padding):
            continue
        total = [a + b for a, b in zip(array_property(consumer, "padding"), padding)]
        consumer.properties["padding"] = int_array(total)
        consumer.operands[0] = pad.input
        rewriter.notify_op_modified(consumer)
