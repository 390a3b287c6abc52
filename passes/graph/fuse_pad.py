"""graph-fuse-pad: fold an explicit spatial pad into the padding of the conv or max pool after it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from npuc.dialects import graph
from npuc.dialects.common import array_property, array_values, int_array
from npuc.dialects.movement import PadBase
from npuc.dialects.window_layers import Pool2dBase
from npuc.passes.graph.fuse_activation import FLOAT32_MAX

Padding = tuple[int, int, int, int]


def spatial_padding(pad: PadBase) -> Padding | None:
    """[top, left, bottom, right] of a constant pad of an NHWC map's H and W only, else None."""
    paddings = array_values(pad.paddings)
    if pad.mode.data != "constant" or len(paddings) != 8 or any(paddings[i] for i in (0, 1, 6, 7)):
        return None
    return paddings[2], paddings[4], paddings[3], paddings[5]


def _absorbs(consumer: Operation, value: float, padding: Padding) -> bool:
    """Whether the consumer's own padding fills with `value`'s meaning and can grow by `padding`."""
    if isinstance(consumer, graph.Conv2dOp | graph.DepthwiseConv2dOp):
        return value == 0.0
    if isinstance(consumer, graph.MaxPool2dOp):
        # Max pooling ignores padded positions: only a pad that never wins folds.
        return value <= -FLOAT32_MAX and keeps_a_real_element(consumer, padding)
    return False


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


class FoldPadIntoConsumers(RewritePattern):
    """Each conv, depthwise or max pool reading a foldable pad reads the pad's input instead."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.PadOp, rewriter: PatternRewriter) -> None:
        value = op.value.value.data
        fold_pad(op, rewriter, lambda consumer, padding: _absorbs(consumer, value, padding))


@dataclass(frozen=True)
class FusePadPass(ModulePass):
    """Fold `graph.pad` of H and W into the explicit padding of the ops that read it.

    A constant zero pad folds into conv2d and depthwise_conv2d (their padding
    reads zeros); a pad with -inf (or at most -3.4e38) folds into max_pool2d
    when the total padding stays below the kernel. Average pooling is left
    alone: it averages only unpadded elements, unlike an explicit pad. A pad
    with other readers stays for them. The consumers keep their `layer`.
    """

    name = "graph-fuse-pad"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier([FoldPadIntoConsumers()])).rewrite_module(op)
