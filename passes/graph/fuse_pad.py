"""graph-fuse-pad: fold an explicit spatial pad into the padding of the conv or max pool after it."""

from __future__ import annotations

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
from npuc.passes.graph.fuse_activation import FLOAT32_MAX
from npuc.passes.pad_folding import Padding, fold_pad, keeps_a_real_element


def _absorbs(consumer: Operation, value: float, padding: Padding) -> bool:
    """Whether the consumer's own padding fills with `value`'s meaning and can grow by `padding`."""
    if isinstance(consumer, graph.Conv2dOp | graph.DepthwiseConv2dOp):
        return value == 0.0
    if isinstance(consumer, graph.MaxPool2dOp):
        # Max pooling ignores padded positions: only a pad that never wins folds.
        return value <= -FLOAT32_MAX and keeps_a_real_element(consumer, padding)
    return False


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
