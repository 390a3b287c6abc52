"""graph-fold-constants: evaluate graph ops whose operands are all constants."""

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
)

from npuc.dialects import graph
from npuc.dialects.graph import constant_array, float_constant
from npuc.reference.graph_handlers import GRAPH_HANDLERS


class FoldConstantOperands(RewritePattern):
    """Replace a graph op of constant operands by constants holding its results.

    The results are computed by the float reference handler of the op, so
    folding is exact with respect to `npuc.reference.run_graph`.
    """

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, graph.ConstantOp) or not op.operands:
            return
        handler = GRAPH_HANDLERS.get(type(op))
        if handler is None:
            return
        arrays = [constant_array(operand) for operand in op.operands]
        known = [array for array in arrays if array is not None]
        if len(known) != len(arrays):
            return
        produced = handler(op, known)
        results = produced if isinstance(produced, list) else [produced]
        constants = [float_constant(array, like=op) for array in results]
        rewriter.replace(op, constants, [constant.output for constant in constants])


@dataclass(frozen=True)
class FoldConstantsPass(ModulePass):
    """Evaluate every graph op whose operands are all `graph.constant`s.

    Each such op becomes one `graph.constant` per result (with the op's
    `layer`), computed with the float reference handlers; chains fold from
    the front, and constants left without users are erased. Assumes the
    module verifies (result shapes are the handlers' shapes).
    """

    name = "graph-fold-constants"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier([FoldConstantOperands()])).rewrite_module(op)
