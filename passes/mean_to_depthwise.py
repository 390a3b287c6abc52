"""quantized-mean-to-depthwise: a spatial MEAN becomes a depthwise conv the NPU runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, TensorType, i8, i32
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from npuc.dialects import quantized
from npuc.dialects.common import array_values
from npuc.dialects.quantized import UniformQuantizedType, quant_type
from npuc.passes.graph_rewriting import keep_layer
from npuc.quantization_rules import dense
from npuc.reference.int_tensor_ops import mean_rescale
from npuc.reference.quantized_interpreter import ONNXRUNTIME_ROUNDING, rounding_mode

SPATIAL_AXES = (1, 2)
"""H and W of an NHWC tensor."""


class MeanToDepthwise(RewritePattern):
    """reduce mean over H and W -> depthwise conv (ones, zero bias, explicit rescale) [+ reshape]."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: quantized.ReduceOp, rewriter: PatternRewriter) -> None:
        source_type = op.input.type
        assert isinstance(source_type, TensorType)
        shape = source_type.get_shape()
        if op.kind.data != "mean" or len(shape) != 4 or array_values(op.axes) != SPATIAL_AXES:
            return
        ifm, ofm = quant_type(op.input), quant_type(op.output)
        assert ifm is not None and ofm is not None, "verified: per-tensor quantized"
        batch, height, width, channels = shape
        weights = quantized.ConstantOp(
            dense(np.ones((1, height, width, channels), dtype=np.int8), i8),
            TensorType(UniformQuantizedType(i8, [1.0], [0]), [1, height, width, channels]),
        )
        bias = quantized.ConstantOp(dense(np.zeros(channels, dtype=np.int32), i32))
        pooled_type = TensorType(ofm, [batch, 1, 1, channels])
        conv = quantized.DepthwiseConv2dOp(op.input, weights.output, bias.output, pooled_type)
        multiplier, shift = mean_rescale(ifm.scale, ofm.scale, height * width)
        conv.properties["rescale"] = DenseArrayBase.from_list(i32, [multiplier, shift])
        new_ops = [weights, bias, conv]
        if pooled_type != op.output.type:
            new_ops.append(quantized.ReshapeOp(conv.ofm, op.output.type))
        for new_op in new_ops:
            keep_layer(op, new_op)
        rewriter.replace(op, new_ops, [new_ops[-1].results[0]])


@dataclass(frozen=True)
class MeanToDepthwisePass(ModulePass):
    """Rewrite `quantized.reduce` mean over H and W of a 4-D NHWC map as a depthwise conv.

    The depthwise kernel covers the whole H x W extent with weights 1 (int8,
    scale 1), bias 0, stride 1 and no padding, so its accumulator is
    `sum(x) - zp * count`, TFLite MEAN's; the explicit `rescale` is MEAN's
    multiplier pre-divided by the count (`mean_rescale`). The result is bit
    for bit the reference MEAN (int8 and int16), and the NPU runs it as a
    depthwise conv. A reshape follows when the mean drops the reduced axes;
    every new op keeps the reduce's `layer`. Target independent: npu-legalize
    sends a kernel the target cannot run to the CPU, with the reason.

    A module with `quantized.rounding = "onnxruntime"` is left unchanged (the
    onnxruntime-rounding conv reference rescales from the scales).
    """

    name = "quantized-mean-to-depthwise"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if rounding_mode(op) == ONNXRUNTIME_ROUNDING:
            return
        walker = PatternRewriteWalker(
            GreedyRewritePatternApplier([MeanToDepthwise()], dce_enabled=False)
        )
        walker.rewrite_module(op)
