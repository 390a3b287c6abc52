"""graph-fuse-activation: fold standalone ReLU / Clip into the op producing their input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from npuc.dialects import graph
from npuc.reference.fixed_point import ACTIVATION_BOUNDS

FusingOp = (
    graph.Conv2dOp
    | graph.DepthwiseConv2dOp
    | graph.FullyConnectedOp
    | graph.TransposeConv2dOp
    | graph.AddOp
    | graph.SubOp
    | graph.MulOp
    | graph.MaximumOp
    | graph.MinimumOp
    | graph.MaxPool2dOp
    | graph.AvgPool2dOp
)
FUSING_OPS: tuple[type[FusingOp], ...] = get_args(FusingOp)
"""Graph ops with an `activation` property that can absorb a following clamp."""

FLOAT32_MAX = 3.4e38
"""Clip bounds at or beyond this magnitude are open (ONNX exports +-FLT_MAX for 'none')."""

Range = tuple[float, float]


def _range_of(activation: str) -> Range:
    lower, upper = ACTIVATION_BOUNDS[activation]
    return (
        -float("inf") if lower is None else lower,
        float("inf") if upper is None else upper,
    )


ACTIVATION_OF_RANGE: dict[Range, str] = {_range_of(name): name for name in ACTIVATION_BOUNDS}
"""Clamp interval -> the fused activation that applies it ("none" is (-inf, inf))."""


def clamp_range(op: graph.ReluOp | graph.ClipOp) -> Range:
    """The interval a standalone ReLU or Clip clamps to; bounds beyond float32 are open."""
    if isinstance(op, graph.ReluOp):
        return 0.0, float("inf")
    lower, upper = op.min.value.data, op.max.value.data
    return (
        -float("inf") if lower <= -FLOAT32_MAX else lower,
        float("inf") if upper >= FLOAT32_MAX else upper,
    )


def fused_activation(current: str, clamp: Range) -> str | None:
    """The activation equal to `current` followed by clamping to `clamp`, if one exists.

    Two clamps compose into one whose bounds are the intersection of their
    intervals (exact when the intervals overlap); an empty intersection or an
    interval no fused activation names gives None.
    """
    lower, upper = _range_of(current)
    composed = (max(lower, clamp[0]), min(upper, clamp[1]))
    activation = ACTIVATION_OF_RANGE.get(composed)
    return None if activation == "none" else activation


def _fusing_producers(op: graph.ReluOp | graph.ClipOp) -> list[FusingOp] | None:
    """The ops that would absorb `op`: its producer, or every input producer of a concat.

    A clamp distributes over a concat, so it fuses into a concat of fusing ops
    (a grouped convolution written per group) as into each of them.
    Every absorbing op must have no user but `op` (or the concat, whose only
    user must be `op`); None when that does not hold.
    """
    producer = op.input.owner
    if not op.input.has_one_use():
        return None
    if isinstance(producer, graph.ConcatOp):
        parts = [part.owner for part in producer.operands]
        fusing = [part for part in parts if isinstance(part, FUSING_OPS) and part.ofm.has_one_use()]
        return fusing if len(fusing) == len(parts) else None
    return [producer] if isinstance(producer, FUSING_OPS) else None


def fold_into_producer(op: graph.ReluOp | graph.ClipOp, rewriter: PatternRewriter) -> None:
    """Replace `op` by its producer with a fused activation when that is exact.

    The producer must be a fusing op whose only user is `op`, or a concat of
    such ops (each then fuses the clamp); each keeps its `layer` and other attributes.
    """
    producers = _fusing_producers(op)
    if producers is None:
        return
    activations: list[str] = []
    for producer in producers:
        activation = fused_activation(producer.activation.data, clamp_range(op))
        if activation is None:
            return
        activations.append(activation)
    for producer, activation in zip(producers, activations):
        producer.activation = StringAttr(activation)
        rewriter.notify_op_modified(producer)
    rewriter.replace(op, [], [op.input])


class FuseRelu(RewritePattern):
    """Fold `graph.relu` into its producer."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReluOp, rewriter: PatternRewriter) -> None:
        fold_into_producer(op, rewriter)


class FuseClip(RewritePattern):
    """Fold `graph.clip` into its producer when its range is a fused activation."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ClipOp, rewriter: PatternRewriter) -> None:
        fold_into_producer(op, rewriter)


@dataclass(frozen=True)
class FuseActivationPass(ModulePass):
    """Fold standalone `graph.relu` / `graph.clip` into the producing layer op.

    A clamp is folded into a conv2d, depthwise_conv2d, transpose_conv2d,
    fully_connected, add, sub, mul, maximum, minimum, max_pool2d or
    avg_pool2d when that op has no other user (or into every input of a
    concat of such ops, a grouped convolution written per group, when
    the concat and each input have no other user) and the clamp
    composed with the op's current activation is exactly relu [0, inf),
    relu6 [0, 6] or relu_n1_to_1 [-1, 1] (so relu after relu6 folds, while
    clip(0, 5) or relu after relu_n1_to_1 stay). Clip bounds beyond +-3.4e38
    count as open. Anything else is left as it is.
    """

    name = "graph-fuse-activation"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        walker = PatternRewriteWalker(GreedyRewritePatternApplier([FuseRelu(), FuseClip()]))
        walker.rewrite_module(op)
