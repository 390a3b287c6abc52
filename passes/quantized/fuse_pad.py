"""quantized-fuse-pad: fold an explicit spatial pad into the padding of the quantized conv or max pool after it."""

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

from npuc.dialects import quantized
from npuc.dialects.quantized import quant_type
from npuc.passes.pad_folding import Padding, fold_pad, keeps_a_real_element


def _absorbs(pad: quantized.PadOp, consumer: Operation, padding: Padding) -> bool:
    """Whether `consumer`'s own padding means what `pad`'s stored value means."""
    source = quant_type(pad.input)
    assert source is not None, "verified: per-tensor quantized"
    value = pad.value.value.data
    if isinstance(consumer, quantized.Conv2dOp | quantized.DepthwiseConv2dOp):
        return value == source.zero_point
    if isinstance(consumer, quantized.MaxPool2dOp):
        return value == source.qmin and keeps_a_real_element(consumer, padding)
    return False


class FoldQuantizedPad(RewritePattern):
    """Each conv, depthwise or max pool reading a foldable quantized pad reads the pad's input instead."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: quantized.PadOp, rewriter: PatternRewriter) -> None:
        fold_pad(op, rewriter, lambda consumer, padding: _absorbs(op, consumer, padding))


@dataclass(frozen=True)
class QuantizedFusePadPass(ModulePass):
    """Fold `quantized.pad` of H and W into the explicit padding of the ops that read it.

    A conv or depthwise conv pads with the input's zero point (the padded
    positions add nothing to the accumulator), so a constant pad with the
    zero point as stored value folds into it; a pad with the storage minimum
    folds into a max pool whose windows keep an unpadded element (it never
    wins). Bit-exact, in both rounding modes (the padding is integer
    arithmetic only): QDQ models, whose explicit pads no graph pass sees,
    are the main users. A pad with other readers stays for them.
    """

    name = "quantized-fuse-pad"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier([FoldQuantizedPad()])).rewrite_module(op)
