"""graph-mean-to-pool: a mean over H and/or W of an NHWC map (or over W of an NWC one) becomes an average pool."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
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
from npuc.dialects.common import array_values, keep_layer


class MeanToAvgPool(RewritePattern):
    """reduce mean over spatial axes -> avg_pool2d with the whole extent as kernel (+ reshapes).

    A 3-D [N, W, C] map (a 1-D feature map as the ONNX importer lifts it) is
    pooled as the [N, 1, W, C] map of height 1.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReduceOp, rewriter: PatternRewriter) -> None:
        axes = set(array_values(op.axes))
        assert isinstance(op.input.type, TensorType)
        element_type = op.input.type.element_type
        source = op.input.type.get_shape()
        if op.kind.data != "mean" or not axes:
            return
        new_ops: list[Operation] = []
        ifm = op.input
        if len(source) == 3 and axes == {1}:
            source, axes = (source[0], 1, *source[1:]), {2}
            new_ops.append(graph.ReshapeOp(ifm, TensorType(element_type, list(source))))
            ifm = new_ops[-1].results[0]
        if len(source) != 4 or not axes <= {1, 2}:
            return
        kernel = [source[axis] if axis in axes else 1 for axis in (1, 2)]
        pooled_type = TensorType(element_type, [source[0], *[
            1 if axis in axes else source[axis] for axis in (1, 2)], source[3]])
        new_ops.append(graph.AvgPool2dOp(ifm, pooled_type, kernel))
        if pooled_type != op.output.type:
            new_ops.append(graph.ReshapeOp(new_ops[-1].results[0], op.output.type))
        for new_op in new_ops:
            keep_layer(op, new_op)
        rewriter.replace(op, new_ops, [new_ops[-1].results[0]])


@dataclass(frozen=True)
class MeanToPoolPass(ModulePass):
    """Rewrite `graph.reduce` mean over H, W or both of a 4-D NHWC map as `graph.avg_pool2d`.

    A mean over the middle axis of a 3-D [N, W, C] map (a lifted 1-D feature
    map) is pooled as a map of height 1, between two reshapes.

    The kernel covers the reduced extents (stride 1, no padding), which is the
    same mean; when the reduce drops the axes, a reshape follows the pool.
    Both new ops keep the reduce's `layer`.
    """

    name = "graph-mean-to-pool"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier([MeanToAvgPool()])).rewrite_module(op)
