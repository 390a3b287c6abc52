"""graph-fold-scale: fold a per-channel constant mul/add/sub after a conv or FC (or a concat of them) into its weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
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
from npuc.dialects.common import constant_value, value_shape
from npuc.dialects.graph import constant_array, defining_constant, float_constant

LINEAR_OPS = (graph.Conv2dOp, graph.DepthwiseConv2dOp, graph.FullyConnectedOp)
"""Producers whose output channel c is weights[c] . window + bias[c]."""

Linear = graph.Conv2dOp | graph.DepthwiseConv2dOp | graph.FullyConnectedOp
ScaleOp = graph.MulOp | graph.AddOp | graph.SubOp


def per_channel(array: np.ndarray, channels: int) -> np.ndarray | None:
    """`array` as one value per output channel, if it is a scalar or varies only along the last axis."""
    if array.ndim and (any(extent != 1 for extent in array.shape[:-1]) or array.shape[-1] not in (1, channels)):
        return None
    return np.broadcast_to(array.reshape(-1), (channels,)).astype(np.float64)


def _scaled_weights(producer: Linear, weights: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Weights whose output channel c is multiplied by scale[c] (axis 0, or 3 for depthwise)."""
    if isinstance(producer, graph.DepthwiseConv2dOp):
        return weights * scale
    return weights * scale.reshape((-1,) + (1,) * (weights.ndim - 1))


def _fold(op: ScaleOp, rewriter: PatternRewriter) -> None:
    for data, other in ((op.ifm2, op.ifm), (op.ifm, op.ifm2)):
        if isinstance(op, graph.SubOp) and data is op.ifm:
            return  # c - conv(x) would negate the weights: left alone
        producer, scale = other.owner, constant_array(data)
        if isinstance(producer, LINEAR_OPS) and other.has_one_use() and scale is not None:
            break
    else:
        return
    weights_op, bias_op = defining_constant(producer.weights), defining_constant(producer.bias)
    if weights_op is None or bias_op is None or producer.activation.data != "none" or op.ofm.type != other.type:
        return
    weights, bias = constant_value(weights_op.value), constant_value(bias_op.value)
    values = per_channel(scale, bias.shape[0])
    if values is None:
        return
    if isinstance(op, graph.MulOp):
        weights, bias = _scaled_weights(producer, weights, values), bias * values
    else:
        bias = bias + values if isinstance(op, graph.AddOp) else bias - values
    new_weights = float_constant(weights, like=weights_op)
    new_bias = float_constant(bias, like=bias_op)
    folded = type(producer).create(
        operands=[producer.ifm, new_weights.output, new_bias.output],
        result_types=[producer.ofm.type],
        properties={**producer.properties, "activation": StringAttr(op.activation.data)},
        attributes=dict(producer.attributes),
    )
    rewriter.replace(op, [new_weights, new_bias, folded], [folded.results[0]])


def _distribute_over_concat(op: ScaleOp, rewriter: PatternRewriter) -> None:
    """`concat(a, b, ...) (*|+|-) c` along channels as `concat(a op c[:ka], b op c[ka:], ...)`.

    Only when every concat input is a linear op without a fused activation
    read by the concat alone (a grouped convolution written per group), so `_fold` then
    folds each piece into its layer; the pieces take the scale op's activation.
    """
    concat, source = op.ifm.owner, defining_constant(op.ifm2)
    if not isinstance(concat, graph.ConcatOp) or not op.ifm.has_one_use() or op.ofm.type != op.ifm.type:
        return
    rank = len(value_shape(op.ofm))
    if source is None or concat.axis.value.data not in (rank - 1, -1):
        return
    pieces = [piece.owner for piece in concat.operands]
    if not all(
        isinstance(piece, LINEAR_OPS) and piece.ofm.has_one_use() and piece.activation.data == "none"
        for piece in pieces
    ):
        return
    values = per_channel(constant_value(source.value), value_shape(op.ofm)[-1])
    if values is None:
        return
    new_ops: list[Operation] = []
    results = []
    start = 0
    for piece in concat.operands:
        channels = value_shape(piece)[-1]
        piece_values = values[start : start + channels].reshape((1,) * (rank - 1) + (channels,))
        constant = float_constant(piece_values, like=source)
        scaled = type(op)(piece, constant.output, piece.type, op.activation.data)
        scaled.attributes.update(op.attributes)
        new_ops += [constant, scaled]
        results.append(scaled.ofm)
        start += channels
    joined = graph.ConcatOp(results, op.ofm.type, rank - 1)
    joined.attributes.update(concat.attributes)
    rewriter.replace(op, [*new_ops, joined], [joined.results[0]])


class DistributeScaleOverConcat(RewritePattern):
    """A per-channel constant mul, add or sub after a channel concat of linear ops, per piece."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.MulOp | graph.AddOp | graph.SubOp, rewriter: PatternRewriter) -> None:
        _distribute_over_concat(op, rewriter)


class FoldScale(RewritePattern):
    """conv/depthwise/FC followed by a per-channel constant mul, add or sub."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.MulOp | graph.AddOp | graph.SubOp, rewriter: PatternRewriter) -> None:
        _fold(op, rewriter)


@dataclass(frozen=True)
class FoldScalePass(ModulePass):
    """Fold per-channel constant scales and shifts into the preceding conv, depthwise or FC.

    `linear(x) * s` becomes a linear op with weights and bias scaled by s,
    `linear(x) + t` and `linear(x) - t` one with its bias shifted: an ONNX
    BatchNormalization, which imports as a mul then an add, folds this way. The constant is a
    scalar or varies only along the last (channel) axis, and must not widen
    the result by broadcasting. The linear op needs constant weights and bias,
    no fused activation and no other user; it keeps its `layer` and takes the
    scale op's activation. After a channel concat of such ops (a grouped
    convolution written per group) the scale is split per piece and folds into each.
    """

    name = "graph-fold-scale"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        patterns = [FoldScale(), DistributeScaleOverConcat()]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns)).rewrite_module(op)
